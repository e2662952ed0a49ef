package realtime

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// An app's presence feed: the latest status of each user that changed,
// ordered by when it last changed, and a sequence number. Presence is
// state, not a log, so a connection needs only a cursor into the feed, not
// a queue: when its writer runs, it takes every entry newer than its
// cursor — one per user, however often that user flapped — into one
// presence_batch frame (docs/realtime.md "Presence").
//
// That makes a connect storm cheap. Every user coming online is news to
// every session of the app (1,900 users × 19,000 sessions is 36 million
// deliveries); written one message per event per socket, that was 36
// million enqueues and socket writes and took minutes. Now an event costs
// one feed update plus a wake-up of the writers that are idle (those still
// busy pick it up on their next pass), and a writer sends what piled up
// in one write.
type feed struct {
	mu    sync.RWMutex
	seq   atomic.Uint64 // the newest entry's seq
	byUID map[string]*feedEntry
	head  *feedEntry // oldest
	tail  *feedEntry // newest

	// conns are the app's connections on this node; an update wakes those
	// whose writer is parked (a flag each: no shared wait list for 19,000
	// writers to queue on).
	cmu   sync.RWMutex
	conns map[*conn]struct{}

	// Waking the parked writers is done by a goroutine of its own, started
	// by the update that finds none running: the caller — the bus applying
	// another node's events one after another, a reaper announcing a
	// crashed node's users — returns at once. Done in the caller, each
	// update waited for the writers it woke: the waking goroutine, once
	// preempted, queued behind thousands of them, so every event of a
	// burst cost a whole fan-out before the next was even read.
	waking  atomic.Bool
	pending atomic.Bool // an update came since the running round began
}

type feedEntry struct {
	uid, role  string
	seq        uint64
	at         int64  // unix nanoseconds the change reached this feed
	json       []byte // {"uid":…,"status":…,"lastActiveAt":…}
	prev, next *feedEntry
}

func newFeed() *feed {
	return &feed{byUID: map[string]*feedEntry{}, conns: map[*conn]struct{}{}}
}

// update records a user's latest presence and wakes the parked writers.
func (f *feed) update(ev Event) {
	b := make([]byte, 0, 64+len(ev.UID))
	b = append(b, `{"uid":`...)
	b = strconv.AppendQuote(b, ev.UID)
	b = append(b, `,"status":`...)
	b = strconv.AppendQuote(b, ev.Status)
	b = append(b, `,"lastActiveAt":`...)
	b = strconv.AppendInt(b, ev.LastActiveAt, 10)
	b = append(b, '}')

	f.mu.Lock()
	e := f.byUID[ev.UID]
	if e == nil {
		e = &feedEntry{uid: ev.UID}
		f.byUID[ev.UID] = e
	} else {
		f.unlinkLocked(e)
	}
	if ev.Role != "" {
		e.role = ev.Role // an offline event from elsewhere may not know it
	}
	e.json = b
	e.at = time.Now().UnixNano()
	e.seq = f.seq.Load() + 1
	f.seq.Store(e.seq)
	e.prev, e.next = f.tail, nil
	if f.tail != nil {
		f.tail.next = e
	} else {
		f.head = e
	}
	f.tail = e
	f.mu.Unlock()

	f.pending.Store(true)
	if f.waking.CompareAndSwap(false, true) {
		go f.wakeParked()
	}
}

// wakeParked starts the writers of the parked connections, round after
// round while updates keep coming. The seq is stored before a round reads
// the parked flags, and a writer sets its flag before it reads the seq:
// one of the two sees the other.
func (f *feed) wakeParked() {
	for {
		for f.pending.Swap(false) {
			f.cmu.RLock()
			for c := range f.conns {
				if c.parked.Load() && c.parked.CompareAndSwap(true, false) {
					c.wake()
				}
			}
			f.cmu.RUnlock()
		}
		f.waking.Store(false)
		// An update between the last round and the line above saw waking
		// set and left its round to us.
		if !f.pending.Load() || !f.waking.CompareAndSwap(false, true) {
			return
		}
	}
}

func (f *feed) unlinkLocked(e *feedEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		f.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		f.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// since appends to dst the events (their JSON, which is never changed in
// place) newer than cursor that c may hear, in the order they changed, and
// returns them with the seq they reach and when the oldest of them reached
// the feed. It stops at max events or maxBatchBytes (the caller comes back
// for the rest).
func (f *feed) since(cursor uint64, c *conn, max int, dst [][]byte) ([][]byte, uint64, int64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	// Walk back from the newest to the first entry past the cursor, then
	// forward in order.
	e := f.tail
	for e != nil && e.prev != nil && e.prev.seq > cursor {
		e = e.prev
	}
	if e == nil || e.seq <= cursor {
		return dst, f.seq.Load(), 0
	}
	seq, size := cursor, 0
	var oldest int64
	for ; e != nil && len(dst) < max && size < maxBatchBytes; e = e.next {
		seq = e.seq
		if c.hears(e) {
			if len(dst) == 0 {
				oldest = e.at
			}
			dst = append(dst, e.json)
			size += len(e.json) + 1
		}
	}
	if e == nil {
		seq = f.seq.Load()
	}
	return dst, seq, oldest
}

// park marks c's writer idle at cursor, to be woken by the next update;
// it reports false when the feed moved past cursor meanwhile (the writer
// runs again at once).
func (f *feed) park(c *conn, cursor uint64) bool {
	c.parked.Store(true)
	if f.seq.Load() == cursor {
		return true
	}
	// Moved: unpark, unless an update already did (and woke us).
	c.parked.CompareAndSwap(true, false)
	return false
}

func (f *feed) join(c *conn) {
	f.cmu.Lock()
	f.conns[c] = struct{}{}
	f.cmu.Unlock()
}

func (f *feed) leave(c *conn) {
	f.cmu.Lock()
	delete(f.conns, c)
	f.cmu.Unlock()
}

// prune forgets the entries every connection of the app has passed.
func (f *feed) prune(min uint64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for e := f.head; e != nil && e.seq <= min; e = f.head {
		f.unlinkLocked(e)
		delete(f.byUID, e.uid)
		n++
	}
	return n
}

func (f *feed) len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.byUID)
}

package realtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/callgate/callgate/internal/store"
)

// Close codes sent to clients.
const (
	// CloseRevoked follows a session_revoked message.
	CloseRevoked websocket.StatusCode = 4001
	// CloseSlowConsumer: the client did not read fast enough.
	CloseSlowConsumer websocket.StatusCode = 4008
	// CloseTooManyConnections: the user is at the per-user connection cap.
	CloseTooManyConnections websocket.StatusCode = 4029
)

// Session is the authenticated session a connection belongs to.
type Session struct {
	AppID, UID string
	TokenHash  []byte // the token's key (credential.TokenKey), not a bare hash
	CreatedAt  int64  // when the token was issued, unix seconds
	ExpiresAt  int64  // unix seconds; 0 = never
	Role       string // the user's role, for other sessions' presence filters
	Presence   PresenceFilter
}

// A connection costs as little as it can while idle, which is nearly all
// the time (docs/benchmarks.md "Realtime"): no goroutine and no buffer.
// Its socket is watched by the process's poller, which starts a reader
// only when the client sent something (a pong, mostly); a writer
// goroutine exists only while there is something to write; pings come
// from the hub's sweep. Where the socket cannot be polled (TLS, or not
// Linux) one reader goroutine blocks on it instead.
type conn struct {
	h    *Hub
	nc   net.Conn
	sess Session
	key  string
	hash string

	wmu sync.Mutex // one frame at a time on the socket: the writer, pongs, pings

	// The reader's: only one runs at a time (the poller's registration is
	// one-shot, re-armed by the reader as it ends).
	pollID     int32           // the poller's id for this connection; 0 = not polled
	raw        syscall.RawConn // the polled socket's descriptor
	br         *bufio.Reader   // bytes that came with the handshake, until read
	fragmented bool            // a fragmented message is being assembled in msg
	msg        []byte
	draining   bool        // after a protocol error: discard until the client closes
	reading    atomic.Bool // a reader runs (the hand-over between readers)
	// pingSkew spreads pings: a connection is pinged after PingInterval
	// plus pingSkew/1024 of it (up to a quarter more), so sessions that
	// connected in one storm do not all answer in the same second of
	// every interval.
	pingSkew uint8

	mu      sync.Mutex
	queue   [][]byte  // messages other than presence, in order (nil when empty)
	closeRq *closeReq // set once: the writer closes the connection
	writing bool      // a writer goroutine runs
	dirty   bool      // the feed moved since the writer last looked
	// kick interrupts a writer lingering before a presence flush: a queued
	// message (a revocation notice, a pong) or a close must not wait.
	kick      chan struct{}
	lastFlush time.Time     // when the writer last sent presence
	window    time.Duration // the presence window now (presenceMin to presenceMax)
	linger    *time.Timer   // ends the connection if the client does not answer our close
	expiry    *time.Timer   // revokes the connection when its token expires

	writeStart atomic.Int64 // unix nanoseconds the frame being written began; 0 when idle
	lastSeen   atomic.Int64 // unix nanoseconds the client last sent anything (a pong included)
	pingAt     atomic.Int64 // unix nanoseconds the last ping went out
	closeSent  atomic.Bool  // our close frame is out
	peerClosed atomic.Bool  // the client's close frame came
	done       atomic.Bool  // finish ran

	// Presence comes from the app's feed (feed.go): the connection holds
	// only its cursor, so a burst costs it no memory however far behind it
	// is; what it has not sent yet is the feed's entries past the cursor.
	feed   *feed
	cursor atomic.Uint64 // the feed's seq this connection has sent up to
	parked atomic.Bool   // no writer runs and presence is up to date
}

// A connection whose socket has accepted nothing for stallAfter while
// presence waits for it is a slow consumer (the hub's sweep checks once a
// second). A healthy client behind a burst keeps writing and is never
// dropped; a second was too short on a starved machine, where a write can
// wait that long for the CPU (3 of 10,000 healthy sessions were dropped).
const stallAfter = 5 * time.Second

// How often, at most, a connection sends presence while it keeps
// changing (a connect storm, a crashed node's users going offline). A
// change after a quiet spell goes out at once; one that follows a flush
// within the connection's window waits out the rest of it, and everything
// that arrived meanwhile goes in the same frame. The window starts at
// presenceMin, doubles with every flush that had to wait (the storm goes
// on) up to presenceMax, and starts over after a flush that did not.
//
// At 19,000 sessions of 1,900 users, writing each change as it came meant
// about one write per change per socket: 36 million. A fixed 200 ms still
// cost every socket five frames a second for as long as a storm lasted: on
// five nodes of 18,000 sessions the 380 users of a killed node took
// minutes to reach everyone. A fixed second kept a single change up to a
// second late after another (a logout must be heard at once).
const (
	presenceMin = 200 * time.Millisecond
	presenceMax = 800 * time.Millisecond
)

// A presence_batch frame holds at most maxBatch events and maxBatchBytes:
// under the 32 KiB message limit common WebSocket clients keep by default.
const (
	maxBatch      = 1000
	maxBatchBytes = 16 << 10
)

// Socket buffers: the read buffer is lent only while a frame is read
// (frames.go); the handshake's writer only writes the 101 answer, then
// frames go out in one write each. net/http's are 4 KiB each.
const (
	readBufferSize  = 256
	writeBufferSize = 512
)

// closeLinger is how long a connection waits, after sending its close
// frame, for the client's (RFC 6455's closing handshake); closing at once
// could reset the socket before the client read the close frame.
const closeLinger = 2 * time.Second

const slowReason = "slow consumer: messages were not read in time"

type closeReq struct {
	msg    []byte
	code   websocket.StatusCode // 0: no close frame, the socket just closes
	reason string
	// discard drops what is queued instead of flushing it first (a slow
	// consumer gets its close frame now, not after what it could not read).
	discard bool
}

// Serve upgrades an authenticated request, registers the connection and
// returns; the connection lives on without a goroutine of its own until it
// ends. Authentication happened before: a dead token never upgrades.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, sess Session) {
	// The caller checked the handshake (the JSON refusals of docs/realtime.md)
	// and the Origin against the app's corsOrigins.
	nc, rw, _, err := ws.HTTPUpgrader{Header: w.Header()}.Upgrade(r, socket{w, h.cfg.SendBuffer})
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		return
	}
	c := &conn{
		h: h, nc: nc, sess: sess, key: store.UserKey(sess.AppID, sess.UID), hash: string(sess.TokenHash),
		kick: make(chan struct{}, 1), pingSkew: uint8(rand.Uint32()),
	}
	if rw.Reader.Buffered() > 0 { // the client wrote right after its request
		c.br = rw.Reader
	}
	c.seen()
	// "connected" must be the first message (docs/realtime.md; the SDK reports
	// OnConnected on it). Queue it before registering: once registered, the
	// connection receives other users' presence events, and queued later it
	// could follow one of them. Nothing is written until a writer starts,
	// after a successful registration, so a refused connection never sees it.
	c.queue = append(c.queue, mustJSON(struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}{"connected", sess.UID}))
	if err := h.register(r.Context(), c); err != nil {
		// errClosed, and anything unforeseen: the client should try again.
		cr := closeReq{code: websocket.StatusTryAgainLater, reason: "server shutting down", discard: true}
		var rv errRevoked
		switch {
		case errors.Is(err, errTooMany):
			cr.code, cr.reason = CloseTooManyConnections, "too many connections for this user (limit "+strconv.Itoa(h.cfg.MaxPerUser)+")"
		case errors.As(err, &rv):
			cr.msg, cr.code, cr.reason = revokedMsg(Reason(rv)), CloseRevoked, string(rv)
		}
		c.shutdown(cr)
		c.startReading()
		return
	}
	if sess.ExpiresAt > 0 {
		d := time.Until(time.Unix(sess.ExpiresAt, 0))
		// Under c.mu: a revocation during registration may already have
		// ended the connection, and finish stops the timer under it too.
		c.mu.Lock()
		if !c.done.Load() {
			c.expiry = time.AfterFunc(max(d, 0), func() {
				h.revokeWhere(func(x *conn) bool { return x == c }, ReasonTokenExpired)
			})
		}
		c.mu.Unlock()
	}
	// Registered before the first message is written, so a revocation that
	// races the client's OnConnected still reaches this connection.
	c.feed.join(c)
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
	c.startReading()
}

// startReading hands the socket to the poller, or to a reader goroutine
// where it cannot be polled.
func (c *conn) startReading() {
	// Read before the socket is armed: from then on c.br is the reader's.
	pending := c.br != nil
	c.reading.Store(pending)
	p := thePoller()
	if p == nil || p.add(c, !pending) != nil {
		br := c.br
		if br == nil {
			br = bufio.NewReaderSize(c.nc, readBufferSize)
		}
		c.br = nil
		go c.readLoop(br)
		return
	}
	if pending { // what came with the handshake is read now, then the socket armed
		go c.readReady()
	}
}

// readLoop is the reader of a socket that is not polled: it blocks until
// the connection ends.
func (c *conn) readLoop(br *bufio.Reader) {
	for {
		if err := c.readFrame(br); err != nil {
			if c.readFailed(err) {
				return
			}
			io.Copy(io.Discard, c.nc) // until the client closes, or the linger ends it
			c.finish()
			return
		}
	}
}

// readReady reads what the client sent since the socket was last armed,
// then re-arms it; it runs in a goroutine of its own, started by the
// poller. A frame that came in part is waited for, up to WriteTimeout.
func (c *conn) readReady() {
	if c.draining {
		var scratch [256]byte
		if _, err := c.nc.Read(scratch[:]); err != nil {
			c.finish()
			return
		}
	} else {
		br := c.br
		if br == nil {
			br = readers.Get().(*bufio.Reader)
			br.Reset(c.nc)
		}
		c.br = nil
		c.nc.SetReadDeadline(time.Now().Add(c.h.cfg.WriteTimeout))
		for {
			if err := c.readFrame(br); err != nil {
				if c.readFailed(err) {
					return
				}
				break // draining from now on
			}
			if br.Buffered() == 0 {
				break
			}
		}
		if br.Size() == readBufferSize {
			br.Reset(nil)
			readers.Put(br)
		}
	}
	c.reading.Store(false)
	if err := thePoller().arm(c); err != nil {
		c.finish()
	}
}

// readFailed handles the end of reading; it reports false when reading
// should go on, discarding (after a protocol error, until the client
// answers our close frame).
func (c *conn) readFailed(err error) bool {
	var pc errPeerClosed
	var pe errProtocol
	switch {
	case errors.As(err, &pc):
		c.peerClosed.Store(true)
		if c.closeSent.Load() {
			c.finish() // the answer to our close
			return true
		}
		code := websocket.StatusCode(pc.code)
		switch {
		case code == 0: // a close frame with no code
			code = websocket.StatusNormalClosure
		case !sendableCloseCode(code): // 1005, 1006, 1015 and unassigned codes never go on the wire
			code = websocket.StatusProtocolError
		}
		c.shutdown(closeReq{code: code, discard: true}) // the writer answers, then finishes
		return true
	case errors.As(err, &pe):
		c.draining = true
		c.shutdown(closeReq{code: websocket.StatusCode(pe.code), reason: pe.reason, discard: true})
		return false
	default: // the client went away, a frame stalled, or we closed the socket
		c.finish()
		return true
	}
}

// sendableCloseCode reports whether a close frame may carry code (RFC 6455
// section 7.4 and the IANA registry; 3000-4999 belong to applications).
func sendableCloseCode(code websocket.StatusCode) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}

// finish ends the connection, once: the hub forgets it (the user goes
// offline after the grace period unless a revocation already took care
// of that), the socket closes, and a writer still running fails out.
func (c *conn) finish() {
	if !c.done.CompareAndSwap(false, true) {
		return
	}
	c.h.dropped(c)
	if p := thePoller(); p != nil {
		p.remove(c)
	}
	c.nc.Close()
	if c.feed != nil {
		c.feed.leave(c)
	}
	c.mu.Lock()
	if c.closeRq == nil {
		c.closeRq = &closeReq{discard: true}
		c.urgeLocked() // a writer waiting out its presence window ends now
	}
	if c.linger != nil {
		c.linger.Stop()
	}
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.mu.Unlock()
}

// abort drops a connection whose write is stuck: closing the socket fails
// the write, whatever holds the hub's lock.
func (c *conn) abort() {
	c.nc.Close()
	go c.finish()
}

// clientReply is the answer to one message of a client, or nil. Clients
// may ping at the application level (browsers cannot send WebSocket
// pings); everything else is ignored.
func clientReply(data []byte) []byte {
	var m struct{ Type string }
	if json.Unmarshal(data, &m) == nil && m.Type == "ping" {
		return []byte(`{"type":"pong"}`)
	}
	return nil
}

func (c *conn) seen() {
	c.lastSeen.Store(time.Now().UnixNano())
}

// kickLocked starts a writer unless one runs (c.mu held).
func (c *conn) kickLocked() {
	if !c.writing {
		c.writing = true
		c.parked.Store(false)
		go c.writeLoop()
	}
}

// urgeLocked starts a writer, or cuts short the running one's wait before
// a presence flush (c.mu held): for what must not wait behind presence.
func (c *conn) urgeLocked() {
	if c.writing {
		select {
		case c.kick <- struct{}{}:
		default:
		}
		return
	}
	c.kickLocked()
}

// writeLoop sends what is queued, then presence, until there is nothing
// left; then it parks the connection and ends. A close request ends the
// connection.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		queue, cr := c.queue, c.closeRq
		c.queue, c.dirty = nil, false
		c.mu.Unlock()
		if cr != nil {
			c.close(queue, cr)
			return
		}
		// Queued messages first: "connected" precedes any presence.
		for _, msg := range queue {
			if c.write(msg) != nil {
				c.finish()
				return
			}
		}
		if c.behind() {
			if c.window == 0 {
				c.window = presenceMin
			}
			if wait := time.Until(c.lastFlush.Add(c.window)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-c.kick:
					t.Stop()
					continue // what interrupted goes first
				}
				c.window = min(2*c.window, presenceMax)
			} else {
				c.window = presenceMin
			}
			c.lastFlush = time.Now()
			if !c.flushPresence() {
				c.finish()
				return
			}
		}
		c.mu.Lock()
		if len(c.queue) > 0 || c.closeRq != nil || c.dirty {
			c.mu.Unlock()
			continue
		}
		// Idle: park, so the next feed update starts a writer. The seq is
		// read after the flag is set, and an update stores the seq before
		// it reads the flag: one of the two sees the other.
		c.parked.Store(true)
		if c.cursor.Load() != c.feed.seq.Load() && c.parked.CompareAndSwap(true, false) {
			c.mu.Unlock()
			continue
		}
		c.writing = false
		c.mu.Unlock()
		return
	}
}

// close flushes what was queued before the close (presence, the
// revocation notice), unless told to discard it, then sends the close
// frame and waits up to closeLinger for the client's answer.
func (c *conn) close(queue [][]byte, cr *closeReq) {
	if c.done.Load() {
		return
	}
	// Bounded: the sweep no longer looks at a revoked connection.
	c.nc.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteTimeout))
	if !cr.discard {
		for _, msg := range queue {
			if c.write(msg) != nil {
				c.finish()
				return
			}
		}
	}
	if cr.msg != nil && c.write(cr.msg) != nil || cr.code == 0 ||
		c.writeFrame(ws.OpClose, closeBody(ws.StatusCode(cr.code), cr.reason)) != nil {
		c.finish()
		return
	}
	c.closeSent.Store(true)
	if c.peerClosed.Load() {
		c.finish()
		return
	}
	c.mu.Lock()
	if !c.done.Load() {
		c.linger = time.AfterFunc(closeLinger, c.finish)
	}
	c.mu.Unlock()
}

// write sends one text message.
func (c *conn) write(msg []byte) error { return c.writeFrame(ws.OpText, msg) }

// flushPresence sends the feed's entries past the cursor: one "presence"
// message for a single event, else "presence_batch" frames of at most
// maxBatch events. The frame exists only while it is written.
func (c *conn) flushPresence() bool {
	var batch [][]byte
	// A few frames per pass, then back to the queue: a close must not wait
	// for a storm to end (the writer comes back for the rest).
	for range 8 {
		var seq uint64
		var oldest int64
		batch, seq, oldest = c.feed.since(c.cursor.Load(), c, maxBatch, batch[:0])
		c.cursor.Store(seq)
		if len(batch) > 0 {
			if c.write(presenceFrame(batch)) != nil {
				return false
			}
			if fn := c.h.presenceWritten; fn != nil {
				fn(time.Duration(time.Now().UnixNano() - oldest))
			}
		}
		if seq == c.feed.seq.Load() {
			return true
		}
	}
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	return true
}

func presenceFrame(batch [][]byte) []byte {
	if len(batch) == 1 {
		j := batch[0]
		b := make([]byte, 0, len(j)+18)
		b = append(b, `{"type":"presence",`...)
		return append(b, j[1:]...)
	}
	n := 40
	for _, j := range batch {
		n += len(j) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":"presence_batch","events":[`...)
	for i, j := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j...)
	}
	return append(b, ']', '}')
}

// hears reports whether this connection is told about e: never about its
// own user, and only what its presence filter asks for.
func (c *conn) hears(e *feedEntry) bool {
	return e.uid != c.sess.UID && c.sess.Presence.allows(e.role)
}

// wake tells the connection the feed moved; it never blocks.
func (c *conn) wake() {
	c.mu.Lock()
	c.dirty = true
	if c.closeRq == nil {
		c.kickLocked()
	}
	c.mu.Unlock()
}

// stalled reports whether the frame being written has made no progress
// for d (frames are small: one that takes a second is not moving).
func (c *conn) stalled(d time.Duration) bool {
	ws := c.writeStart.Load()
	return ws != 0 && time.Since(time.Unix(0, ws)) >= d
}

// behind reports whether presence waits for this connection.
func (c *conn) behind() bool {
	return c.feed != nil && c.cursor.Load() < c.feed.seq.Load()
}

// enqueue queues a message; it never blocks: a client that cannot keep up
// is disconnected rather than allowed to stall the sender.
func (c *conn) enqueue(msg []byte) {
	c.mu.Lock()
	if c.closeRq != nil {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.h.cfg.QueueSize {
		c.mu.Unlock()
		c.slow()
		return
	}
	c.queue = append(c.queue, msg)
	c.urgeLocked()
	c.mu.Unlock()
}

// slow disconnects a slow consumer. If the writer is idle, the 4008 close
// frame goes out ahead of everything queued. If it is blocked on a write,
// the socket is full and no close frame can reach the client: the
// connection is dropped now rather than when the write times out, which
// held it (and what was queued for it) for WriteTimeout after the client
// had already fallen behind.
func (c *conn) slow() {
	c.shutdown(closeReq{code: CloseSlowConsumer, reason: slowReason, discard: true})
	if c.writeStart.Load() != 0 {
		c.abort()
	}
}

// shutdown asks the writer to close the connection (the first request wins).
func (c *conn) shutdown(cr closeReq) {
	c.mu.Lock()
	if c.closeRq == nil {
		c.closeRq = &cr
		c.urgeLocked()
	}
	c.mu.Unlock()
}

// ping checks the client is there when it has been silent for the ping
// interval: a WebSocket ping, answered by any client that reads; the
// sweep drops the connection if nothing comes back within WriteTimeout.
// The write runs in a goroutine of its own: the socket may be full.
func (c *conn) ping() {
	c.pingAt.Store(time.Now().UnixNano())
	go func() {
		if c.writeFrame(ws.OpPing, nil) != nil {
			c.finish()
		}
	}()
}

// socket sizes the kernel send buffer and the bufio buffers of the
// connection the upgrade hijacks.
type socket struct {
	http.ResponseWriter
	sendBuffer int
}

func (s socket) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s socket) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nc, brw, err
	}
	if s.sendBuffer >= 0 {
		raw := nc
		if tc, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
			raw = tc.NetConn()
		}
		if tc, ok := raw.(*net.TCPConn); ok {
			tc.SetWriteBuffer(s.sendBuffer)
		}
	}
	// net/http's 4 KiB buffers go back to the garbage collector; bytes the
	// client sent right after its request stay in the old reader.
	r := brw.Reader
	if r.Buffered() == 0 {
		r = bufio.NewReaderSize(nc, readBufferSize)
	}
	return nc, bufio.NewReadWriter(r, bufio.NewWriterSize(nc, writeBufferSize)), nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

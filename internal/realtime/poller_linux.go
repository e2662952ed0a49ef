package realtime

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// poller tells idle connections' readers when their socket has data, so
// an idle connection holds no goroutine (docs/benchmarks.md "Realtime"):
// one epoll instance for the process, one goroutine waiting on it, and a
// reader goroutine started per readiness event, which reads what came and
// ends. At 19,000 sessions a reader parked per socket was 4.6 KB of stack
// and 0.8 KB of goroutine each, a quarter of the server's memory.
//
// The runtime's own netpoller keeps the descriptor too (edge-triggered);
// a second epoll instance watching the same socket is independent of it.
// Registration is one-shot: after an event the socket is quiet until its
// reader re-arms it, so at most one reader runs per connection.
type poller struct {
	epfd int

	mu    sync.Mutex
	conns map[int32]*conn // by registration id: a descriptor number is reused after close
	next  int32
}

var (
	pollOnce sync.Once
	thePoll  *poller
)

// thePoller is the process's poller, or nil where epoll is not available
// (readers then block, one goroutine per connection).
func thePoller() *poller {
	pollOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		thePoll = &poller{epfd: fd, conns: make(map[int32]*conn)}
		go thePoll.wait()
	})
	return thePoll
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

var errNotPollable = errors.New("realtime: socket cannot be polled")

// add registers c's socket, armed unless a reader is about to run (it
// re-arms as it ends). Only plain TCP sockets are polled: a TLS connection
// can hold decrypted bytes the socket no longer shows.
func (p *poller) add(c *conn, armed bool) error {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return errNotPollable
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	p.mu.Lock()
	if c.done.Load() {
		// finish ran (a failed first write) and found nothing to remove;
		// registered now, the entry would outlive the socket.
		p.mu.Unlock()
		return errNotPollable
	}
	for {
		p.next++
		if p.next <= 0 {
			p.next = 1
		}
		if p.conns[p.next] == nil {
			break
		}
	}
	id := p.next
	p.conns[id] = c
	c.pollID, c.raw = id, rc // under p.mu: the reader the event starts sees them
	p.mu.Unlock()
	events := uint32(pollEvents)
	if !armed {
		events = syscall.EPOLLONESHOT // nothing, not even a hang-up, is reported
	}
	if err := p.ctl(c, syscall.EPOLL_CTL_ADD, events); err != nil {
		p.mu.Lock()
		delete(p.conns, id)
		c.pollID = 0
		p.mu.Unlock()
		return err
	}
	return nil
}

// arm asks for the next readiness event of c's socket.
func (p *poller) arm(c *conn) error { return p.ctl(c, syscall.EPOLL_CTL_MOD, pollEvents) }

// remove forgets c; finish calls it after marking c done, before the
// socket closes (an add that comes later sees done and registers nothing).
func (p *poller) remove(c *conn) {
	p.mu.Lock()
	id := c.pollID
	if id != 0 {
		delete(p.conns, id)
	}
	p.mu.Unlock()
	if id != 0 {
		p.ctl(c, syscall.EPOLL_CTL_DEL, 0)
	}
}

// ctl runs inside the descriptor's Control, so it never acts on a
// descriptor number that was closed and reused.
func (p *poller) ctl(c *conn, op int, events uint32) error {
	var cerr error
	err := c.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: events, Fd: c.pollID}
		cerr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return cerr
}

func (p *poller) wait() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			panic("realtime: epoll_wait: " + err.Error())
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if c := p.conns[ev.Fd]; c != nil && c.reading.CompareAndSwap(false, true) {
				go c.readReady()
			}
		}
		p.mu.Unlock()
	}
}

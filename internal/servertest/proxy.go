package servertest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy a test can cut, to take a database away from a
// running server and give it back.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	mode   int // proxyUp, proxyDown, proxyStall
	conns  map[net.Conn]struct{}
	closed bool
}

const (
	proxyUp = iota
	proxyDown
	proxyStall
)

// NewProxy forwards a loopback port to target until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Down closes every connection and refuses new ones (a stopped database).
func (p *Proxy) Down() { p.set(proxyDown) }

// Stall keeps accepting but forwards nothing, and freezes open connections
// (a database that hangs, or a network that drops packets).
func (p *Proxy) Stall() { p.set(proxyStall) }

// Up forwards again.
func (p *Proxy) Up() { p.set(proxyUp) }

func (p *Proxy) set(mode int) {
	p.mu.Lock()
	p.mode = mode
	var kill []net.Conn
	if mode == proxyDown {
		for c := range p.conns {
			kill = append(kill, c)
		}
	}
	p.mu.Unlock()
	for _, c := range kill {
		c.Close()
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.set(proxyDown)
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) current() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		switch p.current() {
		case proxyDown:
			c.Close()
			continue
		case proxyStall:
			if !p.track(c) { // held open, never answered
				c.Close()
			}
			continue
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c) || !p.track(up) {
		c.Close()
		up.Close()
		return
	}
	defer func() {
		c.Close()
		up.Close()
		p.untrack(c)
		p.untrack(up)
	}()
	done := make(chan struct{}, 2)
	copyFn := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			for n > 0 && p.current() == proxyStall {
				// Frozen: hold the bytes until the proxy is up or down.
				waitChange(p)
			}
			if n > 0 && p.current() == proxyUp {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil || p.current() == proxyDown {
				break
			}
		}
		done <- struct{}{}
	}
	go copyFn(up, c)
	go copyFn(c, up)
	<-done
}

func waitChange(p *Proxy) {
	// Polling keeps the proxy small; tests flip modes a handful of times.
	for p.current() == proxyStall {
		sleepShort()
	}
}

func sleepShort() { time.Sleep(10 * time.Millisecond) }

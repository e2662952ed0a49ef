package bench

import (
	"net"
	"sync"
	"testing"
)

// BenchmarkLoopbackWrite is the kernel's share of a presence fan-out: one
// write of a 110-byte frame (the size of a presence message) to each of
// many loopback TCP sockets, with nothing else done per socket and nobody
// reading. A fan-out to N sockets cannot take less than N times this on
// one core (docs/benchmarks.md "Presence fan-out"):
//
//	go test ./internal/bench -run '^$' -bench LoopbackWrite
func BenchmarkLoopbackWrite(b *testing.B) {
	const sockets = 2000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var srv, cli []net.Conn
	accepted := make(chan error, 1)
	go func() {
		for range sockets {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			srv = append(srv, c)
		}
		accepted <- nil
	}()
	for range sockets {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		cli = append(cli, c)
	}
	if err := <-accepted; err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, c := range append(srv, cli...) {
			c.Close()
		}
	}()
	frame := make([]byte, 110)
	// Nobody reads: the sockets' buffers hold what a benchmark run writes
	// (a few KB each), and the reader's cost stays out of the figure.
	b.Run("one-goroutine", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := srv[i%sockets].Write(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	// As a fan-out runs: a writer per socket, on every core.
	b.Run("goroutine-per-socket", func(b *testing.B) {
		var i int
		for b.Loop() {
			var w sync.WaitGroup
			for _, c := range srv {
				w.Add(1)
				go func() {
					defer w.Done()
					c.Write(frame)
				}()
			}
			w.Wait()
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*sockets), "ns/write")
	})
}

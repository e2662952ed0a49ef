package bench

// The load generator of callgate bench: a closed-loop HTTP/1.1 client with C
// keep-alive connections, each sending one request and reading its response
// before the next, like wrk. It writes pre-built request bytes on raw TCP and
// parses only the status line and Content-Length, so the generator costs
// little of the CPU it shares with the server.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one pre-built HTTP/1.1 request.
type Request []byte

// NewRequest builds a keep-alive request.
func NewRequest(method, host, path string, headers map[string]string, body []byte) Request {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != nil || method == "POST" || method == "PUT" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// LoadOptions describe a run.
type LoadOptions struct {
	Addr        string        // host:port
	Connections int           // concurrent keep-alive connections
	Duration    time.Duration // measured time
	Warmup      time.Duration // unmeasured time before
	// Next returns the request connection conn sends as its i-th request.
	Next func(conn, i int) Request
	// Progress, if set, is called about every 200 ms with the requests so far.
	Progress func(elapsed time.Duration, done int64)
	// Window, if set, cuts the measured time into windows of this length;
	// OnWindow gets each one's figures as it ends (the last may be shorter).
	Window   time.Duration
	OnWindow func(Window)
}

// Window is the figures of one window of a run (LoadOptions.Window).
type Window struct {
	Index            int // from 0
	Elapsed          time.Duration
	Requests, Errors int64
	Hist             *Histogram
}

// windowHist is one connection's share of the current window; the run
// swaps it out at each window's end.
type windowHist struct {
	mu   sync.Mutex
	h    *Histogram
	n, e int64
}

func (w *windowHist) record(d time.Duration, failed bool) {
	w.mu.Lock()
	w.h.Record(d)
	w.n++
	if failed {
		w.e++
	}
	w.mu.Unlock()
}

// cut returns the window's figures so far and starts a new one.
func cutWindow(ws []*windowHist, index int, elapsed time.Duration) Window {
	out := Window{Index: index, Elapsed: elapsed, Hist: NewHistogram()}
	for _, w := range ws {
		w.mu.Lock()
		h, n, e := w.h, w.n, w.e
		w.h, w.n, w.e = NewHistogram(), 0, 0
		w.mu.Unlock()
		out.Hist.Merge(h)
		out.Requests += n
		out.Errors += e
	}
	return out
}

// LoadResult is what a run measured.
type LoadResult struct {
	Requests int64
	Errors   int64 // non-2xx answers and broken connections
	Elapsed  time.Duration
	Hist     *Histogram
}

// RPS is requests per second.
func (r LoadResult) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// RunLoad drives the load until Duration has been measured.
func RunLoad(ctx context.Context, o LoadOptions) (LoadResult, error) {
	if o.Connections <= 0 {
		o.Connections = 64
	}
	var measuring atomic.Bool
	var count, errs atomic.Int64
	hists := make([]*Histogram, o.Connections)
	var wins []*windowHist
	if o.Window > 0 {
		wins = make([]*windowHist, o.Connections)
		for c := range wins {
			wins[c] = &windowHist{h: NewHistogram()}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	dialErr := make(chan error, o.Connections)
	for c := range o.Connections {
		hists[c] = NewHistogram()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var win *windowHist
			if wins != nil {
				win = wins[c]
			}
			if err := worker(ctx, o, c, hists[c], win, &measuring, &count, &errs); err != nil {
				dialErr <- err
				cancel()
			}
		}()
	}
	select {
	case <-time.After(o.Warmup):
	case <-ctx.Done():
	}
	if wins != nil {
		cutWindow(wins, 0, 0) // the warm-up is not measured
	}
	measuring.Store(true)
	start := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(o.Duration)
	var windowC <-chan time.Time
	if wins != nil {
		wt := time.NewTicker(o.Window)
		defer wt.Stop()
		windowC = wt.C
	}
	windows, windowStart := 0, start
	endWindow := func(now time.Time) {
		w := cutWindow(wins, windows, now.Sub(windowStart))
		windows, windowStart = windows+1, now
		if o.OnWindow != nil {
			o.OnWindow(w)
		}
	}
loop:
	for {
		select {
		case <-deadline:
			break loop
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if o.Progress != nil {
				o.Progress(time.Since(start), count.Load())
			}
		case now := <-windowC:
			endWindow(now)
		}
	}
	elapsed := time.Since(start)
	measuring.Store(false)
	if wins != nil && time.Since(windowStart) >= time.Second {
		endWindow(time.Now())
	}
	res := LoadResult{Requests: count.Load(), Errors: errs.Load(), Elapsed: elapsed}
	cancel()
	wg.Wait()
	select {
	case err := <-dialErr:
		return res, err
	default:
	}
	res.Hist = NewHistogram()
	for _, h := range hists {
		res.Hist.Merge(h)
	}
	return res, nil
}

func worker(ctx context.Context, o LoadOptions, id int, h *Histogram, win *windowHist, measuring *atomic.Bool, count, errs *atomic.Int64) error {
	var conn net.Conn
	var br *bufio.Reader
	dial := func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", o.Addr)
		if err != nil {
			return err
		}
		conn, br = c, bufio.NewReaderSize(c, 16<<10)
		go func() { <-ctx.Done(); c.Close() }()
		return nil
	}
	if err := dial(); err != nil {
		return fmt.Errorf("connect to %s: %w", o.Addr, err)
	}
	for i := 0; ctx.Err() == nil; i++ {
		req := o.Next(id, i)
		t0 := time.Now()
		status, err := roundTrip(conn, br, req)
		d := time.Since(t0)
		if ctx.Err() != nil {
			return nil
		}
		if measuring.Load() {
			failed := err != nil || status < 200 || status > 299
			count.Add(1)
			h.Record(d)
			if failed {
				errs.Add(1)
			}
			if win != nil {
				win.record(d, failed)
			}
		}
		if err != nil {
			conn.Close()
			if err := dial(); err != nil {
				return nil
			}
		}
	}
	return nil
}

var errMalformed = errors.New("malformed response")

func roundTrip(conn net.Conn, br *bufio.Reader, req Request) (int, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errMalformed
	}
	length := -1
	closeAfter := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return status, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok {
			v = bytes.TrimSpace(v)
			switch {
			case bytes.EqualFold(k, []byte("Content-Length")):
				length, _ = strconv.Atoi(string(v))
			case bytes.EqualFold(k, []byte("Connection")) && bytes.EqualFold(v, []byte("close")):
				closeAfter = true
			}
		}
	}
	if length < 0 && (status == 204 || status == 304) {
		length = 0 // no body by definition (a CORS preflight is a 204)
	}
	if length < 0 {
		return status, errMalformed // callgate always sends Content-Length
	}
	if _, err := br.Discard(length); err != nil {
		return status, err
	}
	if closeAfter {
		return status, io.EOF
	}
	return status, nil
}

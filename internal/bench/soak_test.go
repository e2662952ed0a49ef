package bench

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The growth rule on made-up series: a plateau after warm-up with noise
// passes, steady growth of any one measure fails, growth that stops during
// warm-up passes, and a run too short to cut into thirds is not judged.
func TestSoakChecks(t *testing.T) {
	const total, warm = 10 * time.Minute, 2 * time.Minute
	series := func(f func(at time.Duration, noise float64) (rss float64, g, fds int)) []soakSample {
		rng := rand.New(rand.NewPCG(1, 2))
		var out []soakSample
		for at := soakSampleEvery; at <= total; at += soakSampleEvery {
			rss, g, fds := f(at, rng.Float64()*2-1)
			out = append(out, soakSample{at: at, rssMB: rss, goroutines: g, fds: fds})
		}
		return out
	}
	frac := func(at time.Duration) float64 { return float64(at) / float64(total) }
	for _, tc := range []struct {
		name string
		f    func(at time.Duration, noise float64) (float64, int, int)
		grew []string
	}{
		{"plateau with noise", func(at time.Duration, n float64) (float64, int, int) {
			return 80 + 6*n, 300 + int(60*n), 120 + int(10*n)
		}, nil},
		{"stalls: goroutines double now and then, late in the run", func(at time.Duration, n float64) (float64, int, int) {
			g := 250 + int(40*n)
			if int(at.Seconds())%60 < 6 && at > 7*time.Minute {
				g *= 2 // the machine stalled: work queued up
			}
			return 72 + n, g, 122
		}, nil},
		{"growth that stops in warm-up", func(at time.Duration, n float64) (float64, int, int) {
			x := min(frac(at)/0.15, 1)
			return 30 + 50*x + 3*n, 100 + int(200*x), 60 + int(60*x)
		}, nil},
		{"rss leak", func(at time.Duration, n float64) (float64, int, int) {
			return 80 + 200*frac(at) + 3*n, 300, 120
		}, []string{"RSS"}},
		{"goroutine leak (one per 20 connections)", func(at time.Duration, n float64) (float64, int, int) {
			return 80, 300 + int(at.Seconds()*30/20) + int(20*n), 120
		}, []string{"goroutines"}},
		{"descriptor leak (one a second)", func(at time.Duration, n float64) (float64, int, int) {
			return 80, 300, 120 + int(at.Seconds()) + int(5*n)
		}, []string{"open descriptors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks := soakChecks(series(tc.f), warm, total)
			if len(checks) != 3 {
				t.Fatalf("checks %+v", checks)
			}
			var grew []string
			for _, c := range checks {
				if c.Grew {
					grew = append(grew, c.Measure)
				}
			}
			if strings.Join(grew, ",") != strings.Join(tc.grew, ",") {
				t.Errorf("grew %v, want %v: %+v", grew, tc.grew, checks)
			}
		})
	}
	if c := soakChecks([]soakSample{{at: time.Second}}, warm, total); c != nil {
		t.Errorf("one sample judged: %+v", c)
	}
	if c := soakChecks(nil, warm, warm); c != nil {
		t.Errorf("no time after warm-up judged: %+v", c)
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_goroutines_other 7
process_open_fds 19
process_resident_memory_bytes 4.5056e+07
callgate_http_requests_total{route="/healthz"} 3
`), "go_goroutines", "process_open_fds", "process_resident_memory_bytes")
	if err != nil || m["go_goroutines"] != 42 || m["process_open_fds"] != 19 || m["process_resident_memory_bytes"] != 45056000 || len(m) != 3 {
		t.Fatalf("%v %v", m, err)
	}
}

// Windows cut the measured time; their requests add up to the run's.
func TestRunLoadWindows(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	req := NewRequest("GET", addr, "/", nil, nil)
	var wins []Window
	res, err := RunLoad(context.Background(), LoadOptions{Addr: addr, Connections: 4, Duration: 1250 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Next: func(int, int) Request { return req }, Window: 500 * time.Millisecond, OnWindow: func(w Window) { wins = append(wins, w) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(wins) != 2 {
		t.Fatalf("%d windows, want 2 (the last 250 ms is under a second)", len(wins))
	}
	var sum int64
	for i, w := range wins {
		if w.Index != i || w.Requests == 0 || w.Hist.Count() != w.Requests || w.Elapsed < 400*time.Millisecond {
			t.Errorf("window %+v", w)
		}
		sum += w.Requests
	}
	if sum > res.Requests || sum < res.Requests/2 {
		t.Errorf("windows hold %d requests of %d", sum, res.Requests)
	}
}

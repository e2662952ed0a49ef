package bench

// callgate bench --soak: a long mixed load with realtime churn, watching
// the server for leaks (docs/benchmarks.md "Soak").

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The growth rule (SoakRule explains it in words; the help and
// docs/benchmarks.md repeat it).
const (
	soakSampleEvery = 2 * time.Second
	soakMinWarmup   = 30 * time.Second
	soakGrowthPct   = 10 // percent
	soakSlackRSSMB  = 16
	soakSlackGorout = 50
	soakSlackFDs    = 20
	// Above these shares of failed REST requests or WebSocket connections
	// the soak fails too: a server that leaks nothing but errors is not
	// healthy.
	soakMaxErrorShare = 0.001
	soakMaxWSFailures = 0.01
)

// SoakRule is the failure rule, as --help and the report state it.
var SoakRule = fmt.Sprintf(`The server's RSS, goroutines (go_goroutines of its /metrics) and open
descriptors (/proc/PID/fd) are sampled every %s. The first fifth of the run
(at least %s) is warm-up and not judged; the rest is cut into thirds. The
soak fails if, for any of the three, the median sample of the last third
exceeds the median of the middle third by more than %d%% plus a fixed slack
(%d MB of RSS, %d goroutines, %d descriptors): a leak keeps growing, while
caches, pools and buffers that fill up once stop. Medians, not maxima: when
the machine stalls for a moment, work queues up and goroutines briefly
double, which says nothing about a leak; a leak moves every sample. It also
fails when more than %.1f%% of REST requests or %.0f%% of WebSocket
connections fail.`,
	soakSampleEvery, soakMinWarmup, soakGrowthPct, soakSlackRSSMB, soakSlackGorout, soakSlackFDs,
	100*soakMaxErrorShare, 100*soakMaxWSFailures)

// SoakWindow is one reporting interval (a minute by default).
type SoakWindow struct {
	Index      int     `json:"index"` // from 1
	EndSeconds float64 `json:"endSeconds"`
	RPS        float64 `json:"rps"`
	P99ms      float64 `json:"p99Ms"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	WSConnects int64   `json:"wsConnects"`
	WSFailures int64   `json:"wsFailures"`
	// The median sample of the window, and the largest.
	RSSMB         float64 `json:"serverRssMB"`
	RSSMBMax      float64 `json:"serverRssMBMax"`
	Goroutines    int     `json:"goroutines"`
	GoroutinesMax int     `json:"goroutinesMax"`
	FDs           int     `json:"openFDs"`
	FDsMax        int     `json:"openFDsMax"`
}

// SoakCheck is the growth rule applied to one measure.
type SoakCheck struct {
	Measure string  `json:"measure"`
	Early   float64 `json:"early"`  // median sample of the first third after warm-up
	Middle  float64 `json:"middle"` // … of the middle third
	Last    float64 `json:"last"`   // … of the last third
	Limit   float64 `json:"limit"`  // what Last may reach
	Grew    bool    `json:"grew"`
}

// SoakReport is what RunSoak measured (also its --json shape).
type SoakReport struct {
	DurationSeconds float64      `json:"durationSeconds"`
	WarmupSeconds   float64      `json:"warmupSeconds"`
	Connections     int          `json:"connections"`
	Churners        int          `json:"wsChurners"`
	Windows         []SoakWindow `json:"windows"`
	Checks          []SoakCheck  `json:"checks"`
	Requests        int64        `json:"requests"`
	Errors          int64        `json:"errors"`
	P99ms           float64      `json:"p99Ms"`
	WSConnects      int64        `json:"wsConnects"`
	WSFailures      int64        `json:"wsFailures"`
	Samples         int          `json:"samples"`
	Failures        []string     `json:"failures"` // empty when the soak passed
	url             string
}

// soakSample is one reading of the server.
type soakSample struct {
	at         time.Duration // since the load started
	rssMB      float64
	goroutines int
	fds        int
}

// RunSoak starts the server (or uses o.Target), then drives the mixed
// scenario on o.Connections connections and o.SoakChurn WebSocket clients
// that connect and disconnect continuously, for o.Soak. It reports each
// o.SoakInterval on stderr. The returned error is for a soak that could
// not run; a soak that ran and failed the rule has Failures set.
func RunSoak(ctx context.Context, stderr io.Writer, o Options) (*SoakReport, error) {
	if o.Soak < time.Minute {
		return nil, fmt.Errorf("--soak %s: want at least 1m (a warm-up and three windows to compare)", o.Soak)
	}
	if o.SoakInterval <= 0 {
		o.SoakInterval = time.Minute
	}
	env, _, _, cleanup, err := prepare(ctx, stderr, o)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	status := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	if env.pid == 0 {
		status("no --pid: RSS and open descriptors come from the server's /metrics (process_resident_memory_bytes, process_open_fds)")
	}
	rep := &SoakReport{Connections: o.Connections, Churners: o.SoakChurn, url: env.url}
	warm := max(soakMinWarmup, o.Soak/5)
	rep.WarmupSeconds = warm.Seconds()
	status("soak: %s of mixed load on %d connections and %d WebSocket clients connecting and disconnecting; warm-up %s; a line every %s",
		o.Soak, o.Connections, o.SoakChurn, warm, o.SoakInterval)

	lctx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()

	// Samples of the server, every soakSampleEvery.
	var (
		smu     sync.Mutex
		samples []soakSample
		sampErr firstError
	)
	metricsClient := &http.Client{Timeout: 5 * time.Second}
	sampleOnce := func() {
		s, err := sampleServer(lctx, metricsClient, env.url, env.pid)
		if err != nil {
			if lctx.Err() == nil {
				sampErr.set(err)
			}
			return
		}
		s.at = time.Since(start)
		smu.Lock()
		samples = append(samples, s)
		smu.Unlock()
	}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		t := time.NewTicker(soakSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				sampleOnce()
			}
		}
	}()

	// Realtime churn.
	var wsConnects, wsFailures atomic.Int64
	var firstWSErr firstError
	wsURL := "ws" + strings.TrimPrefix(env.url, "http") + "/v3.0/ws"
	for c := range o.SoakChurn {
		bg.Add(1)
		go func() {
			defer bg.Done()
			churn(lctx, c, wsURL, env, &wsConnects, &wsFailures, &firstWSErr)
		}()
	}

	// The REST load, with a line per interval.
	_, next := scenarioRequests(env, "mixed")
	var lastWS, lastWSF int64
	res, err := RunLoad(lctx, LoadOptions{
		Addr: env.host, Connections: o.Connections, Duration: o.Soak, Next: next,
		Window: o.SoakInterval,
		OnWindow: func(w Window) {
			end := time.Since(start)
			smu.Lock()
			var in []soakSample
			for _, s := range samples {
				if s.at > end-w.Elapsed && s.at <= end {
					in = append(in, s)
				}
			}
			smu.Unlock()
			ws, wsf := wsConnects.Load(), wsFailures.Load()
			sw := SoakWindow{
				Index: w.Index + 1, EndSeconds: end.Seconds(), Requests: w.Requests, Errors: w.Errors,
				RPS: float64(w.Requests) / w.Elapsed.Seconds(), P99ms: msOf(w.Hist.Quantile(0.99)),
				WSConnects: ws - lastWS, WSFailures: wsf - lastWSF,
			}
			lastWS, lastWSF = ws, wsf
			var rss, gs, fds []float64
			for _, s := range in {
				rss, gs, fds = append(rss, s.rssMB), append(gs, float64(s.goroutines)), append(fds, float64(s.fds))
			}
			sw.RSSMB, sw.RSSMBMax = median(rss), slices.Max(append(rss, 0))
			sw.Goroutines, sw.GoroutinesMax = int(median(gs)), int(slices.Max(append(gs, 0)))
			sw.FDs, sw.FDsMax = int(median(fds)), int(slices.Max(append(fds, 0)))
			rep.Windows = append(rep.Windows, sw)
			status("%s %3d/%d: %7.0f req/s  p99 %7s  errors %d  ws %d connects (%d failed)  RSS %.0f MB  goroutines %d (max %d)  open fds %d",
				intervalName(o.SoakInterval), sw.Index, int((o.Soak+o.SoakInterval-1)/o.SoakInterval), sw.RPS, ms(sw.P99ms),
				sw.Errors, sw.WSConnects, sw.WSFailures, sw.RSSMB, sw.Goroutines, sw.GoroutinesMax, sw.FDs)
		},
	})
	stop()
	bg.Wait()
	if err != nil {
		return nil, err
	}
	if e := sampErr.get(); e != nil && len(samples) == 0 {
		return nil, fmt.Errorf("sampling the server: %w", e)
	}
	rep.DurationSeconds = res.Elapsed.Seconds()
	rep.Requests, rep.Errors = res.Requests, res.Errors
	rep.P99ms = msOf(res.Hist.Quantile(0.99))
	rep.WSConnects, rep.WSFailures = wsConnects.Load(), wsFailures.Load()
	rep.Samples = len(samples)
	rep.Checks = soakChecks(samples, warm, time.Duration(rep.DurationSeconds*float64(time.Second)))
	for _, c := range rep.Checks {
		if c.Grew {
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s kept growing: a median of %s in the last third, %s in the middle third (limit %s)",
				c.Measure, fmtMeasure(c.Measure, c.Last), fmtMeasure(c.Measure, c.Middle), fmtMeasure(c.Measure, c.Limit)))
		}
	}
	if len(rep.Checks) == 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("too few samples of the server after warm-up (%d in all) to judge growth", len(samples)))
	}
	if rep.Requests == 0 || float64(rep.Errors) > soakMaxErrorShare*float64(rep.Requests) {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d of %d REST requests failed (more than %.1f%%)", rep.Errors, rep.Requests, 100*soakMaxErrorShare))
	}
	if att := rep.WSConnects + rep.WSFailures; o.SoakChurn > 0 && (att == 0 || float64(rep.WSFailures) > soakMaxWSFailures*float64(att)) {
		msg := fmt.Sprintf("%d of %d WebSocket connections failed (more than %.0f%%)", rep.WSFailures, att, 100*soakMaxWSFailures)
		if e := firstWSErr.get(); e != nil {
			msg += "; the first: " + e.Error()
		}
		rep.Failures = append(rep.Failures, msg)
	}
	return rep, nil
}

func intervalName(d time.Duration) string {
	if d == time.Minute {
		return "minute"
	}
	return "interval"
}

// churn is one WebSocket client that connects, reads its "connected"
// message, stays a moment (reading presence events) and leaves, over and
// over: cleanly (a close handshake) or abruptly (the TCP connection
// dropped), taking turns, as browsers tabs and dying phones do.
func churn(ctx context.Context, c int, wsURL string, env *benchEnv, connects, failures *atomic.Int64, firstErr *firstError) {
	rng := rand.New(rand.NewPCG(uint64(c), 42))
	n := len(env.tokens)
	for i := 0; ctx.Err() == nil; i++ {
		k := (c*7919 + i*31) % n
		h := http.Header{}
		h.Set("appId", env.app)
		h.Set("authToken", env.tokens[k])
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ws, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			_, msg, rerr := ws.Read(dctx)
			if rerr == nil && !strings.Contains(string(msg), `"connected"`) {
				rerr = fmt.Errorf("first message %q, want connected", msg)
			}
			err = rerr
		}
		cancel()
		if ctx.Err() != nil {
			if ws != nil {
				ws.CloseNow()
			}
			return
		}
		if err != nil {
			failures.Add(1)
			firstErr.set(err)
			if ws != nil {
				ws.CloseNow()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		connects.Add(1)
		// Stay 0.2–2 s, reading what comes (presence of the others). A
		// Read whose context ends closes the connection, so the reader
		// runs on ctx and the stay is timed apart.
		stay := 200*time.Millisecond + time.Duration(rng.Int64N(int64(1800*time.Millisecond)))
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		select {
		case <-time.After(stay):
		case <-ctx.Done():
		}
		if i%2 == 0 {
			ws.Close(websocket.StatusNormalClosure, "bye") // bounded by the library (5 s)
		} else {
			ws.CloseNow()
		}
		<-readDone
	}
}

// firstError keeps the first error it is given.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// sampleServer reads the server's goroutines from /metrics and its RSS
// and open descriptors from /proc (from /metrics without a pid).
func sampleServer(ctx context.Context, c *http.Client, url string, pid int) (soakSample, error) {
	var s soakSample
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	res, err := c.Do(req)
	if err != nil {
		return s, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return s, fmt.Errorf("GET /metrics: HTTP %d", res.StatusCode)
	}
	m, err := parseMetrics(res.Body, "go_goroutines", "process_resident_memory_bytes", "process_open_fds")
	if err != nil {
		return s, err
	}
	g, ok := m["go_goroutines"]
	if !ok {
		return s, errors.New("GET /metrics: no go_goroutines")
	}
	s.goroutines = int(g)
	if pid > 0 {
		s.rssMB = float64(rssKB(pid)) / 1024
		s.fds = openFDs(pid)
	} else {
		s.rssMB = m["process_resident_memory_bytes"] / (1 << 20)
		s.fds = int(m["process_open_fds"])
	}
	return s, nil
}

// parseMetrics reads the named unlabelled gauges of a Prometheus text
// exposition.
func parseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics: %s: %w", name, err)
		}
		out[name] = v
	}
	return out, sc.Err()
}

// openFDs counts a process's open file descriptors (Linux); 0 elsewhere.
func openFDs(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// soakChecks applies the growth rule (SoakRule) to the samples of a run
// of total length with the given warm-up; nil if a third has no sample.
func soakChecks(samples []soakSample, warm, total time.Duration) []SoakCheck {
	third := (total - warm) / 3
	if third <= 0 {
		return nil
	}
	var vals [3][3][]float64 // [third][measure]
	for _, s := range samples {
		if s.at <= warm || s.at > total {
			continue
		}
		t := min(int((s.at-warm-1)/third), 2)
		for m, v := range []float64{s.rssMB, float64(s.goroutines), float64(s.fds)} {
			vals[t][m] = append(vals[t][m], v)
		}
	}
	if len(vals[0][0]) == 0 || len(vals[1][0]) == 0 || len(vals[2][0]) == 0 {
		return nil
	}
	measures := []struct {
		name  string
		slack float64
	}{{"RSS", soakSlackRSSMB}, {"goroutines", soakSlackGorout}, {"open descriptors", soakSlackFDs}}
	out := make([]SoakCheck, len(measures))
	for m, ms := range measures {
		early, middle, last := median(vals[0][m]), median(vals[1][m]), median(vals[2][m])
		limit := middle*(1+soakGrowthPct/100.0) + ms.slack
		out[m] = SoakCheck{Measure: ms.name, Early: early, Middle: middle, Last: last, Limit: limit, Grew: last > limit}
	}
	return out
}

// median of vs (0 if empty); vs is sorted in place.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	return vs[len(vs)/2]
}

func fmtMeasure(measure string, v float64) string {
	if measure == "RSS" {
		return fmt.Sprintf("%.0f MB", v)
	}
	return strconv.Itoa(int(v))
}

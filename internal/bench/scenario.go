package bench

// The scenarios of Run: the requests each sends, and one round of one
// scenario with its progress line.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

func scenarioRequests(env *benchEnv, name string) (addr string, next func(conn, i int) Request) {
	n := len(env.uids)
	login := make([]Request, n)
	session := make([]Request, n)
	me := make([]Request, n)
	for i := range n {
		login[i] = NewRequest("POST", env.host, "/v3/users/"+env.uids[i]+"/auth_tokens",
			map[string]string{"appId": env.app, "apiKey": env.authKey}, []byte(`{}`))
		session[i] = NewRequest("PUT", env.host, "/v3.0/me",
			map[string]string{"appId": env.app, "authToken": env.tokens[i]}, []byte(`{"platform":"bench","deviceId":"bench-device"}`))
		me[i] = NewRequest("GET", env.host, "/v3/me", map[string]string{"appId": env.app, "authToken": env.tokens[i]}, nil)
	}
	pick := func(reqs []Request) func(conn, i int) Request {
		return func(conn, i int) Request { return reqs[(conn*7919+i)%n] }
	}
	switch name {
	case "baseline":
		r := NewRequest("GET", env.baseline, "/", nil, nil)
		return env.baseline, func(int, int) Request { return r }
	case "login":
		return env.host, pick(login)
	case "session":
		return env.host, pick(session)
	case "me":
		return env.host, pick(me)
	case "me-cors":
		// GET /me from a browser: the app's corsOrigins is checked.
		meCORS := make([]Request, n)
		for i := range n {
			meCORS[i] = NewRequest("GET", env.host, "/v3/me", map[string]string{"appId": env.app, "authToken": env.tokens[i], "Origin": "http://localhost:5173"}, nil)
		}
		return env.host, pick(meCORS)
	case "preflight":
		// A browser's CORS preflight: answered without storage.
		r := NewRequest("OPTIONS", env.host, "/v3.0/me", map[string]string{"Origin": "http://localhost:5173",
			"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "appid,authtoken,content-type"}, nil)
		return env.host, func(int, int) Request { return r }
	}
	// mixed: 10% login, 20% session, 70% me
	return env.host, func(conn, i int) Request {
		k := (conn*7919 + i) % n
		switch i % 10 {
		case 0:
			return login[k]
		case 1, 2:
			return session[k]
		}
		return me[k]
	}
}

// scenarioAgg sums one scenario's rounds.
type scenarioAgg struct {
	name             string
	requests, errors int64
	elapsed          time.Duration
	hist             *Histogram
	peakKB           int64
}

func (a *scenarioAgg) result() Result {
	return Result{
		Scenario: a.name, RPS: float64(a.requests) / a.elapsed.Seconds(), Requests: a.requests, Errors: a.errors,
		DurationMs: a.elapsed.Milliseconds(),
		P50ms:      msOf(a.hist.Quantile(0.50)), P90ms: msOf(a.hist.Quantile(0.90)), P99ms: msOf(a.hist.Quantile(0.99)),
		MaxMs: msOf(a.hist.Max()), ServerRSS: float64(a.peakKB) / 1024,
	}
}

func runScenario(ctx context.Context, stderr io.Writer, env *benchEnv, connections int, a *scenarioAgg, d, warmup time.Duration, round, rounds int) error {
	addr, next := scenarioRequests(env, a.name)
	pid := env.pid
	if a.name == "baseline" {
		pid = env.baselinePID
	}
	var peak atomic.Int64
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	if pid > 0 {
		go func() {
			for sctx.Err() == nil {
				if kb := rssKB(pid); kb > peak.Load() {
					peak.Store(kb)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	tty := isTerminal(stderr)
	label := a.name
	if rounds > 1 {
		label = fmt.Sprintf("%s %d/%d", a.name, round, rounds)
	}
	res, err := RunLoad(ctx, LoadOptions{
		Addr: addr, Connections: connections, Duration: d, Warmup: warmup, Next: next,
		Progress: func(el time.Duration, done int64) {
			if tty {
				frac := min(float64(el)/float64(d), 1)
				bar := strings.Repeat("█", int(frac*30)) + strings.Repeat("·", 30-int(frac*30))
				fmt.Fprintf(stderr, "\r%-14s %s %5.1fs  %8.0f req/s", label, bar, el.Seconds(), float64(done)/el.Seconds())
			}
		},
	})
	stop()
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	a.requests += res.Requests
	a.errors += res.Errors
	a.elapsed += res.Elapsed
	a.hist.Merge(res.Hist)
	a.peakKB = max(a.peakKB, peak.Load())
	fmt.Fprintf(stderr, "%-14s %8.0f req/s  p99 %s  errors %d\n", label, res.RPS(), ms(msOf(res.Hist.Quantile(0.99))), res.Errors)
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

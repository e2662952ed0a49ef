package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/bench"
	"github.com/callgate/callgate/internal/provision"
)

type benchFlags struct {
	target      string
	app         string
	authKey     string
	restKey     string
	pid         int
	db          string
	serverBin   string
	serverArgs  string
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	connections int
	users       int
	scenarios   string
	asJSON      bool
	printWrk    bool
}

// benchResult is one scenario's figures (also the --json shape).
type benchResult struct {
	Scenario   string  `json:"scenario"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50Ms"`
	P90ms      float64 `json:"p90Ms"`
	P99ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	ServerRSS  float64 `json:"serverRssMB"` // peak during the scenario; 0 when unknown
	Ratio      float64 `json:"ratioToBaseline"`
	DurationMs int64   `json:"durationMs"`
}

var allScenarios = []string{"baseline", "login", "session", "me", "mixed"}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure callgate's request rates against a bare net/http baseline",
		Long: `Starts callgate (on a fresh temp data dir, or --db postgres://…, or uses --target),
creates the users and tokens it needs, and runs the scenarios with C keep-alive
connections, closed loop, like wrk -c C:

  baseline  GET on a bare net/http handler answering a body of the size of GET /me
  login     POST /v3/users/{uid}/auth_tokens with the auth key (a durable insert)
  session   PUT /v3.0/me
  me        GET /v3/me
  mixed     10% login, 20% session, 70% me

For each it prints req/s, latency percentiles, errors, the server's peak RSS and
the ratio to the baseline measured in the same run. --print-wrk prints wrk
commands that reproduce each figure independently.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.target, "target", "", "benchmark a running server at this URL (needs --app, --auth-key, --rest-key)")
	fs.StringVar(&f.app, "app", "", "app id (with --target)")
	fs.StringVar(&f.authKey, "auth-key", "", "authOnly or fullAccess key for logins (with --target)")
	fs.StringVar(&f.restKey, "rest-key", "", "fullAccess key to create bench users (with --target)")
	fs.IntVar(&f.pid, "pid", 0, "server process id to sample RSS from (with --target)")
	fs.StringVar(&f.db, "db", "", "run the started server on this PostgreSQL URL instead of SQLite")
	fs.StringVar(&f.serverBin, "server-bin", "", "callgate binary to start (default: this one)")
	fs.StringVar(&f.serverArgs, "server-args", "", "extra flags for the started server, space-separated (e.g. \"--durability full\")")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured warm-up per scenario (first round; later rounds 0.5 s)")
	fs.IntVar(&f.rounds, "rounds", 3, "rounds the scenarios take turns over (the duration is split between them)")
	fs.IntVar(&f.connections, "connections", 64, "concurrent keep-alive connections")
	fs.IntVar(&f.users, "users", 1000, "bench users to create (each gets a token)")
	fs.StringVar(&f.scenarios, "scenarios", strings.Join(allScenarios, ","), "scenarios to run, comma-separated")
	fs.BoolVar(&f.asJSON, "json", false, "print results as JSON")
	fs.BoolVar(&f.printWrk, "print-wrk", false, "also print wrk commands reproducing each scenario")
	return cmd
}

// newBenchBaselineCmd is the baseline server: a bare net/http handler with a
// fixed JSON body, started as its own process like callgate is.
func newBenchBaselineCmd() *cobra.Command {
	var addr string
	var size int
	cmd := &cobra.Command{
		Use:    "bench-baseline",
		Short:  "Serve a bare net/http JSON handler (bench's baseline)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := baselineBody(size)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body)
			})
			srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
			go func() { <-cmd.Context().Done(); srv.Close() }()
			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	cmd.Flags().IntVar(&size, "size", 200, "response body size in bytes")
	return cmd
}

func baselineBody(size int) []byte {
	b := []byte(`{"data":{"uid":"baseline","name":"`)
	for len(b) < size-3 {
		b = append(b, 'x')
	}
	return append(b, `"}}`...)
}

type benchEnv struct {
	url, host   string
	app         string
	authKey     string
	restKey     string
	pid         int
	uids        []string
	tokens      []string
	meBodySize  int
	baseline    string // host:port of the baseline server
	baselinePID int
}

func runBench(ctx context.Context, stdout, stderr io.Writer, f *benchFlags) error {
	scen := strings.Split(f.scenarios, ",")
	for _, s := range scen {
		if !contains(allScenarios, s) {
			return fmt.Errorf("--scenarios: unknown %q (want some of %s)", s, strings.Join(allScenarios, ","))
		}
	}
	bin := f.serverBin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "callgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	env := &benchEnv{url: f.target, app: f.app, authKey: f.authKey, restKey: f.restKey, pid: f.pid}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				p.Process.Kill()
			}
		}
	}()
	status := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	if env.url == "" {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		args := []string{"serve", "--dev", "--data", filepath.Join(tmp, "data"), "--addr", addr, "--rate-limit", "off", "--log-level", "warn"}
		if f.db != "" {
			args = append(args, "--db", f.db)
		}
		args = append(args, strings.Fields(f.serverArgs)...)
		status("starting callgate: %s %s", filepath.Base(bin), strings.Join(redactArgs(args), " "))
		p, err := startProc(bin, args, filepath.Join(tmp, "server.log"))
		if err != nil {
			return err
		}
		procs = append(procs, p)
		env.url, env.pid = "http://"+addr, p.Process.Pid
		if err := waitReady(ctx, env.url+"/readyz", filepath.Join(tmp, "server.log")); err != nil {
			return err
		}
		creds, err := provision.ReadDevCredentials(filepath.Join(tmp, "data", provision.DevCredentialsFile))
		if err != nil {
			return err
		}
		env.app, env.authKey, env.restKey = creds.AppID, creds.AuthKey, creds.RESTAPIKey
	} else if env.app == "" || env.authKey == "" || env.restKey == "" {
		return errors.New("--target needs --app, --auth-key and --rest-key (the rest key creates the bench users)")
	}
	env.host = strings.TrimPrefix(strings.TrimPrefix(env.url, "http://"), "https://")

	status("creating %d users with a token each…", f.users)
	if err := benchSetup(ctx, env, f.users); err != nil {
		return err
	}

	if contains(scen, "baseline") {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		p, err := startProc(bin, []string{"bench-baseline", "--addr", addr, "--size", strconv.Itoa(env.meBodySize)}, filepath.Join(tmp, "baseline.log"))
		if err != nil {
			return err
		}
		procs = append(procs, p)
		env.baseline, env.baselinePID = addr, p.Process.Pid
		if err := waitReady(ctx, "http://"+addr+"/", filepath.Join(tmp, "baseline.log")); err != nil {
			return err
		}
	}

	// The scenarios take turns over several rounds, so a machine that
	// speeds up or slows down during the run (a shared host does) shifts
	// every scenario alike and the ratios to the baseline stay fair.
	rounds := max(f.rounds, 1)
	slice := f.duration / time.Duration(rounds)
	agg := make([]*scenarioAgg, len(scen))
	for i, name := range scen {
		agg[i] = &scenarioAgg{name: name, hist: bench.NewHistogram()}
	}
	for r := range rounds {
		for _, a := range agg {
			warm := f.warmup
			if r > 0 {
				warm = min(f.warmup, 500*time.Millisecond)
			}
			if err := runScenario(ctx, stderr, env, f, a, slice, warm, r+1, rounds); err != nil {
				return fmt.Errorf("scenario %s: %w", a.name, err)
			}
		}
	}
	results := make([]benchResult, len(agg))
	var baseRPS float64
	for i, a := range agg {
		results[i] = a.result()
		if a.name == "baseline" {
			baseRPS = results[i].RPS
		}
	}
	for i := range results {
		if baseRPS > 0 {
			results[i].Ratio = results[i].RPS / baseRPS
		}
	}
	if f.asJSON {
		return printJSON(stdout, results)
	}
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		ratio, rss := "-", "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*r.Ratio)
		}
		if r.ServerRSS > 0 {
			rss = fmt.Sprintf("%.0f MB", r.ServerRSS)
		}
		rows = append(rows, []string{r.Scenario, fmt.Sprintf("%.0f", r.RPS), ms(r.P50ms), ms(r.P90ms), ms(r.P99ms), ms(r.MaxMs),
			strconv.FormatInt(r.Errors, 10), rss, ratio})
	}
	fmt.Fprintf(stdout, "\n%d connections, %s per scenario in %d rounds taking turns, server %s\n\n", f.connections, f.duration, max(f.rounds, 1), env.url)
	printTable(stdout, []string{"SCENARIO", "REQ/S", "P50", "P90", "P99", "MAX", "ERRORS", "SERVER RSS", "VS BASELINE"}, rows)
	if f.printWrk {
		printWrk(stdout, env, f.connections)
	}
	return nil
}

func ms(v float64) string { return fmt.Sprintf("%.2fms", v) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func redactArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "--db" {
			out[i] = redactDSN(out[i])
		}
	}
	return out
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startProc(bin string, args []string, logPath string) (*exec.Cmd, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := exec.Command(bin, args...)
	p.Stdout, p.Stderr = log, log
	p.Env = os.Environ()
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return p, nil
}

func waitReady(ctx context.Context, url, logPath string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	out, _ := os.ReadFile(logPath)
	return fmt.Errorf("server at %s did not become ready in 30s; its output:\n%s", url, out)
}

// benchSetup creates bench users with one token each, and measures the
// size of a GET /me body for the baseline.
func benchSetup(ctx context.Context, env *benchEnv, n int) error {
	env.uids = make([]string, n)
	env.tokens = make([]string, n)
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, key string, body any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, env.url+path, bytes.NewReader(b))
		req.Header.Set("appId", env.app)
		req.Header.Set("apiKey", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out struct {
			Data  map[string]any
			Error map[string]any
		}
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 200 && !(res.StatusCode == 409 && method == "POST" && path == "/v3/users") {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, res.StatusCode, out.Error)
		}
		return out.Data, nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				uid := fmt.Sprintf("bench-user-%d", i)
				if _, err := do("POST", "/v3/users", env.restKey, map[string]any{"uid": uid, "name": "Bench User " + strconv.Itoa(i)}); err != nil {
					errc <- err
					return
				}
				d, err := do("POST", "/v3/users/"+uid+"/auth_tokens", env.restKey, map[string]any{})
				if err != nil {
					errc <- err
					return
				}
				env.uids[i], env.tokens[i] = uid, fmt.Sprint(d["authToken"])
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("setting up bench users: %w", err)
	default:
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", env.url+"/v3/me", nil)
	req.Header.Set("appId", env.app)
	req.Header.Set("authToken", env.tokens[0])
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	env.meBodySize = len(body)
	return nil
}

func scenarioRequests(env *benchEnv, name string) (addr string, next func(conn, i int) bench.Request) {
	n := len(env.uids)
	login := make([]bench.Request, n)
	session := make([]bench.Request, n)
	me := make([]bench.Request, n)
	for i := range n {
		login[i] = bench.NewRequest("POST", env.host, "/v3/users/"+env.uids[i]+"/auth_tokens",
			map[string]string{"appId": env.app, "apiKey": env.authKey}, []byte(`{}`))
		session[i] = bench.NewRequest("PUT", env.host, "/v3.0/me",
			map[string]string{"appId": env.app, "authToken": env.tokens[i]}, []byte(`{"platform":"bench","deviceId":"bench-device"}`))
		me[i] = bench.NewRequest("GET", env.host, "/v3/me", map[string]string{"appId": env.app, "authToken": env.tokens[i]}, nil)
	}
	pick := func(reqs []bench.Request) func(conn, i int) bench.Request {
		return func(conn, i int) bench.Request { return reqs[(conn*7919+i)%n] }
	}
	switch name {
	case "baseline":
		r := bench.NewRequest("GET", env.baseline, "/", nil, nil)
		return env.baseline, func(int, int) bench.Request { return r }
	case "login":
		return env.host, pick(login)
	case "session":
		return env.host, pick(session)
	case "me":
		return env.host, pick(me)
	}
	// mixed: 10% login, 20% session, 70% me
	return env.host, func(conn, i int) bench.Request {
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
	hist             *bench.Histogram
	peakKB           int64
}

func (a *scenarioAgg) result() benchResult {
	return benchResult{
		Scenario: a.name, RPS: float64(a.requests) / a.elapsed.Seconds(), Requests: a.requests, Errors: a.errors,
		DurationMs: a.elapsed.Milliseconds(),
		P50ms:      msOf(a.hist.Quantile(0.50)), P90ms: msOf(a.hist.Quantile(0.90)), P99ms: msOf(a.hist.Quantile(0.99)),
		MaxMs: msOf(a.hist.Max()), ServerRSS: float64(a.peakKB) / 1024,
	}
}

func runScenario(ctx context.Context, stderr io.Writer, env *benchEnv, f *benchFlags, a *scenarioAgg, d, warmup time.Duration, round, rounds int) error {
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
	res, err := bench.RunLoad(ctx, bench.LoadOptions{
		Addr: addr, Connections: f.connections, Duration: d, Warmup: warmup, Next: next,
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

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rssKB reads a process's resident set size from /proc (Linux); 0 elsewhere.
func rssKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printWrk prints wrk commands that reproduce each scenario on the same server.
func printWrk(w io.Writer, env *benchEnv, conns int) {
	fmt.Fprintf(w, "\nReproduce with wrk (the servers stop when bench exits; use --target on a server you keep running):\n\n")
	h := func(k, v string) string { return fmt.Sprintf("-H '%s: %s'", k, v) }
	if env.baseline != "" {
		fmt.Fprintf(w, "  wrk -t2 -c%d -d10s http://%s/\n", conns, env.baseline)
	}
	fmt.Fprintf(w, "  wrk -t2 -c%d -d10s %s %s %s/v3/me\n", conns, h("appId", env.app), h("authToken", env.tokens[0]), env.url)
	fmt.Fprintf(w, "  wrk -t2 -c%d -d10s -s docs/bench/put-me.lua %s %s %s/v3.0/me\n", conns, h("appId", env.app), h("authToken", env.tokens[0]), env.url)
	fmt.Fprintf(w, "  wrk -t2 -c%d -d10s -s docs/bench/login.lua %s %s %s/v3/users/%s/auth_tokens\n", conns, h("appId", env.app), h("apiKey", env.authKey), env.url, env.uids[0])
}

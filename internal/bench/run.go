package bench

// callgate bench: request rates of callgate's HTTP API against a bare
// net/http baseline (docs/benchmarks.md).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/callgate/callgate/internal/provision"
)

// Scenarios are the scenarios Run knows, in the order it runs them.
var Scenarios = []string{"baseline", "login", "session", "me", "mixed", "preflight", "me-cors"}

// Options are the settings of Run: the flags of callgate bench, which its
// errors name.
type Options struct {
	Target      string // URL of a running server; "" starts one
	App         string // with Target
	AuthKey     string // with Target: the key for logins
	RESTKey     string // with Target: the fullAccess key that creates the bench users
	PID         int    // with Target: the server process to sample RSS from
	DB          string // PostgreSQL URL for the started server; "" is SQLite
	ServerBin   string // callgate binary to start; "" is this executable
	ServerArgs  string // extra flags for the started server, space-separated
	Duration    time.Duration
	Warmup      time.Duration
	Rounds      int
	Connections int
	Users       int
	Scenarios   string // comma-separated
	// Soak, when set, runs RunSoak for this long instead of the scenarios.
	Soak         time.Duration
	SoakInterval time.Duration // a report line each; default a minute
	SoakChurn    int           // WebSocket clients connecting and disconnecting
	// Redact hides the password of a database URL in status lines.
	Redact func(dsn string) string
}

// Result is one scenario's figures (also the --json shape).
type Result struct {
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

// Report is what Run measured, with what it takes to print it.
type Report struct {
	Results     []Result
	Connections int
	Duration    time.Duration
	Rounds      int
	env         *benchEnv
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

// Run starts the servers (unless o.Target is set), creates the bench users
// and runs the scenarios, reporting progress on stderr.
func Run(ctx context.Context, stderr io.Writer, o Options) (*Report, error) {
	scen := strings.Split(o.Scenarios, ",")
	for _, s := range scen {
		if !contains(Scenarios, s) {
			return nil, fmt.Errorf("--scenarios: unknown %q (want some of %s)", s, strings.Join(Scenarios, ","))
		}
	}
	env, bin, tmp, cleanup, err := prepare(ctx, stderr, o)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			stopProc(p, 10*time.Second)
		}
	}()

	if contains(scen, "baseline") {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		p, err := startProc(bin, []string{"bench-baseline", "--addr", addr, "--size", strconv.Itoa(env.meBodySize)}, filepath.Join(tmp, "baseline.log"))
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
		env.baseline, env.baselinePID = addr, p.Process.Pid
		if err := WaitReady(ctx, "http://"+addr+"/", filepath.Join(tmp, "baseline.log")); err != nil {
			return nil, err
		}
	}

	// The scenarios take turns over several rounds, so a machine that
	// speeds up or slows down during the run (a shared host does) shifts
	// every scenario alike and the ratios to the baseline stay fair.
	rounds := max(o.Rounds, 1)
	slice := o.Duration / time.Duration(rounds)
	agg := make([]*scenarioAgg, len(scen))
	for i, name := range scen {
		agg[i] = &scenarioAgg{name: name, hist: NewHistogram()}
	}
	for r := range rounds {
		for _, a := range agg {
			warm := o.Warmup
			if r > 0 {
				warm = min(o.Warmup, 500*time.Millisecond)
			}
			if err := runScenario(ctx, stderr, env, o.Connections, a, slice, warm, r+1, rounds); err != nil {
				return nil, fmt.Errorf("scenario %s: %w", a.name, err)
			}
		}
	}
	results := make([]Result, len(agg))
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
	return &Report{Results: results, Connections: o.Connections, Duration: o.Duration, Rounds: max(o.Rounds, 1), env: env}, nil
}

// prepare starts the server to measure (unless o.Target is set) and
// creates the bench users with a token each. cleanup stops the server and
// removes the temporary directory; it is never nil.
func prepare(ctx context.Context, stderr io.Writer, o Options) (env *benchEnv, bin, tmp string, cleanup func(), err error) {
	cleanup = func() {}
	bin = o.ServerBin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, "", "", cleanup, err
		}
	}
	if tmp, err = os.MkdirTemp("", "callgate-bench-"); err != nil {
		return nil, "", "", cleanup, err
	}
	var server *exec.Cmd
	cleanup = func() {
		if server != nil {
			stopProc(server, 10*time.Second)
		}
		os.RemoveAll(tmp)
	}
	env = &benchEnv{url: o.Target, app: o.App, authKey: o.AuthKey, restKey: o.RESTKey, pid: o.PID}
	status := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	if env.url == "" {
		addr, err := FreeAddr()
		if err != nil {
			return nil, "", "", cleanup, err
		}
		args := []string{"serve", "--dev", "--data", filepath.Join(tmp, "data"), "--addr", addr, "--rate-limit", "off", "--log-level", "warn"}
		if o.DB != "" {
			args = append(args, "--db", o.DB)
		}
		args = append(args, strings.Fields(o.ServerArgs)...)
		status("starting callgate: %s %s", filepath.Base(bin), strings.Join(redactArgs(args, o.Redact), " "))
		if server, err = startProc(bin, args, filepath.Join(tmp, "server.log")); err != nil {
			return nil, "", "", cleanup, err
		}
		env.url, env.pid = "http://"+addr, server.Process.Pid
		if err := WaitReady(ctx, env.url+"/readyz", filepath.Join(tmp, "server.log")); err != nil {
			return nil, "", "", cleanup, err
		}
		creds, err := provision.ReadDevCredentials(filepath.Join(tmp, "data", provision.DevCredentialsFile))
		if err != nil {
			return nil, "", "", cleanup, err
		}
		env.app, env.authKey, env.restKey = creds.AppID, creds.AuthKey, creds.RESTAPIKey
	} else if env.app == "" || env.authKey == "" || env.restKey == "" {
		return nil, "", "", cleanup, errors.New("--target needs --app, --auth-key and --rest-key (the rest key creates the bench users)")
	}
	env.host = strings.TrimPrefix(strings.TrimPrefix(env.url, "http://"), "https://")

	status("creating %d users with a token each…", o.Users)
	if err := benchSetup(ctx, env, o.Users); err != nil {
		return nil, "", "", cleanup, err
	}
	return env, bin, tmp, cleanup, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/bench"
)

// The benchmarks run in CI only as smoke tests: they must work end to end;
// their figures are not asserted (timing belongs in docs/benchmarks.md).
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	out, err := exec.Command(callgateBinary(t), "bench", "--json", "--duration", "300ms", "--warmup", "100ms",
		"--users", "10", "--connections", "4").Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderrOf(err))
	}
	var res []bench.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if len(res) != len(bench.Scenarios) {
		t.Fatalf("got %d scenarios, want %d", len(res), len(bench.Scenarios))
	}
	for _, r := range res {
		if r.Requests == 0 || r.Errors != 0 || r.RPS <= 0 || r.Ratio <= 0 || r.P99ms < r.P50ms {
			t.Errorf("scenario %+v", r)
		}
	}
}

func TestBenchRealtimeSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server process")
	}
	out, err := exec.Command(callgateBinary(t), "bench-realtime", "--json", "--sessions", "60", "--users", "6",
		"--idle", "200ms", "--samples", "5").Output()
	if err != nil {
		t.Fatalf("bench-realtime: %v\n%s", err, stderrOf(err))
	}
	var r bench.RealtimeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bench-realtime --json: %v\n%s", err, out)
	}
	// The server's own view of the fan-out comes from its /metrics, and
	// cannot be later than the clients hearing it.
	if r.Sessions != 60 || r.RevokeSamples != 5 || r.PresenceAllMs <= 0 || r.ServerRSSMB <= 0 ||
		r.PresenceServerP99Ms <= 0 || r.PresenceServerP50Ms > r.PresenceServerP99Ms {
		t.Errorf("result %+v", r)
	}
}

// --floor: the same clients against the bare WebSocket server.
func TestBenchRealtimeFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server process")
	}
	out, err := exec.Command(callgateBinary(t), "bench-realtime", "--floor", "--json", "--sessions", "60", "--users", "6",
		"--idle", "200ms").Output()
	if err != nil {
		t.Fatalf("bench-realtime --floor: %v\n%s", err, stderrOf(err))
	}
	var r bench.RealtimeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bench-realtime --floor --json: %v\n%s", err, out)
	}
	// Every session heard the watched user's online event, written once to each.
	if r.Store != "floor" || r.Sessions != 60 || r.ConnectSeconds <= 0 || r.ServerRSSMB <= 0 || r.RevokeSamples != 0 ||
		r.PresenceSessions != 60 || r.PresenceAllMs <= 0 {
		t.Errorf("result %+v", r)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// A two-minute soak of the real binary: mixed REST load and WebSocket
// churn, failing if the server's RSS, goroutines or open descriptors keep
// growing after warm-up (bench.SoakRule). It runs in CI; a leak of a
// goroutine or a descriptor per connection or per request shows within it.
func TestBenchSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a two-minute soak")
	}
	cmd := exec.Command(callgateBinary(t), "bench", "--soak", "2m", "--soak-interval", "30s", "--json",
		"--users", "200", "--connections", "16", "--soak-churn", "16")
	cmd.Env = cleanEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var rep bench.SoakReport
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		t.Fatalf("bench --soak: %v, output %q: %v\n%s", err, out, jerr, stderr.String())
	}
	t.Logf("soak progress:\n%s", stderr.String())
	for _, c := range rep.Checks {
		t.Logf("%s: early %.0f, middle %.0f, last %.0f (limit %.0f)", c.Measure, c.Early, c.Middle, c.Last, c.Limit)
	}
	if err != nil || len(rep.Failures) > 0 {
		t.Fatalf("soak failed (%v):\n%s", err, strings.Join(rep.Failures, "\n"))
	}
	if len(rep.Windows) != 4 || len(rep.Checks) != 3 || rep.Requests == 0 || rep.WSConnects == 0 {
		t.Fatalf("report %+v", rep)
	}
}

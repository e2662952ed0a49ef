package main

import (
	"encoding/json"
	"os/exec"
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
	if r.Sessions != 60 || r.RevokeSamples != 5 || r.PresenceAllMs <= 0 || r.ServerRSSMB <= 0 {
		t.Errorf("result %+v", r)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

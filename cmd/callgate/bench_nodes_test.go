package main

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/callgate/callgate/internal/bench"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
)

// bench-realtime across nodes, small: 2 nodes on one PostgreSQL, sessions
// held by 2 client processes, a presence filter, revocations crossing
// nodes and kill -9 of a node. Figures are not asserted beyond being
// there and in bounds the protocol promises (the crashed node's users are
// offline within its lease and a renewal); the --json shape is.
func TestBenchRealtimeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real server and client processes")
	}
	dsn := pgtest.DSN(t) // skips without $CALLGATE_TEST_POSTGRES
	cmd := exec.Command(callgateBinary(t), "bench-realtime", "--json", "--sessions", "300", "--users", "20",
		"--nodes", "2", "--clients", "2", "--db", dsn, "--presence", "roles:member,admin", "--node-lease", "3s", "--kill-node",
		"--idle", "200ms", "--samples", "10")
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench-realtime: %v\n%s", err, stderrOf(err))
	}
	var r bench.RealtimeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bench-realtime --json: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if r.Sessions != 300 || r.Nodes != 2 || r.Clients != 2 || r.Store != "postgres" || r.Presence != "roles:member,admin" || len(r.PerNode) != 2 {
		t.Errorf("result %+v", r)
	}
	for _, n := range r.PerNode {
		if n.Sessions != 150 || n.RSSMB <= 0 || n.RSSPerSessionKB <= 0 {
			t.Errorf("node %+v", n)
		}
	}
	if r.ServerRSSMB <= 0 || r.ClientRSSMB <= 0 {
		t.Errorf("RSS: servers %.1f MB, clients %.1f MB", r.ServerRSSMB, r.ClientRSSMB)
	}
	if r.PresenceSessions != 300 || r.PresenceAllMs <= 0 || r.PresenceP99Ms <= 0 || r.PresenceOtherP99Ms <= 0 || r.PresenceP99Ms > r.PresenceAllMs ||
		r.PresenceServerP99Ms <= 0 {
		t.Errorf("presence: %+v", r)
	}
	if !r.RevokeAcrossNodes || r.RevokeSamples != 10 || r.RevokeP50Ms <= 0 || r.RevokeP99Ms < r.RevokeP50Ms {
		t.Errorf("revoke: %+v", r)
	}
	k := r.Kill
	if k == nil {
		t.Fatal("no killNode figures")
	}
	// Leases are renewed every third of the lease and kept in whole
	// seconds: lease plus a renewal, plus a second of slack for the machine.
	bound := 1000 * (k.LeaseSeconds*4/3 + 1)
	if k.Node != 2 || k.Users != 10 || k.Sessions != 150 || k.Listeners != 150 || k.AllOfflineMs <= 0 || k.AllOfflineMs > bound ||
		k.RESTOfflineMs <= 0 || k.RESTOfflineMs > bound {
		t.Errorf("kill: %+v (bound %.0f ms)", *k, bound)
	}
}

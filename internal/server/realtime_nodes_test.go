package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store/postgres"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
)

// Many nodes on one PostgreSQL database (skipped without
// $CALLGATE_TEST_POSTGRES): revocation and presence cross nodes on
// LISTEN/NOTIFY, and a node that dies takes its users offline when its
// lease lapses.

// ---- 9. two nodes in one process

func TestRealtimeTwoNodesPostgres(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	rc := realtime.Config{Lease: 3 * time.Second, Grace: grace}
	a := start(t, servertest.Options{Postgres: true, Realtime: rc})
	b := start(t, servertest.Options{Join: a.srv, Realtime: rc})
	app := a.srv.AppID
	if b.srv.AppID != app {
		t.Fatalf("the nodes serve different apps: %s, %s", app, b.srv.AppID)
	}

	// A → B (presence events are changes: a watcher hears of users who
	// come online after it connected).
	watcherB := connect(t, b.srv.URL, app, "cometchat-uid-5", a.newToken("/v3", "cometchat-uid-5"))
	watcherA := connect(t, a.srv.URL, app, "cometchat-uid-1", a.newToken("/v3", "cometchat-uid-1"))
	watcherB.waitPresence("cometchat-uid-1", "online", 5*time.Second)

	// B → A: a user on B comes online; A's REST sees it.
	onB := connect(t, b.srv.URL, app, "cometchat-uid-2", a.newToken("/v3", "cometchat-uid-2"))
	watcherA.waitPresence("cometchat-uid-2", "online", 5*time.Second)
	if got := a.status("cometchat-uid-2"); got != "online" {
		t.Errorf("node A's REST: a user connected to B is %s", got)
	}
	if on := a.listed("online"); !slices.Contains(on, "cometchat-uid-2") || !slices.Contains(on, "cometchat-uid-5") {
		t.Errorf("node A's ?status=online: %v", on)
	}

	// Revocation on A closes sockets on B, for every kind of revocation.
	for i, c := range revokeCases {
		t.Run("revoke "+c.reason, func(t *testing.T) {
			e := &env{t: t, srv: a.srv}
			uid := fmt.Sprintf("rt-2n-%d", i)
			e.newUser("/v3", uid)
			tok1, tok2 := e.newToken("/v3", uid), e.newToken("/v3", uid)
			v1 := connect(t, b.srv.URL, app, uid, tok1)
			v2 := connect(t, b.srv.URL, app, uid, tok2)
			watcherA.waitPresence(uid, "online", 5*time.Second)
			start := time.Now()
			c.act(e, uid, tok1, tok2)
			lat := wantRevoked(t, v1, c.reason, start)
			t.Logf("%s on A → socket on B closed in %v", c.reason, lat.Round(100*time.Microsecond))
			if lat > time.Second {
				t.Errorf("closed %v after the revocation on the other node, want < 1s", lat)
			}
			if c.survives {
				v2.alive()
				start = time.Now()
				e.do("DELETE", "/v3/users/"+uid+"/auth_tokens", e.rest(), nil).data(t)
				wantRevoked(t, v2, "tokens_flushed", start)
			} else {
				wantRevoked(t, v2, c.reason, start)
			}
			ev := watcherA.waitPresence(uid, "offline", 5*time.Second)
			if d := ev.at.Sub(start); d > time.Second {
				t.Errorf("offline reached node A %v after the revocation, want < 1s", d)
			}
			if online(t, a.srv.Store, app, uid) {
				t.Error("still online in the database")
			}
		})
	}

	// A dropped connection on B: offline on A after the grace period.
	dropped := time.Now()
	onB.conn.CloseNow()
	ev := watcherA.waitPresence("cometchat-uid-2", "offline", 5*time.Second)
	if d := ev.at.Sub(dropped); d < grace || d > grace+time.Second {
		t.Errorf("drop on B → offline on A after %v, want within [%v, %v]", d, grace, grace+time.Second)
	}

	// Node B shuts down: its users go offline everywhere at once (not at
	// lease end).
	onB = connect(t, b.srv.URL, app, "cometchat-uid-3", a.newToken("/v3", "cometchat-uid-3"))
	watcherA.waitPresence("cometchat-uid-3", "online", 5*time.Second)
	stopped := time.Now()
	b.srv.Stop()
	if code, _, _ := onB.closed(10 * time.Second); code != websocket.StatusGoingAway {
		t.Errorf("B's client closed with %d, want 1001", code)
	}
	ev = watcherA.waitPresence("cometchat-uid-3", "offline", 5*time.Second)
	t.Logf("node B stopped → offline on A in %v", ev.at.Sub(stopped).Round(time.Millisecond))
	if d := ev.at.Sub(stopped); d > 2*time.Second {
		t.Errorf("offline %v after B stopped, want promptly (not at lease end)", d)
	}
	if got := a.status("cometchat-uid-3"); got != "offline" {
		t.Errorf("node A's REST after B stopped: %s", got)
	}
	watcherA.alive()
}

// ---- 10. real processes: kill -9 a node

func TestRealtimeNodeCrashProcesses(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t) // skips without $CALLGATE_TEST_POSTGRES
	bin := buildCallgate(t)

	out, err := exec.Command(bin, "apps", "create", "--db", dsn, "--json").Output()
	if err != nil {
		t.Fatalf("apps create: %v\n%s", err, stderrOf(err))
	}
	var creds struct{ AppID, AuthKey, RESTAPIKey string }
	if err := json.Unmarshal(out, &struct {
		AppID      *string `json:"appId"`
		AuthKey    *string `json:"authKey"`
		RESTAPIKey *string `json:"restApiKey"`
	}{&creds.AppID, &creds.AuthKey, &creds.RESTAPIKey}); err != nil || creds.AppID == "" || creds.AuthKey == "" || creds.RESTAPIKey == "" {
		t.Fatalf("apps create --json: %v: %s", err, out)
	}
	const lease = 3 * time.Second
	args := []string{"--db", dsn, "--node-lease", lease.String(), "--presence-grace", "500ms", "--rate-limit", "off"}
	nodeA := startServe(t, bin, "A", args)
	nodeB := startServe(t, bin, "B", args)

	app := creds.AppID
	rest := H{"appId": app, "apiKey": creds.RESTAPIKey}
	token := func(base, uid string) string {
		t.Helper()
		d := do(t, base, "POST", "/v3/users", H{"appId": app, "apiKey": creds.AuthKey}, map[string]any{"uid": uid, "name": uid, "withAuthToken": true}).data(t)
		return str(d, "authToken")
	}
	statusOn := func(base, uid string) string {
		t.Helper()
		return str(do(t, base, "GET", "/v3/users/"+uid, rest, nil).data(t), "status")
	}

	watcher := connect(t, nodeA.url, app, "watcher", token(nodeA.url, "watcher"))

	// Revoke on A: the socket on B closes within 1 s.
	revTok := token(nodeA.url, "revoked")
	rv := connect(t, nodeB.url, app, "revoked", revTok)
	watcher.waitPresence("revoked", "online", 5*time.Second)
	id := str(do(t, nodeA.url, "GET", "/v3/users/revoked/auth_tokens/"+revTok, rest, nil).data(t), "id")
	start := time.Now()
	do(t, nodeA.url, "DELETE", "/v3/users/revoked/auth_tokens/"+id, rest, nil).data(t)
	lat := wantRevoked(t, rv, "token_deleted", start)
	t.Logf("processes: token deleted on A → socket on B closed in %v", lat.Round(100*time.Microsecond))
	if lat > time.Second {
		t.Errorf("closed %v after the revocation on the other node, want < 1s", lat)
	}
	watcher.waitPresence("revoked", "offline", time.Second)

	// kill -9 B: its users go offline within the lease.
	victim := connect(t, nodeB.url, app, "on-b", token(nodeA.url, "on-b"))
	watcher.waitPresence("on-b", "online", 5*time.Second)
	if got := statusOn(nodeA.url, "on-b"); got != "online" {
		t.Fatalf("A's REST before the crash: %s", got)
	}
	killed := time.Now()
	if err := nodeB.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	nodeB.wait()
	victim.closed(5 * time.Second) // the kernel closed its socket
	bound := 2 * lease
	restOffline := time.Duration(-1)
	for time.Since(killed) < bound+time.Second && restOffline < 0 {
		if statusOn(nodeA.url, "on-b") == "offline" {
			restOffline = time.Since(killed)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	ev := watcher.waitPresence("on-b", "offline", bound)
	t.Logf("processes: kill -9 B → A's REST offline after %v, presence event after %v (lease %v)",
		restOffline.Round(time.Millisecond), ev.at.Sub(killed).Round(time.Millisecond), lease)
	if restOffline < 0 || restOffline > bound {
		t.Errorf("A's REST shows on-b offline after %v, want within %v", restOffline, bound)
	}
	if d := ev.at.Sub(killed); d > bound {
		t.Errorf("offline event %v after the kill, want within %v", d, bound)
	}
	// A is unaffected.
	watcher.alive()
	after := connect(t, nodeA.url, app, "after", token(nodeA.url, "after"))
	watcher.waitPresence("after", "online", 5*time.Second)

	// A graceful stop (SIGTERM) says "going away" to its clients before
	// the process exits, and leaves nobody online.
	if err := nodeA.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*wsc{watcher, after} {
		if code, reason, _ := w.closed(10 * time.Second); code != websocket.StatusGoingAway {
			t.Errorf("%s: SIGTERM closed the connection with %d %q, want 1001", w.name, code, reason)
		}
	}
	nodeA.wait()
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, uid := range []string{"watcher", "after", "on-b", "revoked"} {
		if online(t, st, app, uid) {
			t.Errorf("%s online after both nodes are gone", uid)
		}
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildCallgate builds cmd/callgate once per test binary.
func buildCallgate(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		dir, err := os.MkdirTemp("", "callgate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "callgate")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/callgate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/callgate: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

type proc struct {
	url  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func (p *proc) wait() { <-p.done }

// startServe starts `callgate serve` on a free port and waits for /readyz.
// A port taken between choosing and binding is retried with another.
func startServe(t *testing.T, bin, name string, args []string) *proc {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		p := &proc{url: "http://127.0.0.1:" + port, logs: &syncBuffer{}, done: make(chan struct{})}
		p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:" + port}, args...)...)
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.cmd.Wait(); close(p.done) }()
		t.Cleanup(func() {
			p.cmd.Process.Kill()
			<-p.done
			if t.Failed() {
				t.Logf("node %s log:\n%s", name, p.logs.String())
			}
		})
		if p.ready(15 * time.Second) {
			return p
		}
		select {
		case <-p.done:
			if attempt < 3 && strings.Contains(p.logs.String(), "address already in use") {
				continue
			}
		default:
		}
		t.Fatalf("node %s did not become ready:\n%s", name, p.logs.String())
	}
}

func (p *proc) ready(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return false
		default:
		}
		if res, err := c.Get(p.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// A signing-key rotation on one node reaches the other at once (over the
// bus), not when its key cache ages out: the next token it mints carries
// the new kid.
func TestKeyRotationCrossesNodes(t *testing.T) {
	t.Parallel()
	a := start(t, servertest.Options{Postgres: true})
	b := start(t, servertest.Options{Join: a.srv})
	kidOf := func(e *env) string {
		t.Helper()
		tok := e.newToken("/v3", "cometchat-uid-1")
		d := e.do("POST", "/v3.0/call_tokens", e.tok(tok), map[string]any{"sessionId": "room"}).data(t)
		header, _ := segments(t, str(d, "token"))
		return str(header, "kid")
	}
	before := kidOf(b) // b now caches the active key
	rot := a.do("POST", "/v3/signing_keys/rotate", a.rest(), nil).data(t)
	active, _ := rot["active"].(map[string]any)
	newKID := str(active, "kid")
	if newKID == "" || newKID == before {
		t.Fatalf("rotation answered %v", rot)
	}
	deadline := time.Now().Add(2 * time.Second)
	for kidOf(b) != newKID {
		if time.Now().After(deadline) {
			t.Fatalf("node B still signs with %s 2 s after the rotation on A", before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

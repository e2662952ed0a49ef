package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/bench"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
)

// Three `callgate serve` nodes on one PostgreSQL behind nginx, configured
// as docs/operations.md's "several nodes" block says, restarted one at a
// time (SIGTERM, exit, start again on the same port, /readyz) under logins
// (POST /users/{uid}/auth_tokens, then PUT /me), GET /me and WebSocket
// clients that reconnect when dropped. It holds that:
//
//   - no acknowledged token is lost: every token whose creation was
//     answered 200 authenticates GET /me at the end, unless the test
//     logged it out itself (those answer 401);
//   - every request gets an HTTP answer: 200, or 503 with Retry-After for
//     a POST that reached a draining node (nginx retries the others);
//     never a transport error, a 502 or a 504;
//   - each WebSocket client whose node went away (1001) is connected again,
//     through nginx to another node, within a few seconds.
//
// Skipped without nginx (CI has none) or $CALLGATE_TEST_POSTGRES.
func TestNginxNodesRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and three real nodes")
	}
	nginx := findNginx()
	if nginx == "" {
		t.Skip("nginx is not installed (apt-get install nginx): the several-nodes example of docs/operations.md is not exercised")
	}
	dsn := pgtest.DSN(t) // skips without $CALLGATE_TEST_POSTGRES
	bin := callgateBinary(t)
	site := docBlock(t, "../../docs/operations.md", "nginx several-nodes")

	out, err := exec.Command(bin, "apps", "create", "--db", dsn, "--json").Output()
	if err != nil {
		t.Fatalf("apps create: %v\n%s", err, stderrOf(err))
	}
	var creds struct {
		AppID      string `json:"appId"`
		AuthKey    string `json:"authKey"`
		RESTAPIKey string `json:"restApiKey"`
	}
	if err := json.Unmarshal(out, &creds); err != nil || creds.AppID == "" {
		t.Fatalf("apps create --json: %v %s", err, out)
	}

	// The nodes, each on its own port for the whole test.
	const drain = 2 * time.Second
	nodeArgs := []string{"--db", dsn, "--rate-limit", "off", "--trusted-proxies", "127.0.0.1/32", "--node-lease", "3s",
		"--presence-grace", "500ms", "--shutdown-drain", drain.String(), "--log-level", "warn"}
	nodes := make([]*lbNode, 3)
	for i := range nodes {
		addr, err := bench.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &lbNode{name: fmt.Sprintf("node%d", i+1), addr: addr, bin: bin, args: nodeArgs}
		nodes[i].start(t)
		t.Cleanup(nodes[i].kill)
	}
	for _, n := range nodes {
		n.waitReady(t)
	}

	// nginx, with the example's node addresses, port and certificate
	// swapped for the test's.
	ca := servertest.NewCA(t)
	prefix := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, prefix, "ecdsa", "nginx")
	httpsAddr, _ := bench.FreeAddr()
	for i, example := range []string{"10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"} {
		site = swapOnce(t, site, "server "+example+" ", "server "+nodes[i].addr+" ")
	}
	site = swapOnce(t, site, "listen 443 ssl http2;", "listen "+httpsAddr+" ssl http2;")
	site = swapOnce(t, site, "listen [::]:443 ssl http2;\n", "")
	site = swapOnce(t, site, "/etc/letsencrypt/live/callgate.example.com/fullchain.pem", certFile)
	site = swapOnce(t, site, "/etc/letsencrypt/live/callgate.example.com/privkey.pem", keyFile)
	startNginx(t, nginx, prefix, site)
	base := "https://" + httpsAddr
	client := func() *http.Client {
		return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true}}
	}
	probe := client()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := probe.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not answer /readyz at %s", base)
		}
	}

	// Every answer is tallied; anything but 200 and a 503 with Retry-After
	// is a failure.
	var mu sync.Mutex
	tally := map[string]int{}
	var failures []string
	call := func(c *http.Client, method, path string, h map[string]string, body string) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		key := method + " " + path
		if strings.Contains(path, "/auth_tokens") {
			key = method + " /v3/users/{uid}/auth_tokens"
		}
		if err != nil {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s %s: %v (%s)", method, path, err, time.Now().Format("15:04:05.000")))
			mu.Unlock()
			return 0, nil
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		tally[fmt.Sprintf("%s → %d", key, res.StatusCode)]++
		switch {
		case res.StatusCode == 200:
		case res.StatusCode == 503 && res.Header.Get("Retry-After") != "":
		case res.StatusCode == 401 && method == "GET" && path == "/v3/me" && h["X-Expect"] == "revoked":
		default:
			failures = append(failures, fmt.Sprintf("%s %s: %d %s (%s)", method, path, res.StatusCode, b, time.Now().Format("15:04:05.000")))
		}
		return res.StatusCode, b
	}
	auth := map[string]string{"appId": creds.AppID, "apiKey": creds.AuthKey}
	rest := map[string]string{"appId": creds.AppID, "apiKey": creds.RESTAPIKey}
	const users = 20
	for u := range users {
		if code, b := call(probe, "POST", "/v3/users", rest, fmt.Sprintf(`{"uid":"lb-%d","name":"LB %d"}`, u, u)); code != 200 {
			t.Fatalf("create user: %d %s", code, b)
		}
	}
	login := func(c *http.Client, uid string) string {
		code, b := call(c, "POST", "/v3/users/"+uid+"/auth_tokens", auth, "{}")
		if code != 200 {
			return ""
		}
		var d struct{ Data struct{ AuthToken string } }
		json.Unmarshal(b, &d)
		return d.Data.AuthToken
	}

	// Realtime clients, through nginx, reconnecting when dropped.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const wsClients = 12
	rts := make([]*lbWS, wsClients)
	for i := range rts {
		tok := login(probe, fmt.Sprintf("lb-%d", i%users))
		if tok == "" {
			t.Fatal("login for a WebSocket client failed")
		}
		rts[i] = &lbWS{url: "wss://" + httpsAddr + "/v3/ws?appId=" + creds.AppID + "&authToken=" + tok, c: client(), connected: make(chan struct{}, 1)}
		go rts[i].run(ctx)
	}
	for i, w := range rts {
		select {
		case <-w.connected:
		case <-time.After(10 * time.Second):
			t.Fatalf("WebSocket client %d did not connect through nginx", i)
		}
	}

	// The load: logins, each followed by PUT /me and GET /me; every
	// tenth token logged out again.
	type token struct {
		tok     string
		revoked bool
	}
	var tokMu sync.Mutex
	var acked []*token
	var stop atomic.Bool
	var load sync.WaitGroup
	for w := range 6 {
		load.Add(1)
		go func() {
			defer load.Done()
			c := client()
			for n := 0; !stop.Load(); n++ {
				tok := login(c, fmt.Sprintf("lb-%d", (w*7+n)%users))
				if tok == "" {
					time.Sleep(100 * time.Millisecond) // the Retry-After, shortened
					continue
				}
				tk := &token{tok: tok}
				tokMu.Lock()
				acked = append(acked, tk)
				tokMu.Unlock()
				me := map[string]string{"appId": creds.AppID, "authToken": tok}
				call(c, "PUT", "/v3.0/me", me, `{"platform":"web"}`)
				call(c, "GET", "/v3/me", me, "")
				if n%10 == 9 {
					if code, _ := call(c, "DELETE", "/v3/me", me, ""); code == 200 {
						tk.revoked = true
					}
				}
			}
		}()
	}

	// Rolling restart.
	time.Sleep(time.Second)
	for _, n := range nodes {
		before := make([]int, len(rts))
		for i, w := range rts {
			before[i] = w.drops()
		}
		stopped := time.Now()
		n.term(t)
		n.start(t)
		n.waitReady(t)
		t.Logf("%s: SIGTERM → exited after %v, ready again after %v", n.name, n.exited.Sub(stopped).Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
		time.Sleep(1500 * time.Millisecond) // load on all three again
		moved := 0
		for i, w := range rts {
			for _, d := range w.dropsSince(before[i]) {
				moved++
				if d.code != websocket.StatusGoingAway {
					t.Errorf("WebSocket client %d dropped with %d during %s's restart, want 1001", i, d.code, n.name)
				}
				if d.back.IsZero() {
					t.Errorf("WebSocket client %d, dropped by %s, is not connected again", i, n.name)
				} else if gap := d.back.Sub(d.at); gap > 3*time.Second {
					t.Errorf("WebSocket client %d was connected again %v after %s dropped it, want within 3 s", i, gap, n.name)
				} else {
					t.Logf("WebSocket client %d: %s closed it (1001), connected again %v later", i, n.name, gap.Round(time.Millisecond))
				}
			}
		}
		if moved == 0 {
			t.Errorf("no WebSocket client was on %s", n.name)
		}
	}
	stop.Store(true)
	load.Wait()

	// Every acknowledged token still authenticates; logged-out ones do not.
	lost, revoked := 0, 0
	for _, tk := range acked {
		h := map[string]string{"appId": creds.AppID, "authToken": tk.tok}
		if tk.revoked {
			revoked++
			h["X-Expect"] = "revoked"
			if code, _ := call(probe, "GET", "/v3/me", h, ""); code != 401 {
				t.Errorf("a logged-out token answers %d", code)
			}
			continue
		}
		if code, _ := call(probe, "GET", "/v3/me", h, ""); code != 200 {
			lost++
		}
	}
	for i, w := range rts {
		if !w.live() {
			t.Errorf("WebSocket client %d is not connected at the end", i)
		}
	}
	keys := make([]string, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var summary []string
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%s: %d", k, tally[k]))
	}
	t.Logf("answers: %s", strings.Join(summary, ", "))
	t.Logf("%d tokens acknowledged (%d logged out by the test), %d lost", len(acked), revoked, lost)
	if lost > 0 {
		t.Errorf("%d acknowledged tokens lost", lost)
	}
	if len(acked) < 100 {
		t.Errorf("only %d logins acknowledged: the load did not run", len(acked))
	}
	for _, f := range failures {
		t.Errorf("no proper HTTP answer: %s", f)
	}
	if t.Failed() {
		elog, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
		t.Logf("nginx error log:\n%s", tail(string(elog), 8000))
	}
}

func swapOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("docs/operations.md's several-nodes example has %q %d times; this test swaps it once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// startNginx runs nginx in the foreground with site as its only server
// configuration, under prefix, until the test ends, and returns what it
// prints. A failed test logs nginx's error log.
func startNginx(t *testing.T, nginx, prefix, site string) *lockedWriter {
	t.Helper()
	main := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 1024; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/site.conf;
}
`, prefix)
	os.WriteFile(filepath.Join(prefix, "site.conf"), []byte(site), 0o600)
	os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(main), 0o600)
	args := []string{"-p", prefix, "-c", filepath.Join(prefix, "nginx.conf"), "-e", filepath.Join(prefix, "error.log")}
	if out, err := exec.Command(nginx, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, site)
	}
	ng := exec.Command(nginx, args...)
	ngOut := &lockedWriter{b: &strings.Builder{}}
	ng.Stdout, ng.Stderr = ngOut, ngOut
	if err := ng.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { ng.Wait(); close(done) }()
	t.Cleanup(func() {
		ng.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			ng.Process.Kill()
			<-done
		}
		if t.Failed() {
			elog, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			t.Logf("nginx error log:\n%s", elog)
		}
	})
	return ngOut
}

// lbNode is a `callgate serve` that the test stops and starts again on
// the same address.
type lbNode struct {
	name, addr, bin string
	args            []string
	cmd             *exec.Cmd
	out             *lockedWriter
	done            chan struct{}
	exited          time.Time
}

func (n *lbNode) start(t *testing.T) {
	t.Helper()
	n.out = &lockedWriter{b: &strings.Builder{}}
	n.done = make(chan struct{})
	n.cmd = exec.Command(n.bin, append([]string{"serve", "--addr", n.addr}, n.args...)...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.Env = cleanEnv()
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, done := n.cmd, n.done
	go func() { cmd.Wait(); n.exited = time.Now(); close(done) }()
}

func (n *lbNode) waitReady(t *testing.T) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-n.done:
			t.Fatalf("%s exited:\n%s", n.name, n.log())
		default:
		}
		if res, err := c.Get("http://" + n.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("%s not ready:\n%s", n.name, n.log())
}

// term sends SIGTERM and waits for the exit.
func (n *lbNode) term(t *testing.T) {
	t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(45 * time.Second):
		t.Fatalf("%s did not exit 45 s after SIGTERM:\n%s", n.name, n.log())
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited with %d:\n%s", n.name, code, n.log())
	}
}

func (n *lbNode) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Kill()
		<-n.done
	}
}

func (n *lbNode) log() string {
	n.out.mu.Lock()
	defer n.out.mu.Unlock()
	return n.out.b.String()
}

// lbWS is a WebSocket client that reconnects (at once, then every 100 ms)
// whenever its connection ends, recording each drop and when it was
// connected again (its connected message).
type lbWS struct {
	url       string
	c         *http.Client
	connected chan struct{}
	mu        sync.Mutex
	drop      []lbDrop
	up        bool
}

type lbDrop struct {
	at, back time.Time
	code     websocket.StatusCode
}

func (w *lbWS) run(ctx context.Context) {
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ws, _, err := websocket.Dial(dctx, w.url, &websocket.DialOptions{HTTPClient: w.c})
		cancel()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		first := true
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				w.mu.Lock()
				if !first {
					w.up = false
					w.drop = append(w.drop, lbDrop{at: time.Now(), code: websocket.CloseStatus(err)})
				}
				w.mu.Unlock()
				break
			}
			if first && strings.Contains(string(msg), `"connected"`) {
				first = false
				w.mu.Lock()
				w.up = true
				if n := len(w.drop); n > 0 && w.drop[n-1].back.IsZero() {
					w.drop[n-1].back = time.Now()
				}
				w.mu.Unlock()
				select {
				case w.connected <- struct{}{}:
				default:
				}
			}
		}
		ws.CloseNow()
	}
}

func (w *lbWS) drops() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.drop)
}

func (w *lbWS) dropsSince(n int) []lbDrop {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]lbDrop(nil), w.drop[n:]...)
}

func (w *lbWS) live() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.up
}

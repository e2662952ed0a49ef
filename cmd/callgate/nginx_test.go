package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/bench"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/servertest"
)

// The nginx example of docs/operations.md, as written there, in front of
// `callgate serve --trusted-proxies 127.0.0.1/32`: REST over HTTP/2, the
// WebSocket on both paths, Origin passed through, the security headers and
// one HSTS, the port-80 redirect, and — clients coming from other loopback
// addresses — callgate seeing, logging and rate-limiting each real client,
// whatever X-Forwarded-For it forges. nginx runs unprivileged-style: no
// daemon, a private prefix, loopback ports. Skipped where nginx is not
// installed (CI does not install it).
func TestNginxExample(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and the real binary")
	}
	nginx := findNginx()
	if nginx == "" {
		t.Skip("nginx is not installed (apt-get install nginx): the example of docs/operations.md is not exercised")
	}
	site := docBlock(t, "../../docs/operations.md", "nginx")

	// callgate, trusting the loopback proxy.
	data := t.TempDir()
	cg := startLogged(t, "http", &http.Client{}, "--dev", "--data", data, "--trusted-proxies", "127.0.0.1/32,::1/128", "--log-format", "json",
		"--rate-limit-failed-auth", "3")
	creds, err := provision.ReadDevCredentials(filepath.Join(data, provision.DevCredentialsFile))
	if err != nil {
		t.Fatal(err)
	}

	// nginx, with the example's ports, upstream and certificate swapped for
	// the test's.
	ca := servertest.NewCA(t)
	prefix := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, prefix, "ecdsa", "nginx")
	httpsAddr, _ := bench.FreeAddr()
	httpAddr, _ := bench.FreeAddr()
	for _, r := range [][2]string{
		{"server 127.0.0.1:8080;", "server " + strings.TrimPrefix(cg.url, "http://") + ";"},
		{"listen 80;", "listen " + httpAddr + ";"},
		{"listen [::]:80;\n", ""},
		{"listen 443 ssl http2;", "listen " + httpsAddr + " ssl http2;"},
		{"listen [::]:443 ssl http2;\n", ""},
		{"/etc/letsencrypt/live/callgate.example.com/fullchain.pem", certFile},
		{"/etc/letsencrypt/live/callgate.example.com/privkey.pem", keyFile},
	} {
		if n := strings.Count(site, r[0]); n != 1 {
			t.Fatalf("docs/operations.md's nginx example has %q %d times; this test swaps it for the test's once", r[0], n)
		}
		site = strings.Replace(site, r[0], r[1], 1)
	}
	ngOut := startNginx(t, nginx, prefix, site)
	base := "https://" + httpsAddr

	// from is a client whose connections come from ip (any 127.0.0.0/8
	// address is this host's), offering HTTP/2 as browsers do.
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext,
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true}}
	}
	type answer struct {
		res  *http.Response
		body []byte
	}
	send := func(c *http.Client, method, path string, h map[string]string) answer {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if method == "POST" {
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s through nginx: %v", method, path, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return answer{res, body}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("GET", base+"/readyz", nil)
		if res, err := from("127.0.0.1").Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			ngOut.mu.Lock()
			out := ngOut.b.String()
			ngOut.mu.Unlock()
			t.Fatalf("nginx did not answer /readyz on %s:\n%s", base, out)
		}
	}

	// REST over HTTP/2 from 127.0.0.2.
	alice := from("127.0.0.2")
	a := send(alice, "POST", "/v3/users/cometchat-uid-1/auth_tokens", map[string]string{"appId": creds.AppID, "apiKey": creds.AuthKey, "X-Request-Id": "nginx-login"})
	var tok struct{ Data struct{ AuthToken string } }
	if json.Unmarshal(a.body, &tok); a.res.StatusCode != 200 || tok.Data.AuthToken == "" || a.res.ProtoMajor != 2 {
		t.Fatalf("login through nginx: %d %s: %s", a.res.StatusCode, a.res.Proto, a.body)
	}
	me := map[string]string{"appId": creds.AppID, "authToken": tok.Data.AuthToken}
	a = send(alice, "GET", "/v3/me", withH(me, "X-Request-Id", "nginx-me", "Origin", "https://app.example.com"))
	if a.res.StatusCode != 200 || !strings.Contains(string(a.body), `"cometchat-uid-1"`) {
		t.Fatalf("GET /v3/me through nginx: %d %s", a.res.StatusCode, a.body)
	}
	h := a.res.Header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("Origin did not reach callgate: Access-Control-Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("security headers lost: %v", h)
	}
	if v := h.Values("Strict-Transport-Security"); len(v) != 1 || v[0] != "max-age=63072000" {
		t.Errorf("Strict-Transport-Security %q, want nginx's one", v)
	}
	if a := send(alice, "GET", "/v3.0/me", me); a.res.StatusCode != 200 {
		t.Errorf("GET /v3.0/me: %d %s", a.res.StatusCode, a.body)
	}

	// A forged X-Forwarded-For from 127.0.0.3 changes nothing.
	send(from("127.0.0.3"), "GET", "/v3/me", withH(me, "X-Request-Id", "nginx-forged", "X-Forwarded-For", "6.6.6.6"))

	// The failed-auth limit counts each client apart.
	bad := map[string]string{"appId": creds.AppID, "apiKey": strings.Repeat("1", 40)}
	mallory := from("127.0.0.4")
	for i := range 3 {
		if a := send(mallory, "GET", "/v3/users", bad); a.res.StatusCode != 401 {
			t.Fatalf("failure %d: %d %s", i+1, a.res.StatusCode, a.body)
		}
	}
	if a := send(mallory, "GET", "/v3/users", withH(bad, "X-Forwarded-For", "203.0.113.50")); a.res.StatusCode != 429 {
		t.Errorf("the fourth failure from 127.0.0.4: %d, want 429", a.res.StatusCode)
	}
	if a := send(from("127.0.0.5"), "GET", "/v3/users", bad); a.res.StatusCode != 401 {
		t.Errorf("another client behind the same proxy: %d, want 401 (not limited)", a.res.StatusCode)
	}

	// The WebSocket on both paths, through nginx.
	for _, path := range []string{"/v3/ws", "/v3.0/ws"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		hh := http.Header{}
		hh.Set("X-Request-Id", "nginx-ws"+strings.ReplaceAll(path, "/", "-"))
		hh.Set("Origin", "https://app.example.com")
		ws, res, err := websocket.Dial(ctx, "wss://"+httpsAddr+path+"?appId="+creds.AppID+"&authToken="+tok.Data.AuthToken,
			&websocket.DialOptions{HTTPClient: alice, HTTPHeader: hh})
		if err != nil {
			cancel()
			t.Fatalf("wss %s through nginx: %v", path, err)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s upgrade: security headers lost", path)
		}
		if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), `"connected"`) {
			t.Errorf("%s: first message %q %v", path, msg, err)
		}
		ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				t.Errorf("%s: no pong: %v", path, err)
				break
			}
			if strings.Contains(string(msg), `"pong"`) {
				break
			}
		}
		ws.Close(websocket.StatusNormalClosure, "")
		cancel()
	}
	// /ws without an upgrade gets callgate's JSON error.
	if a := send(alice, "GET", "/v3/ws", me); a.res.StatusCode != 400 || !strings.Contains(string(a.body), "ERR_BAD_REQUEST") {
		t.Errorf("GET /v3/ws without an upgrade: %d %s", a.res.StatusCode, a.body)
	}
	// Port 80 sends browsers to HTTPS.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := plain.Get("http://" + httpAddr + "/v3/me")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 301 || !strings.HasPrefix(res.Header.Get("Location"), "https://") {
		t.Errorf("port 80: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}

	// callgate's log: each request under the client's own address, with
	// nginx as the proxy.
	want := map[string]string{"nginx-login": "127.0.0.2", "nginx-me": "127.0.0.2", "nginx-forged": "127.0.0.3",
		"nginx-ws-v3-ws": "127.0.0.2", "nginx-ws-v3.0-ws": "127.0.0.2"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := map[string]string{}
		var remotes []string
		for _, line := range strings.Split(cg.log(), "\n") {
			var m struct {
				RequestID string `json:"request_id"`
				Remote    string
				Proxy     string
			}
			if json.Unmarshal([]byte(line), &m) != nil || m.RequestID == "" {
				continue
			}
			remotes = append(remotes, m.Remote)
			if _, ok := want[m.RequestID]; ok && m.Proxy == "127.0.0.1" {
				got[m.RequestID] = m.Remote
			}
		}
		ok := true
		for id, addr := range want {
			ok = ok && got[id] == addr
		}
		if ok {
			if strings.Join(remotes, ",") == "" || strings.Contains(strings.Join(remotes, ","), "6.6.6.6") {
				t.Errorf("log remotes %v", remotes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callgate logged %v, want %v; its log:\n%s", got, want, cg.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	access, _ := os.ReadFile(filepath.Join(prefix, "access.log"))
	if !strings.Contains(string(access), "127.0.0.2 ") {
		t.Errorf("nginx's access log does not show 127.0.0.2:\n%s", access)
	}
}

func withH(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// findNginx is the nginx binary, or "" ($PATH may lack /usr/sbin).
func findNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// docBlock returns the one fenced block of lang in the Markdown file.
func docBlock(t *testing.T, path, lang string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "```"+lang+"\n")
	if len(parts) != 2 {
		t.Fatalf("%s: want exactly one ```%s block, found %d", path, lang, len(parts)-1)
	}
	block, _, ok := strings.Cut(parts[1], "```")
	if !ok {
		t.Fatalf("%s: the ```%s block is not closed", path, lang)
	}
	return block
}

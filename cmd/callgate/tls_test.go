package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/bench"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/servertest"
)

// loggedProc is `callgate serve` whose output the test reads while it
// runs (through one lock, so the race detector has nothing to say).
type loggedProc struct {
	cmd  *exec.Cmd
	out  *lockedWriter
	url  string
	done chan struct{}
}

func (p *loggedProc) log() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.b.String()
}

// startLogged starts `callgate serve --addr ADDR args…` and waits until
// scheme://ADDR/readyz answers 200 through c.
func startLogged(t *testing.T, scheme string, c *http.Client, args ...string) *loggedProc {
	t.Helper()
	addr, err := bench.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := &loggedProc{out: &lockedWriter{b: &strings.Builder{}}, url: scheme + "://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(callgateBinary(t), append([]string{"serve", "--addr", addr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = cleanEnv()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server log:\n%s", p.log())
		}
	})
	c.Timeout = time.Second
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("serve exited:\n%s", p.log())
		default:
		}
		if res, err := c.Get(p.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
	}
	t.Fatalf("serve not ready at %s:\n%s", p.url, p.log())
	return nil
}

// startServeTLS starts the binary with --tls-cert/--tls-key and JSON logs
// and waits for /readyz over TLS with a client trusting ca.
func startServeTLS(t *testing.T, ca *servertest.CA, certFile, keyFile string, args ...string) *loggedProc {
	t.Helper()
	return startLogged(t, "https", ca.Client(false), append([]string{"--tls-cert", certFile, "--tls-key", keyFile, "--log-format", "json"}, args...)...)
}

// waitLog waits for a JSON log line whose msg contains msg, after the
// first skip such lines.
func (p *loggedProc) waitLog(t *testing.T, msg string, skip int) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n := 0
		for _, line := range strings.Split(p.log(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && strings.Contains(m["msg"].(string), msg) {
				if n == skip {
					return m
				}
				n++
			}
		}
	}
	t.Fatalf("no log line %q (#%d)", msg, skip+1)
	return nil
}

// SIGHUP re-reads the certificate files: new connections get the new
// certificate, while a WebSocket and a keep-alive HTTP/1.1 connection
// opened before go on over their old sessions; a bad pair is logged and
// the current one kept; the process lives on throughout.
func TestServeTLSReloadOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	ca := servertest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, dir, "ed25519", "first")
	data := t.TempDir()
	p := startServeTLS(t, ca, certFile, keyFile, "--dev", "--data", data)
	creds, err := provision.ReadDevCredentials(filepath.Join(data, provision.DevCredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if creds.Host != p.url {
		t.Errorf("dev credentials host %q, want %q (https by default under TLS)", creds.Host, p.url)
	}
	p.waitLog(t, "TLS certificate loaded", 0)

	// served answers GET /healthz through c and says which certificate the
	// connection has and whether it was reused.
	served := func(c *http.Client) (cn string, reused bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.url+"/healthz", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET /healthz: %v", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET /healthz: %d", res.StatusCode)
		}
		return res.TLS.PeerCertificates[0].Subject.CommonName, reused
	}

	// Before: a keep-alive HTTP/1.1 connection, an HTTP/2 one and a
	// WebSocket, all on the first certificate.
	keepH1, keepH2 := ca.Client(false), ca.Client(true)
	if cn, _ := served(keepH1); cn != "first" {
		t.Fatalf("served %q", cn)
	}
	served(keepH2)
	req, _ := http.NewRequest("POST", p.url+"/v3/users/cometchat-uid-1/auth_tokens", strings.NewReader("{}"))
	req.Header.Set("appId", creds.AppID)
	req.Header.Set("apiKey", creds.AuthKey)
	res, err := keepH1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Data struct{ AuthToken string } }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(p.url, "https")+"/v3/ws?appId="+creds.AppID+"&authToken="+tok.Data.AuthToken,
		&websocket.DialOptions{HTTPClient: ca.Client(false)})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), "connected") {
		t.Fatalf("first message %q %v", msg, err)
	}
	pingPong := func(when string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
			t.Fatalf("%s: WebSocket write: %v", when, err)
		}
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("%s: WebSocket read: %v", when, err)
			}
			if strings.Contains(string(msg), `"pong"`) {
				return
			}
		}
	}

	// Renewal: both files replaced, then SIGHUP.
	cert2, key2 := ca.Issue(t, "rsa", "second")
	servertest.WriteFileAtomic(t, certFile, cert2)
	servertest.WriteFileAtomic(t, keyFile, key2)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if m := p.waitLog(t, "SIGHUP: TLS certificate reloaded", 0); m["subject"] != "CN=second" {
		t.Errorf("reload logged %v", m)
	}
	if cn, reused := served(ca.Client(false)); cn != "second" || reused {
		t.Errorf("a new connection got %q (reused %v), want the new certificate", cn, reused)
	}
	if cn, reused := served(keepH1); cn != "first" || !reused {
		t.Errorf("the keep-alive HTTP/1.1 connection: %q, reused %v; want it kept, on the first certificate", cn, reused)
	}
	if cn, reused := served(keepH2); cn != "first" || !reused {
		t.Errorf("the HTTP/2 connection: %q, reused %v; want it kept, on the first certificate", cn, reused)
	}
	pingPong("after the reload")

	// A bad pair (the new certificate with another key): logged as an
	// error, and the pair in use stays.
	_, otherKey := ca.Issue(t, "ecdsa", "other")
	servertest.WriteFileAtomic(t, keyFile, otherKey)
	p.cmd.Process.Signal(syscall.SIGHUP)
	m := p.waitLog(t, "TLS certificate not reloaded", 0)
	if m["level"] != "ERROR" || !strings.Contains(m["err"].(string), "does not match") {
		t.Errorf("bad pair logged as %v", m)
	}
	if cn, _ := served(ca.Client(false)); cn != "second" {
		t.Errorf("after a bad pair a new connection got %q, want the pair in use kept", cn)
	}
	// An empty key file too.
	servertest.WriteFileAtomic(t, keyFile, nil)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "TLS certificate not reloaded", 1)
	if cn, _ := served(ca.Client(false)); cn != "second" {
		t.Errorf("after an empty key a new connection got %q", cn)
	}
	if cn, reused := served(keepH1); cn != "first" || !reused {
		t.Errorf("the keep-alive connection after two bad reloads: %q, reused %v", cn, reused)
	}
	pingPong("after the bad reloads")

	// Fixed files and SIGHUP: taken up.
	servertest.WriteFileAtomic(t, keyFile, key2)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "SIGHUP: TLS certificate reloaded", 1)

	select {
	case <-p.done:
		t.Fatal("the server exited")
	default:
	}
	ws.Close(websocket.StatusNormalClosure, "")
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d", code)
	}
}

// Certificate flags are checked before anything listens: both or
// neither, readable, a matching pair.
func TestServeTLSFlagErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	ca := servertest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, dir, "ecdsa", "a")
	_, otherKey := ca.IssueFiles(t, t.TempDir(), "ecdsa", "b")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, "--tls-cert needs --tls-key"},
		{"key without cert", []string{"--tls-key", keyFile}, "--tls-key needs --tls-cert"},
		{"missing cert", []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", keyFile}, "nope.pem: no such file"},
		{"unreadable key", []string{"--tls-cert", certFile, "--tls-key", dir}, "is a directory"},
		{"mismatched", []string{"--tls-cert", certFile, "--tls-key", otherKey}, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := bench.FreeAddr()
			cmd := exec.Command(callgateBinary(t), append([]string{"serve", "--data", t.TempDir(), "--addr", addr}, tc.args...)...)
			cmd.Env = cleanEnv()
			done := make(chan struct{})
			var out []byte
			go func() { out, _ = cmd.CombinedOutput(); close(done) }()
			for {
				select {
				case <-done:
				case <-time.After(20 * time.Millisecond):
					if c, err := net.Dial("tcp", addr); err == nil {
						c.Close()
						cmd.Process.Kill()
						t.Fatalf("serve listened on %s before refusing its flags", addr)
					}
					continue
				}
				break
			}
			if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %d, output %q; want exit 1 and %q", cmd.ProcessState.ExitCode(), out, tc.want)
			}
		})
	}
	// Through the environment, as systemd units set them.
	cmd := exec.Command(callgateBinary(t), "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:1")
	cmd.Env = append(cleanEnv(), "CALLGATE_TLS_CERT="+certFile)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--tls-cert needs --tls-key") {
		t.Errorf("CALLGATE_TLS_CERT alone: %v %s", err, out)
	}
}

package server_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

// startTLS serves a test server over TLS with a certificate of keyType
// issued by ca; it returns the server, its certificate and their files.
func startTLS(t *testing.T, ca *servertest.CA, keyType string) (e *env, certs *server.CertFiles, certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = ca.IssueFiles(t, t.TempDir(), keyType, "callgate-"+keyType)
	certs, err := server.LoadCertFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, servertest.Options{TLS: certs.TLSConfig()}), certs, certFile, keyFile
}

// Over TLS, for each key type: REST and the client API over HTTP/2 (what
// a browser negotiates), HTTP/1.1 for clients that offer only it, a
// WebSocket (wss) on the same port, and a JSON error for /ws over HTTP/2.
func TestTLS(t *testing.T) {
	t.Parallel()
	ca := servertest.NewCA(t)
	for _, kt := range servertest.KeyTypes {
		t.Run(kt, func(t *testing.T) {
			t.Parallel()
			e, _, _, _ := startTLS(t, ca, kt)
			if !strings.HasPrefix(e.srv.URL, "https://") {
				t.Fatalf("URL %s", e.srv.URL)
			}
			h2, h1 := ca.Client(true), ca.Client(false)
			get := func(c *http.Client, path string, h H) (*http.Response, []byte) {
				t.Helper()
				req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
				for k, v := range h {
					req.Header.Set(k, v)
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return res, body
			}

			// HTTP/2 with a client that offers it.
			tok := e.newTokenVia(h2, "cometchat-uid-1")
			for _, path := range []string{"/healthz", "/v3/me", "/v3.0/me"} {
				res, body := get(h2, path, e.tok(tok))
				if res.StatusCode != 200 || res.ProtoMajor != 2 {
					t.Errorf("GET %s over h2: %d %s: %s", path, res.StatusCode, res.Proto, body)
				}
				if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 || res.TLS.NegotiatedProtocol != "h2" {
					t.Errorf("GET %s: TLS state %+v", path, res.TLS)
				}
				if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
					t.Errorf("GET %s over h2: HSTS %q", path, got)
				}
				if leaf := res.TLS.PeerCertificates[0]; leaf.Subject.CommonName != "callgate-"+kt {
					t.Errorf("served certificate %q", leaf.Subject.CommonName)
				}
			}
			// HTTP/1.1 with a client that offers only it.
			if res, body := get(h1, "/v3/me", e.tok(tok)); res.StatusCode != 200 || res.ProtoMajor != 1 {
				t.Errorf("GET /v3/me over h1: %d %s: %s", res.StatusCode, res.Proto, body)
			}

			// /ws over HTTP/2 cannot upgrade: a JSON error, not a hang or
			// a broken stream.
			res, body := get(h2, "/v3/ws", e.tok(tok))
			var env struct{ Error struct{ Code string } }
			if json.Unmarshal(body, &env); res.ProtoMajor != 2 || res.StatusCode != 400 || env.Error.Code != "ERR_BAD_REQUEST" {
				t.Errorf("GET /v3/ws over h2: %d %s: %s", res.StatusCode, res.Proto, body)
			}

			// wss on the same port, with an HTTP/1.1-only client and with one
			// that offers h2 (the upgrade goes over HTTP/1.1, as a
			// browser's does).
			for name, c := range map[string]*http.Client{"h1 client": h1, "h2 client": h2} {
				wsURL := "wss" + strings.TrimPrefix(e.srv.URL, "https") + "/v3.0/ws?appId=" + e.srv.AppID + "&authToken=" + tok
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				ws, res, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: c})
				if err != nil {
					cancel()
					t.Fatalf("wss dial (%s): %v", name, err)
				}
				if res.Header.Get("Strict-Transport-Security") == "" {
					t.Errorf("wss upgrade (%s): no HSTS", name)
				}
				_, msg, err := ws.Read(ctx)
				if err != nil || !strings.Contains(string(msg), `"connected"`) {
					t.Errorf("wss (%s): first message %q, %v", name, msg, err)
				}
				ws.Close(websocket.StatusNormalClosure, "")
				cancel()
			}

			// TLS 1.1 and older are refused.
			old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS11}}}
			if res, err := old.Get(e.srv.URL + "/healthz"); err == nil {
				res.Body.Close()
				t.Error("a TLS 1.1 client was served")
			}
		})
	}
}

// Over TLS every answer has HSTS besides the other security headers.
func TestSecurityHeadersOverTLS(t *testing.T) {
	t.Parallel()
	ca := servertest.NewCA(t)
	e, _, _, _ := startTLS(t, ca, "ecdsa")
	checkSecurityHeaders(t, e, ca.Client(false), true)
}

// Reload swaps the pair for new handshakes; open connections keep theirs;
// a bad pair is refused and the current one kept.
func TestCertReload(t *testing.T) {
	t.Parallel()
	ca := servertest.NewCA(t)
	e, certs, certFile, keyFile := startTLS(t, ca, "ecdsa")
	served := func(c *http.Client) string {
		t.Helper()
		res, err := c.Get(e.srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.TLS.PeerCertificates[0].Subject.CommonName
	}
	keepAlive := ca.Client(false) // holds its connection across the reload
	if cn := served(keepAlive); cn != "callgate-ecdsa" {
		t.Fatalf("served %q", cn)
	}

	// Renewal replaces both files (with a new key type, even).
	cert2, key2 := ca.Issue(t, "rsa", "renewed")
	servertest.WriteFileAtomic(t, certFile, cert2)
	servertest.WriteFileAtomic(t, keyFile, key2)
	leaf, err := certs.Reload()
	if err != nil || leaf.Subject.CommonName != "renewed" {
		t.Fatalf("reload: %v %v", leaf, err)
	}
	if cn := served(ca.Client(false)); cn != "renewed" {
		t.Errorf("a new connection got %q, want the renewed certificate", cn)
	}
	if cn := served(keepAlive); cn != "callgate-ecdsa" {
		t.Errorf("the open connection now reports %q: it was not kept", cn)
	}

	// Bad pairs: each is refused with a message naming the problem, and
	// the renewed pair stays in use.
	other, otherKey := ca.Issue(t, "ecdsa", "other")
	for name, files := range map[string][2][]byte{
		"mismatched":  {other, key2},
		"garbage key": {cert2, []byte("not a key")},
		"empty cert":  {nil, key2},
		"key as cert": {otherKey, otherKey},
	} {
		servertest.WriteFileAtomic(t, certFile, files[0])
		servertest.WriteFileAtomic(t, keyFile, files[1])
		if _, err := certs.Reload(); err == nil {
			t.Errorf("%s: reload accepted it", name)
		} else if !strings.Contains(err.Error(), certFile) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		if cn := served(ca.Client(false)); cn != "renewed" {
			t.Errorf("%s: a new connection got %q after a failed reload", name, cn)
		}
	}
	os.Remove(keyFile)
	if _, err := certs.Reload(); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("missing key: %v", err)
	}
	if cn := served(ca.Client(false)); cn != "renewed" {
		t.Errorf("missing key: a new connection got %q", cn)
	}
}

// LoadCertFiles refuses at once what would fail at the first handshake.
func TestLoadCertFiles(t *testing.T) {
	t.Parallel()
	ca := servertest.NewCA(t)
	for _, kt := range servertest.KeyTypes {
		dir := t.TempDir()
		certFile, keyFile := ca.IssueFiles(t, dir, kt, kt)
		c, err := server.LoadCertFiles(certFile, keyFile)
		if err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if c.Leaf().Subject.CommonName != kt {
			t.Errorf("%s: leaf %v", kt, c.Leaf().Subject)
		}
	}
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, dir, "ecdsa", "a")
	otherCert, otherKey := ca.IssueFiles(t, t.TempDir(), "ecdsa", "b")
	for _, tc := range []struct{ name, cert, key, want string }{
		{"missing cert", filepath.Join(dir, "nope.pem"), keyFile, "nope.pem"},
		{"missing key", certFile, filepath.Join(dir, "nope.key"), "nope.key"},
		{"mismatched", certFile, otherKey, "does not match"},
		{"swapped", keyFile, certFile, keyFile},
		{"other pair's cert", otherCert, keyFile, otherCert},
	} {
		if _, err := server.LoadCertFiles(tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (want an error naming %q)", tc.name, err, tc.want)
		}
	}
}

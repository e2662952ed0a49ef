package server_test

import (
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/servertest"
)

// A draining node (Drain, called on SIGTERM before the listener closes)
// fails /readyz and refuses every request with 503 + Retry-After and
// Connection: close before doing anything for it, so that a load balancer
// retries elsewhere and lets go of its keep-alive connections; /healthz
// (the process is alive) and /metrics still answer.
func TestDrainRefusesWithRetryAfter(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	tok := e.newToken("/v3", "cometchat-uid-1")
	if r := e.do("GET", "/readyz", nil, nil); r.Status != 200 {
		t.Fatalf("/readyz before the drain: %d", r.Status)
	}

	e.srv.API.Drain()
	if !e.srv.API.Draining() {
		t.Fatal("Draining() is false after Drain")
	}
	for _, c := range []struct {
		method, path string
		h            H
	}{
		{"GET", "/readyz", nil},
		{"GET", "/v3/me", e.tok(tok)},
		{"PUT", "/v3.0/me", e.tok(tok)},
		{"POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth()},
		{"GET", "/v3/ws", e.tok(tok)},
		{"GET", "/v3/me", e.tok(tok).with("Origin", "https://app.example.com")},
	} {
		r := e.do(c.method, c.path, c.h, nil)
		if r.Status != 503 || r.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %s while draining: %d Retry-After %q, want 503 and 1: %s", c.method, c.path, r.Status, r.Header.Get("Retry-After"), r)
		}
		errBody, _ := r.Body["error"].(map[string]any)
		if code, _ := errBody["code"].(string); code != "ERR_SERVICE_UNAVAILABLE" {
			t.Errorf("%s %s while draining: code %q", c.method, c.path, code)
		}
		if d, _ := errBody["details"].(map[string]any); d["draining"] != true {
			t.Errorf("%s %s while draining: details %v, want draining: true", c.method, c.path, errBody["details"])
		}
		if dev, _ := errBody["devMessage"].(string); !strings.Contains(dev, "shutting down") {
			t.Errorf("%s %s while draining: devMessage %q does not say the node is shutting down", c.method, c.path, dev)
		}
		if !r.Close {
			t.Errorf("%s %s while draining: the connection is kept alive, want Connection: close", c.method, c.path)
		}
		if o := c.h["Origin"]; o != "" && r.Header.Get("Access-Control-Allow-Origin") != o {
			t.Errorf("a browser cannot read the refusal: Access-Control-Allow-Origin %q", r.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		if r := e.do("GET", p, nil, nil); r.Status != 200 {
			t.Errorf("%s while draining: %d, want 200", p, r.Status)
		}
	}
}

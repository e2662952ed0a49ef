package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

// Every answer carries the security headers: each route of the table
// (with and without credentials), successes, errors of every kind, ops,
// /sdk/ files and their 304s, preflights, WebSocket refusals and the
// upgrade itself. HSTS only over TLS.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	checkSecurityHeaders(t, e, client, false)
}

// checkSecurityHeaders runs the probes against e through c; overTLS says
// whether Strict-Transport-Security is expected.
func checkSecurityHeaders(t *testing.T, e *env, c *http.Client, overTLS bool) {
	base := e.srv.URL
	send := func(method, path string, h H, body string) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	check := func(what string, res *http.Response, wantStatus int) {
		t.Helper()
		if wantStatus != 0 && res.StatusCode != wantStatus {
			t.Errorf("%s: status %d, want %d", what, res.StatusCode, wantStatus)
		}
		h := res.Header
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s (%d): X-Content-Type-Options %q", what, res.StatusCode, got)
		}
		if got := h.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s (%d): Referrer-Policy %q", what, res.StatusCode, got)
		}
		hsts := h.Get("Strict-Transport-Security")
		if overTLS && hsts != "max-age=63072000" {
			t.Errorf("%s (%d): over TLS, Strict-Transport-Security %q", what, res.StatusCode, hsts)
		}
		if !overTLS && hsts != "" {
			t.Errorf("%s (%d): over plain HTTP, Strict-Transport-Security %q", what, res.StatusCode, hsts)
		}
	}
	// The sweep logs its token out and deletes its user; the probes after
	// it use another.
	sweepTok := e.newTokenVia(c, "cometchat-uid-2")
	creds := map[string]H{"none": {}, "anyKey": e.auth(), "fullKey": e.rest(), "token": e.tok(sweepTok)}

	// Every route of the table, as the router has it, with its credentials
	// and without.
	n := 0
	for _, rt := range server.Routes() {
		path := strings.NewReplacer("{uid}", "cometchat-uid-2", "{ref}", "nosuchref").Replace(rt.Path)
		if rt.Path == "/ws" {
			continue // below
		}
		prefixes := versions
		if rt.Ops {
			prefixes = []string{""}
		}
		for _, v := range prefixes {
			body := ""
			if rt.TakesBody {
				body = "{}"
			}
			check(rt.Method+" "+v+path+" with credentials", send(rt.Method, v+path, creds[rt.Auth], body), 0)
			check(rt.Method+" "+v+path+" without", send(rt.Method, v+path, H{"appId": e.srv.AppID}, body), 0)
			n++
		}
	}
	if n < 40 {
		t.Fatalf("only %d routes probed", n)
	}

	// Each kind of answer, by name.
	tok := e.newTokenVia(c, "cometchat-uid-1")
	check("REST success", send("GET", "/v3/users", e.rest(), ""), 200)
	check("client API success", send("GET", "/v3.0/me", e.tok(tok), ""), 200)
	check("bad credentials", send("GET", "/v3/users", e.rest().with("apiKey", strings.Repeat("1", 40)), ""), 401)
	check("bad body", send("POST", "/v3/users", e.rest(), "[1]"), 400)
	check("body too large", send("POST", "/v3/users", e.rest(), strings.Repeat(" ", 1<<20+1)), 413)
	check("unmatched path", send("GET", "/v3/nope", nil, ""), 404)
	check("root", send("GET", "/", nil, ""), 404)
	check("wrong method", send("PATCH", "/v3/users", e.rest(), ""), 404)
	check("trailing slash", send("GET", "/v3/users/", e.rest(), ""), 404)
	check("preflight", send("OPTIONS", "/v3/me", H{"Origin": pageOrigin, "Access-Control-Request-Method": "PUT"}, ""), 204)
	check("from a page", send("GET", "/v3/users", e.rest().with("Origin", pageOrigin), ""), 200)
	check("healthz", send("GET", "/healthz", nil, ""), 200)
	check("healthz HEAD", send("HEAD", "/healthz", nil, ""), 200)
	check("readyz", send("GET", "/readyz", nil, ""), 200)
	check("metrics", send("GET", "/metrics", nil, ""), 200)
	check("jwks", send("GET", "/.well-known/jwks.json", nil, ""), 200)
	sdk := send("GET", "/sdk/calls.js", nil, "")
	check("sdk", sdk, 200)
	check("sdk 304", send("GET", "/sdk/calls.js", H{"If-None-Match": sdk.Header.Get("ETag")}, ""), 304)
	check("sdk types", send("GET", "/sdk/calls.d.ts", nil, ""), 200)

	// WebSocket: refusals are ordinary answers …
	check("ws without upgrade", send("GET", "/v3/ws", e.tok(tok), ""), 400)
	check("ws bad token", send("GET", "/v3/ws", e.tok("garbage"), ""), 401)
	check("ws no token", send("GET", "/v3.0/ws", nil, ""), 0)
	// … and the upgrade carries them too.
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/v3/ws?appId=" + e.srv.AppID + "&authToken=" + tok
	ws, res, err := websocket.Dial(context.Background(), wsURL, &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	defer ws.CloseNow()
	check("ws upgrade", res, http.StatusSwitchingProtocols)
	_, res, err = websocket.Dial(context.Background(), strings.Replace(wsURL, tok, "garbage", 1), &websocket.DialOptions{HTTPClient: c})
	if err == nil {
		t.Fatal("dial with a bad token succeeded")
	}
	check("ws upgrade refused", res, 401)
}

// newTokenVia mints a token for uid with the authOnly key, through c.
func (e *env) newTokenVia(c *http.Client, uid string) string {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v3/users/"+uid+"/auth_tokens", strings.NewReader("{}"))
	for k, v := range e.auth() {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	d := parse(res, raw).data(e.t)
	tok, _ := d["authToken"].(string)
	if tok == "" {
		e.t.Fatalf("no token: %s", raw)
	}
	return tok
}

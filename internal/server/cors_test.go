package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

const pageOrigin = "http://localhost:5173"

// Every API route answers a preflight permissively, without storage (the
// store is closed here), naming what a browser needs.
func TestPreflight(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	if err := e.srv.Store.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rt := range server.Routes() {
		if rt.Ops {
			continue
		}
		prefixes := versions
		if rt.Root {
			prefixes = []string{""}
		}
		for _, v := range prefixes {
			path := v + strings.NewReplacer("{uid}", "cometchat-uid-1", "{ref}", "x").Replace(rt.Path)
			r := e.do("OPTIONS", path, H{"Origin": pageOrigin, "Access-Control-Request-Method": rt.Method,
				"Access-Control-Request-Headers": "appid,apikey,content-type,x-cometchat-extra"}, nil)
			n++
			h := r.Header
			if r.Status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != pageOrigin ||
				h.Get("Access-Control-Max-Age") != "600" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), rt.Method) {
				t.Errorf("preflight %s %s: %d %v", rt.Method, path, r.Status, h)
			}
			allow := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
			for _, want := range []string{"appid", "apikey", "authtoken", "calltoken", "resource", "sdk", "content-type", "x-cometchat-extra"} {
				if !strings.Contains(allow, want) {
					t.Errorf("preflight %s %s: Allow-Headers %q lacks %s", rt.Method, path, allow, want)
				}
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("preflight %s %s: no Vary: Origin", rt.Method, path)
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("Allow-Credentials set: callgate uses no cookies")
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d routes preflighted", n)
	}
	// OPTIONS that is not a preflight, and a preflight of an unknown path.
	wantErr(t, e.do("OPTIONS", "/v3/users", H{"Origin": pageOrigin}, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	wantErr(t, e.do("OPTIONS", "/v3/nope", H{"Origin": pageOrigin, "Access-Control-Request-Method": "GET"}, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	// A header name that is not a token is not echoed.
	r := e.do("OPTIONS", "/v3/users", H{"Origin": pageOrigin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "bad header, (x), ok-one"}, nil)
	if a := r.Header.Get("Access-Control-Allow-Headers"); strings.Contains(a, "bad") || !strings.Contains(a, "ok-one") {
		t.Errorf("Allow-Headers %q", a)
	}
}

// A page of the server's own origin — the console — may use a fullAccess
// key though the app does not list that origin (browsers send Origin on
// same-origin writes): its origin is the request's Host with the server's
// scheme, or the public URL's. authOnly keys and auth tokens, which belong
// in other pages, still need the origin listed; so does every other origin.
func TestCORSOwnOrigin(t *testing.T) {
	t.Parallel()
	const public = "https://callgate.example.com"
	e := start(t, servertest.Options{Config: server.Config{PublicURL: public + "/"}})
	e.do("PUT", "/v3/app", e.rest(), map[string]any{"settings": map[string]any{"corsOrigins": []string{"https://app.example.com"}}}).data(t)
	tok := e.newToken("/v3", "cometchat-uid-1")
	own := e.srv.URL // http://127.0.0.1:port, the Host these requests carry
	_, port, _ := strings.Cut(strings.TrimPrefix(own, "http://"), ":")

	allowedCases := []struct {
		name string
		h    H
	}{
		{"the request's own origin", e.rest().with("Origin", own)},
		{"in upper case", e.rest().with("Origin", strings.ToUpper(own))},
		{"the Host named otherwise", e.rest().with("Origin", "http://localhost:"+port, "Host", "localhost:"+port)},
		{"the public URL's origin", e.rest().with("Origin", public)},
	}
	for i, c := range allowedCases {
		uid := fmt.Sprintf("own-origin-%d", i)
		r := e.do("POST", "/v3/users", c.h, map[string]any{"uid": uid, "name": "N"})
		t.Run("allowed "+c.name, func(t *testing.T) {
			wantOK(t, r)
			if r.Header.Get("Access-Control-Allow-Origin") != c.h["Origin"] {
				t.Errorf("ACAO %q", r.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
	refusedCases := []struct {
		name, method, path string
		h                  H
		body               any
	}{
		{"an authOnly key", "POST", "/v3/users", e.auth().with("Origin", own), map[string]any{"uid": "own-origin-x", "name": "N"}},
		{"an auth token", "PUT", "/v3.0/me", e.tok(tok).with("Origin", own), map[string]any{"platform": "web"}},
		{"an auth token logging out", "DELETE", "/v3.0/me", e.tok(tok).with("Origin", own), nil},
		{"another port", "POST", "/v3/users", e.rest().with("Origin", "http://127.0.0.1:1"), map[string]any{"uid": "own-origin-x", "name": "N"}},
		{"https for an http server", "POST", "/v3/users", e.rest().with("Origin", "https://"+strings.TrimPrefix(own, "http://")), map[string]any{"uid": "own-origin-x", "name": "N"}},
		{"the public URL's host over http", "POST", "/v3/users", e.rest().with("Origin", "http://callgate.example.com"), map[string]any{"uid": "own-origin-x", "name": "N"}},
		{"an opaque origin", "POST", "/v3/users", e.rest().with("Origin", "null"), map[string]any{"uid": "own-origin-x", "name": "N"}},
		{"a bad key", "POST", "/v3/users", e.rest().with("Origin", own, "apiKey", strings.Repeat("1", 40)), map[string]any{"uid": "own-origin-x", "name": "N"}},
	}
	for _, c := range refusedCases {
		r := e.do(c.method, c.path, c.h, c.body)
		t.Run("refused "+c.name, func(t *testing.T) { wantErr(t, r, http.StatusForbidden, "ERR_ORIGIN_NOT_ALLOWED") })
	}
	noUser(t, e.srv.Store, e.srv.AppID, "own-origin-x")
	e.do("GET", "/v3/me", e.tok(tok), nil).data(t)
}

// The real request decides: an Origin the app does not list is refused
// with 403 before anything changes, on every kind of route; an allowed one
// is answered readable by the page; no Origin (a server) is unaffected.
func TestCORSOrigins(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	const allowed, refused = "https://app.example.com", "https://evil.example.net"
	e.do("PUT", "/v3/app", e.rest(), map[string]any{"settings": map[string]any{"corsOrigins": []string{allowed, "http://LOCALHOST:3000"}}}).data(t)
	tok := e.newToken("/v3", "cometchat-uid-1")
	call := str(e.do("POST", "/v3/call_tokens", e.tok(tok), map[string]any{"sessionId": "c1"}).data(t), "token")
	before := snapshot(t, e.srv.Store, e.srv.AppID)

	for _, c := range []struct {
		method, path string
		h            H
		body         any
	}{
		{"POST", "/v3/users", e.auth(), map[string]any{"uid": "cors-new", "name": "N", "withAuthToken": true}},
		{"POST", "/v3/users/cometchat-uid-2/auth_tokens", e.auth(), nil},
		{"GET", "/v3/users", e.rest(), nil},
		{"PUT", "/v3/users/cometchat-uid-2", e.rest(), map[string]any{"name": "changed"}},
		{"DELETE", "/v3/users/cometchat-uid-3", e.rest(), nil},
		{"DELETE", "/v3/users/cometchat-uid-1/auth_tokens", e.rest(), nil},
		{"POST", "/v3/apikeys", e.rest(), map[string]any{"name": "k", "scope": "authOnly"}},
		{"PUT", "/v3/app", e.rest(), map[string]any{"settings": map[string]any{"corsOrigins": []string{"*"}}}},
		{"PUT", "/v3.0/me", e.tok(tok), map[string]any{"platform": "web"}},
		{"DELETE", "/v3.0/me", e.tok(tok), nil},
		{"DELETE", "/v3.0/me", H{"authToken": tok}, nil}, // the token names the app
		{"POST", "/v3.0/call_tokens", H{"authToken": tok}, map[string]any{"sessionId": "c2"}},
		{"GET", "/v3.0/call_tokens", H{"callToken": call}, nil},
		// A bad key from a refused origin is refused for its origin.
		{"GET", "/v3/users", e.rest().with("apiKey", strings.Repeat("1", 40)), nil},
	} {
		r := e.do(c.method, c.path, c.h.with("Origin", refused), c.body)
		t.Run("refused "+c.method+" "+c.path, func(t *testing.T) {
			e := wantErr(t, r, http.StatusForbidden, "ERR_ORIGIN_NOT_ALLOWED")
			if !strings.Contains(str(e, "message"), refused) {
				t.Errorf("the message does not name the origin: %v", e)
			}
			// Readable by the page, so the SDK can show why.
			if r.Header.Get("Access-Control-Allow-Origin") != refused {
				t.Errorf("ACAO %q", r.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
	wantSnapshot(t, e.srv.Store, e.srv.AppID, before)
	noUser(t, e.srv.Store, e.srv.AppID, "cors-new")
	e.do("GET", "/v3/me", e.tok(tok), nil).data(t) // the refused logout changed nothing

	// A WebSocket upgrade from a refused origin: 403, no upgrade.
	for _, h := range []H{e.tok(tok).with("Origin", refused), {"authToken": tok, "Origin": refused}} {
		r := raw(t, e.srv.URL, "GET /v3/ws HTTP/1.1", h.with("Connection", "Upgrade", "Upgrade", "websocket",
			"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), "")
		wantErr(t, r, http.StatusForbidden, "ERR_ORIGIN_NOT_ALLOWED")
	}
	if e.srv.Hub.Online(e.srv.AppID, "cometchat-uid-1") {
		t.Error("a refused upgrade registered a connection")
	}
	_, res, err := dialWS(t, "allowed", e.srv.URL, "/v3/ws", dialOpts{header: http.Header{"authToken": {tok}, "Origin": {allowed}}})
	if err != nil {
		t.Fatalf("an allowed origin's upgrade: %v (%s)", err, body(res))
	}

	// Allowed origins (compared without case), and no Origin at all.
	for _, origin := range []string{allowed, "http://localhost:3000", ""} {
		h := e.rest()
		if origin != "" {
			h = h.with("Origin", origin)
		}
		r := e.do("GET", "/v3/users", h, nil)
		r.list(t)
		switch got := r.Header.Get("Access-Control-Allow-Origin"); {
		case origin == "" && got != "":
			t.Errorf("no Origin, yet ACAO %q", got)
		case origin != "" && (got != origin || !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") ||
			!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Retry-After") ||
			!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id")):
			t.Errorf("origin %s: %v", origin, r.Header)
		}
	}
	// Errors of an allowed origin are readable too (the SDK reads the code).
	r := e.do("GET", "/v3/users/nobody-here", e.rest().with("Origin", allowed), nil)
	wantErr(t, r, 404, "ERR_UID_NOT_FOUND")
	if r.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Error("an allowed origin's error is not readable")
	}
	// An unknown app: nothing to protect, the error is readable.
	r = e.do("GET", "/v3/users", H{"appId": "no-such-app", "apiKey": "x", "Origin": refused}, nil)
	wantErr(t, r, 401, "AUTH_ERR_INVALID_APPID")
	if r.Header.Get("Access-Control-Allow-Origin") != refused {
		t.Error("an unknown app's error is not readable")
	}
}

// Public things are open to every origin: the JWKS and the SDK files.
func TestCORSPublic(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	for _, p := range []string{"/.well-known/jwks.json", "/sdk/calls.js", "/sdk/calls.d.ts"} {
		r := e.do("GET", p, H{"Origin": "https://anywhere.example"}, nil)
		if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %d ACAO %q", p, r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	// The dev app allows every origin.
	app, err := e.srv.Store.GetApp(t.Context(), e.srv.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Settings.CORSOrigins) != 1 || app.Settings.CORSOrigins[0] != "*" {
		t.Errorf("the dev app's corsOrigins: %v", app.Settings.CORSOrigins)
	}
	e.do("GET", "/v3/users", e.rest().with("Origin", "https://whatever.example"), nil).list(t)
}

// /sdk/calls.js: an ES module with a strong ETag that revalidates to 304.
func TestSDKServed(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	r := e.do("GET", "/sdk/calls.js", nil, nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(string(r.Raw), "export class CometChatCallsError") || !strings.Contains(string(r.Raw), "export default") {
		t.Fatalf("GET /sdk/calls.js: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || r.Header.Get("Cache-Control") != "public, no-cache" {
		t.Errorf("ETag %q, Cache-Control %q", etag, r.Header.Get("Cache-Control"))
	}
	if r := e.do("GET", "/sdk/calls.js", H{"If-None-Match": etag}, nil); r.Status != http.StatusNotModified || len(r.Raw) != 0 {
		t.Errorf("revalidation: %d, %d bytes", r.Status, len(r.Raw))
	}
	if r := e.do("HEAD", "/sdk/calls.js", nil, nil); r.Status != 200 || len(r.Raw) != 0 {
		t.Errorf("HEAD: %d", r.Status)
	}
	d := e.do("GET", "/sdk/calls.d.ts", nil, nil)
	if d.Status != 200 || !strings.Contains(string(d.Raw), "export interface User") {
		t.Errorf("GET /sdk/calls.d.ts: %d", d.Status)
	}
	wantErr(t, e.do("GET", "/sdk/other.js", nil, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	wantErr(t, e.do("POST", "/sdk/calls.js", nil, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
}

package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/openapi/openapitest"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

// TestOpenAPIAnswers holds real answers to the description: a request of
// every route the router serves (under both prefixes, HEAD and preflights
// included), each answer — success and error — validated against the
// schema of its operation and status (openapitest: a field the schema does
// not allow, a required one missing, an undescribed status or media type,
// a described header missing or malformed all fail), and each header of
// the answer named by its response or by the introduction's list of
// headers every answer may carry. It then requires that every route was
// answered at least once with success and once with an error, and that
// every status (but 500), every response header and every response
// property the description lists was seen, so that the description names
// no answer, no header and no field the server never gives.
func TestOpenAPIAnswers(t *testing.T) {
	t.Parallel()
	a := &answers{t: t, spec: loadSpec(t), seen: map[string]*seenRoute{}, statuses: map[*openapitest.Operation]map[int]bool{},
		headers: map[*openapitest.Operation]map[int]map[string]bool{}}
	live := a.server(servertest.Options{})
	live.fixtures()
	for _, v := range versions {
		live.rest(v)
		live.client(v)
		live.realtime(v)
	}
	live.apiKeyLimit("/v3")
	live.static()
	live.adminEvents()
	live.generic()
	live.queryBounds()
	live.validatorBites()

	// The failed-authentication limit: after one failure, every route
	// that authenticates answers 429; and two tokens a minute per app.
	limited := a.server(servertest.Options{Config: server.Config{RateLimits: server.RateLimits{Enabled: true, FailedAuthPerMinute: 1, TokensPerMinute: 2}}})
	limited.rateLimited()

	// Storage down: every route that needs it answers 503.
	down := a.server(servertest.Options{})
	if err := down.srv.Store.Close(); err != nil {
		t.Fatal(err)
	}
	down.callToken = live.callToken
	down.outage()

	// Draining (callgate serve on SIGTERM): every route but /healthz and
	// /metrics answers 503, before credentials.
	drained := a.server(servertest.Options{})
	drained.srv.API.Drain()
	drained.draining()

	// Without realtime, GET /ws is not served.
	plain := a.server(servertest.Options{NoRealtime: true})
	for _, v := range versions {
		plain.expect(404, "GET", v+"/ws", H{"appId": plain.srv.AppID, "authToken": "x"}, nil)
	}

	a.coverage()
}

// answers validates answers against the description and remembers what
// it saw.
type answers struct {
	t        *testing.T
	spec     *openapitest.Spec
	seen     map[string]*seenRoute // by "METHOD pattern", as servedRoutes names them
	statuses map[*openapitest.Operation]map[int]bool
	headers  map[*openapitest.Operation]map[int]map[string]bool // seen, by status, lower case
	bodies   map[string][]byte                                  // a success body by operationId, for validatorBites
}

type seenRoute struct{ ok, failed bool }

// target is one server the answers come from.
type target struct {
	*answers
	srv *servertest.Server
	// Of the dev app: a user and their token; another app with its keys, a
	// user's token and a call token (which refuses the origin evil).
	uid, token         string
	appB, fullB        string
	tokenB, callTokenB string
	callToken          string
}

const evil = "https://evil.example"

func (a *answers) server(opts servertest.Options) *target {
	return &target{answers: a, srv: servertest.Start(a.t, opts)}
}

func (x *target) restH() H { return H{"appId": x.srv.AppID, "apiKey": x.srv.RESTKey} }
func (x *target) authH() H { return H{"appId": x.srv.AppID, "apiKey": x.srv.AuthKey} }
func (x *target) tokH(tok string) H {
	return H{"appId": x.srv.AppID, "authToken": tok}
}

// expect sends a request, holds the answer to the description and
// asserts its status.
func (x *target) expect(want int, method, path string, h H, body any) *resp {
	x.t.Helper()
	r := do(x.t, x.srv.URL, method, path, h, body)
	_, cors := h["Origin"]
	x.hold(method, path, cors, r.Status, r.Header, r.Raw, body)
	if r.Status != want {
		x.t.Errorf("%s %s: %d, want %d: %s", method, path, r.Status, want, r)
	}
	return r
}

// everywhere are the headers any answer may carry without its operation
// naming them, as the description's introduction says: those of HTTP
// itself (Content-Type is held to the response's media types) and the
// security headers; and, to a request with an Origin, the CORS ones.
var (
	everywhere     = []string{"Date", "Content-Length", "Content-Type", "Connection", "X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security"}
	corsEverywhere = []string{"Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"}
)

// hold validates one answer and records it; cors says the request
// carried an Origin. A gzipped body is validated as the client reads it.
func (a *answers) hold(method, path string, cors bool, status int, h http.Header, raw []byte, reqBody any) *openapitest.Operation {
	a.t.Helper()
	op, pattern, err := a.spec.Find(method, path)
	if err != nil {
		a.t.Errorf("%v", err)
		return nil
	}
	if h.Get("Content-Encoding") == "gzip" && len(raw) > 0 {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			raw, err = io.ReadAll(zr)
		}
		if err != nil {
			a.t.Errorf("%s %s: Content-Encoding gzip: %v", method, path, err)
		}
	}
	if err := op.Check(status, h, raw); err != nil {
		a.t.Errorf("%s %s: %v\nbody: %.600s", method, path, err, raw)
	}
	// Check holds the headers the description names; this, the others.
	if r := op.Response(status); r != nil {
		described, _ := r["headers"].(map[string]any)
		for name := range h {
			named := false
			for d := range described {
				named = named || strings.EqualFold(d, name)
			}
			if !named && !slices.Contains(everywhere, name) && !(cors && slices.Contains(corsEverywhere, name)) {
				a.t.Errorf("%s %s: the %d answer has the header %s, which %s does not name", method, path, status, name, op)
			}
		}
	}
	if status < 300 && reqBody != nil {
		var b []byte
		switch rb := reqBody.(type) {
		case string:
			b = []byte(rb)
		default:
			b, _ = json.Marshal(rb)
		}
		if err := op.CheckRequest(b); err != nil {
			a.t.Errorf("%s %s: the request the server took does not fit its description: %v", method, path, err)
		}
	}
	k := method + " " + pattern
	if a.seen[k] == nil {
		a.seen[k] = &seenRoute{}
	}
	if status < 400 {
		a.seen[k].ok = true
		if a.bodies == nil {
			a.bodies = map[string][]byte{}
		}
		if len(raw) > 0 && a.bodies[op.ID] == nil {
			a.bodies[op.ID] = raw
		}
	} else {
		a.seen[k].failed = true
	}
	if a.statuses[op] == nil {
		a.statuses[op] = map[int]bool{}
	}
	a.statuses[op][status] = true
	if a.headers[op] == nil {
		a.headers[op] = map[int]map[string]bool{}
	}
	if a.headers[op][status] == nil {
		a.headers[op][status] = map[string]bool{}
	}
	for name := range h {
		a.headers[op][status][strings.ToLower(name)] = true
	}
	return op
}

// tooLarge sends a request whose Content-Length is over the limit, and
// no body: the server refuses it before reading (413).
func (x *target) tooLarge(method, path string) {
	x.t.Helper()
	addr := strings.TrimPrefix(x.srv.URL, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		x.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, method+" "+path+" HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(server.MaxBodyBytes+1)+"\r\nConnection: close\r\n\r\n")
	req, _ := http.NewRequest(method, x.srv.URL+path, nil)
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		x.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	x.hold(method, path, false, res.StatusCode, res.Header, raw, nil)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		x.t.Errorf("%s %s with a body over the limit: %d", method, path, res.StatusCode)
	}
}

// until polls cond for up to five seconds (what a server writes behind
// its answers).
func (x *target) until(cond func() bool) {
	x.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			x.t.Fatal("gave up waiting")
		}
	}
}

func dataOf(t testing.TB, r *resp) map[string]any {
	t.Helper()
	d, _ := r.Body["data"].(map[string]any)
	if d == nil {
		t.Fatalf("no data: %s", r)
	}
	return d
}

// fixtures: a token of the dev app, and another app whose origins list is
// empty, with a user, a token and a call token, to be refused from evil.
func (x *target) fixtures() {
	t := x.t
	x.uid = "cometchat-uid-1"
	x.token = str(dataOf(t, x.expect(200, "POST", "/v3/users/"+x.uid+"/auth_tokens", x.authH(), map[string]any{})), "authToken")
	x.callToken = str(dataOf(t, x.expect(200, "POST", "/v3/call_tokens", x.tokH(x.token), map[string]any{"sessionId": "fixture"})), "token")
	x.appB, x.fullB, _ = secondApp(t, x.srv.Store, "openapi-b")
	b := H{"appId": x.appB, "apiKey": x.fullB}
	x.expect(200, "POST", "/v3/users", b, map[string]any{"uid": "b-user", "name": "B"})
	x.tokenB = str(dataOf(t, x.expect(200, "POST", "/v3/users/b-user/auth_tokens", b, nil)), "authToken")
	x.callTokenB = str(dataOf(t, x.expect(200, "POST", "/v3/call_tokens", H{"authToken": x.tokenB}, map[string]any{"sessionId": "b"})), "token")
}

// rest: every REST route, success and its own errors.
func (x *target) rest(v string) {
	t := x.t
	tag := strings.ReplaceAll(v[1:], ".", "")
	rest, auth := x.restH(), x.authH()
	uid := "oa-" + tag
	now := time.Now().Unix()

	// Users.
	x.expect(200, "POST", v+"/users", rest, map[string]any{"uid": strings.ToUpper(uid), "name": "OpenAPI " + tag,
		"avatar": "https://example.com/a.png", "link": "https://example.com/u", "role": "Admin_X",
		"metadata": map[string]any{"plan": "pro", "n": 1}, "tags": []string{"a", "b"}})
	x.expect(200, "POST", v+"/users", auth, map[string]any{"uid": uid + "-t", "name": "T", "withAuthToken": true})
	x.expect(200, "POST", v+"/users", auth, map[string]any{"uid": uid + "-soft", "name": "Soft"})
	x.expect(409, "POST", v+"/users", rest, map[string]any{"uid": uid, "name": "again"})
	x.expect(400, "POST", v+"/users", rest, map[string]any{"uid": "bad uid", "name": ""})
	x.expect(200, "GET", v+"/users?perPage=2&page=1&status=offline&searchKey=oa", rest, nil)
	x.expect(200, "GET", v+"/users", rest, nil)
	x.expect(400, "GET", v+"/users?perPage=0&status=away", rest, nil)
	x.expect(200, "GET", v+"/users/"+uid, rest, nil)
	x.expect(404, "GET", v+"/users/"+uid+"-none", rest, nil)
	x.expect(400, "GET", v+"/users/bad%20uid", rest, nil)
	x.expect(200, "PUT", v+"/users/"+uid, rest, map[string]any{"name": "Renamed", "tags": []string{"c"}, "metadata": map[string]any{"k": true}})
	x.expect(200, "PUT", v+"/users/"+uid, rest, map[string]any{"deactivated": true})
	x.expect(404, "GET", v+"/users/"+uid, rest, nil)
	x.expect(200, "PUT", v+"/users/"+uid, rest, map[string]any{"deactivated": false})
	x.expect(404, "PUT", v+"/users/"+uid+"-none", rest, map[string]any{"name": "x"})
	x.expect(400, "PUT", v+"/users/"+uid, rest, map[string]any{"avatar": "ftp://example.com/a.png", "uid": "other"})

	// Auth tokens.
	d := dataOf(t, x.expect(200, "POST", v+"/users/"+uid+"/auth_tokens", auth,
		map[string]any{"platform": "Web", "deviceId": "d1", "appInfo": map[string]any{"userAgent": "UA/1"}, "force": true}))
	tok, tokID := str(d, "authToken"), str(d, "id")
	x.expect(200, "POST", v+"/users/"+uid+"/auth_tokens", rest, nil)
	x.expect(404, "POST", v+"/users/"+uid+"-none/auth_tokens", auth, map[string]any{})
	x.expect(400, "POST", v+"/users/"+uid+"/auth_tokens", auth, map[string]any{"platform": 7})
	x.expect(200, "PUT", v+"/me", x.tokH(tok), map[string]any{"platform": "web"})
	// Use is recorded behind the request: wait for lastUsedAt.
	x.until(func() bool {
		return num(dataOf(t, x.expect(200, "GET", v+"/users/"+uid+"/auth_tokens/"+tokID, rest, nil)), "lastUsedAt") > 0
	})
	x.expect(200, "GET", v+"/users/"+uid+"/auth_tokens", rest, nil)
	x.expect(404, "GET", v+"/users/"+uid+"-none/auth_tokens", rest, nil)
	x.expect(400, "GET", v+"/users/bad%20uid/auth_tokens", rest, nil)
	x.expect(200, "GET", v+"/users/"+uid+"/auth_tokens/"+tokID, rest, nil)
	x.expect(200, "GET", v+"/users/"+uid+"/auth_tokens/"+tok, rest, nil)
	x.expect(404, "GET", v+"/users/"+uid+"/auth_tokens/tok_0000000000000000", rest, nil)
	x.expect(400, "GET", v+"/users/bad%20uid/auth_tokens/"+tokID, rest, nil)
	x.expect(200, "DELETE", v+"/users/"+uid+"/auth_tokens/"+tokID, rest, nil)
	x.expect(404, "DELETE", v+"/users/"+uid+"/auth_tokens/"+tokID, rest, nil)
	x.expect(400, "DELETE", v+"/users/bad%20uid/auth_tokens/"+tokID, rest, nil)
	x.expect(200, "DELETE", v+"/users/"+uid+"/auth_tokens", rest, nil)
	x.expect(404, "DELETE", v+"/users/"+uid+"-none/auth_tokens", rest, nil)
	x.expect(400, "DELETE", v+"/users/bad%20uid/auth_tokens", rest, nil)
	x.expect(200, "POST", v+"/users/"+uid+"/auth_tokens/revoke", rest, map[string]any{"issuedBefore": now})
	x.expect(400, "POST", v+"/users/"+uid+"/auth_tokens/revoke", rest, map[string]any{})
	x.expect(404, "POST", v+"/users/"+uid+"-none/auth_tokens/revoke", rest, map[string]any{"issuedBefore": now})
	x.expect(200, "POST", v+"/auth_tokens/revoke", rest, map[string]any{"issuedBefore": 1})
	x.expect(400, "POST", v+"/auth_tokens/revoke", rest, map[string]any{"issuedBefore": now + 2*86400})

	// API keys.
	d = dataOf(t, x.expect(200, "POST", v+"/apikeys", rest, map[string]any{"name": "openapi " + tag, "scope": "authOnly"}))
	keyID, secret := str(d, "id"), str(d, "apiKey")
	x.expect(400, "POST", v+"/apikeys", rest, map[string]any{"name": "", "scope": "root"})
	x.expect(200, "GET", v+"/apikeys", rest, nil)
	x.expect(200, "GET", v+"/apikeys/"+keyID, rest, nil)
	x.expect(200, "GET", v+"/apikeys/"+secret, rest, nil)
	x.expect(404, "GET", v+"/apikeys/key_0000000000000000", rest, nil)
	x.expect(200, "PUT", v+"/apikeys/"+keyID, rest, map[string]any{"name": "renamed", "scope": "fullAccess"})
	x.expect(400, "PUT", v+"/apikeys/"+keyID, rest, map[string]any{"scope": "root"})
	x.expect(404, "PUT", v+"/apikeys/key_0000000000000000", rest, map[string]any{"name": "x"})
	x.expect(200, "DELETE", v+"/apikeys/"+keyID, rest, nil)
	x.expect(404, "DELETE", v+"/apikeys/"+keyID, rest, nil)

	// Signing keys: the rotation retires the app's first key.
	x.expect(200, "GET", v+"/signing_keys", rest, nil)
	x.expect(200, "POST", v+"/signing_keys/rotate", rest, nil)
	x.expect(200, "POST", v+"/signing_keys/rotate", rest, map[string]any{})
	x.expect(200, "GET", v+"/signing_keys", rest, nil)
	x.expect(400, "POST", v+"/signing_keys/rotate", rest, "[]")

	// The app.
	x.expect(200, "GET", v+"/app", rest, nil)
	x.expect(200, "PUT", v+"/app", rest, map[string]any{"name": "Dev " + tag, "settings": map[string]any{
		"callTokenTTL": 600, "authTokenIdleTimeout": 0, "callGrants": map[string]any{"moderator": true}}})
	x.expect(400, "PUT", v+"/app", rest, map[string]any{"name": "", "settings": map[string]any{"colour": "red", "callTokenTTL": 5}})
	x.expect(200, "PUT", v+"/app", rest, map[string]any{"settings": map[string]any{"callTokenTTL": nil, "callGrants": nil}})
	// Tokens that expire, while the app's authTokenTTL is set.
	x.expect(200, "PUT", v+"/app", rest, map[string]any{"settings": map[string]any{"authTokenTTL": 3600}})
	expiring := str(dataOf(t, x.expect(200, "POST", v+"/users/"+uid+"/auth_tokens", auth, nil)), "id")
	x.expect(200, "GET", v+"/users/"+uid+"/auth_tokens/"+expiring, rest, nil)
	x.expect(200, "PUT", v+"/app", rest, map[string]any{"settings": map[string]any{"authTokenTTL": nil}})

	// The audit log.
	x.expect(200, "GET", v+"/audit_events?action=user.create&perPage=5", rest, nil)
	x.expect(200, "GET", v+"/audit_events?since=1&until="+strconv.FormatInt(now+60, 10)+"&actor=cli&target=x", rest, nil)
	x.expect(400, "GET", v+"/audit_events?action=nope&since=5&until=1", rest, nil)

	// Deleting users: soft, then for good.
	x.expect(200, "DELETE", v+"/users/"+uid+"-soft", rest, map[string]any{"permanent": false})
	x.expect(200, "DELETE", v+"/users/"+uid+"-t", rest, map[string]any{"permanent": true})
	x.expect(200, "DELETE", v+"/users/"+uid, rest, nil)
	x.expect(404, "DELETE", v+"/users/"+uid, rest, nil)
	x.expect(400, "DELETE", v+"/users/bad%20uid", rest, nil)
}

// client: the client API and call tokens, as a user of their own.
func (x *target) client(v string) {
	t := x.t
	uid := "oa-client-" + strings.ReplaceAll(v[1:], ".", "")
	x.expect(200, "POST", v+"/users", x.authH(), map[string]any{"uid": uid, "name": "Client", "avatar": "https://example.com/c.png",
		"link": "https://example.com/c", "metadata": map[string]any{"k": "v"}, "tags": []string{"t"}})
	newTok := func() (string, string) {
		d := dataOf(t, x.expect(200, "POST", v+"/users/"+uid+"/auth_tokens", x.authH(), map[string]any{"platform": "ios"}))
		return str(d, "authToken"), str(d, "id")
	}
	tok, _ := newTok()
	h := x.tokH(tok)
	x.expect(200, "PUT", v+"/me", h, map[string]any{"platform": "web", "deviceId": "laptop", "userAgent": "UA/2"})
	x.expect(200, "PUT", v+"/me", H{"authToken": tok}, nil)
	x.expect(400, "PUT", v+"/me", h, map[string]any{"deviceId": 5})
	x.expect(200, "GET", v+"/me", h, nil)
	x.expect(200, "GET", v+"/me", H{"authToken": tok}, nil)
	_, otherID := newTok()
	x.expect(200, "GET", v+"/me/sessions", h, nil)
	x.expect(200, "DELETE", v+"/me/sessions/"+otherID, h, nil)
	x.expect(404, "DELETE", v+"/me/sessions/"+otherID, h, nil)
	newTok()
	x.expect(200, "DELETE", v+"/me/sessions", h, nil)

	ct := str(dataOf(t, x.expect(200, "POST", v+"/call_tokens", h, map[string]any{"sessionId": "room-" + v[1:]})), "token")
	x.expect(400, "POST", v+"/call_tokens", h, map[string]any{"sessionId": "has space"})
	x.expect(200, "GET", v+"/call_tokens", H{"callToken": ct}, nil)
	x.expect(200, "GET", v+"/call_tokens", H{"callToken": ct, "appId": x.srv.AppID, "Origin": "http://localhost:5173"}, nil)
	x.expect(401, "GET", v+"/call_tokens", H{"callToken": "garbage"}, nil)
	x.expect(401, "GET", v+"/call_tokens", nil, nil)
	x.expect(401, "GET", v+"/call_tokens", H{"callToken": ct, "appId": x.appB}, nil)
	x.expect(403, "GET", v+"/call_tokens", H{"callToken": x.callTokenB, "Origin": evil}, nil)

	x.expect(200, "DELETE", v+"/me", h, nil)
	x.expect(401, "DELETE", v+"/me", h, nil)
	x.expect(401, "GET", v+"/call_tokens", H{"callToken": ct}, nil) // revoked with the token
}

// realtime: the upgrade, its messages, and its refusals. Each version
// has its users, so that no grace period hides a presence change.
func (x *target) realtime(v string) {
	t := x.t
	tag := strings.ReplaceAll(v[1:], ".", "")
	me, other := "oa-ws-"+tag, "oa-ws-other-"+tag
	x.expect(200, "POST", v+"/users", x.restH(), map[string]any{"uid": me, "name": "Me"})
	tok := str(dataOf(t, x.expect(200, "POST", v+"/users", x.restH(), map[string]any{"uid": other, "name": "Other", "withAuthToken": true})), "authToken")
	otherTok := tok
	tok = str(dataOf(t, x.expect(200, "POST", v+"/users/"+me+"/auth_tokens", x.authH(), nil)), "authToken")
	wsURL := "ws" + strings.TrimPrefix(x.srv.URL, "http") + v + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(u string, h http.Header) *websocket.Conn {
		conn, res, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		x.hold("GET", v+"/ws", false, res.StatusCode, res.Header, nil, nil)
		return conn
	}
	op, _, err := x.spec.Find("GET", v+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	messages, ok := op.Extension(http.StatusSwitchingProtocols, "x-websocket-messages")
	if !ok {
		t.Fatal("the 101 of GET /ws describes no messages (x-websocket-messages)")
	}
	readMsg := func(conn *websocket.Conn) (string, map[string]any) {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %s: %v", b, err)
		}
		typ, _ := m["type"].(string)
		schema, ok := messages[typ]
		if !ok {
			t.Errorf("message type %q is not described: %s", typ, b)
		} else if err := x.spec.Validate(schema, m); err != nil {
			t.Errorf("message %s: %v", b, err)
		}
		return typ, m
	}
	read := func(conn *websocket.Conn) string {
		typ, _ := readMsg(conn)
		return typ
	}
	conn := dial(wsURL, http.Header{"appId": {x.srv.AppID}, "authToken": {tok}})
	// A connection that hears no presence (presence=none).
	deaf := dial(wsURL+"?presence=none", http.Header{"appId": {x.srv.AppID}, "authToken": {tok}})
	defer deaf.CloseNow()
	if typ := read(deaf); typ != "connected" {
		t.Errorf("presence=none: first message %q", typ)
	}
	if typ := read(conn); typ != "connected" {
		t.Errorf("first message %q", typ)
	}
	// Connected: the token is in use, and the user was active (a fresh
	// token reads the user as stored, not as a session cache holds it).
	x.expect(200, "GET", v+"/users/"+me+"/auth_tokens", x.restH(), nil)
	x.until(func() bool {
		fresh := str(dataOf(t, x.expect(200, "POST", v+"/users/"+me+"/auth_tokens", x.authH(), nil)), "authToken")
		return num(dataOf(t, x.expect(200, "GET", v+"/me", x.tokH(fresh), nil)), "lastActiveAt") > 0
	})
	// Another user comes online (presence), then this session is revoked.
	otherConn := dial(wsURL+"?appId="+x.srv.AppID+"&authToken="+otherTok, nil)
	read(otherConn)
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	for seen := map[string]bool{}; !seen["pong"] || !seen["presence"]; {
		seen[read(conn)] = true
	}
	// conn heard the other user; deaf hears nothing before its pong.
	deaf.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	for typ := read(deaf); typ != "pong"; typ = read(deaf) {
		t.Errorf("presence=none: heard %q", typ)
	}
	otherConn.Close(websocket.StatusNormalClosure, "")
	x.presenceBatch(v, wsURL, conn, readMsg)
	x.expect(200, "DELETE", v+"/users/"+me+"/auth_tokens", x.restH(), nil)
	for read(conn) != "session_revoked" {
	}
	conn.CloseNow()

	x.expect(400, "GET", v+"/ws", x.tokH(x.token), nil)
	x.expect(400, "GET", v+"/ws", H{"appId": x.srv.AppID, "authToken": x.token, "Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, nil)
	// A presence the server does not take: refused before the upgrade,
	// naming presence alone (the handshake is a good one).
	for _, bad := range []string{"some", "roles:", "roles:a%20b"} {
		r := x.expect(400, "GET", v+"/ws?presence="+bad, H{"appId": x.srv.AppID, "authToken": x.token, "Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, nil)
		if r.Status == http.StatusBadRequest {
			if details, _ := errOf(t, r)["details"].(map[string]any); len(details) != 1 || details["presence"] == nil {
				t.Errorf("presence=%s: details %v, want presence alone", bad, details)
			}
		}
	}
	x.expect(401, "GET", v+"/ws", H{"appId": x.srv.AppID}, nil)
	x.expect(401, "GET", v+"/ws", H{"authToken": "garbage"}, nil)
	x.expect(403, "GET", v+"/ws", H{"authToken": x.tokenB, "Origin": evil, "Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, nil)
}

// presenceBatch brings several users online at once while conn listens:
// a change that follows a flush within the hub's presence interval
// (200 ms at first) waits for it, with those that arrive meanwhile, so conn gets
// them in one presence_batch frame (validated by readMsg). A round whose
// users happen to come online apart is tried again with new ones.
func (x *target) presenceBatch(v, wsURL string, conn *websocket.Conn, readMsg func(*websocket.Conn) (string, map[string]any)) {
	t := x.t
	tag := strings.ReplaceAll(v[1:], ".", "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for round := range 5 {
		const n = 6
		uids := make([]string, n)
		toks := make([]string, n)
		for i := range n {
			uids[i] = fmt.Sprintf("oa-batch-%s-%d-%d", tag, round, i)
			toks[i] = str(dataOf(t, x.expect(200, "POST", v+"/users", x.restH(), map[string]any{"uid": uids[i], "name": "Batch", "withAuthToken": true})), "authToken")
		}
		conns := make([]*websocket.Conn, n)
		ress := make([]*http.Response, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conns[i], ress[i], errs[i] = websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"authToken": {toks[i]}}})
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("dial %s: %v", uids[i], errs[i])
			}
			x.hold("GET", v+"/ws", false, ress[i].StatusCode, ress[i].Header, nil, nil)
			defer conns[i].CloseNow()
		}
		online, batched := map[string]bool{}, false
		for len(online) < n {
			typ, m := readMsg(conn)
			events := []any{m}
			if typ == "presence_batch" {
				batched = true
				events, _ = m["events"].([]any)
			} else if typ != "presence" {
				continue
			}
			for _, e := range events {
				if ev, _ := e.(map[string]any); ev["status"] == "online" && slices.Contains(uids, str(ev, "uid")) {
					online[str(ev, "uid")] = true
				}
			}
		}
		if batched {
			return
		}
	}
	t.Errorf("%s/ws: five rounds of six users coming online at once, and no presence_batch", v)
}

// draining: a node that drains (Server.Drain: callgate serve on SIGTERM,
// for --shutdown-drain) answers every route 503 with Retry-After: 1 and
// details.draining, closing the connection, before it looks at the
// credentials; /healthz and /metrics answer still.
func (x *target) draining() {
	t := x.t
	x.uid = "cometchat-uid-1"
	for _, sr := range servedRoutes() {
		method, pattern, _ := strings.Cut(sr.key, " ")
		path := x.fill(pattern)
		var h H
		if sr.kind == "preflight" {
			h = H{"Origin": evil, "Access-Control-Request-Method": "GET"}
		}
		if pattern == "/healthz" || pattern == "/metrics" {
			x.expect(200, method, path, h, nil)
			continue
		}
		r := x.expect(503, method, path, h, nil)
		if r.Status != http.StatusServiceUnavailable {
			continue
		}
		if r.Header.Get("Retry-After") != "1" || !r.Close {
			t.Errorf("%s draining: Retry-After %q, connection closed %v", sr.key, r.Header.Get("Retry-After"), r.Close)
		}
		if method != "HEAD" {
			if details, _ := errOf(t, r)["details"].(map[string]any); details["draining"] != true {
				t.Errorf("%s draining: details %v", sr.key, details)
			}
		}
	}
	// Credentials make no difference.
	x.expect(503, "GET", "/v3/users", x.restH(), nil)
	x.expect(503, "GET", "/v3/ws", H{"appId": x.srv.AppID, "authToken": "garbage"}, nil)
}

// apiKeyLimit fills the app's keys to the limit (409), then removes them.
func (x *target) apiKeyLimit(v string) {
	var ids []string
	for range 30 {
		r := do(x.t, x.srv.URL, "POST", v+"/apikeys", x.restH(), map[string]any{"name": "filler", "scope": "authOnly"})
		if r.Status != http.StatusOK {
			x.hold("POST", v+"/apikeys", false, r.Status, r.Header, r.Raw, nil)
			if r.Status != http.StatusConflict {
				x.t.Errorf("filling the keys: %s", r)
			}
			break
		}
		ids = append(ids, str(dataOf(x.t, r), "id"))
	}
	for _, id := range ids {
		x.expect(200, "DELETE", v+"/apikeys/"+id, x.restH(), nil)
	}
}

// static: the ops routes, with revalidation where they have an ETag.
func (x *target) static() {
	for _, sr := range servedRoutes() {
		if !sr.route.Ops || sr.kind != "route" {
			continue
		}
		path := sr.route.Path
		r := x.expect(200, "GET", path, nil, nil)
		// Asked for explicitly, gzip comes as sent (Go's client takes
		// its own offer off the answer).
		x.expect(200, "GET", path, H{"Accept-Encoding": "gzip"}, nil)
		x.expect(200, "HEAD", path, nil, nil)
		x.expect(200, "HEAD", path, H{"Accept-Encoding": "gzip"}, nil)
		if etag := r.Header.Get("ETag"); etag != "" {
			x.expect(304, "GET", path, H{"If-None-Match": etag}, nil)
			x.expect(304, "HEAD", path, H{"If-None-Match": etag}, nil)
		}
	}
	x.expect(200, "GET", "/console/console.css", H{"Accept-Encoding": "identity"}, nil)
	x.expect(200, "GET", "/metrics", H{"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"}, nil)
}

// adminEvents reads the admin event stream of a key made for it: ready
// first, then the events of changes made meanwhile — presence, each kind
// of revocation, audit — and last end, as the key is deleted. Each
// event's data is validated against its schema (x-events).
func (x *target) adminEvents() {
	t := x.t
	rest := x.restH()
	key := dataOf(t, x.expect(200, "POST", "/v3/apikeys", rest, map[string]any{"name": "stream", "scope": "fullAccess"}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", x.srv.URL+"/admin/events", nil)
	req.Header.Set("appId", x.srv.AppID)
	req.Header.Set("apiKey", str(key, "apiKey"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	op := x.hold("GET", "/admin/events", false, res.StatusCode, res.Header, nil, nil)
	if res.StatusCode != http.StatusOK || op == nil {
		t.Fatalf("GET /admin/events: %d", res.StatusCode)
	}
	events, ok := op.Extension(200, "x-events")
	if !ok {
		t.Fatal("GET /admin/events describes no events (x-events)")
	}
	lines := bufio.NewReader(res.Body)
	seen := map[string]bool{}
	next := func() string {
		var name, data string
		for {
			line, err := lines.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream (seen %v): %v", seen, err)
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && name != "":
				schema, ok := events[name]
				if !ok {
					t.Errorf("event %q is not described", name)
				} else if v, err := decodeJSON(data); err != nil {
					t.Errorf("event %s: %v: %s", name, err, data)
				} else if err := x.spec.Validate(schema, v); err != nil {
					t.Errorf("event %s %s: %v", name, data, err)
				}
				seen[name] = true
				return name
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			}
		}
	}
	if first := next(); first != "ready" {
		t.Errorf("first event %q", first)
	}
	const uid = "oa-sse"
	tok := str(dataOf(t, x.expect(200, "POST", "/v3/users", rest, map[string]any{"uid": uid, "name": "SSE", "withAuthToken": true})), "authToken")
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(x.srv.URL, "http")+"/v3/ws?authToken="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	for next() != "presence" {
	}
	x.expect(200, "POST", "/v3/users/"+uid+"/auth_tokens/revoke", rest, map[string]any{"issuedBefore": time.Now().Unix() + 1})
	id := str(dataOf(t, x.expect(200, "POST", "/v3/users/"+uid+"/auth_tokens", rest, nil)), "id")
	x.expect(200, "DELETE", "/v3/users/"+uid+"/auth_tokens/"+id, rest, nil)
	x.expect(200, "DELETE", "/v3/users/"+uid, rest, nil)
	x.expect(200, "DELETE", "/v3/apikeys/"+str(key, "id"), rest, nil)
	for next() != "end" {
	}
	for _, want := range []string{"presence", "revocation", "audit"} {
		if !seen[want] {
			t.Errorf("no %s event", want)
		}
	}

	x.expect(401, "GET", "/admin/events", H{"appId": x.srv.AppID}, nil)
	x.expect(403, "GET", "/admin/events", x.authH(), nil)
}

func decodeJSON(s string) (any, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	return v, d.Decode(&v)
}

// fill puts values into a route pattern: an existing user, and ids that
// name nothing.
func (x *target) fill(pattern string) string {
	ref := "key_0000000000000000"
	if strings.Contains(pattern, "/auth_tokens/") {
		ref = "tok_0000000000000000"
	}
	return strings.NewReplacer("{uid}", x.uid, "{ref}", ref, "{id}", "tok_0000000000000000").Replace(pattern)
}

// generic: what every route answers alike — a body over the limit;
// missing and bad credentials; an authOnly key where fullAccess is
// needed; a refused origin; a body that is not an object, and one
// without the fields the description requires; and the preflight, and an
// OPTIONS that is not one.
func (x *target) generic() {
	for _, sr := range servedRoutes() {
		method, pattern, _ := strings.Cut(sr.key, " ")
		path := x.fill(pattern)
		rt := sr.route
		switch sr.kind {
		case "preflight":
			x.expect(204, "OPTIONS", path, H{"Origin": evil, "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "x-extra"}, nil)
			x.expect(404, "OPTIONS", path, H{"Origin": evil}, nil)
			continue
		case "head":
			x.tooLarge("HEAD", path)
			continue
		}
		x.tooLarge(method, path)
		body := func(h H) {
			if !rt.TakesBody {
				return
			}
			x.expect(400, method, path, h, "[1]")
			// What the description requires, the server requires.
			if required := x.spec.Routes()[sr.key].RequestRequired(); len(required) > 0 {
				r := x.expect(400, method, path, h, map[string]any{})
				details, _ := errOf(x.t, r)["details"].(map[string]any)
				for _, f := range required {
					if _, ok := details[f]; !ok {
						x.t.Errorf("%s with {}: the description requires %s, but the 400 does not name it: %s", sr.key, f, r)
					}
				}
				for f := range details {
					if !slices.Contains(required, f) {
						x.t.Errorf("%s with {}: the server requires %s, the description does not: %s", sr.key, f, r)
					}
				}
			}
		}
		switch rt.Auth {
		case "fullKey", "anyKey":
			x.expect(401, method, path, H{"appId": x.srv.AppID}, nil)
			x.expect(401, method, path, H{"apiKey": x.srv.RESTKey}, nil)
			x.expect(401, method, path, H{"appId": "no-such-app", "apiKey": x.srv.RESTKey}, nil)
			x.expect(401, method, path, H{"appId": x.srv.AppID, "apiKey": strings.Repeat("0", 40)}, nil)
			x.expect(403, method, path, H{"appId": x.appB, "apiKey": x.fullB, "Origin": evil}, nil)
			if rt.Auth == "fullKey" {
				x.expect(403, method, path, x.authH(), nil)
			}
			body(x.restH())
		case "token":
			x.expect(401, method, path, H{"appId": x.srv.AppID}, nil)
			x.expect(401, method, path, x.tokH("garbage"), nil)
			x.expect(401, method, path, H{"appId": "no-such-app", "authToken": x.token}, nil)
			x.expect(403, method, path, H{"authToken": x.tokenB, "Origin": evil}, nil)
			body(x.tokH(x.token))
		}
	}
}

// queryBounds: what the description bounds in a query, the server bounds
// alike. For each query parameter of each route, every edge of its range,
// length or enum answers 200, and one past it a 400 that names it.
func (x *target) queryBounds() {
	t := x.t
	for _, sr := range servedRoutes() {
		op := x.spec.Routes()[sr.key]
		method, pattern, _ := strings.Cut(sr.key, " ")
		if sr.kind != "route" || op == nil || !strings.HasPrefix(pattern, "/v3/") {
			continue
		}
		path := x.fill(pattern)
		h := x.restH()
		if sr.route.Auth == "token" {
			h = x.tokH(x.token)
		}
		try := func(name, val string, ok bool) {
			t.Helper()
			q := path + "?" + url.Values{name: {val}}.Encode()
			if ok {
				x.expect(200, method, q, h, nil)
				return
			}
			r := x.expect(400, method, q, h, nil)
			if r.Status == http.StatusBadRequest {
				if details, _ := errOf(t, r)["details"].(map[string]any); details[name] == nil {
					t.Errorf("%s ?%s=%.20s: the 400 does not name %s: %s", sr.key, name, val, name, r)
				}
			}
		}
		params, _ := op.Raw()["parameters"].([]any)
		for _, p := range params {
			pm, _ := x.spec.Resolve(p).(map[string]any)
			if pm["in"] != "query" {
				continue
			}
			name, _ := pm["name"].(string)
			sch, _ := x.spec.Resolve(pm["schema"]).(map[string]any)
			bound := func(k string) (int64, bool) {
				n, ok := sch[k].(json.Number)
				if !ok {
					return 0, false
				}
				v, err := n.Int64()
				return v, err == nil
			}
			if lo, ok := bound("minimum"); ok {
				try(name, strconv.FormatInt(lo, 10), true)
				try(name, strconv.FormatInt(lo-1, 10), false)
			}
			if hi, ok := bound("maximum"); ok {
				try(name, strconv.FormatInt(hi, 10), true)
				try(name, strconv.FormatInt(hi+1, 10), false)
			}
			if sch["type"] == "integer" {
				try(name, "1.5", false)
			}
			if n, ok := bound("maxLength"); ok {
				try(name, strings.Repeat("é", int(n)), true)
				try(name, strings.Repeat("é", int(n)+1), false)
			}
			if enum, ok := sch["enum"].([]any); ok {
				for _, e := range enum {
					try(name, e.(string), true)
				}
				try(name, "none-of-those", false)
			}
		}
	}
}

// rateLimited: bad credentials once, then 429 on every route that
// authenticates; and the token-creation limit, which a user created with
// a token counts against too.
func (x *target) rateLimited() {
	uid := "cometchat-uid-3"
	x.expect(200, "POST", "/v3/users", x.authH(), map[string]any{"uid": "oa-limited", "name": "Limited", "withAuthToken": true})
	x.expect(200, "POST", "/v3/users/"+uid+"/auth_tokens", x.authH(), nil)
	x.expect(429, "POST", "/v3/users/"+uid+"/auth_tokens", x.authH(), nil)
	x.expect(401, "GET", "/v3/users", H{"appId": x.srv.AppID, "apiKey": strings.Repeat("0", 40)}, nil)
	x.uid = uid
	for _, sr := range servedRoutes() {
		method, pattern, _ := strings.Cut(sr.key, " ")
		path := x.fill(pattern)
		switch {
		case sr.kind != "route":
		case sr.route.Auth == "fullKey" || sr.route.Auth == "anyKey":
			x.expect(429, method, path, H{"appId": x.srv.AppID, "apiKey": strings.Repeat("0", 40)}, nil)
		case sr.route.Auth == "token" || strings.HasSuffix(pattern, "/ws"):
			x.expect(429, method, path, x.tokH("garbage"), nil)
		}
	}
}

// outage: with the store closed, every route that needs storage answers
// 503; the preflights and the routes that do not need it answer still.
// A route needs storage when its 503 says so: the others list a 503 for a
// draining node only.
func (x *target) outage() {
	x.uid = "cometchat-uid-1"
	wellFormed := "cometchat-uid-1_1767225600" + strings.Repeat("0", 64)
	for _, sr := range servedRoutes() {
		method, pattern, _ := strings.Cut(sr.key, " ")
		path := x.fill(pattern)
		op := x.spec.Routes()[sr.key]
		if op == nil || !strings.Contains(fmt.Sprint(op.Response(http.StatusServiceUnavailable)["description"]), "storage") {
			continue
		}
		var h H
		switch {
		case sr.route.Auth == "fullKey" || sr.route.Auth == "anyKey":
			h = x.restH()
		case sr.route.Auth == "token" || strings.HasSuffix(pattern, "/ws"):
			h = x.tokH(wellFormed)
		case strings.HasSuffix(pattern, "/call_tokens"):
			h = H{"callToken": x.callToken} // another server's: its key is looked up
		}
		var body any
		if sr.route.TakesBody {
			body = map[string]any{}
		}
		x.expect(503, method, path, h, body)
	}
	x.expect(204, "OPTIONS", "/v3/users", H{"Origin": evil, "Access-Control-Request-Method": "GET"}, nil)
	x.expect(200, "GET", "/healthz", nil, nil)
}

// validatorBites: the validation above would catch a handler that
// answered a field its schema does not allow, or left out a required one.
func (x *target) validatorBites() {
	t := x.t
	for _, c := range []struct {
		id, method, path string
		edit             func(data map[string]any)
	}{
		{"getUser", "GET", "/v3/users/x", func(d map[string]any) { d["authToken"] = "leaked" }},
		{"getUser", "GET", "/v3/users/x", func(d map[string]any) { delete(d, "uid") }},
		{"getMe", "GET", "/v3/me", func(d map[string]any) { d["createdAt"] = "yesterday" }},
		{"getApp", "GET", "/v3/app", func(d map[string]any) { d["settings"].(map[string]any)["colour"] = "red" }},
		{"createCallToken", "POST", "/v3/call_tokens", func(d map[string]any) { delete(d, "expiresAt") }},
	} {
		raw := x.bodies[c.id]
		if raw == nil {
			t.Errorf("no answer of %s was kept", c.id)
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		c.edit(body["data"].(map[string]any))
		edited, _ := json.Marshal(body)
		op, _, _ := x.spec.Find(c.method, c.path)
		if err := op.Check(200, http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r"}}, edited); err == nil {
			t.Errorf("%s: an edited answer passed: %s", c.id, edited)
		}
	}
}

// coverage: every route answered with success and with an error; every
// status (but 500), every header of each status, and every response
// property the description names seen in some answer.
func (a *answers) coverage() {
	t := a.t
	for _, sr := range servedRoutes() {
		s := a.seen[sr.key]
		switch {
		case s == nil:
			t.Errorf("%s: no answer validated", sr.key)
		case !s.ok:
			t.Errorf("%s: no success validated", sr.key)
		case !s.failed:
			t.Errorf("%s: no error validated", sr.key)
		}
	}
	for _, op := range a.spec.Operations() {
		for _, st := range op.Statuses() {
			if st != http.StatusInternalServerError && !a.statuses[op][st] {
				t.Errorf("%s: no %d answer seen; the description lists one", op, st)
				continue
			}
			if st == http.StatusInternalServerError {
				continue
			}
			described, _ := op.Response(st)["headers"].(map[string]any)
			for _, name := range slices.Sorted(maps.Keys(described)) {
				if !a.headers[op][st][strings.ToLower(name)] {
					t.Errorf("%s: no %d answer had the header %s; the description names it", op, st, name)
				}
			}
		}
	}
	for _, p := range a.spec.ResponseProperties() {
		internal := strings.HasPrefix(p, "#/components/responses/Internal/") || strings.Contains(p, "/responses/500/")
		if !a.spec.Seen(p) && !internal { // no request makes a 500
			t.Errorf("%s: no answer had it", p)
		}
	}
}

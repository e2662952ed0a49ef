package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store"
)

// versions are the prefixes every API route is served under.
var versions = []string{"/v3", "/v3.0"}

// H is a set of request headers. Keys are sent exactly as written (not
// canonicalised), so tests can prove the server treats names
// case-insensitively. The key "Host" sets the Host header.
type H map[string]string

// with returns a copy of h with the given key/value pairs set ("" value
// keeps the header but empty; use without to drop one).
func (h H) with(kv ...string) H {
	out := H{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (h H) without(keys ...string) H {
	out := H{}
	for k, v := range h {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// resp is a response read in full.
type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any // nil unless the body is a JSON object
	Close  bool           // the server said Connection: close
}

var client = &http.Client{Timeout: 15 * time.Second}

// hideType hides a reader's concrete type so net/http cannot learn its
// length and sends the body chunked.
type hideType struct{ io.Reader }

// do sends one request. body may be nil, a string or []byte (sent as is),
// an io.Reader (sent chunked) or anything else (sent as JSON).
func do(t testing.TB, base, method, path string, h H, body any) *resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = hideType{b}
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header[k] = []string{v}
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return parse(res, raw)
}

func parse(res *http.Response, raw []byte) *resp {
	r := &resp{Status: res.StatusCode, Header: res.Header, Raw: raw, Close: res.Close}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		r.Body = m
	}
	return r
}

// raw sends a request line and headers exactly as written (curl
// --path-as-is), for paths net/http would not send verbatim.
func raw(t testing.TB, base, requestLine string, h H, body string) *resp {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString(requestLine + "\r\nHost: " + addr + "\r\nConnection: close\r\n")
	for k, v := range h {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: %v", requestLine, err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	return parse(res, rb)
}

func (r *resp) String() string {
	s := string(r.Raw)
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// data returns the "data" object of a 200 response.
func (r *resp) data(t testing.TB) map[string]any {
	t.Helper()
	wantOK(t, r)
	d, ok := r.Body["data"].(map[string]any)
	if !ok {
		t.Fatalf("data is not an object: %s", r)
	}
	return d
}

// list returns the "data" array of a 200 list response and its pagination.
func (r *resp) list(t testing.TB) ([]map[string]any, map[string]any) {
	t.Helper()
	wantOK(t, r)
	items, ok := r.Body["data"].([]any)
	if !ok {
		t.Fatalf("data is not an array: %s", r)
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		if out[i], ok = it.(map[string]any); !ok {
			t.Fatalf("item %d is not an object: %s", i, r)
		}
	}
	meta, _ := r.Body["meta"].(map[string]any)
	pag, ok := meta["pagination"].(map[string]any)
	if !ok {
		t.Fatalf("no meta.pagination: %s", r)
	}
	for _, f := range []string{"total", "count", "per_page", "current_page", "total_pages"} {
		if _, ok := pag[f].(float64); !ok {
			t.Fatalf("pagination.%s missing or not a number: %s", f, r)
		}
	}
	return out, pag
}

func wantOK(t testing.TB, r *resp) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.Status, r)
	}
	if _, ok := r.Body["data"]; !ok {
		t.Fatalf("no data in 200 body: %s", r)
	}
	if _, ok := r.Body["error"]; ok {
		t.Fatalf("error in 200 body: %s", r)
	}
	checkJSONType(t, r)
}

func checkJSONType(t testing.TB, r *resp) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Errorf("no X-Request-Id")
	}
}

// errOf checks the error envelope and returns the error object. Every
// error must have non-empty code, message, devMessage and source strings
// and a details object, and must never be a 5xx unless asked for.
func errOf(t testing.TB, r *resp) map[string]any {
	t.Helper()
	checkJSONType(t, r)
	e, ok := r.Body["error"].(map[string]any)
	if !ok {
		t.Fatalf("status %d without an error envelope: %s", r.Status, r)
	}
	for _, f := range []string{"code", "message", "devMessage", "source"} {
		if s, ok := e[f].(string); !ok || s == "" {
			t.Errorf("error.%s missing or empty: %s", f, r)
		}
	}
	if _, ok := e["details"].(map[string]any); !ok {
		t.Errorf("error.details is not an object: %s", r)
	}
	if _, ok := r.Body["data"]; ok {
		t.Errorf("error body also has data: %s", r)
	}
	return e
}

// wantErr asserts status and code (and the envelope).
func wantErr(t testing.TB, r *resp, status int, code string) map[string]any {
	t.Helper()
	if r.Status >= 500 && status < 500 {
		t.Errorf("server error %d: %s", r.Status, r)
	}
	e := errOf(t, r)
	if r.Status != status || e["code"] != code {
		t.Errorf("got %d %v, want %d %s: %s", r.Status, e["code"], status, code, r)
	}
	return e
}

// wantBadField asserts a 400 ERR_BAD_REQUEST whose details name field.
func wantBadField(t testing.TB, r *resp, field string) {
	t.Helper()
	e := wantErr(t, r, http.StatusBadRequest, "ERR_BAD_REQUEST")
	d, _ := e["details"].(map[string]any)
	for k := range d {
		if k == field || strings.HasPrefix(k, field+".") || strings.HasPrefix(k, field+"[") {
			return
		}
	}
	t.Errorf("details do not name %q: %s", field, r)
}

// env is a running server plus shortcuts.
type env struct {
	t   testing.TB
	srv *servertest.Server
}

func start(t testing.TB, opts servertest.Options) *env {
	t.Helper()
	return &env{t: t, srv: servertest.Start(t, opts)}
}

func (e *env) do(method, path string, h H, body any) *resp {
	e.t.Helper()
	return do(e.t, e.srv.URL, method, path, h, body)
}

func (e *env) rest() H { return H{"appId": e.srv.AppID, "apiKey": e.srv.RESTKey} }
func (e *env) auth() H { return H{"appId": e.srv.AppID, "apiKey": e.srv.AuthKey} }
func (e *env) tok(token string) H {
	return H{"appId": e.srv.AppID, "authToken": token}
}

// newToken mints a token for uid with the authOnly key.
func (e *env) newToken(v, uid string) string {
	e.t.Helper()
	d := e.do("POST", v+"/users/"+uid+"/auth_tokens", e.auth(), map[string]any{"platform": "web"}).data(e.t)
	tok, _ := d["authToken"].(string)
	if !tokenRE.MatchString(tok) {
		e.t.Fatalf("bad token %q", tok)
	}
	return tok
}

// newUser creates a user with the REST key.
func (e *env) newUser(v, uid string) {
	e.t.Helper()
	e.do("POST", v+"/users", e.rest(), map[string]any{"uid": uid, "name": "User " + uid}).data(e.t)
}

var tokenRE = regexp.MustCompile(`^[a-z0-9_-]+_[0-9]+[0-9a-f]{64}$`)

// secondApp creates another tenant on the same store and returns its id
// and a fullAccess and an authOnly key.
func secondApp(t testing.TB, st store.Store, id string) (appID, fullKey, authKey string) {
	t.Helper()
	ctx := context.Background()
	if _, err := provision.CreateApp(ctx, st, id, "second app", "eu", time.Now()); err != nil {
		t.Fatal(err)
	}
	full, _, err := provision.CreateAPIKey(ctx, st, id, "b full", store.ScopeFullAccess, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ao, _, err := provision.CreateAPIKey(ctx, st, id, "b auth", store.ScopeAuthOnly, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id, full, ao
}

// counts is what an app holds; a rejected request must not change it.
type counts struct{ Users, Deactivated, Tokens, Keys int }

func snapshot(t testing.TB, st store.Store, appID string) counts {
	t.Helper()
	ctx := context.Background()
	var c counts
	users, total, err := st.ListUsers(ctx, appID, store.UserQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c.Users = total
	for _, u := range users {
		if u.DeactivatedAt != 0 {
			c.Deactivated++
		}
		toks, err := st.ListAuthTokens(ctx, appID, u.UID)
		if err != nil {
			t.Fatal(err)
		}
		c.Tokens += len(toks)
	}
	keys, err := st.ListAPIKeys(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	c.Keys = len(keys)
	return c
}

func wantSnapshot(t testing.TB, st store.Store, appID string, want counts) {
	t.Helper()
	if got := snapshot(t, st, appID); got != want {
		t.Errorf("app %s holds %+v, want %+v (a rejected request wrote something)", appID, got, want)
	}
}

// noUser asserts uid does not exist in appID (and so has no tokens).
func noUser(t testing.TB, st store.Store, appID, uid string) {
	t.Helper()
	if _, err := st.GetUser(context.Background(), appID, uid); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user %q exists after a rejected request (err %v)", uid, err)
	}
	if toks, _ := st.ListAuthTokens(context.Background(), appID, uid); len(toks) != 0 {
		t.Errorf("user %q has %d tokens after a rejected request", uid, len(toks))
	}
}

// fakeClock is a settable clock for server.Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }
func num(m map[string]any, k string) float64 {
	n, _ := m[k].(float64)
	return n
}

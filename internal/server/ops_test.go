package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store/sqlite"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	if d := e.do("GET", "/healthz", nil, nil).data(t); str(d, "status") != "ok" {
		t.Errorf("healthz: %v", d)
	}
	if d := e.do("GET", "/readyz", nil, nil).data(t); str(d, "status") != "ready" {
		t.Errorf("readyz: %v", d)
	}
	// Load balancers probe with HEAD: the same status, no body.
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.do("HEAD", p, nil, nil); r.Status != 200 || len(r.Raw) != 0 {
			t.Errorf("HEAD %s: %d %q", p, r.Status, r.Raw)
		}
	}
	if r := e.do("HEAD", "/v3/users", e.rest(), nil); r.Status != http.StatusNotFound {
		t.Errorf("HEAD on an API route: %d, want 404 (API routes do not take HEAD)", r.Status)
	}
	tok := e.newToken("/v3", "cometchat-uid-1")

	// Storage goes away: not ready, and API calls say "retry" (503), not 500.
	if err := e.srv.Store.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/readyz", nil, nil)
	wantErr(t, r, http.StatusServiceUnavailable, "ERR_SERVICE_UNAVAILABLE")
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	e.do("GET", "/healthz", nil, nil).data(t) // alive, just not ready
	if r := e.do("HEAD", "/readyz", nil, nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("HEAD /readyz with storage gone: %d", r.Status)
	}

	for _, c := range []struct {
		method, path string
		h            H
		body         any
	}{
		{"GET", "/v3/users/cometchat-uid-1", e.rest(), nil},
		{"GET", "/v3/users", e.rest(), nil},
		{"POST", "/v3/users", e.rest(), map[string]any{"uid": "during-outage", "name": "x"}},
		{"POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil},
		{"GET", "/v3/apikeys", e.rest(), nil},
		{"PUT", "/v3/me", e.tok(tok), nil},
		{"DELETE", "/v3/me", e.tok(tok), nil},
	} {
		r := e.do(c.method, c.path, c.h, c.body)
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			wantErr(t, r, http.StatusServiceUnavailable, "ERR_SERVICE_UNAVAILABLE")
			if r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	e.do("GET", "/v3/users", e.rest(), nil).list(t)
	e.do("GET", "/v3.0/users", e.rest(), nil).list(t)
	wantErr(t, e.do("GET", "/v3/users", e.rest().with("apiKey", strings.Repeat("0", 40)), nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/me", e.tok("nope"), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	tok := e.newToken("/v3", "cometchat-uid-1")
	e.do("POST", "/v3/users", e.auth(), map[string]any{"uid": "metrics-user", "name": "M", "withAuthToken": true}).data(t)
	e.do("PUT", "/v3/me", e.tok(tok), nil).data(t)
	e.do("GET", "/v3/users/cometchat-uid-1/auth_tokens/"+tok, e.rest(), nil).data(t)
	wantErr(t, e.do("GET", "/v3/nope", nil, nil), 404, "ERR_ENDPOINT_NOT_FOUND")

	r := e.do("GET", "/metrics", nil, nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	text := string(r.Raw)
	for _, want := range []string{
		`callgate_http_requests_total{code="200",method="GET",route="/users"} 2`,
		`callgate_http_requests_total{code="401",method="GET",route="/users"} 1`,
		`callgate_http_requests_total{code="401",method="GET",route="/me"} 1`,
		`callgate_http_requests_total{code="200",method="POST",route="/users/{uid}/auth_tokens"} 1`,
		`callgate_http_requests_total{code="200",method="GET",route="/users/{uid}/auth_tokens/{ref}"} 1`,
		`callgate_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`callgate_http_request_duration_seconds_count{code="200",method="GET",route="/users"} 2`,
		`callgate_http_request_duration_seconds_bucket{code="200",method="PUT",route="/me",le="+Inf"} 1`,
		`callgate_logins_total 1`,
		`callgate_auth_tokens_created_total 2`,
		`callgate_auth_failures_total{code="AUTH_ERR_APIKEY_NOT_FOUND"} 1`,
		`callgate_auth_failures_total{code="AUTH_ERR_AUTH_TOKEN_NOT_FOUND"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Labels hold route patterns, never raw paths (ids, secrets).
	if strings.Contains(text, tok) || strings.Contains(text, "cometchat-uid-1") {
		t.Error("metrics carry raw path values")
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	gen := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for _, c := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"GET", "/v3/users"}, {"GET", "/v3/nope"}, {"PATCH", "/v3/users"}, {"GET", "/v3/me"},
	} {
		r := e.do(c.method, c.path, e.rest(), nil)
		id := r.Header.Get("X-Request-Id")
		if !gen.MatchString(id) || seen[id] {
			t.Errorf("%s %s: request id %q", c.method, c.path, id)
		}
		seen[id] = true
	}
	// A safe incoming id is echoed (also on errors); an unsafe one is replaced.
	for _, id := range []string{"abc-123", "Trace.ID_42", strings.Repeat("a", 64)} {
		for _, p := range []string{"/v3/users", "/v3/nope"} {
			if got := e.do("GET", p, e.rest().with("X-Request-Id", id), nil).Header.Get("X-Request-Id"); got != id {
				t.Errorf("%s: echoed %q, want %q", p, got, id)
			}
		}
	}
	for _, id := range []string{"a b", `x"y`, "<script>", strings.Repeat("a", 65), "id;rm -rf", "ü"} {
		if got := e.do("GET", "/v3/users", e.rest().with("X-Request-Id", id), nil).Header.Get("X-Request-Id"); !gen.MatchString(got) {
			t.Errorf("unsafe %q: got %q", id, got)
		}
	}
}

// TestSecretsNeverLogged logs in and out through every route that carries a
// secret (in a header, a body or the path) and greps the JSON log.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := start(t, servertest.Options{Logger: log})
	rest := e.rest()
	secrets := []string{e.srv.AuthKey, e.srv.RESTKey}

	// Keys: create, read/update/delete by secret.
	k := e.do("POST", "/v3/apikeys", rest, map[string]any{"name": "logged?", "scope": "fullAccess"}).data(t)
	key := str(k, "apiKey")
	secrets = append(secrets, key)
	e.do("GET", "/v3/apikeys/"+key, rest, nil).data(t)
	e.do("PUT", "/v3/apikeys/"+key, rest, map[string]any{"name": "renamed"}).data(t)
	e.do("GET", "/v3/users", H{"appId": e.srv.AppID, "apiKey": key}, nil).list(t)

	// Login the SDK's way: token with the auth key, PUT /me, GET /me, DELETE /me.
	tok := e.newToken("/v3", "cometchat-uid-1")
	secrets = append(secrets, tok)
	e.do("PUT", "/v3/me", e.tok(tok), map[string]any{"platform": "WEB", "deviceId": "d"}).data(t)
	e.do("GET", "/v3/me", H{"authToken": tok}, nil).data(t)
	e.do("GET", "/v3/me?authToken="+tok, H{"appId": e.srv.AppID, "authToken": tok}, nil).data(t)
	e.do("DELETE", "/v3/me", e.tok(tok), nil).data(t)
	wantErr(t, e.do("GET", "/v3/me", e.tok(tok), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")

	// withAuthToken, and REST token get/delete by secret in the path.
	u := e.do("POST", "/v3/users", e.auth(), map[string]any{"uid": "log-user", "name": "L", "withAuthToken": true}).data(t)
	tok2 := str(u, "authToken")
	tok3 := e.newToken("/v3", "log-user")
	secrets = append(secrets, tok2, tok3)
	e.do("GET", "/v3/users/log-user/auth_tokens/"+tok2, rest, nil).data(t)
	e.do("DELETE", "/v3/users/log-user/auth_tokens/"+tok2, rest, nil).data(t)
	wantErr(t, e.do("GET", "/v3/users/log-user/auth_tokens/"+tok2, rest, nil), 404, "ERR_AUTH_TOKEN_NOT_FOUND")

	// Failed attempts with secrets that are wrong, or of the wrong app.
	wrongKey := strings.Repeat("c0ffee", 6) + "beef"
	wrongTok := "log-user_1700000000" + strings.Repeat("d00d", 16)
	secrets = append(secrets, wrongKey, wrongTok)
	wantErr(t, e.do("GET", "/v3/users", rest.with("apiKey", wrongKey), nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/me", e.tok(wrongTok), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/apikeys/"+wrongKey, rest, nil), 404, "ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/users/log-user/auth_tokens/"+wrongTok, rest, nil), 404, "ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/nope/"+tok3, rest, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	wantErr(t, e.do("PATCH", "/v3/apikeys/"+key, rest, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/users/"+tok3+"%20", rest, nil), 400, "ERR_BAD_REQUEST")
	e.do("DELETE", "/v3/apikeys/"+key, rest, nil).data(t)

	// Errors that are logged with their cause: storage down.
	e.srv.Store.Close()
	for _, r := range []*resp{
		e.do("GET", "/readyz", nil, nil),
		e.do("PUT", "/v3/me", e.tok(tok3), nil),
		e.do("GET", "/v3/users/log-user/auth_tokens/"+tok3, rest, nil),
		e.do("GET", "/v3/apikeys/"+e.srv.RESTKey, rest, nil),
	} {
		if r.Status < 400 {
			t.Errorf("request succeeded with the store closed: %s", r)
		}
	}

	logText := buf.String()
	lines := strings.Split(strings.TrimSpace(logText), "\n")
	if len(lines) < 30 {
		t.Fatalf("only %d log lines: the logger is not wired", len(lines))
	}
	var sawRequest, sawError bool
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", l)
		}
		if m["msg"] == "request" && m["request_id"] != "" && m["route"] == "/users/{uid}/auth_tokens/{ref}" {
			sawRequest = true
		}
		if m["level"] == "ERROR" || m["level"] == "WARN" {
			sawError = true
		}
	}
	if !sawRequest || !sawError {
		t.Errorf("log lacks request lines with routes (%v) or error lines (%v)", sawRequest, sawError)
	}
	for _, s := range secrets {
		parts := []string{s}
		if len(s) >= 64 {
			parts = append(parts, s[len(s)-64:]) // a token's random part
		}
		for _, p := range append(parts, s[len(s)-16:]) {
			if strings.Contains(logText, p) {
				t.Errorf("the log contains a secret (%s…): %s", p[:8], firstLineWith(logText, p))
			}
		}
	}
}

func firstLineWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestGracefulShutdown: requests in flight when the server is told to stop
// complete (and what they acknowledged is stored); new connections are
// refused afterwards.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan string, 2)
	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Slow") != "" {
				started <- r.Method
				time.Sleep(300 * time.Millisecond)
			}
			next.ServeHTTP(w, r)
		})
	}
	e := start(t, servertest.Options{Handler: slow})
	e.do("GET", "/healthz", nil, nil).data(t) // leaves an idle keep-alive connection

	type result struct {
		status int
		body   string
		err    error
	}
	send := func(method, path, body string, h H, out chan<- result) {
		req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		req.Header.Set("X-Slow", "1")
		res, err := client.Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		out <- result{status: res.StatusCode, body: string(b)}
	}
	get, post := make(chan result, 1), make(chan result, 1)
	go send("GET", "/v3/users", "", e.rest(), get)
	go send("POST", "/v3/users", `{"uid":"in-flight","name":"In Flight"}`, e.rest(), post)
	<-started
	<-started

	t0 := time.Now()
	e.srv.Stop() // concurrent with the two sleeping requests
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("Stop returned after %v: it did not wait for in-flight requests", d)
	}
	for name, ch := range map[string]chan result{"GET": get, "POST": post} {
		select {
		case r := <-ch:
			if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"data"`) {
				t.Errorf("in-flight %s: %d %v %s", name, r.status, r.err, r.body)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("in-flight %s never answered", name)
		}
	}

	// New connections are refused.
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after Stop")
	}
	if res, err := client.Get(e.srv.URL + "/healthz"); err == nil {
		res.Body.Close()
		t.Errorf("a request was served after Stop: %d", res.StatusCode)
	}

	// What the in-flight POST acknowledged is in the database.
	st, err := sqlite.Open(context.Background(), filepath.Join(e.srv.DataDir, sqlite.FileName), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.GetUser(context.Background(), e.srv.AppID, "in-flight"); err != nil || u.Name != "In Flight" {
		t.Errorf("acknowledged user lost: %v %v", u, err)
	}
}

// TestMetricsOddMethods sends thousands of requests with made-up methods
// (each a valid request line): the metric series must stay a fixed set, or
// anyone can grow the server's memory and /metrics without bound.
func TestMetricsOddMethods(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	series := func() (int, int) {
		r := e.do("GET", "/metrics", nil, nil)
		n := 0
		for _, line := range strings.Split(string(r.Raw), "\n") {
			if strings.HasPrefix(line, "callgate_http_request") {
				n++
			}
		}
		return n, len(r.Raw)
	}
	for _, m := range []string{"PROBE-warmup", "BREW"} { // the "other" series exist
		e.do(m, "/healthz", nil, nil)
		e.do(m, "/v3/users", nil, nil)
	}
	series() // the scrape's own series
	before, sizeBefore := series()
	long := strings.Repeat("X", 30_000)
	for i := range 2000 {
		m := fmt.Sprintf("PROBE-%04x", i)
		if i%100 == 0 {
			m = long + m
		}
		path := "/healthz"
		if i%2 == 1 {
			path = "/v3/users"
		}
		e.do(m, path, nil, nil)
	}
	after, sizeAfter := series()
	if after != before {
		t.Errorf("odd methods changed the series count: %d → %d", before, after)
	}
	if sizeAfter > sizeBefore+1024 {
		t.Errorf("/metrics grew from %d to %d bytes", sizeBefore, sizeAfter)
	}
	r := e.do("GET", "/metrics", nil, nil)
	if !strings.Contains(string(r.Raw), `method="other",route="/healthz"`) {
		t.Error(`odd methods are not counted as method="other"`)
	}
	if strings.Contains(string(r.Raw), "PROBE") {
		t.Error("a method as sent reached a label")
	}
}

// TestSlowBodyIsNotStorageDown uploads a legal body slowly, over more than
// the storage deadline: the deadline bounds storage work, not the client,
// so the request succeeds (the body's own time is bounded by the server's
// read timeout).
func TestSlowBodyIsNotStorageDown(t *testing.T) {
	t.Parallel()
	const deadline = 400 * time.Millisecond
	e := start(t, servertest.Options{Config: server.Config{DBTimeout: deadline}})
	for _, c := range []struct {
		method, path string
		h            H
		body         string
	}{
		{"POST", "/v3/users", e.rest(), `{"uid":"slow-body","name":"Slow Body"}`},
		{"PUT", "/v3/users/cometchat-uid-3", e.rest(), `{"name":"Slowly Renamed"}`},
		{"POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), `{"platform":"web"}`},
	} {
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < len(c.body); i += 8 {
				pw.Write([]byte(c.body[i:min(i+8, len(c.body))]))
				time.Sleep(3 * deadline / time.Duration(2*(len(c.body)/8+1)))
			}
			pw.Close()
		}()
		start := time.Now()
		r := e.do(c.method, c.path, c.h, io.Reader(pr))
		took := time.Since(start)
		if took < deadline {
			t.Fatalf("%s %s: the body arrived in %v, faster than the %v storage deadline; the test proves nothing", c.method, c.path, took, deadline)
		}
		if r.Status != 200 {
			t.Errorf("%s %s with a body sent over %v: %d %s", c.method, c.path, took.Round(time.Millisecond), r.Status, r)
		}
	}
}

package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

func want429(t *testing.T, r *resp, limit int) {
	t.Helper()
	wantErr(t, r, http.StatusTooManyRequests, "ERR_TOO_MANY_REQUESTS")
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if got := r.Header.Get("X-Rate-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("X-Rate-Limit %q, want %d", got, limit)
	}
	if got := r.Header.Get("X-Rate-Limit-Remaining"); got != "0" {
		t.Errorf("X-Rate-Limit-Remaining %q, want 0", got)
	}
}

func TestFailedAuthLimit(t *testing.T) {
	t.Parallel()
	clock := newClock()
	e := start(t, servertest.Options{Config: server.Config{
		Now:        clock.Now,
		RateLimits: server.RateLimits{Enabled: true, FailedAuthPerMinute: 5, TokensPerMinute: 1000},
	}})
	bad := e.rest().with("apiKey", strings.Repeat("1", 40))
	tok := e.newToken("/v3", "cometchat-uid-1")

	// Successes never drain the failed-auth bucket.
	for i := 0; i < 10; i++ {
		e.do("GET", "/v3/users/cometchat-uid-1", e.rest(), nil).data(t)
	}
	// Five failures (unknown key, unknown app, unknown token) are answered …
	wantErr(t, e.do("GET", "/v3/users", bad, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("POST", "/v3/users", bad, map[string]any{"uid": "x", "name": "x"}), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/users", e.rest().with("appId", "nosuchapp"), nil), 401, "AUTH_ERR_INVALID_APPID")
	wantErr(t, e.do("GET", "/v3/me", e.tok("garbage"), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3.0/users", bad, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")

	// … the sixth failure from this address is refused, on REST and the
	// client API, whatever X-Forwarded-For says, and changes nothing.
	before := snapshot(t, e.srv.Store, e.srv.AppID)
	want429(t, e.do("GET", "/v3/users", bad, nil), 5)
	want429(t, e.do("POST", "/v3/users", bad, map[string]any{"uid": "limited", "name": "L", "withAuthToken": true}), 5)
	want429(t, e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth().with("apiKey", strings.Repeat("2", 40)), nil), 5)
	want429(t, e.do("GET", "/v3/me", e.tok("garbage"), nil), 5)
	want429(t, e.do("DELETE", "/v3.0/me", H{"authToken": "cometchat-uid-1_1700000000" + strings.Repeat("0", 64)}, nil), 5)
	want429(t, e.do("GET", "/v3/users", e.rest().with("appId", "nosuchapp"), nil), 5)
	want429(t, e.do("GET", "/v3/users", bad.with("X-Forwarded-For", "203.0.113.9", "X-Real-IP", "203.0.113.9"), nil), 5)
	wantSnapshot(t, e.srv.Store, e.srv.AppID, before)
	noUser(t, e.srv.Store, e.srv.AppID, "limited")

	// Valid credentials from the same address are never refused by the
	// failed-auth limit: behind a NAT one client sending a bad key a second
	// must not lock everyone out.
	for i := 0; i < 5; i++ {
		want429(t, e.do("GET", "/v3/users", bad, nil), 5)
		clock.Add(time.Second)
		e.do("GET", "/v3/users", e.rest(), nil).list(t)
		e.do("GET", "/v3/me", e.tok(tok), nil).data(t)
		e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil).data(t)
	}
	e.do("DELETE", "/v3.0/me", H{"authToken": tok}, nil).data(t)
	tok = e.newToken("/v3", "cometchat-uid-1")
	// Ops endpoints are not behind authentication, so not limited.
	e.do("GET", "/healthz", nil, nil).data(t)

	// The bucket refills: one failure's worth every 12 s, all of it in a minute.
	clock.Add(13 * time.Second)
	e.do("GET", "/v3/me", e.tok(tok), nil).data(t)
	wantErr(t, e.do("GET", "/v3/users", bad, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	want429(t, e.do("GET", "/v3/users", bad, nil), 5)
	clock.Add(61 * time.Second)
	for i := 0; i < 5; i++ {
		wantErr(t, e.do("GET", "/v3/users", bad, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	}
	want429(t, e.do("GET", "/v3/users", bad, nil), 5)
}

func TestTokenCreationLimit(t *testing.T) {
	t.Parallel()
	clock := newClock()
	e := start(t, servertest.Options{Config: server.Config{
		Now:        clock.Now,
		RateLimits: server.RateLimits{Enabled: true, TokensPerMinute: 3, FailedAuthPerMinute: 1000},
	}})
	b, bFull, _ := secondApp(t, e.srv.Store, "limit-b")

	// Three tokens a minute per app: successes say how many are left.
	for i, left := range []string{"2", "1", "0"} {
		var r *resp
		if i == 1 {
			r = e.do("POST", "/v3/users", e.auth(), map[string]any{"uid": "tl-user", "name": "T", "withAuthToken": true})
		} else {
			r = e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil)
		}
		r.data(t)
		if r.Header.Get("X-Rate-Limit") != "3" || r.Header.Get("X-Rate-Limit-Remaining") != left {
			t.Errorf("token %d: X-Rate-Limit %q remaining %q, want 3 / %s", i+1,
				r.Header.Get("X-Rate-Limit"), r.Header.Get("X-Rate-Limit-Remaining"), left)
		}
	}
	before := snapshot(t, e.srv.Store, e.srv.AppID)
	want429(t, e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil), 3)
	want429(t, e.do("POST", "/v3.0/users/cometchat-uid-2/auth_tokens", e.rest(), nil), 3)
	// A user with withAuthToken is refused whole: no user without its token.
	want429(t, e.do("POST", "/v3/users", e.auth(), map[string]any{"uid": "tl-user-2", "name": "T", "withAuthToken": true}), 3)
	wantSnapshot(t, e.srv.Store, e.srv.AppID, before)
	noUser(t, e.srv.Store, e.srv.AppID, "tl-user-2")

	// Other calls of the app are not limited, nor is another app.
	e.do("POST", "/v3/users", e.auth(), map[string]any{"uid": "tl-user-3", "name": "T"}).data(t)
	e.do("GET", "/v3/users", e.rest(), nil).list(t)
	r := e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", H{"appId": b, "apiKey": bFull}, nil)
	wantErr(t, r, 404, "ERR_UID_NOT_FOUND")
	e.do("POST", "/v3/users", H{"appId": b, "apiKey": bFull}, map[string]any{"uid": "b1", "name": "B", "withAuthToken": true}).data(t)

	// One more token every 20 s.
	clock.Add(21 * time.Second)
	e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil).data(t)
	want429(t, e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil), 3)

	// Refused requests show in the metrics.
	if m := string(e.do("GET", "/metrics", nil, nil).Raw); !strings.Contains(m, `callgate_rate_limited_total{limit="auth_tokens"}`) {
		t.Error("no callgate_rate_limited_total in metrics")
	}
}

// With RateLimits{} (off, what benchmarks use) nothing is ever limited.
func TestRateLimitsOff(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Config: server.Config{RateLimits: server.RateLimits{}}})
	bad := e.rest().with("apiKey", strings.Repeat("1", 40))
	for i := 0; i < 40; i++ {
		wantErr(t, e.do("GET", "/v3/users", bad, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	}
	for i := 0; i < 40; i++ {
		r := e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil)
		r.data(t)
		if r.Header.Get("X-Rate-Limit") != "" {
			t.Fatalf("X-Rate-Limit with limits off: %q", r.Header.Get("X-Rate-Limit"))
		}
	}
	e.do("GET", "/v3/users", e.rest(), nil).list(t)
}

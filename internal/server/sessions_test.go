package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

// A user's own sessions: listed with current and connected, one ended, all
// others ended; their sockets told logged_out_elsewhere.
func TestMySessions(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	uid := "cometchat-uid-1"
	mint := func(platform, device string) string {
		return str(e.do("POST", "/v3/users/"+uid+"/auth_tokens", e.auth(), map[string]any{"platform": platform, "deviceId": device, "userAgent": "UA " + device}).data(t), "authToken")
	}
	a, b, c := mint("web", "laptop"), mint("ios", "phone"), mint("android", "tablet")
	other := e.newToken("/v3", "cometchat-uid-2")
	otherID := str(e.do("GET", "/v3/users/cometchat-uid-2/auth_tokens/"+other, e.rest(), nil).data(t), "id")
	ws := connect(t, e.srv.URL, e.srv.AppID, uid, b)

	for _, v := range versions {
		items, _ := e.do("GET", v+"/me/sessions", e.tok(a), nil).list(t)
		if len(items) != 3 {
			t.Fatalf("%s: %d sessions, want 3: %v", v, len(items), items)
		}
		seen := map[string]map[string]any{}
		for _, it := range items {
			seen[str(it, "deviceId")] = it
			for _, f := range []string{"id", "platform", "deviceId", "userAgent", "createdAt", "lastUsedAt", "expiresAt", "current", "connected"} {
				if _, ok := it[f]; !ok {
					t.Errorf("a session lacks %s: %v", f, it)
				}
			}
			if strings.Contains(fmt.Sprint(it), a) || strings.Contains(fmt.Sprint(it), b) {
				t.Error("a session shows a secret")
			}
		}
		if seen["laptop"]["current"] != true || seen["phone"]["current"] != false || seen["tablet"]["current"] != false {
			t.Errorf("current: %v", items)
		}
		if seen["phone"]["connected"] != true || seen["laptop"]["connected"] != false {
			t.Errorf("connected: %v", items)
		}
		if str(seen["phone"], "platform") != "ios" || str(seen["tablet"], "userAgent") != "UA tablet" {
			t.Errorf("device fields: %v", items)
		}
	}
	// The admin's view of the same tokens says which is connected too
	// (absent when not: the field is omitted when false).
	for _, v := range versions {
		items, _ := e.do("GET", v+"/users/"+uid+"/auth_tokens", e.rest(), nil).list(t)
		for _, it := range items {
			if want := str(it, "deviceId") == "phone"; (it["connected"] == true) != want {
				t.Errorf("%s GET /users/{uid}/auth_tokens: %s connected %v, want %v", v, str(it, "deviceId"), it["connected"], want)
			}
		}
	}
	items, _ := e.do("GET", "/v3/me/sessions", e.tok(a), nil).list(t)
	ids := map[string]string{}
	for _, it := range items {
		ids[str(it, "deviceId")] = str(it, "id")
	}

	// Another user's session, an unknown one: not found, nothing ended.
	wantErr(t, e.do("DELETE", "/v3.0/me/sessions/"+otherID, e.tok(a), nil), 404, "ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("DELETE", "/v3.0/me/sessions/tok_0000000000000000", e.tok(a), nil), 404, "ERR_AUTH_TOKEN_NOT_FOUND")
	e.do("GET", "/v3/me", e.tok(other), nil).data(t)

	// End the phone's session from the laptop: its socket is told.
	start := time.Now()
	e.do("DELETE", "/v3.0/me/sessions/"+ids["phone"], e.tok(a), nil).data(t)
	if lat := wantRevoked(t, ws, "logged_out_elsewhere", start); lat > time.Second {
		t.Errorf("the ended session's socket closed %v later", lat)
	}
	wantErr(t, e.do("GET", "/v3/me", e.tok(b), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")

	// All but the current one.
	d := e.do("DELETE", "/v3.0/me/sessions", e.tok(a), nil).data(t)
	if num(d, "revoked") != 1 {
		t.Errorf("DELETE /me/sessions: %v", d)
	}
	wantErr(t, e.do("GET", "/v3/me", e.tok(c), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	e.do("GET", "/v3/me", e.tok(a), nil).data(t)
	if items, _ := e.do("GET", "/v3/me/sessions", e.tok(a), nil).list(t); len(items) != 1 || items[0]["current"] != true {
		t.Errorf("after ending the others: %v", items)
	}
	if d := e.do("DELETE", "/v3.0/me/sessions", e.tok(a), nil).data(t); num(d, "revoked") != 0 {
		t.Errorf("nothing left to end: %v", d)
	}
	// Ending the current session is a logout.
	e.do("DELETE", "/v3.0/me/sessions/"+ids["laptop"], e.tok(a), nil).data(t)
	wantErr(t, e.do("GET", "/v3/me", e.tok(a), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	// The other user is untouched; a dead token lists nothing.
	e.do("GET", "/v3/me", e.tok(other), nil).data(t)
	wantErr(t, e.do("GET", "/v3/me/sessions", e.tok(a), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/me/sessions", e.rest(), nil), 401, "AUTH_ERR_EMPTY_AUTH_TOKEN")
}

// Revoking the tokens issued before a time: one user's, or the whole
// app's; later tokens live on; sockets are told tokens_revoked.
func TestRevokeIssuedBefore(t *testing.T) {
	t.Parallel()
	clock := newClock()
	e := start(t, servertest.Options{Config: server.Config{Now: clock.Now}, Realtime: realtime.Config{Grace: time.Minute}})
	b, bFull, bAuth := secondApp(t, e.srv.Store, "revoke-other")
	bTok := str(e.do("POST", "/v3/users", H{"appId": b, "apiKey": bAuth}, map[string]any{"uid": "cometchat-uid-1", "name": "B", "withAuthToken": true}).data(t), "authToken")

	old1, old2 := e.newToken("/v3", "cometchat-uid-1"), e.newToken("/v3", "cometchat-uid-2")
	oldWS := connect(t, e.srv.URL, e.srv.AppID, "cometchat-uid-1", old1)
	clock.Add(10 * time.Second)
	cut := clock.Now().Unix()
	new1, new2 := e.newToken("/v3", "cometchat-uid-1"), e.newToken("/v3", "cometchat-uid-2")
	newWS := connect(t, e.srv.URL, e.srv.AppID, "cometchat-uid-1", new1)

	// One user's.
	start := time.Now()
	d := e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": cut}).data(t)
	if num(d, "revoked") != 1 {
		t.Errorf("user revoke: %v", d)
	}
	if lat := wantRevoked(t, oldWS, "tokens_revoked", start); lat > time.Second {
		t.Errorf("revoke→close %v", lat)
	}
	wantErr(t, e.do("GET", "/v3/me", e.tok(old1), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	for _, tok := range []string{new1, old2, new2} {
		e.do("GET", "/v3/me", e.tok(tok), nil).data(t)
	}
	newWS.alive()

	// The whole app's: old2 goes, the new ones and the other app live on.
	d = e.do("POST", "/v3.0/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": cut}).data(t)
	if num(d, "revoked") != 1 {
		t.Errorf("app revoke: %v", d)
	}
	wantErr(t, e.do("GET", "/v3/me", e.tok(old2), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	for _, tok := range []string{new1, new2} {
		e.do("GET", "/v3/me", e.tok(tok), nil).data(t)
	}
	e.do("GET", "/v3/me", H{"appId": b, "authToken": bTok}, nil).data(t)
	// issuedBefore now+1 ends every token, the ones of this second too.
	d = e.do("POST", "/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": clock.Now().Unix() + 1}).data(t)
	if num(d, "revoked") < 2 {
		t.Errorf("revoke all: %v", d)
	}
	wantRevoked(t, newWS, "tokens_revoked", time.Now())
	e.do("GET", "/v3/me", H{"appId": b, "authToken": bTok}, nil).data(t)
	_ = bFull

	// Bad input: the documented code, nothing revoked.
	keep := e.newToken("/v3", "cometchat-uid-3")
	now := clock.Now().Unix()
	for _, c := range []struct {
		path string
		h    H
		body any
		code string
	}{
		{"/v3/auth_tokens/revoke", e.rest(), map[string]any{}, "ERR_BAD_REQUEST"},
		{"/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": -5}, "ERR_BAD_REQUEST"},
		{"/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": 0}, "ERR_BAD_REQUEST"},
		{"/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": now + 90000}, "ERR_BAD_REQUEST"},
		{"/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": now * 1000}, "ERR_BAD_REQUEST"},
		{"/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": "yesterday"}, "ERR_BAD_REQUEST"},
		{"/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": 1.5}, "ERR_BAD_REQUEST"},
		{"/v3/auth_tokens/revoke", e.auth(), map[string]any{"issuedBefore": now}, "AUTH_ERR_NO_ACCESS"},
		{"/v3/users/no-such-user/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": now + 1}, "ERR_UID_NOT_FOUND"},
		{"/v3/users/Bad%20Uid/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": now + 1}, "ERR_BAD_REQUEST"},
	} {
		r := e.do("POST", c.path, c.h, c.body)
		if r.Status >= 500 || errOf(t, r)["code"] != c.code {
			t.Errorf("POST %s %v: %d %s, want %s", c.path, c.body, r.Status, r, c.code)
		}
	}
	e.do("GET", "/v3/me", e.tok(keep), nil).data(t)
}

// The revocation crosses nodes: a socket on node B closes within a second
// of the revoke on node A.
func TestRevokeIssuedBeforeCrossNodes(t *testing.T) {
	t.Parallel()
	a := start(t, servertest.Options{Postgres: true, Realtime: realtime.Config{Grace: time.Minute}})
	b := start(t, servertest.Options{Join: a.srv, Realtime: realtime.Config{Grace: time.Minute}})
	tok := a.newToken("/v3", "cometchat-uid-4")
	ws := connect(t, b.srv.URL, b.srv.AppID, "cometchat-uid-4", tok)
	b.do("GET", "/v3/me", b.tok(tok), nil).data(t) // cached on B
	time.Sleep(1100 * time.Millisecond)            // issued before the next second
	start := time.Now()
	a.do("POST", "/v3/auth_tokens/revoke", a.rest(), map[string]any{"issuedBefore": time.Now().Unix()}).data(t)
	if lat := wantRevoked(t, ws, "tokens_revoked", start); lat > time.Second {
		t.Errorf("revoke on A → close on B: %v", lat)
	}
	wantErr(t, b.do("GET", "/v3/me", b.tok(tok), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
}

// The idle timeout: a token unused for longer stops working everywhere; a
// used one, or one with a live connection, does not; the janitor removes
// idle tokens.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	clock := newClock()
	e := start(t, servertest.Options{Config: server.Config{Now: clock.Now}, Realtime: realtime.Config{Grace: time.Minute, Now: clock.Now}})
	e.do("PUT", "/v3/app", e.rest(), map[string]any{"settings": map[string]any{"authTokenIdleTimeout": 120}}).data(t)
	idle, used, connected := e.newToken("/v3", "cometchat-uid-1"), e.newToken("/v3", "cometchat-uid-2"), e.newToken("/v3", "cometchat-uid-3")
	ws := connect(t, e.srv.URL, e.srv.AppID, "cometchat-uid-3", connected)
	for range 4 { // 4 × 50 s: past 120 s and its minute of granularity
		clock.Add(50 * time.Second)
		e.do("GET", "/v3/me", e.tok(used), nil).data(t)
	}
	wantErr(t, e.do("GET", "/v3/me", e.tok(idle), nil), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("POST", "/v3/call_tokens", e.tok(idle), map[string]any{"sessionId": "s"}), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	_, res, err := dialWS(t, "idle", e.srv.URL, "/v3/ws", dialOpts{header: http.Header{"authToken": {idle}}})
	if err == nil || res == nil || res.StatusCode != 401 {
		t.Errorf("an idle token connected: %v", err)
	}
	e.do("GET", "/v3/me", e.tok(connected), nil).data(t) // in use: connected
	// The janitor deletes it (and would close its sockets: it has none).
	// The connected token is in use: the node's live tokens reach the store
	// within a flush, and its lease is renewed on the test's clock.
	time.Sleep(400 * time.Millisecond)
	if err := e.srv.Hub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.srv.API.Janitor(context.Background())
	toks, err := e.srv.Store.ListAuthTokens(context.Background(), e.srv.AppID, "cometchat-uid-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 0 {
		t.Errorf("the janitor left %d idle tokens", len(toks))
	}
	ws.alive()
	e.do("GET", "/v3/me", e.tok(used), nil).data(t)
}

// The audit log: every admin write is an event with its actor, target,
// address and request id, and never a secret; filters and pages work.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	clock := newClock()
	e := start(t, servertest.Options{Config: server.Config{Now: clock.Now}})
	keyID := str(e.do("GET", "/v3/apikeys/"+e.srv.RESTKey, e.rest(), nil).data(t), "id")
	rid := "audit-req-1"
	k := e.do("POST", "/v3/apikeys", e.rest().with("X-Request-Id", rid), map[string]any{"name": "ci", "scope": "authOnly"}).data(t)
	secret := str(k, "apiKey")
	e.do("PUT", "/v3/apikeys/"+str(k, "id"), e.rest(), map[string]any{"scope": "fullAccess"}).data(t)
	e.do("DELETE", "/v3/apikeys/"+str(k, "id"), e.rest(), nil).data(t)
	clock.Add(time.Hour)
	u := e.do("POST", "/v3/users", e.rest(), map[string]any{"uid": "audited", "name": "A", "withAuthToken": true}).data(t)
	tok := str(u, "authToken")
	e.do("PUT", "/v3/users/audited", e.rest(), map[string]any{"name": "B", "metadata": map[string]any{"secret": "hidden"}}).data(t)
	e.do("PUT", "/v3/users/audited", e.rest(), map[string]any{"deactivated": true}).data(t)
	e.do("PUT", "/v3/users/audited", e.rest(), map[string]any{"deactivated": false}).data(t)
	tokID := str(e.do("GET", "/v3/users/cometchat-uid-1/auth_tokens/"+e.newToken("/v3", "cometchat-uid-1"), e.rest(), nil).data(t), "id")
	e.do("DELETE", "/v3/users/cometchat-uid-1/auth_tokens/"+tokID, e.rest(), nil).data(t)
	e.do("DELETE", "/v3/users/cometchat-uid-1/auth_tokens", e.rest(), nil).data(t)
	e.do("POST", "/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": clock.Now().Unix()}).data(t)
	e.do("POST", "/v3/signing_keys/rotate", e.rest(), nil).data(t)
	e.do("PUT", "/v3/app", e.rest(), map[string]any{"settings": map[string]any{"callTokenTTL": 900}}).data(t)
	e.do("DELETE", "/v3/users/audited", e.rest(), nil).data(t)
	// Logins are metrics, not events.
	e.newToken("/v3", "cometchat-uid-2")

	items, pag := e.do("GET", "/v3/audit_events?perPage=1000", e.rest(), nil).list(t)
	var actions []string
	for _, it := range items {
		actions = append(actions, str(it, "action"))
		actor := it["actor"].(map[string]any)
		if actor["type"] != "apiKey" || actor["id"] != keyID || str(it, "ip") != "127.0.0.1" || str(it, "requestId") == "" || str(it, "appId") != e.srv.AppID {
			t.Errorf("event %v", it)
		}
	}
	want := "user.delete app.update signingkey.rotate token.revoke token.flush token.delete user.reactivate user.deactivate user.update user.create apikey.delete apikey.update apikey.create"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("actions, newest first:\n got %s\nwant %s", got, want)
	}
	if num(pag, "total") != 13 {
		t.Errorf("total %v", pag)
	}
	raw := string(e.do("GET", "/v3/audit_events?perPage=1000", e.rest(), nil).Raw)
	for _, s := range []string{secret, tok, e.srv.RESTKey, "hidden"} {
		if strings.Contains(raw, s) {
			t.Errorf("the audit log holds a secret or a value: %.12s…", s)
		}
	}
	// Filters and pages.
	count := func(q string) int {
		_, pag := e.do("GET", "/v3/audit_events?"+q, e.rest(), nil).list(t)
		return int(num(pag, "total"))
	}
	for q, n := range map[string]int{
		"action=user.update": 1, "target=audited": 5, "actor=" + keyID: 13, "actor=cli": 0,
		"until=" + fmt.Sprint(clock.Now().Unix()-1800): 3, "since=" + fmt.Sprint(clock.Now().Unix()-1800): 10,
	} {
		if got := count(q); got != n {
			t.Errorf("%s: %d events, want %d", q, got, n)
		}
	}
	first, _ := e.do("GET", "/v3/audit_events?perPage=5&page=1", e.rest(), nil).list(t)
	third, pag := e.do("GET", "/v3/audit_events?perPage=5&page=3", e.rest(), nil).list(t)
	if len(first) != 5 || len(third) != 3 || num(pag, "total_pages") != 3 || str(third[2], "action") != "apikey.create" {
		t.Errorf("pages: %d, %d, %v", len(first), len(third), pag)
	}
	if r := e.do("GET", "/v3/audit_events?requestId=x", e.rest(), nil); r.Status != 200 {
		t.Errorf("an unknown parameter: %d", r.Status)
	}
	for _, q := range []string{"action=user.fly", "since=-1", "since=abc", "perPage=0", "perPage=1001", "since=20&until=10"} {
		r := e.do("GET", "/v3/audit_events?"+q, e.rest(), nil)
		t.Run(q, func(t *testing.T) { wantErr(t, r, 400, "ERR_BAD_REQUEST") })
	}
	wantErr(t, e.do("GET", "/v3/audit_events", e.auth(), nil), 403, "AUTH_ERR_NO_ACCESS")
	// Another app sees none of them.
	b, bFull, _ := secondApp(t, e.srv.Store, "audit-other")
	if items, _ := e.do("GET", "/v3/audit_events", H{"appId": b, "apiKey": bFull}, nil).list(t); len(items) != 0 {
		t.Errorf("another app sees %d events", len(items))
	}
	// Retention: 90 days by default.
	clock.Add(91 * 24 * time.Hour)
	e.srv.API.Janitor(context.Background())
	if n := count(""); n != 0 {
		t.Errorf("%d events past the retention", n)
	}
}

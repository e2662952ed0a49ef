package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	clock := newClock()
	e := start(t, servertest.Options{Config: server.Config{Now: clock.Now}})
	ctx := context.Background()
	app, err := e.srv.Store.GetApp(ctx, e.srv.AppID)
	if err != nil {
		t.Fatal(err)
	}
	app.Settings.AuthTokenTTL = 3600
	if err := e.srv.Store.UpdateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	// Another app keeps tokens that never expire.
	b, bFull, _ := secondApp(t, e.srv.Store, "no-ttl")

	now := clock.Now().Unix()
	d := e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil).data(t)
	tok := str(d, "authToken")
	if exp := int64(num(d, "expiresAt")); exp != now+3600 {
		t.Fatalf("expiresAt %d, want %d: %v", exp, now+3600, d)
	}
	u := e.do("POST", "/v3/users", e.auth(), map[string]any{"uid": "ttl-user", "name": "T", "withAuthToken": true}).data(t)
	tok2 := str(u, "authToken")
	if g := e.do("GET", "/v3/users/ttl-user/auth_tokens/"+tok2, e.rest(), nil).data(t); int64(num(g, "expiresAt")) != now+3600 {
		t.Errorf("withAuthToken expiresAt: %v", g)
	}
	bTok := str(e.do("POST", "/v3/users", H{"appId": b, "apiKey": bFull}, map[string]any{"uid": "forever", "name": "F", "withAuthToken": true}).data(t), "authToken")
	if g := e.do("GET", "/v3/users/forever/auth_tokens/"+bTok, H{"appId": b, "apiKey": bFull}, nil).data(t); num(g, "expiresAt") != 0 {
		t.Errorf("app without TTL: %v", g)
	}

	e.do("PUT", "/v3/me", e.tok(tok), nil).data(t)
	clock.Add(3599 * time.Second)
	e.do("GET", "/v3/me", e.tok(tok), nil).data(t)
	e.do("GET", "/v3/me", e.tok(tok2), nil).data(t)

	clock.Add(time.Second) // now = expiresAt
	for _, tk := range []string{tok, tok2} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			wantErr(t, e.do(m, "/v3/me", e.tok(tk), nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
			wantErr(t, e.do(m, "/v3/me", H{"authToken": tk}, nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
		}
	}
	e.do("GET", "/v3/me", H{"authToken": bTok}, nil).data(t)

	// A fresh login works again, with a new expiry.
	d = e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil).data(t)
	if int64(num(d, "expiresAt")) != clock.Now().Unix()+3600 {
		t.Errorf("new expiresAt: %v", d)
	}
	e.do("PUT", "/v3/me", e.tok(str(d, "authToken")), nil).data(t)
}

func TestDeactivation(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	rest := e.rest()
	const uid = "deact-user"
	e.newUser("/v3", uid)

	deadTokens := func(toks ...string) {
		t.Helper()
		for _, tk := range toks {
			wantErr(t, e.do("GET", "/v3/me", e.tok(tk), nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
			wantErr(t, e.do("PUT", "/v3/me", H{"authToken": tk}, nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
		}
	}
	gone := func() {
		t.Helper()
		before := snapshot(t, e.srv.Store, e.srv.AppID)
		wantErr(t, e.do("GET", "/v3/users/"+uid, rest, nil), 404, "ERR_UID_NOT_FOUND")
		wantErr(t, e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"name": "x"}), 404, "ERR_UID_NOT_FOUND")
		wantErr(t, e.do("POST", "/v3/users/"+uid+"/auth_tokens", e.auth(), nil), 404, "ERR_UID_NOT_FOUND")
		wantErr(t, e.do("GET", "/v3/users/"+uid+"/auth_tokens", rest, nil), 404, "ERR_UID_NOT_FOUND")
		wantErr(t, e.do("DELETE", "/v3/users/"+uid+"/auth_tokens", rest, nil), 404, "ERR_UID_NOT_FOUND")
		wantErr(t, e.do("DELETE", "/v3/users/"+uid, rest, map[string]any{"permanent": false}), 404, "ERR_UID_NOT_FOUND")
		wantErr(t, e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"deactivated": true}), 404, "ERR_UID_NOT_FOUND")
		wantSnapshot(t, e.srv.Store, e.srv.AppID, before)
	}
	reactivate := func() {
		t.Helper()
		d := e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"deactivated": false}).data(t)
		if str(d, "uid") != uid || num(d, "deactivatedAt") != 0 {
			t.Fatalf("reactivate: %v", d)
		}
		e.do("GET", "/v3/users/"+uid, rest, nil).data(t)
	}

	// PUT {"deactivated":true}.
	t1, t2 := e.newToken("/v3", uid), e.newToken("/v3.0", uid)
	e.do("PUT", "/v3/me", e.tok(t1), nil).data(t) // a live, cached session
	e.do("GET", "/v3/me", e.tok(t1), nil).data(t)
	d := e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"deactivated": true}).data(t)
	if num(d, "deactivatedAt") == 0 {
		t.Errorf("deactivate: %v", d)
	}
	deadTokens(t1, t2)
	gone()
	reactivate()
	// Reactivation does not bring revoked sessions back.
	deadTokens(t1, t2)
	e.do("GET", "/v3/me", e.tok(e.newToken("/v3", uid)), nil).data(t)

	// DELETE {"permanent":false}: a soft delete.
	t3 := e.newToken("/v3", uid)
	e.do("PUT", "/v3/me", e.tok(t3), nil).data(t)
	d = e.do("DELETE", "/v3/users/"+uid, rest, map[string]any{"permanent": false}).data(t)
	if d["success"] != true {
		t.Errorf("soft delete: %v", d)
	}
	deadTokens(t3)
	gone()
	// The record is kept: the uid is still taken.
	wantErr(t, e.do("POST", "/v3/users", rest, map[string]any{"uid": uid, "name": "again"}), http.StatusConflict, "ERR_UID_ALREADY_EXISTS")
	reactivate()
	deadTokens(t3)
	t4 := e.newToken("/v3", uid)
	e.do("GET", "/v3/me", e.tok(t4), nil).data(t)

	// A permanent delete cannot be undone.
	e.do("DELETE", "/v3/users/"+uid, rest, map[string]any{"permanent": true}).data(t)
	deadTokens(t4)
	wantErr(t, e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"deactivated": false}), 404, "ERR_UID_NOT_FOUND")
	noUser(t, e.srv.Store, e.srv.AppID, uid)
}

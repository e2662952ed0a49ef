package server_test

import (
	"net/http"
	"testing"

	"github.com/callgate/callgate/internal/servertest"
)

// Cross-app isolation: nothing of one app is visible from another.

func TestIsolation(t *testing.T) {
	t.Parallel()
	isolation(t, servertest.Options{})
}

func TestIsolationPostgres(t *testing.T) {
	t.Parallel()
	isolation(t, servertest.Options{Postgres: true})
}

func isolation(t *testing.T, opts servertest.Options) {
	e := start(t, opts)
	a := e.srv.AppID
	b, bFull, bAuth := secondApp(t, e.srv.Store, "app-b")
	aRest, aAuth := e.rest(), e.auth()
	bRest := H{"appId": b, "apiKey": bFull}

	// App B: its own user, a user whose uid also exists in A, tokens, a key.
	e.do("POST", "/v3/users", bRest, map[string]any{"uid": "b-user", "name": "B User"}).data(t)
	e.do("POST", "/v3/users", bRest, map[string]any{"uid": "cometchat-uid-1", "name": "B's uid-1"}).data(t)
	bTok := str(e.do("POST", "/v3/users/b-user/auth_tokens", H{"appId": b, "apiKey": bAuth}, nil).data(t), "authToken")
	bTokID := str(e.do("GET", "/v3/users/b-user/auth_tokens/"+bTok, bRest, nil).data(t), "id")
	bShared := str(e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", bRest, nil).data(t), "authToken")
	bSharedID := str(e.do("GET", "/v3/users/cometchat-uid-1/auth_tokens/"+bShared, bRest, nil).data(t), "id")
	bKey := e.do("POST", "/v3/apikeys", bRest, map[string]any{"name": "b extra", "scope": "fullAccess"}).data(t)
	bKeySecret, bKeyID := str(bKey, "apiKey"), str(bKey, "id")

	// App A: a token for its cometchat-uid-1.
	aTok := e.newToken("/v3", "cometchat-uid-1")
	aTokID := str(e.do("GET", "/v3/users/cometchat-uid-1/auth_tokens/"+aTok, aRest, nil).data(t), "id")
	aCall := str(e.do("POST", "/v3/call_tokens", e.tok(aTok), map[string]any{"sessionId": "iso-call"}).data(t), "token")

	beforeA := snapshot(t, e.srv.Store, a)
	beforeB := snapshot(t, e.srv.Store, b)

	type attempt struct {
		method, path string
		h            H
		body         any
		status       int
		code         string
	}
	var attempts []attempt
	for _, v := range versions {
		attempts = append(attempts,
			// A's key, A's appId, B's things: they do not exist.
			attempt{"GET", v + "/users/b-user", aRest, nil, 404, "ERR_UID_NOT_FOUND"},
			attempt{"PUT", v + "/users/b-user", aRest, map[string]any{"name": "pwned"}, 404, "ERR_UID_NOT_FOUND"},
			attempt{"PUT", v + "/users/b-user", aRest, map[string]any{"deactivated": true}, 404, "ERR_UID_NOT_FOUND"},
			attempt{"PUT", v + "/users/b-user", aRest, map[string]any{"deactivated": false}, 404, "ERR_UID_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user", aRest, nil, 404, "ERR_UID_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user", aRest, map[string]any{"permanent": false}, 404, "ERR_UID_NOT_FOUND"},
			attempt{"POST", v + "/users/b-user/auth_tokens", aAuth, nil, 404, "ERR_UID_NOT_FOUND"},
			attempt{"POST", v + "/users/b-user/auth_tokens", aRest, nil, 404, "ERR_UID_NOT_FOUND"},
			attempt{"GET", v + "/users/b-user/auth_tokens", aRest, nil, 404, "ERR_UID_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user/auth_tokens", aRest, nil, 404, "ERR_UID_NOT_FOUND"},
			attempt{"GET", v + "/users/b-user/auth_tokens/" + bTok, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"GET", v + "/users/b-user/auth_tokens/" + bTokID, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user/auth_tokens/" + bTok, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user/auth_tokens/" + bTokID, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			// The same uid in both apps: A reaches only its own user's tokens.
			attempt{"GET", v + "/users/cometchat-uid-1/auth_tokens/" + bShared, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"GET", v + "/users/cometchat-uid-1/auth_tokens/" + bSharedID, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"DELETE", v + "/users/cometchat-uid-1/auth_tokens/" + bShared, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"DELETE", v + "/users/cometchat-uid-1/auth_tokens/" + bSharedID, aRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"GET", v + "/users/cometchat-uid-1/auth_tokens/" + aTok, bRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"DELETE", v + "/users/cometchat-uid-1/auth_tokens/" + aTokID, bRest, nil, 404, "ERR_AUTH_TOKEN_NOT_FOUND"},
			// B's keys by secret and by id.
			attempt{"GET", v + "/apikeys/" + bKeySecret, aRest, nil, 404, "ERR_APIKEY_NOT_FOUND"},
			attempt{"GET", v + "/apikeys/" + bKeyID, aRest, nil, 404, "ERR_APIKEY_NOT_FOUND"},
			attempt{"GET", v + "/apikeys/" + bFull, aRest, nil, 404, "ERR_APIKEY_NOT_FOUND"},
			attempt{"PUT", v + "/apikeys/" + bKeySecret, aRest, map[string]any{"scope": "authOnly"}, 404, "ERR_APIKEY_NOT_FOUND"},
			attempt{"PUT", v + "/apikeys/" + bKeyID, aRest, map[string]any{"name": "pwned"}, 404, "ERR_APIKEY_NOT_FOUND"},
			attempt{"DELETE", v + "/apikeys/" + bKeySecret, aRest, nil, 404, "ERR_APIKEY_NOT_FOUND"},
			attempt{"DELETE", v + "/apikeys/" + bKeyID, aRest, nil, 404, "ERR_APIKEY_NOT_FOUND"},
			attempt{"DELETE", v + "/apikeys/" + bFull, aRest, nil, 404, "ERR_APIKEY_NOT_FOUND"},

			// A's key presented as B's (appId B): unknown key, on every route.
			attempt{"GET", v + "/users", H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"POST", v + "/users", H{"appId": b, "apiKey": e.srv.AuthKey}, map[string]any{"uid": "from-a", "name": "x", "withAuthToken": true}, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"GET", v + "/users/b-user", H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"PUT", v + "/users/b-user", H{"appId": b, "apiKey": e.srv.RESTKey}, map[string]any{"name": "pwned"}, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user", H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"POST", v + "/users/b-user/auth_tokens", H{"appId": b, "apiKey": e.srv.AuthKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"GET", v + "/users/b-user/auth_tokens", H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user/auth_tokens", H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"DELETE", v + "/users/b-user/auth_tokens/" + bTokID, H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"GET", v + "/apikeys", H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"POST", v + "/apikeys", H{"appId": b, "apiKey": e.srv.RESTKey}, map[string]any{"name": "x", "scope": "fullAccess"}, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			attempt{"DELETE", v + "/apikeys/" + bKeyID, H{"appId": b, "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
			// … or through B's Host name.
			attempt{"GET", v + "/users", H{"Host": b + ".api-eu.example.com", "apiKey": e.srv.RESTKey}, nil, 401, "AUTH_ERR_APIKEY_NOT_FOUND"},

			// Tokens: one of A with appId B, and one of B with appId A.
			attempt{"GET", v + "/me", H{"appId": b, "authToken": aTok}, nil, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"PUT", v + "/me", H{"appId": b, "authToken": aTok}, map[string]any{"platform": "web"}, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"DELETE", v + "/me", H{"appId": b, "authToken": aTok}, nil, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"GET", v + "/me", H{"appId": a, "authToken": bShared}, nil, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"DELETE", v + "/me", H{"appId": a, "authToken": bTok}, nil, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
			attempt{"GET", v + "/me", H{"Host": b + ".api-eu.example.com", "authToken": aTok}, nil, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
			// A call token of A verified as B's, by header or by Host name.
			attempt{"GET", v + "/call_tokens", H{"appId": b, "callToken": aCall}, nil, 401, "ERR_CALL_TOKEN_INVALID"},
			attempt{"GET", v + "/call_tokens", H{"Host": b + ".api-us.example.com", "callToken": aCall}, nil, 401, "ERR_CALL_TOKEN_INVALID"},
		)
	}
	for _, at := range attempts {
		r := e.do(at.method, at.path, at.h, at.body)
		t.Run(at.method+" "+at.path, func(t *testing.T) { wantErr(t, r, at.status, at.code) })
	}

	// Lists show only the caller's own things.
	items, _ := e.do("GET", "/v3/users?searchKey=b-user", aRest, nil).list(t)
	if len(items) != 0 {
		t.Errorf("A lists B's user: %v", items)
	}
	items, _ = e.do("GET", "/v3/users?perPage=1000", aRest, nil).list(t)
	for _, u := range items {
		if str(u, "uid") == "b-user" || str(u, "name") == "B's uid-1" {
			t.Errorf("A lists B's user: %v", u)
		}
	}
	keys, _ := e.do("GET", "/v3/apikeys", aRest, nil).list(t)
	for _, k := range keys {
		if str(k, "id") == bKeyID {
			t.Errorf("A lists B's key: %v", k)
		}
	}
	toks, _ := e.do("GET", "/v3/users/cometchat-uid-1/auth_tokens", aRest, nil).list(t)
	if len(toks) != 1 || str(toks[0], "id") != aTokID {
		t.Errorf("A's uid-1 tokens: %v", toks)
	}
	if g := e.do("GET", "/v3/users/cometchat-uid-1", aRest, nil).data(t); str(g, "name") != "Andrew Joseph" {
		t.Errorf("A's uid-1: %v", g)
	}

	// Nothing changed in either app, and B's credentials all still work.
	wantSnapshot(t, e.srv.Store, a, beforeA)
	wantSnapshot(t, e.srv.Store, b, beforeB)
	noUser(t, e.srv.Store, b, "from-a")
	noUser(t, e.srv.Store, a, "from-a")
	for _, tok := range []string{bTok, bShared} {
		e.do("GET", "/v3/me", H{"appId": b, "authToken": tok}, nil).data(t)
		// Without appId the token names its own app.
		if d := e.do("GET", "/v3/me", H{"authToken": tok}, nil).data(t); d["name"] == "Andrew Joseph" {
			t.Errorf("B's token resolved to A's user: %v", d)
		}
	}
	e.do("GET", "/v3/me", e.tok(aTok), nil).data(t)
	// A Host label that names no app is the server's own name, not a claim.
	for _, h := range []H{{"callToken": aCall}, {"appId": a, "callToken": aCall}, {"Host": a + ".api-us.example.com", "callToken": aCall}, {"Host": "calls.example.com", "callToken": aCall}} {
		if d := e.do("GET", "/v3/call_tokens", h, nil).data(t); str(d, "app") != a {
			t.Errorf("A's call token with %v: %v", h, d)
		}
	}
	if d := e.do("GET", "/v3/apikeys/"+bKeyID, bRest, nil).data(t); str(d, "name") != "b extra" || str(d, "scope") != "fullAccess" {
		t.Errorf("B's key changed: %v", d)
	}
	e.do("GET", "/v3/users", H{"appId": b, "apiKey": bKeySecret}, nil).list(t)
	if d := e.do("GET", "/v3/users/b-user", bRest, nil).data(t); str(d, "name") != "B User" {
		t.Errorf("B's user changed: %v", d)
	}

	// B's own operations never touch A's same-named user.
	e.do("DELETE", "/v3/users/cometchat-uid-1/auth_tokens", bRest, nil).data(t)
	e.do("DELETE", "/v3/users/cometchat-uid-1", bRest, nil).data(t)
	e.do("GET", "/v3/me", e.tok(aTok), nil).data(t)
	e.do("GET", "/v3/users/cometchat-uid-1", aRest, nil).data(t)
	wantSnapshot(t, e.srv.Store, a, beforeA)
	wantErr(t, e.do("GET", "/v3/me", H{"authToken": bShared}, nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
}

package server_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/servertest"
)

// The happy paths of every route of docs/api.md's REST and client API
// tables, under both /v3 and /v3.0, on SQLite and on PostgreSQL.

func TestHappyPaths(t *testing.T) {
	t.Parallel()
	happyPaths(t, servertest.Options{})
}

func TestHappyPathsPostgres(t *testing.T) {
	t.Parallel()
	happyPaths(t, servertest.Options{Postgres: true})
}

func happyPaths(t *testing.T, opts servertest.Options) {
	e := start(t, opts)
	for i, v := range versions {
		sfx := strconv.Itoa(i)
		t.Run(strings.TrimPrefix(v, "/")+"/apikeys", func(t *testing.T) { apiKeysHappy(t, e, v) })
		t.Run(strings.TrimPrefix(v, "/")+"/apikey-limit", func(t *testing.T) { apiKeyLimit(t, e, v) })
		t.Run(strings.TrimPrefix(v, "/")+"/users", func(t *testing.T) { usersHappy(t, e, v, sfx) })
		t.Run(strings.TrimPrefix(v, "/")+"/list", func(t *testing.T) { listUsersHappy(t, e, v) })
		t.Run(strings.TrimPrefix(v, "/")+"/tokens", func(t *testing.T) { tokensHappy(t, e, v, sfx) })
		t.Run(strings.TrimPrefix(v, "/")+"/me", func(t *testing.T) { meHappy(t, e, v, sfx) })
		t.Run(strings.TrimPrefix(v, "/")+"/app-resolution", func(t *testing.T) { appResolution(t, e, v) })
	}
	t.Run("concurrent", func(t *testing.T) { concurrentWrites(t, e) })
}

// concurrentWrites: racing creates of one uid and of keys at the limit
// give one winner / exactly 25 keys, the rest their documented 409s, and
// never a 5xx or a stray token.
func concurrentWrites(t *testing.T, e *env) {
	type result struct {
		status int
		code   string
	}
	run := func(n int, f func() *resp) map[result]int {
		out := make(chan result, n)
		for i := 0; i < n; i++ {
			go func() {
				r := f()
				code := ""
				if er, ok := r.Body["error"].(map[string]any); ok {
					code = str(er, "code")
				}
				out <- result{r.Status, code}
			}()
		}
		got := map[result]int{}
		for i := 0; i < n; i++ {
			got[<-out]++
		}
		return got
	}
	// do from goroutines must not call t.Fatal: use a plain request.
	post := func(path string, h H, body string) func() *resp {
		return func() *resp {
			req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
			for k, v := range h {
				req.Header.Set(k, v)
			}
			res, err := client.Do(req)
			if err != nil {
				return &resp{Status: -1}
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			return parse(res, raw)
		}
	}

	got := run(20, post("/v3/users", e.auth(), `{"uid":"Race-User","name":"R","withAuthToken":true}`))
	if got[result{200, ""}] != 1 || got[result{409, "ERR_UID_ALREADY_EXISTS"}] != 19 {
		t.Errorf("racing creates: %v", got)
	}
	if toks, _ := e.srv.Store.ListAuthTokens(t.Context(), e.srv.AppID, "race-user"); len(toks) != 1 {
		t.Errorf("racing creates left %d tokens, want 1", len(toks))
	}

	keys := snapshot(t, e.srv.Store, e.srv.AppID).Keys
	got = run(30, post("/v3/apikeys", e.rest(), `{"name":"racer","scope":"authOnly"}`))
	if got[result{200, ""}] != 25-keys || got[result{409, "ERR_APIKEY_LIMIT_REACHED"}] != 30-(25-keys) {
		t.Errorf("racing key creates from %d keys: %v", keys, got)
	}
	if n := snapshot(t, e.srv.Store, e.srv.AppID).Keys; n != 25 {
		t.Errorf("%d keys after racing creates, want 25", n)
	}
}

func apiKeysHappy(t *testing.T, e *env, v string) {
	rest := e.rest()
	d := e.do("POST", v+"/apikeys", rest, map[string]any{"name": "ci key", "scope": "fullAccess", "unknown": []int{1}}).data(t)
	secret, id := str(d, "apiKey"), str(d, "id")
	if len(secret) != 40 || id == "" || str(d, "name") != "ci key" || str(d, "scope") != "fullAccess" || num(d, "createdAt") == 0 {
		t.Fatalf("create key: %v", d)
	}
	mine := H{"appId": e.srv.AppID, "apiKey": secret}

	// The new key works, and the list never shows a secret.
	items, pag := e.do("GET", v+"/apikeys", mine, nil).list(t)
	found := false
	for _, k := range items {
		if _, ok := k["apiKey"]; ok {
			t.Errorf("list shows a secret: %v", k)
		}
		found = found || str(k, "id") == id
	}
	if !found || int(num(pag, "total")) != len(items) || int(num(pag, "count")) != len(items) {
		t.Fatalf("list: %v %v", items, pag)
	}

	// Lookup by secret and by id.
	for _, ref := range []string{secret, id} {
		g := e.do("GET", v+"/apikeys/"+ref, rest, nil).data(t)
		if str(g, "id") != id || str(g, "name") != "ci key" {
			t.Errorf("get %s: %v", ref, g)
		}
		if _, ok := g["apiKey"]; ok {
			t.Errorf("get shows the secret: %v", g)
		}
	}

	// Update by secret (name) and by id (scope): an authOnly key loses
	// the full routes at once.
	u := e.do("PUT", v+"/apikeys/"+secret, rest, map[string]any{"name": "renamed"}).data(t)
	if str(u, "name") != "renamed" || str(u, "scope") != "fullAccess" {
		t.Fatalf("update name: %v", u)
	}
	u = e.do("PUT", v+"/apikeys/"+id, rest, map[string]any{"scope": "authOnly"}).data(t)
	if str(u, "name") != "renamed" || str(u, "scope") != "authOnly" {
		t.Fatalf("update scope: %v", u)
	}
	wantErr(t, e.do("GET", v+"/users", mine, nil), http.StatusForbidden, "AUTH_ERR_NO_ACCESS")

	// Delete by secret; the key stops working and is gone.
	e.do("DELETE", v+"/apikeys/"+secret, rest, nil).data(t)
	wantErr(t, e.do("POST", v+"/users", mine, map[string]any{"uid": "x", "name": "x"}), http.StatusUnauthorized, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", v+"/apikeys/"+id, rest, nil), http.StatusNotFound, "ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("DELETE", v+"/apikeys/"+id, rest, nil), http.StatusNotFound, "ERR_APIKEY_NOT_FOUND")

	// Delete by id.
	d = e.do("POST", v+"/apikeys", rest, map[string]any{"name": "short-lived", "scope": "authOnly"}).data(t)
	e.do("DELETE", v+"/apikeys/"+str(d, "id"), rest, nil).data(t)
	wantErr(t, e.do("GET", v+"/apikeys/"+str(d, "apiKey"), rest, nil), http.StatusNotFound, "ERR_APIKEY_NOT_FOUND")
}

func apiKeyLimit(t *testing.T, e *env, v string) {
	rest := e.rest()
	before := snapshot(t, e.srv.Store, e.srv.AppID)
	var ids []string
	for n := before.Keys; n < 25; n++ {
		d := e.do("POST", v+"/apikeys", rest, map[string]any{"name": "k" + strconv.Itoa(n), "scope": "authOnly"}).data(t)
		ids = append(ids, str(d, "id"))
	}
	wantErr(t, e.do("POST", v+"/apikeys", rest, map[string]any{"name": "one too many", "scope": "authOnly"}),
		http.StatusConflict, "ERR_APIKEY_LIMIT_REACHED")
	if got := snapshot(t, e.srv.Store, e.srv.AppID).Keys; got != 25 {
		t.Fatalf("%d keys, want 25", got)
	}
	items, _ := e.do("GET", v+"/apikeys", rest, nil).list(t)
	if len(items) != 25 {
		t.Fatalf("list shows %d keys", len(items))
	}
	for _, id := range ids {
		e.do("DELETE", v+"/apikeys/"+id, rest, nil).data(t)
	}
	wantSnapshot(t, e.srv.Store, e.srv.AppID, before)
}

func usersHappy(t *testing.T, e *env, v, sfx string) {
	rest := e.rest()
	uid := "happy-user-" + sfx
	body := map[string]any{
		"uid": "Happy-USER-" + sfx, "name": "Happy User", "avatar": "https://example.com/a.png",
		"link": "https://example.com/u", "role": "moderator", "metadata": map[string]any{"plan": "pro", "n": 1},
		"tags": []string{"a", "b"}, "somethingNew": true,
	}
	d := e.do("POST", v+"/users", rest, body).data(t)
	if str(d, "uid") != uid || str(d, "name") != "Happy User" || str(d, "avatar") != "https://example.com/a.png" ||
		str(d, "link") != "https://example.com/u" || str(d, "role") != "moderator" || str(d, "status") != "offline" ||
		num(d, "createdAt") == 0 {
		t.Fatalf("create: %v", d)
	}
	if m, _ := d["metadata"].(map[string]any); str(m, "plan") != "pro" {
		t.Errorf("metadata: %v", d["metadata"])
	}
	if tags, _ := d["tags"].([]any); len(tags) != 2 {
		t.Errorf("tags: %v", d["tags"])
	}
	if _, ok := d["authToken"]; ok {
		t.Errorf("token without withAuthToken: %v", d)
	}
	// The same uid in another case is the same user.
	wantErr(t, e.do("POST", v+"/users", rest, map[string]any{"uid": uid, "name": "dup"}), http.StatusConflict, "ERR_UID_ALREADY_EXISTS")

	// An authOnly key may create users too; role defaults to "default".
	d = e.do("POST", v+"/users", e.auth(), map[string]any{"uid": uid + "-b", "name": "B"}).data(t)
	if str(d, "role") != "default" {
		t.Errorf("default role: %v", d)
	}

	for _, ref := range []string{uid, strings.ToUpper(uid)} {
		g := e.do("GET", v+"/users/"+ref, rest, nil).data(t)
		if str(g, "uid") != uid || str(g, "name") != "Happy User" {
			t.Errorf("get %s: %v", ref, g)
		}
	}

	u := e.do("PUT", v+"/users/"+uid, rest, map[string]any{"name": "Renamed", "uid": strings.ToUpper(uid), "tags": []string{"c"}}).data(t)
	if str(u, "name") != "Renamed" || str(u, "role") != "moderator" || str(u, "avatar") != "https://example.com/a.png" {
		t.Fatalf("update: %v", u)
	}
	if tags, _ := u["tags"].([]any); len(tags) != 1 || tags[0] != "c" {
		t.Errorf("tags after update: %v", u["tags"])
	}
	if g := e.do("GET", v+"/users/"+uid, rest, nil).data(t); str(g, "name") != "Renamed" {
		t.Errorf("update not stored: %v", g)
	}

	// withAuthToken: the user and a working token in one call.
	wt := uid + "-tok"
	d = e.do("POST", v+"/users", e.auth(), map[string]any{"uid": wt, "name": "With Token", "withAuthToken": true}).data(t)
	tok := str(d, "authToken")
	if str(d, "uid") != wt || !tokenRE.MatchString(tok) || !strings.HasPrefix(tok, wt+"_") {
		t.Fatalf("withAuthToken: %v", d)
	}
	if me := e.do("GET", v+"/me", e.tok(tok), nil).data(t); str(me, "uid") != wt {
		t.Errorf("token of withAuthToken: %v", me)
	}

	// Delete (permanent by default): gone, tokens dead.
	d = e.do("DELETE", v+"/users/"+wt, rest, nil).data(t)
	if d["success"] != true {
		t.Errorf("delete: %v", d)
	}
	wantErr(t, e.do("GET", v+"/users/"+wt, rest, nil), http.StatusNotFound, "ERR_UID_NOT_FOUND")
	wantErr(t, e.do("GET", v+"/me", e.tok(tok), nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("DELETE", v+"/users/"+wt, rest, nil), http.StatusNotFound, "ERR_UID_NOT_FOUND")
	noUser(t, e.srv.Store, e.srv.AppID, wt)
}

func listUsersHappy(t *testing.T, e *env, v string) {
	rest := e.rest()
	total := snapshot(t, e.srv.Store, e.srv.AppID).Users

	items, pag := e.do("GET", v+"/users", rest, nil).list(t)
	if len(items) != total || num(pag, "total") != float64(total) || num(pag, "count") != float64(total) ||
		num(pag, "per_page") != 100 || num(pag, "current_page") != 1 || num(pag, "total_pages") != 1 {
		t.Fatalf("default list of %d: %d items, %v", total, len(items), pag)
	}

	items, pag = e.do("GET", v+"/users?perPage=2&page=2", rest, nil).list(t)
	wantPages := float64((total + 1) / 2)
	if len(items) != 2 || num(pag, "total") != float64(total) || num(pag, "count") != 2 ||
		num(pag, "per_page") != 2 || num(pag, "current_page") != 2 || num(pag, "total_pages") != wantPages {
		t.Fatalf("page 2: %v %v", items, pag)
	}
	first, _ := e.do("GET", v+"/users?perPage=2&page=1", rest, nil).list(t)
	if str(first[0], "uid") == str(items[0], "uid") {
		t.Errorf("pages overlap: %v / %v", first, items)
	}
	// Past the end: empty page, same total.
	items, pag = e.do("GET", v+"/users?perPage=2&page=999", rest, nil).list(t)
	if len(items) != 0 || num(pag, "count") != 0 || num(pag, "total") != float64(total) {
		t.Errorf("past the end: %v %v", items, pag)
	}
	items, _ = e.do("GET", v+"/users?perPage=1000", rest, nil).list(t)
	if len(items) != total {
		t.Errorf("perPage=1000: %d items", len(items))
	}

	// searchKey matches uid or name, case-insensitively.
	items, pag = e.do("GET", v+"/users?searchKey=nancy", rest, nil).list(t)
	if len(items) != 1 || str(items[0], "uid") != "cometchat-uid-3" || num(pag, "total") != 1 {
		t.Errorf("searchKey=nancy: %v", items)
	}
	items, _ = e.do("GET", v+"/users?searchKey=COMETCHAT-UID", rest, nil).list(t)
	if len(items) != 5 {
		t.Errorf("searchKey=COMETCHAT-UID: %d items", len(items))
	}

	// Nobody has a live realtime connection: nobody is online.
	items, pag = e.do("GET", v+"/users?status=online", rest, nil).list(t)
	if len(items) != 0 || num(pag, "total") != 0 {
		t.Errorf("status=online: %v", items)
	}
	items, _ = e.do("GET", v+"/users?status=offline&perPage=1000", rest, nil).list(t)
	if len(items) != total {
		t.Errorf("status=offline: %d items", len(items))
	}
	for _, u := range items {
		if _, ok := u["authToken"]; ok {
			t.Errorf("list shows a token: %v", u)
		}
	}
}

func tokensHappy(t *testing.T, e *env, v, sfx string) {
	rest := e.rest()
	uid := "tok-user-" + sfx
	e.newUser(v, uid)

	// Create with the authOnly key; platform in capitals, userAgent nested
	// in appInfo, force and unknown fields accepted; resource/sdk headers.
	h := e.auth().with("resource", "WEB-5_0_0-abc", "sdk", "javascript@5.0.0")
	d := e.do("POST", v+"/users/"+strings.ToUpper(uid)+"/auth_tokens", h, map[string]any{
		"force": true, "platform": "WEB", "deviceId": "dev-1", "appInfo": map[string]any{"userAgent": "UA/1.0", "version": "5"}, "extra": 1,
	}).data(t)
	tok1 := str(d, "authToken")
	if str(d, "uid") != uid || !strings.HasPrefix(tok1, uid+"_") || !tokenRE.MatchString(tok1) || num(d, "createdAt") == 0 {
		t.Fatalf("create token: %v", d)
	}
	// Every call mints a new token, force or not.
	tok2 := str(e.do("POST", v+"/users/"+uid+"/auth_tokens", rest, map[string]any{"force": true}).data(t), "authToken")
	tok3 := e.newToken(v, uid)
	if tok1 == tok2 || tok2 == tok3 {
		t.Fatal("tokens repeat")
	}

	items, pag := e.do("GET", v+"/users/"+uid+"/auth_tokens", rest, nil).list(t)
	if len(items) != 3 || num(pag, "total") != 3 {
		t.Fatalf("list: %v", items)
	}
	var id1 string
	for _, it := range items {
		if _, ok := it["authToken"]; ok {
			t.Errorf("list shows a secret: %v", it)
		}
		if str(it, "deviceId") == "dev-1" {
			id1 = str(it, "id")
			if str(it, "platform") != "web" || str(it, "userAgent") != "UA/1.0" {
				t.Errorf("device fields: %v", it)
			}
		}
	}
	if id1 == "" {
		t.Fatalf("token dev-1 not listed: %v", items)
	}

	// Get by secret and by id.
	for _, ref := range []string{tok1, id1} {
		g := e.do("GET", v+"/users/"+uid+"/auth_tokens/"+ref, rest, nil).data(t)
		if str(g, "id") != id1 || str(g, "uid") != uid {
			t.Errorf("get %s: %v", ref, g)
		}
		if _, ok := g["authToken"]; ok {
			t.Errorf("get shows the secret: %v", g)
		}
	}

	// Delete by secret: the token dies.
	e.do("GET", v+"/me", e.tok(tok1), nil).data(t)
	e.do("DELETE", v+"/users/"+uid+"/auth_tokens/"+tok1, rest, nil).data(t)
	wantErr(t, e.do("GET", v+"/me", e.tok(tok1), nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("GET", v+"/users/"+uid+"/auth_tokens/"+id1, rest, nil), http.StatusNotFound, "ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("DELETE", v+"/users/"+uid+"/auth_tokens/"+tok1, rest, nil), http.StatusNotFound, "ERR_AUTH_TOKEN_NOT_FOUND")

	// Delete by id.
	items, _ = e.do("GET", v+"/users/"+uid+"/auth_tokens", rest, nil).list(t)
	if len(items) != 2 {
		t.Fatalf("after delete: %v", items)
	}
	e.do("GET", v+"/me", e.tok(tok2), nil).data(t)
	id2 := str(e.do("GET", v+"/users/"+uid+"/auth_tokens/"+tok2, rest, nil).data(t), "id")
	e.do("DELETE", v+"/users/"+uid+"/auth_tokens/"+id2, rest, nil).data(t)
	wantErr(t, e.do("GET", v+"/me", e.tok(tok2), nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")

	// Flush: every token of the user dies, others' survive.
	other := e.newToken(v, "cometchat-uid-2")
	e.newToken(v, uid)
	e.do("GET", v+"/me", e.tok(tok3), nil).data(t)
	d = e.do("DELETE", v+"/users/"+uid+"/auth_tokens", rest, nil).data(t)
	if num(d, "deleted") != 2 || d["success"] != true {
		t.Errorf("flush: %v", d)
	}
	wantErr(t, e.do("GET", v+"/me", e.tok(tok3), nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	if items, _ := e.do("GET", v+"/users/"+uid+"/auth_tokens", rest, nil).list(t); len(items) != 0 {
		t.Errorf("after flush: %v", items)
	}
	e.do("GET", v+"/me", e.tok(other), nil).data(t)

	// Tokens of a user that does not exist: none.
	wantErr(t, e.do("POST", v+"/users/no-such-user/auth_tokens", e.auth(), nil), http.StatusNotFound, "ERR_UID_NOT_FOUND")
	noUser(t, e.srv.Store, e.srv.AppID, "no-such-user")
}

func meHappy(t *testing.T, e *env, v, sfx string) {
	uid := "me-user-" + sfx
	e.newUser(v, uid)
	tok := e.newToken(v, uid)
	h := e.tok(tok).with("resource", "WEB-5_0_0-xyz", "sdk", "javascript@5.0.0")

	d := e.do("PUT", v+"/me", h, map[string]any{
		"platform": "WEB", "deviceId": "browser-1", "appInfo": map[string]any{"userAgent": "Mozilla/5.0", "sdkVersion": "5"}, "newField": []int{1},
	}).data(t)
	if str(d, "uid") != uid || str(d, "authToken") != tok || str(d, "status") != "online" || str(d, "name") != "User "+uid || num(d, "lastActiveAt") == 0 {
		t.Fatalf("PUT /me: %v", d)
	}
	if _, ok := d["settings"]; ok {
		t.Errorf("PUT /me carries settings: %v", d)
	}
	// The session's device fields are recorded on the token (written
	// behind, within a fraction of a second).
	var items []map[string]any
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		items, _ = e.do("GET", v+"/users/"+uid+"/auth_tokens", e.rest(), nil).list(t)
		if len(items) == 1 && str(items[0], "deviceId") == "browser-1" || time.Now().After(deadline) {
			break
		}
	}
	if len(items) != 1 || str(items[0], "deviceId") != "browser-1" || str(items[0], "platform") != "web" || str(items[0], "userAgent") != "Mozilla/5.0" {
		t.Errorf("session fields: %v", items)
	}
	// A user with no live realtime connection reads offline in REST.
	if g := e.do("GET", v+"/users/"+uid, e.rest(), nil).data(t); str(g, "status") != "offline" {
		t.Errorf("REST status after PUT /me: %v", g)
	}

	g := e.do("GET", v+"/me", h, nil).data(t)
	if str(g, "uid") != uid {
		t.Fatalf("GET /me: %v", g)
	}
	if _, ok := g["authToken"]; ok {
		t.Errorf("GET /me echoes the token: %v", g)
	}
	// PUT /me with no body at all is a session start too.
	e.do("PUT", v+"/me", e.tok(tok), nil).data(t)

	d = e.do("DELETE", v+"/me", h, nil).data(t)
	if d["success"] != true || str(d, "uid") != uid {
		t.Errorf("DELETE /me: %v", d)
	}
	wantErr(t, e.do("GET", v+"/me", h, nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("DELETE", v+"/me", h, nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	wantErr(t, e.do("PUT", v+"/me", h, nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	if items, _ := e.do("GET", v+"/users/"+uid+"/auth_tokens", e.rest(), nil).list(t); len(items) != 0 {
		t.Errorf("DELETE /me left the token: %v", items)
	}
}

// appResolution: the app from the token, from the Host, header names in
// any case.
func appResolution(t *testing.T, e *env, v string) {
	tok := e.newToken(v, "cometchat-uid-1")

	// No appId: the token names its app (the Calls SDK sends only authToken).
	noApp := H{"authToken": tok}
	if d := e.do("PUT", v+"/me", noApp, map[string]any{"platform": "web", "deviceId": "d"}).data(t); str(d, "uid") != "cometchat-uid-1" {
		t.Errorf("PUT /me without appId: %v", d)
	}
	e.do("GET", v+"/me", noApp, nil).data(t)

	// The app from a Host name {appId}.api-us.example.com.
	host := e.srv.AppID + ".api-us.example.com"
	items, _ := e.do("GET", v+"/users", H{"Host": host, "apiKey": e.srv.RESTKey}, nil).list(t)
	if len(items) == 0 {
		t.Error("no users through Host")
	}
	e.do("GET", v+"/me", H{"Host": host + ":443", "authToken": tok}, nil).data(t)
	// Behind the server's own name (three labels naming no app) the client
	// API still finds the app from the token; REST needs a real app.
	for _, m := range []string{"GET", "PUT"} {
		if d := e.do(m, v+"/me", H{"Host": "callgate.example.com", "authToken": tok}, nil).data(t); str(d, "uid") != "cometchat-uid-1" {
			t.Errorf("%s /me behind callgate.example.com: %v", m, d)
		}
	}
	wantErr(t, e.do("GET", v+"/users", H{"Host": "callgate.example.com", "apiKey": e.srv.RESTKey}, nil), http.StatusUnauthorized, "AUTH_ERR_INVALID_APPID")
	// An explicit appId header naming no app is an error even with a good token.
	wantErr(t, e.do("GET", v+"/me", H{"Host": host, "appId": "nosuchapp", "authToken": tok}, nil), http.StatusUnauthorized, "AUTH_ERR_INVALID_APPID")
	// A Host that names another app is that app.
	wantErr(t, e.do("GET", v+"/users", H{"Host": "nosuchapp.api-us.example.com", "apiKey": e.srv.RESTKey}, nil), http.StatusUnauthorized, "AUTH_ERR_INVALID_APPID")
	// localhost and short names do not name an app.
	wantErr(t, e.do("GET", v+"/users", H{"Host": "localhost", "apiKey": e.srv.RESTKey}, nil), http.StatusUnauthorized, "AUTH_ERR_EMPTY_APPID")
	wantErr(t, e.do("GET", v+"/users", H{"Host": "example.com", "apiKey": e.srv.RESTKey}, nil), http.StatusUnauthorized, "AUTH_ERR_EMPTY_APPID")

	// Header names are case-insensitive, and the appId value too.
	for _, h := range []H{
		{"appid": e.srv.AppID, "apikey": e.srv.RESTKey},
		{"APPID": strings.ToUpper(e.srv.AppID), "APIKEY": e.srv.RESTKey},
		{"AppId": e.srv.AppID, "ApiKey": e.srv.RESTKey, "RESOURCE": "x", "SDK": "y"},
	} {
		e.do("GET", v+"/users/cometchat-uid-1", h, nil).data(t)
	}
	for _, h := range []H{
		{"appid": e.srv.AppID, "authtoken": tok},
		{"APPID": e.srv.AppID, "AUTHTOKEN": tok},
	} {
		e.do("GET", v+"/me", h, nil).data(t)
	}
}

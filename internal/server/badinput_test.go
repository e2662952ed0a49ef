package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	pathpkg "path"
	"sort"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

// Bad input for every route: each answers its documented status and code
// with the full error envelope, never a 5xx, and writes nothing.

// routeCase is a route the router authenticates, as the router lists it.
type routeCase struct {
	method, path string // the pattern under the version prefix; {uid} and {ref} are filled in
	auth         string // server.Route.Auth
	takesBody    bool
	body         any  // a valid body, for a route that takes one
	root         bool // served at the root, not under the version prefixes
}

// validBodies holds a valid body for every route that takes one, keyed
// "METHOD /pattern" as the router names the route.
var validBodies = map[string]any{
	"POST /apikeys":                        map[string]any{"name": "n", "scope": "authOnly"},
	"PUT /apikeys/{ref}":                   map[string]any{"name": "n"},
	"POST /signing_keys/rotate":            map[string]any{},
	"POST /users":                          map[string]any{"uid": "bad-input-new", "name": "N"},
	"PUT /users/{uid}":                     map[string]any{"name": "n"},
	"DELETE /users/{uid}":                  map[string]any{"permanent": true},
	"POST /users/{uid}/auth_tokens":        map[string]any{"platform": "web"},
	"PUT /me":                              map[string]any{"platform": "web", "deviceId": "d"},
	"POST /call_tokens":                    map[string]any{"sessionId": "bad-input-call"},
	"PUT /app":                             map[string]any{"settings": map[string]any{"callTokenTTL": 600}},
	"POST /users/{uid}/auth_tokens/revoke": map[string]any{"issuedBefore": 1},
	"POST /auth_tokens/revoke":             map[string]any{"issuedBefore": 1},
}

// ownCredentials are the API routes the router does not authenticate,
// each with what checks its credential instead and where that is tested.
var ownCredentials = map[string]string{
	"GET /call_tokens": "the callToken header is the credential (calltokens_test.go)",
	"GET /ws":          "the upgrade authenticates, from headers or query parameters (realtime_test.go)",
}

// authRoutes lists every route the router authenticates, from the router
// itself, with a valid body for those that take one.
func authRoutes() []routeCase {
	var out []routeCase
	for _, r := range server.Routes() {
		if r.Auth == "none" {
			continue
		}
		out = append(out, routeCase{r.Method, r.Path, r.Auth, r.TakesBody, validBodies[r.Method+" "+r.Path], r.Root})
	}
	return out
}

// routed reports whether the router serves method on path, a pattern with
// an optional query.
func routed(method, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	for _, r := range server.Routes() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// TestRouteTables holds the bad-input tables to the router: every route
// that takes a body has a valid one, every API route the router does not
// authenticate is listed with what does (ops routes take no credentials),
// and neither table names a route the router does not serve. The tests
// below then reach every route.
func TestRouteTables(t *testing.T) {
	t.Parallel()
	served := map[string]server.Route{}
	for _, r := range server.Routes() {
		k := r.Method + " " + r.Path
		served[k] = r
		switch {
		case r.Auth != "none" && r.Auth != "anyKey" && r.Auth != "fullKey" && r.Auth != "token":
			t.Errorf("%s: the bad-input tests know no credentials for auth %q", k, r.Auth)
		case r.TakesBody && r.Auth == "none":
			t.Errorf("%s takes a body but the router checks no credentials: the bad-body tests do not reach it", k)
		case r.TakesBody && validBodies[k] == nil:
			t.Errorf("%s takes a body but validBodies has none for it", k)
		case r.Auth == "none" && !r.Ops && ownCredentials[k] == "":
			t.Errorf("%s: the router checks no credentials and ownCredentials does not say what does", k)
		}
	}
	for k := range validBodies {
		if r, ok := served[k]; !ok || !r.TakesBody {
			t.Errorf("validBodies names %s, which is not a route of the router that takes a body", k)
		}
	}
	for k := range ownCredentials {
		if r, ok := served[k]; !ok || r.Auth != "none" || r.Ops {
			t.Errorf("ownCredentials names %s, which is not an API route the router leaves unauthenticated", k)
		}
	}
}

// fixture is what the bad-input tests aim at: an existing user with a
// token, and an existing key, all of which must survive every attack.
type fixture struct {
	*env
	uid, token, tokenID, keySecret, keyID string
}

func newFixture(t *testing.T, opts ...servertest.Options) *fixture {
	var o servertest.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	e := start(t, o)
	f := &fixture{env: e, uid: "cometchat-uid-1"}
	f.token = e.newToken("/v3", f.uid)
	f.tokenID = str(e.do("GET", "/v3/users/"+f.uid+"/auth_tokens/"+f.token, e.rest(), nil).data(t), "id")
	d := e.do("POST", "/v3/apikeys", e.rest(), map[string]any{"name": "target", "scope": "authOnly"}).data(t)
	f.keySecret, f.keyID = str(d, "apiKey"), str(d, "id")
	return f
}

// bodyRoute is a route that takes a body, with credentials it accepts.
type bodyRoute struct {
	method, path string
	h            H
}

// bodyRoutes lists every route that takes a body, once per kind of
// credential it accepts.
func (f *fixture) bodyRoutes() []bodyRoute {
	var out []bodyRoute
	for _, rc := range authRoutes() {
		if !rc.takesBody {
			continue
		}
		for _, h := range f.credentials(rc.auth) {
			out = append(out, bodyRoute{rc.method, rc.path, h})
		}
	}
	return out
}

// credentials are the fixture's headers that pass a route's auth.
func (f *fixture) credentials(auth string) []H {
	switch auth {
	case "fullKey":
		return []H{f.rest()}
	case "anyKey":
		return []H{f.rest(), f.auth()}
	case "token":
		return []H{f.tok(f.token)}
	}
	return nil
}

func (f *fixture) fill(path, uid string) string {
	return strings.NewReplacer("{uid}", uid, "/apikeys/{ref}", "/apikeys/"+f.keyID, "/auth_tokens/{ref}", "/auth_tokens/"+f.tokenID).Replace(path)
}

// intact asserts the fixture survived: nothing was created, changed or deleted.
func (f *fixture) intact(t *testing.T, want counts) {
	t.Helper()
	wantSnapshot(t, f.srv.Store, f.srv.AppID, want)
	f.do("GET", "/v3/me", f.tok(f.token), nil).data(t)
	if d := f.do("GET", "/v3/apikeys/"+f.keyID, f.rest(), nil).data(t); str(d, "name") != "target" {
		t.Errorf("key changed: %v", d)
	}
	if d := f.do("GET", "/v3/users/"+f.uid, f.rest(), nil).data(t); str(d, "name") != "Andrew Joseph" {
		t.Errorf("user changed: %v", d)
	}
	noUser(t, f.srv.Store, f.srv.AppID, "bad-input-new")
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := snapshot(t, f.srv.Store, f.srv.AppID)
	app, key, authKey := f.srv.AppID, f.srv.RESTKey, f.srv.AuthKey
	unknownKey := strings.Repeat("ab", 20)
	unknownTok := "cometchat-uid-1_1700000000" + strings.Repeat("0", 64)

	type authCase struct {
		name   string
		h      H
		uid    string // "" = the fixture's user
		status int
		code   string
	}
	keyCases := []authCase{
		{"no appId", H{"apiKey": key}, "", 401, "AUTH_ERR_EMPTY_APPID"},
		{"empty appId", H{"appId": "", "apiKey": key}, "", 401, "AUTH_ERR_EMPTY_APPID"},
		{"blank appId", H{"appId": "   ", "apiKey": key}, "", 401, "AUTH_ERR_EMPTY_APPID"},
		{"unknown appId", H{"appId": "nosuchapp", "apiKey": key}, "", 401, "AUTH_ERR_INVALID_APPID"},
		{"appId with bad chars", H{"appId": "x'; DROP TABLE apps;--", "apiKey": key}, "", 401, "AUTH_ERR_INVALID_APPID"},
		{"appId too long", H{"appId": strings.Repeat("a", 65), "apiKey": key}, "", 401, "AUTH_ERR_INVALID_APPID"},
		{"appId path", H{"appId": "../" + app, "apiKey": key}, "", 401, "AUTH_ERR_INVALID_APPID"},
		{"no apiKey", H{"appId": app}, "", 401, "AUTH_ERR_EMPTY_APIKEY"},
		{"empty apiKey", H{"appId": app, "apiKey": ""}, "", 401, "AUTH_ERR_EMPTY_APIKEY"},
		{"authToken instead of apiKey", H{"appId": app, "authToken": f.token}, "", 401, "AUTH_ERR_EMPTY_APIKEY"},
		{"unknown apiKey", H{"appId": app, "apiKey": unknownKey}, "", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{"apiKey SQL", H{"appId": app, "apiKey": "' OR '1'='1"}, "", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{"apiKey uppercase", H{"appId": app, "apiKey": strings.ToUpper(key)}, "", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{"apiKey plus one", H{"appId": app, "apiKey": key + "0"}, "", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{"token as apiKey", H{"appId": app, "apiKey": f.token}, "", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{"key id as apiKey", H{"appId": app, "apiKey": f.keyID}, "", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		// The key is checked before the uid.
		{"bad key and bad uid", H{"appId": app, "apiKey": unknownKey}, "no such user!", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{"bad key and unknown uid", H{"appId": app, "apiKey": unknownKey}, "nobody-here", 401, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{"no key and bad uid", H{"appId": app}, "no such user!", 401, "AUTH_ERR_EMPTY_APIKEY"},
	}
	tokenCases := []authCase{
		{"no authToken", H{"appId": app}, "", 401, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"no authToken no appId", H{}, "", 401, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"empty authToken", H{"appId": app, "authToken": ""}, "", 401, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"apiKey instead", H{"appId": app, "apiKey": key}, "", 401, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"garbage token", H{"appId": app, "authToken": "nope"}, "", 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"unknown token", H{"appId": app, "authToken": unknownTok}, "", 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"unknown token no appId", H{"authToken": unknownTok}, "", 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"token SQL", H{"appId": app, "authToken": "x' OR 1=1 --"}, "", 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"token with a changed digit", H{"appId": app, "authToken": f.token[:len(f.token)-1] + flip(f.token[len(f.token)-1])}, "", 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"token of another uid", H{"appId": app, "authToken": "cometchat-uid-2" + f.token[len(f.uid):]}, "", 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"apiKey as token", H{"appId": app, "authToken": key}, "", 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"good token unknown appId", H{"appId": "nosuchapp", "authToken": f.token}, "", 401, "AUTH_ERR_INVALID_APPID"},
		{"good token bad appId", H{"appId": "bad app", "authToken": f.token}, "", 401, "AUTH_ERR_INVALID_APPID"},
	}

	for _, v := range versions {
		for _, rc := range authRoutes() {
			cases := keyCases
			if rc.auth == "token" {
				cases = tokenCases
			} else if rc.auth == "fullKey" {
				cases = append(cases[:len(cases):len(cases)],
					authCase{"authOnly key", H{"appId": app, "apiKey": authKey}, "", 403, "AUTH_ERR_NO_ACCESS"},
					authCase{"authOnly key bad uid", H{"appId": app, "apiKey": authKey}, "no such user!", 403, "AUTH_ERR_NO_ACCESS"},
					authCase{"authOnly key uppercase names", H{"APPID": app, "APIKEY": authKey}, "", 403, "AUTH_ERR_NO_ACCESS"},
				)
			}
			prefix := v
			if rc.root {
				if v != versions[0] {
					continue // one prefix: the root
				}
				prefix = ""
			}
			for _, c := range cases {
				uid := f.uid
				if c.uid != "" {
					uid = url.PathEscape(c.uid)
				}
				path := prefix + f.fill(rc.path, uid)
				r := f.do(rc.method, path, c.h, rc.body)
				t.Run(fmt.Sprintf("%s %s/%s", rc.method, path, c.name), func(t *testing.T) {
					wantErr(t, r, c.status, c.code)
				})
			}
		}
	}
	f.intact(t, before)
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	badBodies(t, servertest.Options{})
}

// PostgreSQL is stricter than SQLite about text (no NUL characters).
func TestBadBodiesPostgres(t *testing.T) {
	t.Parallel()
	badBodies(t, servertest.Options{Postgres: true})
}

func badBodies(t *testing.T, opts servertest.Options) {
	f := newFixture(t, opts)
	before := snapshot(t, f.srv.Store, f.srv.AppID)
	long := func(n int) string { return strings.Repeat("x", n) }
	bigMeta := map[string]any{"blob": long(5 * 1024)}
	tags101 := make([]string, 101)
	for i := range tags101 {
		tags101[i] = fmt.Sprintf("t%d", i)
	}
	newUser := func(kv ...any) map[string]any {
		m := map[string]any{"uid": "bad-input-new", "name": "N"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	// Bodies that are not a JSON object, for every route that reads one.
	notObjects := []string{
		`{"name":`, `{`, `}`, `{"name" "x"}`, `{"name":"x",}`, `{'name':'x'}`, `{"name":"x"} {"name":"y"}`, `{"name":"x"}]`,
		`[]`, `[{"name":"x"}]`, `"str"`, `42`, `true`, `<xml/>`, "\x00\x01", `{"a":NaN}`,
	}
	for _, v := range versions {
		for _, br := range f.bodyRoutes() {
			for _, b := range notObjects {
				path := v + f.fill(br.path, f.uid)
				r := f.do(br.method, path, br.h, b)
				t.Run(fmt.Sprintf("%s %s/%q", br.method, path, b), func(t *testing.T) { wantBadField(t, r, "body") })
			}
		}
	}

	// Wrong JSON types and bad values: details name the field.
	type fieldCase struct {
		method, path string
		h            H
		body         any
		field        string
	}
	v := "/v3"
	cases := []fieldCase{
		{"POST", "/apikeys", f.rest(), map[string]any{"name": 5, "scope": "authOnly"}, "name"},
		{"POST", "/apikeys", f.rest(), map[string]any{"name": "n", "scope": true}, "scope"},
		{"POST", "/apikeys", f.rest(), map[string]any{"name": "n", "scope": "admin"}, "scope"},
		{"POST", "/apikeys", f.rest(), map[string]any{"name": "n", "scope": "FULLACCESS"}, "scope"},
		{"POST", "/apikeys", f.rest(), map[string]any{"scope": "authOnly"}, "name"},
		{"POST", "/apikeys", f.rest(), map[string]any{"name": "  ", "scope": "authOnly"}, "name"},
		{"POST", "/apikeys", f.rest(), map[string]any{"name": long(101), "scope": "authOnly"}, "name"},
		{"POST", "/apikeys", f.rest(), map[string]any{"name": "n"}, "scope"},
		{"POST", "/apikeys", f.rest(), map[string]any{}, "name"},
		{"PUT", "/apikeys/{ref}", f.rest(), map[string]any{"name": []string{"x"}}, "name"},
		{"PUT", "/apikeys/{ref}", f.rest(), map[string]any{"name": ""}, "name"},
		{"PUT", "/apikeys/{ref}", f.rest(), map[string]any{"name": long(101)}, "name"},
		{"PUT", "/apikeys/{ref}", f.rest(), map[string]any{"scope": "root"}, "scope"},
		{"PUT", "/apikeys/{ref}", f.rest(), map[string]any{"scope": 1}, "scope"},

		{"POST", "/users", f.rest(), map[string]any{"uid": 1, "name": "x"}, "uid"},
		{"POST", "/users", f.rest(), map[string]any{"uid": []string{"a"}, "name": "x"}, "uid"},
		{"POST", "/users", f.rest(), map[string]any{"uid": "bad-input-new", "name": map[string]any{}}, "name"},
		{"POST", "/users", f.rest(), map[string]any{"name": "x"}, "uid"},
		{"POST", "/users", f.rest(), map[string]any{"uid": nil, "name": "x"}, "uid"},
		{"POST", "/users", f.rest(), map[string]any{"uid": "bad-input-new"}, "name"},
		{"POST", "/users", f.rest(), newUser("name", " "), "name"},
		{"POST", "/users", f.rest(), newUser("name", long(101)), "name"},
		{"POST", "/users", f.rest(), newUser("name", strings.Repeat("é", 101)), "name"},
		{"POST", "/users", f.rest(), newUser("avatar", "https://example.com/"+long(2981)), "avatar"},
		{"POST", "/users", f.rest(), newUser("avatar", 5), "avatar"},
		{"POST", "/users", f.rest(), newUser("avatar", "javascript:alert(1)"), "avatar"},
		{"POST", "/users", f.rest(), newUser("avatar", "not a url"), "avatar"},
		{"POST", "/users", f.rest(), newUser("link", "ftp://example.com/x"), "link"},
		{"POST", "/users", f.rest(), newUser("link", "https://example.com/"+long(2981)), "link"},
		{"POST", "/users", f.rest(), newUser("role", "bad role"), "role"},
		{"POST", "/users", f.rest(), newUser("role", long(101)), "role"},
		{"POST", "/users", f.rest(), newUser("role", 7), "role"},
		{"POST", "/users", f.rest(), newUser("metadata", bigMeta), "metadata"},
		{"POST", "/users", f.rest(), newUser("metadata", []int{1}), "metadata"},
		{"POST", "/users", f.rest(), newUser("metadata", "str"), "metadata"},
		{"POST", "/users", f.rest(), newUser("metadata", 3), "metadata"},
		{"POST", "/users", f.rest(), newUser("tags", tags101), "tags"},
		{"POST", "/users", f.rest(), newUser("tags", "t"), "tags"},
		{"POST", "/users", f.rest(), newUser("tags", []any{1, 2}), "tags"},
		{"POST", "/users", f.rest(), newUser("tags", []string{""}), "tags"},
		{"POST", "/users", f.rest(), newUser("tags", []string{long(101)}), "tags"},
		{"POST", "/users", f.rest(), newUser("withAuthToken", "yes"), "withAuthToken"},
		{"POST", "/users", f.auth(), newUser("withAuthToken", true, "name", long(101)), "name"},
		{"POST", "/users", f.auth(), newUser("withAuthToken", true, "metadata", bigMeta), "metadata"},
		{"POST", "/users", f.auth(), newUser("withAuthToken", true, "tags", tags101), "tags"},
		{"POST", "/users", f.auth(), newUser("withAuthToken", 1), "withAuthToken"},

		{"PUT", "/users/{uid}", f.rest(), map[string]any{"name": 1}, "name"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"name": ""}, "name"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"name": long(101)}, "name"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"avatar": "https://example.com/" + long(2981)}, "avatar"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"metadata": bigMeta}, "metadata"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"tags": tags101}, "tags"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"deactivated": "no"}, "deactivated"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"uid": "someone-else"}, "uid"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"name": "ok", "role": "bad role"}, "role"},
		{"DELETE", "/users/{uid}", f.rest(), map[string]any{"permanent": "no"}, "permanent"},
		{"DELETE", "/users/{uid}", f.rest(), map[string]any{"permanent": 0}, "permanent"},

		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"platform": 1}, "platform"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"force": "yes"}, "force"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"appInfo": "x"}, "appInfo"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"platform": long(33)}, "platform"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"deviceId": long(256)}, "deviceId"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"userAgent": long(1025)}, "userAgent"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"appInfo": map[string]any{"userAgent": long(1025)}}, "userAgent"},

		{"PUT", "/me", f.tok(f.token), map[string]any{"deviceId": 5}, "deviceId"},
		{"PUT", "/me", f.tok(f.token), map[string]any{"platform": []string{"web"}}, "platform"},
		{"PUT", "/me", f.tok(f.token), map[string]any{"appInfo": []int{1}}, "appInfo"},
		{"PUT", "/me", f.tok(f.token), map[string]any{"userAgent": long(1025)}, "userAgent"},
		{"PUT", "/me", f.tok(f.token), map[string]any{"deviceId": long(256)}, "deviceId"},

		// NUL characters: PostgreSQL text cannot hold them.
		{"POST", "/apikeys", f.rest(), map[string]any{"name": "a\x00b", "scope": "authOnly"}, "name"},
		{"PUT", "/apikeys/{ref}", f.rest(), map[string]any{"name": "\x00"}, "name"},
		{"POST", "/users", f.rest(), newUser("name", "a\x00b"), "name"},
		{"POST", "/users", f.auth(), newUser("name", "a\x00b", "withAuthToken", true), "name"},
		{"PUT", "/users/{uid}", f.rest(), map[string]any{"name": "a\x00b"}, "name"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"deviceId": "a\x00"}, "deviceId"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), map[string]any{"platform": "\x00"}, "platform"},
		{"PUT", "/me", f.tok(f.token), map[string]any{"userAgent": "a\x00"}, "userAgent"},
		{"PUT", "/me", f.tok(f.token), map[string]any{"appInfo": map[string]any{"userAgent": "a\x00"}}, "userAgent"},
		{"GET", "/users?searchKey=%00", f.rest(), nil, "searchKey"},
		{"GET", "/users?searchKey=%FF", f.rest(), nil, "searchKey"},

		// Invalid UTF-8 in a string: refused, naming the field (encoding/json
		// would have stored U+FFFD).
		{"POST", "/users", f.rest(), "{\"uid\":\"bad-input-new\",\"name\":\"ok\xff\xfe\"}", "name"},
		{"POST", "/users", f.auth(), "{\"uid\":\"bad-input-new\",\"name\":\"N\",\"withAuthToken\":true,\"metadata\":{\"k\":\"\xc3\"}}", "metadata"},
		{"POST", "/users", f.rest(), "{\"uid\":\"bad-input-new\",\"name\":\"N\",\"tags\":[\"a\xff\"]}", "tags"},
		{"PUT", "/users/{uid}", f.rest(), "{\"name\":\"\xed\xa0\x80\"}", "name"},
		{"POST", "/apikeys", f.rest(), "{\"name\":\"k\xff\",\"scope\":\"authOnly\"}", "name"},
		{"POST", "/users/{uid}/auth_tokens", f.auth(), "{\"deviceId\":\"\xfe\"}", "deviceId"},
		{"PUT", "/me", f.tok(f.token), "{\"appInfo\":{\"userAgent\":\"\xff\"}}", "appInfo"},
		{"POST", "/users", f.rest(), "{\"uid\":\"bad-input-new\",\"name\":\"N\",\"\xff\":1}", "body"},

		{"GET", "/users?perPage=abc", f.rest(), nil, "perPage"},
		{"GET", "/users?perPage=0", f.rest(), nil, "perPage"},
		{"GET", "/users?perPage=1001", f.rest(), nil, "perPage"},
		{"GET", "/users?perPage=-5", f.rest(), nil, "perPage"},
		{"GET", "/users?perPage=99999999999999999999", f.rest(), nil, "perPage"},
		{"GET", "/users?page=0", f.rest(), nil, "page"},
		{"GET", "/users?page=1.5", f.rest(), nil, "page"},
		{"GET", "/users?status=away", f.rest(), nil, "status"},
		{"GET", "/users?status=ONLINE%27%20OR%201=1", f.rest(), nil, "status"},
		{"GET", "/users?searchKey=" + long(101), f.rest(), nil, "searchKey"},
	}
	for _, c := range cases {
		if !routed(c.method, c.path) {
			t.Errorf("a bad-field case names %s %s, which the router does not serve", c.method, c.path)
		}
		path := v + f.fill(c.path, f.uid)
		r := f.do(c.method, path, c.h, c.body)
		t.Run(fmt.Sprintf("%s %s/%.60q", c.method, c.path, fmt.Sprint(c.body)), func(t *testing.T) { wantBadField(t, r, c.field) })
	}
	f.intact(t, before)

	// Boundaries are accepted: 100-character name, 3000-character avatar,
	// 5 KB metadata, 100 tags.
	meta := map[string]any{"b": long(5*1024 - len(`{"b":""}`))}
	tags100 := tags101[:100]
	d := f.do("POST", v+"/users", f.rest(), map[string]any{
		"uid": "boundary", "name": long(100), "avatar": "https://example.com/" + long(2980), "metadata": meta, "tags": tags100,
	}).data(t)
	if len(str(d, "name")) != 100 || len(str(d, "avatar")) != 3000 {
		t.Errorf("boundary user: %v", d)
	}

	// A role is [a-z0-9_-] compared without case, like a uid: stored lower.
	d = f.do("POST", v+"/users", f.rest(), map[string]any{"uid": "role-case", "name": "R", "role": "Admin_X"}).data(t)
	if str(d, "role") != "admin_x" {
		t.Errorf("role Admin_X stored as %q, want admin_x", str(d, "role"))
	}
	d = f.do("PUT", v+"/users/role-case", f.rest(), map[string]any{"role": "Moderator-2"}).data(t)
	if str(d, "role") != "moderator-2" {
		t.Errorf("role Moderator-2 stored as %q, want moderator-2", str(d, "role"))
	}
}

func TestBadUIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := snapshot(t, f.srv.Store, f.srv.AppID)
	bad := []string{
		"has space", " lead", "trail ", "tab\tuid", "new\nline", "ünïcode", "用户", "İ", "emoji-😀",
		strings.Repeat("a", 101), "x'; DROP TABLE users;--", `" OR ""="`, "1 OR 1=1", "a%b", "a/b", "../../etc/passwd",
		"..", ".", "a.b", "a\\b", "a\x00b", "<script>", "a@b", "a+b", "a:b",
	}
	for _, uid := range bad {
		for _, body := range []map[string]any{
			{"uid": uid, "name": "x"},
			{"uid": uid, "name": "x", "withAuthToken": true},
		} {
			for _, h := range []H{f.rest(), f.auth()} {
				r := f.do("POST", "/v3/users", h, body)
				t.Run(fmt.Sprintf("POST /users %q", uid), func(t *testing.T) { wantBadField(t, r, "uid") })
			}
		}
		// The same uids in the path of every route that takes one. Some
		// (a/b, ..) never reach a route: the endpoint does not exist.
		esc := url.PathEscape(uid)
		for _, rt := range authRoutes() {
			if !strings.Contains(rt.path, "{uid}") {
				continue
			}
			h := f.rest()
			if rt.auth == "anyKey" {
				h = f.auth()
			}
			path := "/v3" + f.fill(rt.path, esc)
			r := f.do(rt.method, path, h, map[string]any{"name": "x"})
			t.Run(rt.method+" "+path, func(t *testing.T) {
				// A uid that decodes to dot segments changes the path
				// itself: no such endpoint.
				if dec, _ := url.PathUnescape(path); pathpkg.Clean(dec) != dec {
					wantErr(t, r, http.StatusNotFound, "ERR_ENDPOINT_NOT_FOUND")
					return
				}
				wantBadField(t, r, "uid")
			})
		}
	}
	f.intact(t, before)

	// Uppercase is accepted and stored lowercase; 100 characters is fine.
	for i, v := range versions {
		uid := fmt.Sprintf("Mixed-CASE_User-%d", i)
		d := f.do("POST", v+"/users", f.auth(), map[string]any{"uid": uid, "name": "M", "withAuthToken": true}).data(t)
		low := strings.ToLower(uid)
		if str(d, "uid") != low || !strings.HasPrefix(str(d, "authToken"), low+"_") {
			t.Errorf("uppercase uid: %v", d)
		}
		f.do("GET", v+"/users/"+strings.ToUpper(uid), f.rest(), nil).data(t)
		f.do("POST", v+"/users/"+uid+"/auth_tokens", f.auth(), nil).data(t)
		wantErr(t, f.do("POST", v+"/users", f.rest(), map[string]any{"uid": low, "name": "again", "withAuthToken": true}),
			http.StatusConflict, "ERR_UID_ALREADY_EXISTS")
		if toks, _ := f.srv.Store.ListAuthTokens(t.Context(), f.srv.AppID, low); len(toks) != 2 {
			t.Errorf("duplicate create with withAuthToken left %d tokens, want 2", len(toks))
		}
	}
	hundred := strings.Repeat("u", 100)
	f.do("POST", "/v3/users", f.rest(), map[string]any{"uid": hundred, "name": "H"}).data(t)
	f.do("GET", "/v3/users/"+hundred, f.rest(), nil).data(t)
}

func TestInjection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := snapshot(t, f.srv.Store, f.srv.AppID)
	rest := f.rest()

	// SQL in search and references: treated as data.
	for _, q := range []string{"' OR '1'='1", "%", "_", "\\", "%25", "x%' OR 1=1 --", "'; DROP TABLE users; --"} {
		items, pag := f.do("GET", "/v3/users?searchKey="+url.QueryEscape(q), rest, nil).list(t)
		if len(items) != 0 || num(pag, "total") != 0 {
			t.Errorf("searchKey %q matched %d users", q, len(items))
		}
	}
	for _, ref := range []string{"' OR '1'='1", "1 OR 1=1", "%", "*", "key_%", strings.Repeat("0", 40), "'; DELETE FROM api_keys; --"} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			r := f.do(m, "/v3/apikeys/"+url.PathEscape(ref), rest, map[string]any{"name": "pwned"})
			t.Run(m+" apikeys/"+ref, func(t *testing.T) { wantErr(t, r, 404, "ERR_APIKEY_NOT_FOUND") })
		}
	}
	for _, ref := range []string{"' OR '1'='1", "%", "tok_%", "'; DELETE FROM auth_tokens; --", "cometchat-uid-1_1" + strings.Repeat("f", 64)} {
		for _, m := range []string{"GET", "DELETE"} {
			r := f.do(m, "/v3/users/"+f.uid+"/auth_tokens/"+url.PathEscape(ref), rest, nil)
			t.Run(m+" auth_tokens/"+ref, func(t *testing.T) { wantErr(t, r, 404, "ERR_AUTH_TOKEN_NOT_FOUND") })
		}
	}
	// Another user's token, by secret or id, is not this user's.
	for _, ref := range []string{f.token, f.tokenID} {
		for _, m := range []string{"GET", "DELETE"} {
			r := f.do(m, "/v3/users/cometchat-uid-2/auth_tokens/"+ref, rest, nil)
			wantErr(t, r, 404, "ERR_AUTH_TOKEN_NOT_FOUND")
		}
	}

	// Path tricks: encoded slashes and dots, dot segments sent raw (curl
	// --path-as-is). None reaches another resource.
	paths := []struct {
		path, code string
	}{
		{"/v3/users/..%2Fapikeys", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/users/..%2fapikeys", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/users/%2e%2e/apikeys", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/users/%2E%2E", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/users/cometchat-uid-1%2Fauth_tokens", "ERR_BAD_REQUEST"},
		{"/v3/users/cometchat-uid-1%2F..%2F..%2Fapikeys", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/apikeys/" + f.keyID + "%2F..", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/apikeys/%2F", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/users/%2F", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3%2Fusers", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/users%2Fcometchat-uid-1", "ERR_ENDPOINT_NOT_FOUND"},
		{"/v3/users/a%5C..%5Capikeys", "ERR_BAD_REQUEST"},
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "DELETE"} {
			r := f.do(m, p.path, rest, nil)
			t.Run(m+" "+p.path, func(t *testing.T) {
				if p.code == "ERR_BAD_REQUEST" {
					wantBadField(t, r, "uid")
				} else {
					wantErr(t, r, 404, p.code)
				}
			})
		}
	}
	rawPaths := []string{
		"/v3/users/../apikeys", "/v3/users/./cometchat-uid-1", "/v3/users/cometchat-uid-1/../../apikeys",
		"/v3/users/cometchat-uid-1/auth_tokens/../../cometchat-uid-2", "/v3//users", "/v3/users//auth_tokens",
		"/v3/./users", "/v3/../v3/users", "/v3.0/users/..", "/v3/users/", "/v3/apikeys/", "/v3/me/", "/../v3/users",
		"/v3/users/cometchat-uid-1/auth_tokens/", "/healthz/", "/metrics/../v3/apikeys",
	}
	for _, p := range rawPaths {
		for _, m := range []string{"GET", "DELETE"} {
			r := raw(t, f.srv.URL, m+" "+p+" HTTP/1.1", rest, "")
			t.Run("raw "+m+" "+p, func(t *testing.T) { wantErr(t, r, 404, "ERR_ENDPOINT_NOT_FOUND") })
		}
	}
	// Headers and query strings carrying injection are data too.
	r := f.do("GET", "/v3/users/cometchat-uid-1?uid=../apikeys&appId=other", rest.with("X-Forwarded-For", "' OR 1=1"), nil)
	if str(r.data(t), "uid") != "cometchat-uid-1" {
		t.Errorf("query confused the route: %s", r)
	}
	f.intact(t, before)
}

func TestWrongMethodsAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := snapshot(t, f.srv.Store, f.srv.AppID)
	all := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"}

	allowed := map[string][]string{}
	ops := map[string]bool{}
	for _, r := range server.Routes() {
		allowed[r.Path] = append(allowed[r.Path], r.Method)
		// Ops GETs answer HEAD too (load balancers probe with it).
		if r.Ops && r.Method == "GET" {
			allowed[r.Path] = append(allowed[r.Path], "HEAD")
		}
		ops[r.Path] = r.Ops || r.Root
	}
	for path, ok := range allowed {
		sort.Strings(ok)
		prefixes := versions
		if ops[path] {
			prefixes = []string{""}
		}
		for _, v := range prefixes {
			for _, m := range all {
				if contains(ok, m) {
					continue
				}
				full := v + f.fill(path, f.uid)
				h := f.rest().with("authToken", f.token)
				r := f.do(m, full, h, `{"uid":"bad-input-new","name":"x"}`)
				t.Run(m+" "+full, func(t *testing.T) {
					if m == "HEAD" {
						// No body on HEAD: the status and headers must still say so.
						if r.Status != 404 || r.Header.Get("Allow") != strings.Join(ok, ", ") {
							t.Errorf("HEAD %s: %d Allow %q", full, r.Status, r.Header.Get("Allow"))
						}
						return
					}
					wantErr(t, r, 404, "ERR_ENDPOINT_NOT_FOUND")
					if got := r.Header.Get("Allow"); got != strings.Join(ok, ", ") {
						t.Errorf("Allow %q, want %q", got, strings.Join(ok, ", "))
					}
				})
			}
		}
	}

	unknown := []string{
		"/", "/v3", "/v3.0", "/v3.1/users", "/v4/users", "/v2/users", "/users", "/me", "/v3/USERS", "/V3/users", "/v3/Me",
		"/v3/nope", "/v3/users/cometchat-uid-1/nope", "/v3/users/cometchat-uid-1/auth_tokens/x/y",
		"/v3/apikeys/a/b", "/v3/groups", "/v3/call_tokens_x", "/v3.0.0/users", "/v3users", "/healthzz", "/v3/healthz",
		"/.env", "/favicon.ico", "/v3/me/x",
	}
	for _, p := range unknown {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			r := f.do(m, p, f.rest(), `{"uid":"bad-input-new","name":"x"}`)
			t.Run(m+" "+p, func(t *testing.T) { wantErr(t, r, 404, "ERR_ENDPOINT_NOT_FOUND") })
		}
	}
	f.intact(t, before)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bigBody is an n-byte JSON object (a valid user plus padding).
func bigBody(n int) []byte {
	prefix := `{"uid":"bad-input-new","name":"x","pad":"`
	b := bytes.Repeat([]byte("a"), n)
	copy(b, prefix)
	copy(b[n-2:], `"}`)
	return b
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := snapshot(t, f.srv.Store, f.srv.AppID)
	const limit = 1 << 20
	over := bigBody(limit + 1)
	for _, rt := range f.bodyRoutes() {
		path := "/v3" + f.fill(rt.path, f.uid)
		// With Content-Length (refused before reading) …
		r := f.do(rt.method, path, rt.h, over)
		t.Run("length "+rt.method+" "+path, func(t *testing.T) { wantErr(t, r, 413, "ERR_PAYLOAD_TOO_LARGE") })
		// … and chunked (refused while reading).
		r = f.do(rt.method, path, rt.h, bytes.NewReader(over))
		t.Run("chunked "+rt.method+" "+path, func(t *testing.T) { wantErr(t, r, 413, "ERR_PAYLOAD_TOO_LARGE") })
	}
	// A declared length over the limit is refused without waiting for the body.
	r := raw(t, f.srv.URL, "POST /v3/users HTTP/1.1", f.rest().with("Content-Length", "104857600", "Content-Type", "application/json"), "")
	wantErr(t, r, 413, "ERR_PAYLOAD_TOO_LARGE")
	f.intact(t, before)

	// Exactly 1 MiB is accepted.
	d := f.do("POST", "/v3/users", f.rest(), bigBody(limit)).data(t)
	if str(d, "uid") != "bad-input-new" {
		t.Errorf("1 MiB body: %v", d)
	}
}

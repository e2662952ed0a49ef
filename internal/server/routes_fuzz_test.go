package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	pathpkg "path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callgate/callgate/calltoken"
	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

// Fuzz targets of the routes: a real server (SQLite, realtime on, as
// `callgate serve` runs) driven in-process through its handler, with the
// credentials of a fixture. The server never answers 5xx to what a client
// sends, every answer is the JSON envelope, and what each route accepts
// is what its documentation says. docs/fuzzing.md says how to run them.
//
// Each fuzzing worker is a process of its own with its own server, so the
// fixture's credentials are constants: seeds that hold them (and the
// fuzzer's mutations of them) mean the same in every worker.

const (
	fzApp       = "fuzz-app"
	fzFullKey   = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0" // fullAccess
	fzAuthKey   = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0" // authOnly
	fzFullKeyID = "key_fuzzfull0000000"
	fzTargetKey = "key_fuzztarget00000" // a key for PUT /apikeys/{ref}
	fzUID       = "fuzz-user"
	fzToken     = fzUID + "_1700000000" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	fzTokenID   = "tok_fuzz00000000"
	fzCreated   = 1700000000
)

// fzCallToken is a call token of the fixture's token, signed with the
// fixture app's key (Ed25519 signatures are deterministic), valid until 2100.
var fzCallToken, fzSigningKey = func() (string, *store.SigningKey) {
	seed := sha256.Sum256([]byte("callgate fuzz signing key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	kid := signing.KeyID(pub)
	tok, err := calltoken.Sign(priv, kid, &calltoken.Claims{
		Issuer: "http://example.com", Subject: fzUID, AppID: fzApp, SessionID: "fuzz-call", Name: "Fuzz User",
		IssuedAt: time.Unix(fzCreated, 0), NotBefore: time.Unix(fzCreated, 0), ExpiresAt: time.Unix(4102444800, 0),
		ID: "jti-fuzz", Grants: calltoken.Grants{Join: true}, TokenID: fzTokenID,
	})
	if err != nil {
		panic(err)
	}
	return tok, &store.SigningKey{ID: kid, AppID: fzApp, Algorithm: signing.Algorithm, PublicKey: pub,
		Private: append([]byte{0}, seed[:]...), CreatedAt: fzCreated}
}()

// fuzzEnv is a server with the fixture app.
type fuzzEnv struct {
	srv *servertest.Server
	h   http.Handler
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	srv := servertest.Start(f, servertest.Options{})
	ctx := context.Background()
	st := srv.Store
	if _, err := provision.CreateApp(ctx, st, fzApp, "fuzz app", "us", time.Unix(fzCreated, 0)); err != nil {
		f.Fatal(err)
	}
	for _, k := range []*store.APIKey{
		{ID: fzFullKeyID, AppID: fzApp, Name: "fuzz full", Scope: store.ScopeFullAccess, Hash: credential.Hash(fzFullKey), CreatedAt: fzCreated},
		{ID: "key_fuzzauth0000000", AppID: fzApp, Name: "fuzz auth", Scope: store.ScopeAuthOnly, Hash: credential.Hash(fzAuthKey), CreatedAt: fzCreated},
		{ID: fzTargetKey, AppID: fzApp, Name: "target", Scope: store.ScopeAuthOnly, Hash: credential.Hash(strings.Repeat("7", 40)), CreatedAt: fzCreated},
	} {
		if err := st.CreateAPIKey(ctx, k, provision.MaxAPIKeys); err != nil {
			f.Fatal(err)
		}
	}
	if err := st.CreateSigningKey(ctx, fzSigningKey); err != nil {
		f.Fatal(err)
	}
	e := &fuzzEnv{srv: srv, h: srv.API}
	e.ensureUser(f)
	return e
}

// ensureUser (re)creates the fixture's user, active, with its token.
func (e *fuzzEnv) ensureUser(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	st := e.srv.Store
	key, _ := credential.TokenKey(fzToken)
	tok := &store.AuthToken{Hash: key, ID: fzTokenID, AppID: fzApp, UID: fzUID, CreatedAt: fzCreated}
	u := &store.User{AppID: fzApp, UID: fzUID, Name: "Fuzz User", Role: "default", CreatedAt: fzCreated, UpdatedAt: fzCreated}
	err := st.CreateUser(ctx, u, tok)
	if err == nil {
		return
	}
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatal(err)
	}
	off := false
	if _, err := st.UpdateUser(ctx, fzApp, fzUID, store.UserPatch{Deactivated: &off}, fzCreated); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.GetSession(ctx, key); err == nil {
		return
	}
	if err := st.CreateAuthToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
}

// serve sends one request to the handler in-process.
func (e *fuzzEnv) serve(method, path, rawQuery string, h map[string]string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://example.com"+path, bytes.NewReader(body))
	if body == nil {
		r = httptest.NewRequest(method, "http://example.com"+path, nil)
	}
	r.URL.RawQuery = rawQuery
	for k, v := range h {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

// answer is a checked answer: never 5xx, always callgate's JSON envelope.
type answer struct {
	status  int
	code    string          // the error's code; "" on success
	details map[string]any  // the error's details
	data    json.RawMessage // on success
	meta    *struct {
		Pagination struct {
			Total       int `json:"total"`
			Count       int `json:"count"`
			PerPage     int `json:"per_page"`
			CurrentPage int `json:"current_page"`
			TotalPages  int `json:"total_pages"`
		} `json:"pagination"`
	}
}

func check(t *testing.T, rec *httptest.ResponseRecorder, what string) answer {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Code >= 500 {
		t.Fatalf("%s: HTTP %d: %s", what, rec.Code, body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: HTTP %d with Content-Type %q: %s", what, rec.Code, ct, body)
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Meta  json.RawMessage `json:"meta"`
		Error *struct {
			Code       string         `json:"code"`
			Message    string         `json:"message"`
			DevMessage string         `json:"devMessage"`
			Source     string         `json:"source"`
			Details    map[string]any `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || !utf8.Valid(body) {
		t.Fatalf("%s: HTTP %d, not a JSON envelope (%v): %q", what, rec.Code, err, body)
	}
	a := answer{status: rec.Code, data: env.Data}
	switch {
	case rec.Code == http.StatusOK && env.Error == nil && len(env.Data) > 0:
		if len(env.Meta) > 0 {
			if err := json.Unmarshal(env.Meta, &a.meta); err != nil {
				t.Fatalf("%s: meta %s: %v", what, env.Meta, err)
			}
		}
	case rec.Code >= 400 && env.Error != nil && env.Data == nil:
		e := env.Error
		if e.Code == "" || e.Message == "" || e.DevMessage == "" || e.Source == "" || e.Details == nil {
			t.Fatalf("%s: HTTP %d, incomplete error: %s", what, rec.Code, body)
		}
		a.code, a.details = e.Code, e.Details
	default:
		t.Fatalf("%s: HTTP %d with %s", what, rec.Code, body)
	}
	return a
}

// bodyCase is a route that takes a body, with credentials it accepts.
type bodyCase struct {
	method, path string
	h            map[string]string
}

// fzCreds are the fixture's credentials for each kind of route
// (server.Route.Auth), the first the one the targets use by default.
var fzCreds = map[string][]map[string]string{
	"fullKey": {{"appId": fzApp, "apiKey": fzFullKey}},
	"anyKey":  {{"appId": fzApp, "apiKey": fzFullKey}, {"appId": fzApp, "apiKey": fzAuthKey}},
	"token":   {{"appId": fzApp, "authToken": fzToken}},
}

// bodyCases lists every route the router says takes a body (server.Routes),
// once per kind of credential it accepts, under both version prefixes.
func bodyCases(f *testing.F) []bodyCase {
	fill := strings.NewReplacer("{uid}", fzUID, "{ref}", fzTargetKey)
	var out []bodyCase
	for _, r := range server.Routes() {
		if !r.TakesBody {
			continue
		}
		creds := fzCreds[r.Auth]
		if len(creds) == 0 {
			// Else a new kind of route would silently go unfuzzed.
			f.Fatalf("%s %s: no fixture credentials for auth %q", r.Method, r.Path, r.Auth)
		}
		prefixes := []string{"/v3", "/v3.0"}
		if r.Ops || r.Root {
			prefixes = []string{""}
		}
		for _, h := range creds {
			for _, p := range prefixes {
				out = append(out, bodyCase{r.Method, p + fill.Replace(r.Path), h})
			}
		}
	}
	return out
}

// wellFormed: JSON whitespace only, null, or one JSON object, all valid UTF-8.
func wellFormed(b []byte) bool {
	t := bytes.Trim(b, " \t\r\n")
	return len(t) == 0 || utf8.Valid(b) && json.Valid(b) && (t[0] == '{' || string(t) == "null")
}

// FuzzRequestBody sends a body to every route that takes one (the router's
// own list, so a new route is fuzzed as soon as it is added) with valid
// credentials. Never 5xx; a body that is not empty, null or a JSON object
// of valid UTF-8 is 400 ERR_BAD_REQUEST; anything the route accepts leaves
// the fixture usable (it is repaired when a request deleted or revoked it).
func FuzzRequestBody(f *testing.F) {
	cases := bodyCases(f)
	for i, s := range []string{
		"", "null", "{}", `{"uid":"fuzz-new","name":"N","metadata":{"a":[1]},"tags":["t"],"withAuthToken":true}`,
		`{"name":"n","scope":"fullAccess"}`, `{"platform":"web","deviceId":"d","appInfo":{"userAgent":"ua"}}`,
		`{"sessionId":"call-1"}`, `{"settings":{"callTokenTTL":600,"corsOrigins":["https://a.example.com"]}}`,
		`{"issuedBefore":1}`, `{"permanent":false}`, `{"deactivated":true}`, `{"name":5}`, `[]`, `"x"`,
		"{\"name\":\"\xff\"}", `{"a":1`, `{}{}`, "\u00a0null", "\u00a0{}", " \t\r\n{} ",
	} {
		f.Add(uint16(i), []byte(s))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, sel uint16, body []byte) {
		c := cases[int(sel)%len(cases)]
		what := fmt.Sprintf("%s %s %q", c.method, c.path, body)
		a := check(t, e.serve(c.method, c.path, "", c.h, body), what)
		if !wellFormed(body) && (a.status != http.StatusBadRequest || a.code != "ERR_BAD_REQUEST") {
			t.Fatalf("%s: malformed body answered %d %s, want 400 ERR_BAD_REQUEST", what, a.status, a.code)
		}
		if a.status != http.StatusOK {
			return
		}
		// Repair what the request may have changed for the next one.
		if c.method == http.MethodPut && strings.HasSuffix(c.path, "/app") {
			reset := []byte(`{"settings":{"authTokenTTL":null,"authTokenIdleTimeout":null,"corsOrigins":null}}`)
			check(t, e.serve(http.MethodPut, "/v3/app", "", map[string]string{"appId": fzApp, "apiKey": fzFullKey}, reset), "reset")
		}
		me := e.serve(http.MethodGet, "/v3/me", "", map[string]string{"appId": fzApp, "authToken": fzToken}, nil)
		if me.Code != http.StatusOK {
			e.ensureUser(t)
			if me := e.serve(http.MethodGet, "/v3/me", "", map[string]string{"appId": fzApp, "authToken": fzToken}, nil); me.Code != http.StatusOK {
				t.Fatalf("after %s the fixture could not be repaired: %d %s", what, me.Code, me.Body)
			}
		}
	})
}

// FuzzCredentials: the headers that name the app and carry the
// credentials, on a route of each kind (API key, auth token, call token),
// and the query parameters GET /ws takes them from (browsers cannot set a
// WebSocket's headers, and a query may hold bytes a header cannot). Never
// 5xx, and accepted exactly when they are the fixture's (spaces around
// them and the appId's case aside).
func FuzzCredentials(f *testing.F) {
	for i, c := range [][4]string{
		{fzApp, fzFullKey, "", ""},
		{" FUZZ-APP ", " " + fzFullKey + "\t", "", ""},
		{fzApp, fzAuthKey, "", ""},
		{"", fzFullKey, "", ""},
		{"other-app", fzFullKey, "", ""},
		{"fuzz_app", fzFullKey, "", ""},
		{fzApp, strings.ToUpper(fzFullKey), "", ""},
		{fzApp, "", fzToken, ""},
		{"", "", fzToken, ""},
		{fzApp, "", fzToken + "0", ""},
		{fzApp, "", "fuzz-user_01700000000" + fzToken[len(fzUID)+11:], ""},
		{"", "", "", fzCallToken},
		{fzApp, "", "", fzCallToken},
		{"other-app", "", "", fzCallToken},
		{"", "", "", fzCallToken[:len(fzCallToken)-2] + "A"},
		{"", "", "", strings.Replace(fzCallToken, ".", ".\n", 1)},
	} {
		for route := range 4 {
			f.Add(uint8(i*4+route), c[0], c[1], c[2], c[3])
		}
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, route uint8, appID, apiKey, authToken, callToken string) {
		h := map[string]string{}
		for k, v := range map[string]string{"appId": appID, "apiKey": apiKey, "authToken": authToken, "callToken": callToken} {
			if v != "" {
				h[k] = v
			}
		}
		app := strings.ToLower(strings.TrimSpace(appID))
		var path, query string
		var ok bool
		switch route % 4 {
		case 0:
			path, ok = "/v3/app", app == fzApp && strings.TrimSpace(apiKey) == fzFullKey
		case 1:
			path, ok = "/v3/me", (app == "" || app == fzApp) && strings.TrimSpace(authToken) == fzToken
		case 2:
			path, ok = "/v3/call_tokens", (app == "" || app == fzApp) && strings.TrimSpace(callToken) == fzCallToken
		case 3:
			q := url.Values{}
			for k, v := range h {
				q.Set(k, v)
			}
			h = nil
			path, query, ok = "/v3/ws", q.Encode(), (app == "" || app == fzApp) && strings.TrimSpace(authToken) == fzToken
		}
		what := fmt.Sprintf("GET %s?%s with %q", path, query, h)
		a := check(t, e.serve(http.MethodGet, path, query, h, nil), what)
		accepted := a.status == http.StatusOK
		if path == "/v3/ws" {
			// Not an upgrade: the handshake is checked after the
			// credentials, so accepted ones are refused for the Upgrade.
			_, accepted = a.details["Upgrade"]
		}
		if accepted != ok {
			t.Fatalf("%s: %d %s %v (the fixture's credentials: %v)", what, a.status, a.code, a.details, ok)
		}
	})
}

// FuzzPathParams: the {uid}, {ref} and {id} of the paths, on every route
// that reads with them and on DELETE /me/sessions/{id}, the one route
// that decodes {id} (the other writing routes decode their path as the
// reading ones do, and a DELETE of the fixture's own key would end the
// run). Never 5xx; a uid that is not one is 400 naming uid; otherwise 200
// exactly when the path names the fixture's user and one of its tokens or
// keys, by secret or id.
func FuzzPathParams(f *testing.F) {
	type pathCase struct {
		method, path string
		h            map[string]string
	}
	var cases []pathCase
	for _, r := range server.Routes() {
		if strings.Contains(r.Path, "{") && (r.Method == http.MethodGet || r.Path == "/me/sessions/{id}") {
			cases = append(cases, pathCase{r.Method, "/v3" + r.Path, fzCreds[r.Auth][0]})
		}
	}
	refs := map[string][]string{
		"apikeys":     {fzFullKey, fzAuthKey, strings.Repeat("7", 40), fzFullKeyID, "key_fuzzauth0000000", fzTargetKey},
		"auth_tokens": {fzToken, fzTokenID},
		"sessions":    {fzTokenID},
	}
	for i, s := range [][2]string{
		{fzUID, fzTargetKey}, {"FUZZ-USER", fzFullKey}, {fzUID, fzToken}, {fzUID, fzTokenID}, {"nobody", "key_nope"},
		{"fuzz user", fzToken + " "}, {"a/b", "x%2Fy"}, {"\xff", "\x00"}, {strings.Repeat("a", 101), strings.Repeat("7", 41)},
		{"..", "."}, {"fuzz-user?x", "tok_fuzz00000000#"}, {"", ""}, {"ﬀ", "İ"},
	} {
		for route := range cases {
			f.Add(uint8(i*len(cases)+route), s[0], s[1])
		}
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, sel uint8, uid, ref string) {
		c := cases[int(sel)%len(cases)]
		if uid == "" || uid == "." || uid == ".." || ref == "" || ref == "." || ref == ".." {
			return // not a path segment: the router sends these to another route
		}
		path := strings.NewReplacer("{uid}", url.PathEscape(uid), "{ref}", url.PathEscape(ref), "{id}", url.PathEscape(ref)).Replace(c.path)
		what := fmt.Sprintf("%s %s", c.method, path)
		a := check(t, e.serve(c.method, path, "", c.h, nil), what)
		// A value holding "/" (sent as %2F) can make the decoded path
		// unclean — a trailing "/", "//" — which the router answers 404
		// without matching a route (docs/api.md).
		if decoded := strings.NewReplacer("{uid}", uid, "{ref}", ref, "{id}", ref).Replace(c.path); pathpkg.Clean(decoded) != decoded {
			if a.status != http.StatusNotFound || a.code != "ERR_ENDPOINT_NOT_FOUND" {
				t.Fatalf("%s: %d %s, want 404 ERR_ENDPOINT_NOT_FOUND for the unclean path %q", what, a.status, a.code, decoded)
			}
			return
		}
		ok := true
		if strings.Contains(c.path, "{uid}") {
			norm, reason := credential.NormalizeUID(uid)
			if reason != "" {
				wantBad(t, a, []string{"uid"}, what)
				return
			}
			ok = norm == fzUID
		}
		for kind, valid := range refs {
			if strings.Contains(c.path, "/"+kind+"/") {
				ok = ok && slices.Contains(valid, ref)
			}
		}
		if (a.status == http.StatusOK) != ok {
			t.Fatalf("%s: %d %s, want success %v", what, a.status, a.code, ok)
		}
		if ok && c.method == http.MethodDelete {
			e.ensureUser(t) // the fixture's session ended
		}
	})
}

// fuzzNames are users with names that test case folding and LIKE's
// wildcards.
var fuzzNames = []string{"Zoë Ünal", "İnci Işık", "ΣΊΣΥΦΟΣ σίσυφος", "Straße", "100% real_name", `back\slash`,
	"ǅemal", "KELVIN \u212a", "ﬀ ligature", "Mixed CASE", "emoji 😀", "tab\there", "Ａｂｃ"}

// FuzzListUsers: the query of GET /users. perPage (1–1000), page
// (1–1,000,000), status (online/offline) and searchKey (≤ 100 characters,
// valid UTF-8, no NUL) are checked, and a 400 names exactly the bad ones;
// otherwise the page holds exactly the users whose uid or name contains
// the searchKey without case (strings.ToLower on both sides), in uid
// order, with consistent pagination. Raw query text is appended too.
func FuzzListUsers(f *testing.F) {
	for _, s := range [][5]string{
		{"", "", "", "", ""},
		{"2", "2", "", "u", ""},
		{"1000", "1", "offline", "ë", ""},
		{"0", "0", "busy", "", ""},
		{"+5", "01", "", "%", ""},
		{"1001", "1000001", "online", "_", ""},
		{"", "", "", "ß", ""},
		{"", "", "", "\\", ""},
		{"", "", "", "σ", ""},
		{"", "", "", "i̇", ""},
		{"", "", "", "K", ""},
		{"", "", "", "\x00", ""},
		{"", "", "", "\xff", ""},
		{"", "", "", strings.Repeat("a", 101), ""},
		{"", "", "", "", "perPage=5&page=%zz&searchKey=x;y"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	e := newFuzzEnv(f)
	for i, n := range fuzzNames {
		b, _ := json.Marshal(map[string]string{"uid": fmt.Sprintf("fuzz-%02d", i), "name": n})
		if a := e.serve(http.MethodPost, "/v3/users", "", map[string]string{"appId": fzApp, "apiKey": fzFullKey}, b); a.Code != http.StatusOK {
			f.Fatalf("create user %q: %d %s", n, a.Code, a.Body)
		}
	}
	all, _, err := e.srv.Store.ListUsers(context.Background(), fzApp, store.UserQuery{Limit: 1000})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, perPage, page, status, search, raw string) {
		q := url.Values{"perPage": {perPage}, "page": {page}, "status": {status}, "searchKey": {search}}.Encode()
		if raw != "" {
			q += "&" + raw
		}
		what := "GET /v3/users?" + q
		a := check(t, e.serve(http.MethodGet, "/v3/users", q, map[string]string{"appId": fzApp, "apiKey": fzFullKey}, nil), what)
		var bad []string
		pp, okPP := intIn(perPage, 100, 1, 1000)
		pg, okPG := intIn(page, 1, 1, 1_000_000)
		if !okPP {
			bad = append(bad, "perPage")
		}
		if !okPG {
			bad = append(bad, "page")
		}
		if status != "" && status != "online" && status != "offline" {
			bad = append(bad, "status")
		}
		if !utf8.ValidString(search) || strings.IndexByte(search, 0) >= 0 || utf8.RuneCountInString(search) > 100 {
			bad = append(bad, "searchKey")
		}
		if wantBad(t, a, bad, what) {
			return
		}
		var want []string // uids, in uid order
		lq := strings.ToLower(search)
		for _, u := range all {
			if status != "online" && (strings.Contains(u.UID, lq) || strings.Contains(strings.ToLower(u.Name), lq)) {
				want = append(want, u.UID)
			}
		}
		slices.Sort(want)
		checkPage(t, what, a, "uid", want, pp, pg)
	})
}

// FuzzAuditEvents: the filters of GET /audit_events. perPage, page, since
// and until (0–2^40, since not after until), action (an audited action),
// actor (≤ 100) and target (≤ 255 characters) are checked, and a 400 names
// exactly the bad ones; otherwise the page holds exactly the matching
// events, newest first. "$KEY" in actor stands for the fixture key's id and
// "$T" in since and until for the events' second.
func FuzzAuditEvents(f *testing.F) {
	for _, s := range [][8]string{
		{"", "", "", "", "", "", "", ""},
		{"2", "2", "$T", "$T", "user.create", "$KEY", "fuzz-a", ""},
		{"", "", "1", "0", "", "cli", "", ""},
		{"", "", "5", "4", "user.nope", strings.Repeat("a", 101), "\xff", ""},
		{"", "", "1099511627777", "-1", "", "", "", ""},
		{"", "", "", "", "apikey.create", "", "", "action=user.create"},
		{"", "", "", "", "", "", "\x00", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
	}
	e := newFuzzEnv(f)
	rest := map[string]string{"appId": fzApp, "apiKey": fzFullKey}
	for _, r := range []struct {
		method, path, body string
	}{
		{"POST", "/v3/users", `{"uid":"fuzz-a","name":"A"}`},
		{"POST", "/v3/users", `{"uid":"fuzz-b","name":"B"}`},
		{"PUT", "/v3/users/fuzz-a", `{"name":"A2"}`},
		{"POST", "/v3/apikeys", `{"name":"k","scope":"authOnly"}`},
		{"DELETE", "/v3/users/fuzz-b", `{}`},
	} {
		if a := e.serve(r.method, r.path, "", rest, []byte(r.body)); a.Code != http.StatusOK {
			f.Fatalf("%s %s: %d %s", r.method, r.path, a.Code, a.Body)
		}
	}
	e.srv.API.FlushAudit()
	all, _, err := e.srv.Store.ListAuditEvents(context.Background(), fzApp, store.AuditQuery{Limit: 1000})
	if err != nil || len(all) == 0 {
		f.Fatal(err, len(all))
	}
	at := strconv.FormatInt(all[0].Time, 10)
	f.Fuzz(func(t *testing.T, perPage, page, since, until, action, actor, target, raw string) {
		since = strings.ReplaceAll(since, "$T", at)
		until = strings.ReplaceAll(until, "$T", at)
		actor = strings.ReplaceAll(actor, "$KEY", fzFullKeyID)
		q := url.Values{"perPage": {perPage}, "page": {page}, "since": {since}, "until": {until},
			"action": {action}, "actor": {actor}, "target": {target}}.Encode()
		if raw != "" {
			q += "&" + raw
		}
		what := "GET /v3/audit_events?" + q
		a := check(t, e.serve(http.MethodGet, "/v3/audit_events", q, rest, nil), what)
		var bad []string
		pp, ok := intIn(perPage, 100, 1, 1000)
		if !ok {
			bad = append(bad, "perPage")
		}
		pg, ok := intIn(page, 1, 1, 1_000_000)
		if !ok {
			bad = append(bad, "page")
		}
		sv, okS := intIn(since, 0, 0, 1<<40)
		uv, okU := intIn(until, 0, 0, 1<<40)
		if !okS || uv != 0 && sv > uv {
			bad = append(bad, "since")
		}
		if !okU {
			bad = append(bad, "until")
		}
		if action != "" && !slices.Contains(wire.AuditActions, action) {
			bad = append(bad, "action")
		}
		text := func(s string, max int) bool {
			return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && utf8.RuneCountInString(s) <= max
		}
		if !text(actor, 100) {
			bad = append(bad, "actor")
		}
		if !text(target, 255) {
			bad = append(bad, "target")
		}
		if wantBad(t, a, bad, what) {
			return
		}
		var want []string // ids, newest first
		for _, ev := range all {
			switch {
			case action != "" && ev.Action != action,
				actor == "cli" && ev.ActorType != "cli",
				actor != "" && actor != "cli" && ev.ActorID != actor,
				target != "" && ev.Target != target,
				sv > 0 && ev.Time < int64(sv),
				uv > 0 && ev.Time > int64(uv):
				continue
			}
			want = append(want, ev.ID)
		}
		checkPage(t, what, a, "id", want, pp, pg)
	})
}

// intIn reads a query integer as the server documents it: empty is def,
// else a decimal integer from lo to hi.
func intIn(raw string, def, lo, hi int) (int, bool) {
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return def, false
	}
	return n, true
}

// wantBad checks that a query with bad fields is a 400 naming exactly them,
// and one without is a 200; it reports whether there were bad fields.
func wantBad(t *testing.T, a answer, bad []string, what string) bool {
	t.Helper()
	if len(bad) == 0 {
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %s %v, want 200", what, a.status, a.code, a.details)
		}
		return false
	}
	if a.status != http.StatusBadRequest || a.code != "ERR_BAD_REQUEST" {
		t.Fatalf("%s: %d %s, want 400 naming %v", what, a.status, a.code, bad)
	}
	var named []string
	for k := range a.details {
		named = append(named, k)
	}
	slices.Sort(named)
	slices.Sort(bad)
	if !slices.Equal(named, bad) {
		t.Fatalf("%s: the 400 names %v, want %v", what, named, bad)
	}
	return true
}

// checkPage: a is page number page, of perPage records, of want (the
// matching records' keys, in order), each record's key in its field key.
func checkPage(t *testing.T, what string, a answer, key string, want []string, perPage, page int) {
	t.Helper()
	var got []map[string]any
	if err := json.Unmarshal(a.data, &got); err != nil || a.meta == nil {
		t.Fatalf("%s: %v, meta %v", what, err, a.meta)
	}
	total, count := len(want), len(got)
	p := a.meta.Pagination
	wantCount := min(perPage, max(0, total-(page-1)*perPage))
	if p.Total != total || p.Count != count || count != wantCount || p.PerPage != perPage || p.CurrentPage != page ||
		p.TotalPages != (total+perPage-1)/perPage {
		t.Fatalf("%s: pagination %+v with %d items; want total %d, count %d, perPage %d, page %d", what, p, count, total, wantCount, perPage, page)
	}
	from := min((page-1)*perPage, total)
	for i, rec := range got {
		if k, _ := rec[key].(string); k != want[from+i] {
			t.Fatalf("%s: record %d has %s %v, want %s (all matches: %v)", what, i, key, rec[key], want[from+i], want)
		}
	}
}

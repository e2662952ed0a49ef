package sdkjs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/browsertest"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store"
)

// The SDK in a real Chromium, against a real server, from a page on
// another origin (every call is a real cross-origin request). The pages
// import calls.js from the server, as a user of `serve` would.

// harness is one server, one browser and the test pages.
type harness struct {
	t     *testing.T
	srv   *servertest.Server
	b     *browsertest.Browser
	pages *browsertest.Pages
}

// page is the seed's page: it imports the SDK from the server and records
// every listener call in window.events.
const page = `<!doctype html><meta charset="utf-8"><title>callgate SDK test</title>
<script type="module">
import { CometChatCalls, CometChatCallsError } from "%[1]s/sdk/calls.js";
window.CometChatCalls = CometChatCalls;
window.CometChatCallsError = CometChatCallsError;
window.events = [];
const rec = (kind) => (arg) => window.events.push(arg === undefined ? kind : kind + ":" + (typeof arg === "object" ? (arg.uid || arg.errorCode || JSON.stringify(arg)) : arg));
CometChatCalls.addLoginListener("t", { onLoginSuccess: rec("loginSuccess"), onLoginFailure: rec("loginFailure"), onLogoutSuccess: rec("logoutSuccess"), onLogoutFailure: rec("logoutFailure") });
CometChatCalls.addUserListener("t", { onUserOnline: rec("online"), onUserOffline: rec("offline") });
CometChatCalls.addConnectionListener("t", { onConnected: rec("connected"), onDisconnected: rec("disconnected"), onSessionRevoked: rec("revoked") });
window.ready = true;
</script>`

func newHarness(t *testing.T, opts servertest.Options) *harness {
	t.Helper()
	srv := servertest.Start(t, opts)
	h := &harness{t: t, srv: srv}
	h.pages = browsertest.ServePages(t, browsertest.HTML(map[string]string{
		"/":      fmt.Sprintf(page, srv.URL),
		"/blank": `<!doctype html><title>blank</title>`,
	}))
	h.b = browsertest.Start(t)
	return h
}

// open loads the test page in a new browser context (another user).
func (h *harness) open() *browsertest.Tab {
	h.t.Helper()
	tab := h.b.NewContext(h.t)
	h.load(tab)
	return tab
}

func (h *harness) load(tab *browsertest.Tab) {
	h.t.Helper()
	tab.Navigate(h.pages.Origin + "/")
	if err := tab.WaitFor("window.ready === true", 10*time.Second); err != nil {
		h.t.Fatalf("the test page did not load the SDK: %v (console: %v, exceptions: %v)", err, tab.Console(), tab.Exceptions())
	}
}

// init runs the seed's init in tab.
func (h *harness) init(tab *browsertest.Tab) {
	h.t.Helper()
	got := evalJSON[map[string]any](h.t, tab, fmt.Sprintf(`CometChatCalls.init({appId: %q, region: %q})`, h.srv.AppID, h.srv.Region))
	if got["success"] != true || got["error"] != nil {
		h.t.Fatalf("init: %v", got)
	}
}

func evalJSON[T any](t *testing.T, tab *browsertest.Tab, js string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(tab.MustEval(js), &v); err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

// errCode runs a call that must reject and returns its errorCode.
func errCode(t *testing.T, tab *browsertest.Tab, call string) string {
	t.Helper()
	js := `(async () => { try { await (` + call + `); return "resolved"; } catch (e) {
		return (e instanceof CometChatCallsError ? "" : "not a CometChatCallsError: ") + e.errorCode + "|" + (typeof e.errorDescription) + "|" + (e instanceof Error);
	} })()`
	res := evalJSON[string](t, tab, js)
	code, rest, _ := strings.Cut(res, "|")
	if res != "resolved" && rest != "string|true" {
		t.Errorf("%s: rejected with %q: errorDescription must be a string and the error an Error", call, res)
	}
	return code
}

// waitEvent waits for an event in tab's window.events and returns when it was seen.
func waitEvent(t *testing.T, tab *browsertest.Tab, ev string, timeout time.Duration) time.Time {
	t.Helper()
	if err := tab.WaitFor(fmt.Sprintf("window.events.includes(%q)", ev), timeout); err != nil {
		t.Fatalf("event %s: %v; events: %s", ev, err, tab.MustEval("window.events"))
	}
	return time.Now()
}

// rest calls the REST API with the full-access key.
func (h *harness) rest(method, path string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+"/v3"+path, nil)
	req.Header.Set("appId", h.srv.AppID)
	req.Header.Set("apiKey", h.srv.RESTKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func (h *harness) status(uid string) string {
	h.t.Helper()
	code, body := h.rest("GET", "/users/"+uid)
	if code != 200 {
		h.t.Fatalf("GET /users/%s: %d %v", uid, code, body)
	}
	return body["data"].(map[string]any)["status"].(string)
}

// TestBrowserSeedFlow runs the seed page's snippets as written, then checks
// what the server saw: a session started, then revoked.
func TestBrowserSeedFlow(t *testing.T) {
	h := newHarness(t, servertest.Options{})
	tab := h.open()
	js := fmt.Sprintf(`(async () => {
		const appId = %q, region = %q, apiKey = %q;
		const out = [];
		out.push(await CometChatCalls.init({ appId, region }));
		if (!CometChatCalls.getLoggedInUser()) {
			const user = await CometChatCalls.login("cometchat-uid-1", apiKey);
			out.push(user.uid, user.name, typeof user.authToken, user.status);
		}
		out.push(CometChatCalls.isUserLoggedIn(), CometChatCalls.getUserAuthToken() === CometChatCalls.getLoggedInUser().authToken);
		window.token = CometChatCalls.getUserAuthToken();
		const msg = await CometChatCalls.logout();
		out.push(msg, CometChatCalls.getLoggedInUser(), CometChatCalls.isUserLoggedIn(), CometChatCalls.getUserAuthToken());
		return out;
	})()`, h.srv.AppID, h.srv.Region, h.srv.AuthKey)
	got := string(tab.MustEval(js))
	want := `[{"success":true,"error":null},"cometchat-uid-1","Andrew Joseph","string","online",true,true,"Logout successful",null,false,null]`
	if got != want {
		t.Errorf("the seed flow:\n got %s\nwant %s", got, want)
	}
	// Logout revoked the token on the server.
	tok := evalJSON[string](t, tab, "window.token")
	req, _ := http.NewRequest("GET", h.srv.URL+"/v3.0/me", nil)
	req.Header.Set("authToken", tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the token still works after logout: GET /me %d", res.StatusCode)
	}
	// The v4 builder form initialises too, with the host given as the v4 SDK does.
	tab2 := h.open()
	got = string(tab2.MustEval(fmt.Sprintf(`CometChatCalls.init(new CometChatCalls.CallAppSettingsBuilder().setAppId(%q).setRegion(%q).setHost(%q).build())`,
		h.srv.AppID, h.srv.Region, h.srv.URL+"/v3.0/")))
	if got != `{"success":true,"error":null}` {
		t.Errorf("init with the builder: %s", got)
	}
	if ex := tab.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %v", ex)
	}
}

// TestBrowserErrorCodes triggers every error code of the SDK in a page.
func TestBrowserErrorCodes(t *testing.T) {
	h := newHarness(t, servertest.Options{})
	tab := h.open()
	key := fmt.Sprintf("%q", h.srv.AuthKey)
	// Before init.
	for call, want := range map[string]string{
		`CometChatCalls.login("cometchat-uid-1", ` + key + `)`:  "ERROR_SDK_NOT_INITIALIZED",
		`CometChatCalls.loginWithAuthToken("x")`:                "ERROR_SDK_NOT_INITIALIZED",
		`CometChatCalls.logout()`:                               "ERROR_SDK_NOT_INITIALIZED",
		`CometChatCalls.generateToken("s1")`:                    "ERROR_SDK_NOT_INITIALIZED",
		`CometChatCalls.init({appId: "Bad App", region: "us"})`: "ERROR_INVALID_APP_SETTINGS",
	} {
		if got := errCode(t, tab, call); got != want {
			t.Errorf("%s: %s, want %s", call, got, want)
		}
	}
	h.init(tab)
	cases := []struct{ call, want string }{
		{`CometChatCalls.login("", ` + key + `)`, "ERROR_INVALID_UID"},
		{`CometChatCalls.login("   ", ` + key + `)`, "ERROR_INVALID_UID"},
		{`CometChatCalls.login("cometchat uid", ` + key + `)`, "ERROR_UID_WITH_SPACE"},
		{`CometChatCalls.login("cometchat-uid-1", "")`, "ERROR_API_KEY_NOT_FOUND"},
		{`CometChatCalls.loginWithAuthToken("")`, "ERROR_BLANK_AUTHTOKEN"},
		{`CometChatCalls.loginWithAuthToken("a b")`, "ERROR_AUTHTOKEN_WITH_SPACE"},
		{`CometChatCalls.logout()`, "ERROR_NO_USER_LOGGED_IN"},
		{`CometChatCalls.generateToken("")`, "ERROR_SESSION_ID_MISSING"},
		{`CometChatCalls.generateToken("s1")`, "ERROR_AUTH_TOKEN_MISSING"},
		{`CometChatCalls.listSessions()`, "ERROR_NO_USER_LOGGED_IN"},
		// The server's codes pass through.
		{`CometChatCalls.login("no-such-user", ` + key + `)`, "ERR_UID_NOT_FOUND"},
		{`CometChatCalls.login("cometchat-uid-1", "0000000000000000000000000000000000000000")`, "AUTH_ERR_APIKEY_NOT_FOUND"},
		{`CometChatCalls.loginWithAuthToken("cometchat-uid-1_1700000000` + strings.Repeat("0", 64) + `")`, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		// Two logins at once: the second is refused while the first is in flight.
		{`Promise.all([CometChatCalls.login("cometchat-uid-2", ` + key + `), CometChatCalls.login("cometchat-uid-3", ` + key + `)])`, "ERROR_LOGIN_IN_PROGRESS"},
	}
	for _, c := range cases {
		if got := errCode(t, tab, c.call); got != c.want {
			t.Errorf("%s: %s, want %s", c.call, got, c.want)
		}
	}
	// A server that cannot be reached is ERROR_NETWORK.
	tab2 := h.open()
	tab2.MustEval(fmt.Sprintf(`CometChatCalls.init({appId: %q, region: "us", host: "http://127.0.0.1:9"})`, h.srv.AppID))
	if got := errCode(t, tab2, `CometChatCalls.login("cometchat-uid-1", `+key+`)`); got != "ERROR_NETWORK" {
		t.Errorf("unreachable server: %s, want ERROR_NETWORK", got)
	}
	// Every failed login reached onLoginFailure.
	if n := evalJSON[int](t, tab, `window.events.filter(e => e.startsWith("loginFailure:")).length`); n < 9 {
		t.Errorf("onLoginFailure fired %d times; events %s", n, tab.MustEval("window.events"))
	}
}

// TestBrowserSessionSurvivesReload: a reload restores the session from
// localStorage without a login, and realtime reconnects.
func TestBrowserSessionSurvivesReload(t *testing.T) {
	h := newHarness(t, servertest.Options{})
	tab := h.open()
	h.init(tab)
	tab.MustEval(fmt.Sprintf(`CometChatCalls.login("cometchat-uid-1", %q)`, h.srv.AuthKey))
	waitEvent(t, tab, "connected", 5*time.Second)
	tok := evalJSON[string](t, tab, "CometChatCalls.getUserAuthToken()")
	h.load(tab) // reload
	if v := string(tab.MustEval("CometChatCalls.getLoggedInUser()")); v != "null" {
		t.Fatalf("before init, a user: %s", v)
	}
	h.init(tab)
	if got := evalJSON[string](t, tab, "CometChatCalls.getUserAuthToken()"); got != tok {
		t.Fatalf("after reload and init: token %q, want the one from before", got)
	}
	if got := evalJSON[string](t, tab, "CometChatCalls.getLoggedInUser().uid"); got != "cometchat-uid-1" {
		t.Errorf("restored user %q", got)
	}
	waitEvent(t, tab, "connected", 5*time.Second)
	if !h.srv.Hub.Online(h.srv.AppID, "cometchat-uid-1") {
		t.Error("the restored session has no realtime connection")
	}
}

// TestBrowserTabsInStep: two tabs of one origin share the session through
// the storage event: a login in one logs the other in, a logout out.
func TestBrowserTabsInStep(t *testing.T) {
	h := newHarness(t, servertest.Options{})
	a := h.open()
	b := h.b.NewTab(t, a)
	h.load(b)
	h.init(a)
	h.init(b)
	a.MustEval(fmt.Sprintf(`CometChatCalls.login("cometchat-uid-2", %q)`, h.srv.AuthKey))
	if err := b.WaitFor(`CometChatCalls.getLoggedInUser() && CometChatCalls.getLoggedInUser().uid === "cometchat-uid-2"`, 5*time.Second); err != nil {
		t.Fatalf("tab B did not follow the login: %v", err)
	}
	waitEvent(t, b, "loginSuccess:cometchat-uid-2", time.Second)
	if ta, tb := evalJSON[string](t, a, "CometChatCalls.getUserAuthToken()"), evalJSON[string](t, b, "CometChatCalls.getUserAuthToken()"); ta != tb {
		t.Errorf("tabs hold different tokens: %s / %s", ta, tb)
	}
	a.MustEval(`CometChatCalls.logout()`)
	if err := b.WaitFor(`CometChatCalls.getLoggedInUser() === null`, 5*time.Second); err != nil {
		t.Fatalf("tab B did not follow the logout: %v", err)
	}
	waitEvent(t, b, "logoutSuccess", time.Second)
	if got := errCode(t, b, `CometChatCalls.logout()`); got != "ERROR_NO_USER_LOGGED_IN" {
		t.Errorf("logout in the second tab: %s", got)
	}
}

// TestBrowserPresenceAndRevocation: two users in separate browser contexts
// see each other come online and go offline (at once on logout); a REST
// revocation reaches the page within a second; generateToken mints a call
// token the server verifies.
func TestBrowserPresenceAndRevocation(t *testing.T) {
	h := newHarness(t, servertest.Options{Realtime: realtime.Config{Grace: 5 * time.Second}})
	a, b := h.open(), h.open()
	h.init(a)
	h.init(b)
	b.MustEval(fmt.Sprintf(`CometChatCalls.login("cometchat-uid-2", %q)`, h.srv.AuthKey))
	waitEvent(t, b, "connected", 5*time.Second)
	a.MustEval(fmt.Sprintf(`CometChatCalls.login("cometchat-uid-1", %q)`, h.srv.AuthKey))
	waitEvent(t, a, "connected", 5*time.Second)
	waitEvent(t, b, "online:cometchat-uid-1", 2*time.Second)

	// generateToken: a call token for this user and session.
	ct := evalJSON[map[string]any](t, a, `CometChatCalls.generateToken("call-42")`)
	if ct["sessionId"] != "call-42" || ct["token"] == "" {
		t.Errorf("generateToken: %v", ct)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/v3.0/call_tokens", nil)
	req.Header.Set("callToken", fmt.Sprint(ct["token"]))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Data map[string]any }
	json.NewDecoder(res.Body).Decode(&claims)
	res.Body.Close()
	if claims.Data["sub"] != "cometchat-uid-1" || claims.Data["sid"] != "call-42" {
		t.Errorf("the server verified the call token as %v", claims.Data)
	}

	// Logout: offline at once for the other user and for REST.
	start := time.Now()
	a.MustEval(`CometChatCalls.logout()`)
	if d := waitEvent(t, b, "offline:cometchat-uid-1", 2*time.Second).Sub(start); d > time.Second {
		t.Errorf("B heard offline %v after A's logout", d)
	}
	if s := h.status("cometchat-uid-1"); s != "offline" {
		t.Errorf("REST says %s after the logout", s)
	}
	if n := evalJSON[int](t, a, `window.events.filter(e => e.startsWith("revoked")).length`); n != 0 {
		t.Errorf("the page's own logout was reported as a revocation: %s", a.MustEval("window.events"))
	}

	// A REST revocation reaches B's onSessionRevoked within a second.
	start = time.Now()
	if code, body := h.rest("DELETE", "/users/cometchat-uid-2/auth_tokens"); code != 200 {
		t.Fatalf("flush: %d %v", code, body)
	}
	if d := waitEvent(t, b, "revoked:tokens_flushed", 2*time.Second).Sub(start); d > time.Second {
		t.Errorf("onSessionRevoked %v after the REST revocation", d)
	}
	if v := string(b.MustEval("CometChatCalls.getLoggedInUser()")); v != "null" {
		t.Errorf("B still logged in after the revocation: %s", v)
	}
}

// TestBrowserOriginNotAllowed: an app whose corsOrigins does not list the
// page's origin refuses its requests before any side effect, and its
// WebSocket upgrade too.
func TestBrowserOriginNotAllowed(t *testing.T) {
	h := newHarness(t, servertest.Options{})
	ctx := context.Background()
	app, err := h.srv.Store.GetApp(ctx, h.srv.AppID)
	if err != nil {
		t.Fatal(err)
	}
	app.Settings.CORSOrigins = []string{"https://app.example.com"}
	if err := h.srv.Store.UpdateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // the server caches apps for 2 s
	tab := h.open()
	h.init(tab)
	tokens := func() int {
		toks, err := h.srv.Store.ListAuthTokens(ctx, h.srv.AppID, "cometchat-uid-1")
		if err != nil {
			t.Fatal(err)
		}
		return len(toks)
	}
	before := tokens()
	code := errCode(t, tab, fmt.Sprintf(`CometChatCalls.login("cometchat-uid-1", %q)`, h.srv.AuthKey))
	if code != "ERR_ORIGIN_NOT_ALLOWED" {
		t.Errorf("login from a disallowed origin: %s, want ERR_ORIGIN_NOT_ALLOWED", code)
	}
	if after := tokens(); after != before {
		t.Errorf("a refused login created %d tokens", after-before)
	}
	if _, err := h.srv.Store.GetUser(ctx, h.srv.AppID, "origin-refused"); err != store.ErrNotFound {
		t.Fatalf("precondition: %v", err)
	}
	// A WebSocket upgrade from the page is refused the same way (the page
	// sees only a failed connection; no session is registered).
	tok := h.newToken("cometchat-uid-1")
	tab.MustEval(fmt.Sprintf(`new Promise((resolve) => { const ws = new WebSocket(%q); ws.onopen = () => resolve("open"); ws.onerror = () => resolve("error"); })`,
		"ws"+strings.TrimPrefix(h.srv.URL, "http")+"/v3/ws?authToken="+tok))
	if h.srv.Hub.Online(h.srv.AppID, "cometchat-uid-1") {
		t.Error("a WebSocket from a disallowed origin was registered")
	}
}

// newToken mints a token over REST (no Origin: servers are unaffected by CORS).
func (h *harness) newToken(uid string) string {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/v3/users/"+uid+"/auth_tokens", nil)
	req.Header.Set("appId", h.srv.AppID)
	req.Header.Set("apiKey", h.srv.AuthKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Data struct{ AuthToken string } }
	json.NewDecoder(res.Body).Decode(&body)
	if body.Data.AuthToken == "" {
		h.t.Fatalf("no token: %d", res.StatusCode)
	}
	return body.Data.AuthToken
}

// TestBrowserOwnSessions: one user logged in from two browser contexts.
// A lists both sessions (its own current, both connected), ends B's, and
// B hears onSessionRevoked("logged_out_elsewhere") within a second;
// logoutOtherSessions ends the rest and says how many.
func TestBrowserOwnSessions(t *testing.T) {
	h := newHarness(t, servertest.Options{})
	a, b := h.open(), h.open()
	h.init(a)
	h.init(b)
	const uid = "cometchat-uid-4"
	login := fmt.Sprintf(`CometChatCalls.login(%q, %q)`, uid, h.srv.AuthKey)
	a.MustEval(login)
	b.MustEval(login)
	waitEvent(t, a, "connected", 5*time.Second)
	waitEvent(t, b, "connected", 5*time.Second)

	type session struct {
		ID                 string
		Platform           string
		CreatedAt          int64
		Current, Connected bool
	}
	list := func(tab *browsertest.Tab) (current string, all map[string]session) {
		t.Helper()
		all = map[string]session{}
		for _, s := range evalJSON[[]session](t, tab, `CometChatCalls.listSessions()`) {
			all[s.ID] = s
			if s.Current {
				if current != "" {
					t.Errorf("two current sessions: %s and %s", current, s.ID)
				}
				current = s.ID
			}
		}
		return current, all
	}
	aID, fromA := list(a)
	bID, fromB := list(b)
	if aID == "" || bID == "" || aID == bID {
		t.Fatalf("current sessions: A %q, B %q", aID, bID)
	}
	if len(fromA) != 2 || len(fromB) != 2 {
		t.Fatalf("A sees %d sessions, B %d; want both to see 2: %+v", len(fromA), len(fromB), fromA)
	}
	if s := fromA[bID]; s.Current || !s.Connected || s.CreatedAt == 0 {
		t.Errorf("A sees B's session as %+v: want not current, connected", s)
	}
	if s := fromA[aID]; !s.Connected {
		t.Errorf("A's own session is not connected: %+v", s)
	}
	if s := fromB[aID]; s.Current {
		t.Errorf("B sees A's session as current: %+v", s)
	}

	// A ends B's session: B hears it within a second, A is untouched.
	start := time.Now()
	a.MustEval(fmt.Sprintf(`CometChatCalls.logoutSession(%q).then(() => "ok")`, bID))
	if d := waitEvent(t, b, "revoked:logged_out_elsewhere", 2*time.Second).Sub(start); d > time.Second {
		t.Errorf("B's onSessionRevoked came %v after A ended its session", d)
	}
	if v := string(b.MustEval("CometChatCalls.getLoggedInUser()")); v != "null" {
		t.Errorf("B is still logged in: %s", v)
	}
	if cur, all := list(a); cur != aID || len(all) != 1 {
		t.Errorf("after ending B's session A sees %d sessions (current %q)", len(all), cur)
	}
	// A session that is not the user's, or no longer exists, is unknown.
	if code := errCode(t, a, fmt.Sprintf(`CometChatCalls.logoutSession(%q)`, bID)); code != "ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Errorf("ending an ended session: %s", code)
	}

	// Two more sessions (B again, and a token minted over REST): A ends
	// every other session and learns how many.
	b.MustEval(login)
	waitEvent(t, b, "loginSuccess:"+uid, 5*time.Second)
	h.newToken(uid)
	if n := evalJSON[int](t, a, `CometChatCalls.logoutOtherSessions()`); n != 2 {
		t.Errorf("logoutOtherSessions() = %d, want 2", n)
	}
	if err := b.WaitFor(`window.events.filter(e => e === "revoked:logged_out_elsewhere").length === 2`, 2*time.Second); err != nil {
		t.Errorf("B did not hear its second session end: %v; events %s", err, b.MustEval("window.events"))
	}
	if cur, all := list(a); cur != aID || len(all) != 1 {
		t.Errorf("after logoutOtherSessions A sees %d sessions (current %q)", len(all), cur)
	}
	if n := evalJSON[int](t, a, `CometChatCalls.logoutOtherSessions()`); n != 0 {
		t.Errorf("logoutOtherSessions() with no other session = %d", n)
	}
	if v := string(a.MustEval(`window.events.filter(e => e.startsWith("revoked"))`)); v != "[]" {
		t.Errorf("A's session was revoked: %s", v)
	}
	if ex := append(a.Exceptions(), b.Exceptions()...); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %v", ex)
	}
}

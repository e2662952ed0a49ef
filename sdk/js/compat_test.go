package sdkjs_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/callgate/callgate/internal/browsertest"
	"github.com/callgate/callgate/internal/servertest"
)

// The real CometChat JavaScript SDKs, unmodified, in Chromium against
// callgate, from a page on another origin. They are test-only npm packages
// (compat/package.json, pinned by its lockfile); CI installs them.
//
// The chat SDK builds every URL as "https://" + host + "/" + endpoint, so
// callgate runs with TLS here and Chromium trusts its test certificate.

// compatSDKs are the bundles the pages load, by the path they are served at.
var compatSDKs = map[string]string{
	"/chat-sdk.js":  "compat/node_modules/@cometchat/chat-sdk-javascript/CometChat.js",
	"/calls-sdk.js": "compat/node_modules/@cometchat/calls-sdk-javascript/pack/index.js",
}

// compatPages load one SDK each with a plain <script> (the bundles are UMD:
// they set window.CometChat, window.CometChatCalls).
var compatPages = map[string]string{
	"/chat":  `<!doctype html><meta charset="utf-8"><title>CometChat chat SDK</title><script src="/chat-sdk.js"></script><script>window.ready = typeof CometChat.init === "function";</script>`,
	"/calls": `<!doctype html><meta charset="utf-8"><title>CometChat calls SDK</title><script src="/calls-sdk.js"></script><script>window.ready = typeof CometChatCalls.generateToken === "function";</script>`,
}

// compat is one TLS server, one browser that trusts it, and the pages.
type compat struct {
	t     *testing.T
	srv   *servertest.Server
	pages *browsertest.Pages
	b     *browsertest.Browser

	mu     sync.Mutex
	served []string          // "METHOD path -> status" of the requests that came from a page
	asked  []string          // "METHOD URL" of every request of the pages
	failed []string          // "METHOD URL" of the requests that failed in the browser
	reqs   map[string]string // request id → "METHOD URL"
}

func newCompat(t *testing.T) *compat {
	t.Helper()
	for _, path := range slices.Sorted(maps.Keys(compatSDKs)) {
		if _, err := os.Stat(compatSDKs[path]); err != nil {
			msg := "the CometChat SDKs are not installed (" + err.Error() + "): run `npm ci --prefix sdk/js/compat`"
			if os.Getenv("CI") != "" {
				t.Fatal(msg + "; CI is set, so the compatibility tests must run")
			}
			t.Skip(msg + "; skipping")
		}
	}
	c := &compat{t: t, reqs: map[string]string{}}
	c.srv = servertest.Start(t, servertest.Options{SelfSignedTLS: true, Handler: c.record})
	mux := http.NewServeMux()
	for path, file := range compatSDKs {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, file)
		})
	}
	mux.Handle("/", browsertest.HTML(compatPages))
	c.pages = browsertest.ServePages(t, mux)
	c.b = browsertest.Start(t, browsertest.TrustCertificate(c.srv.Certificate))
	return c
}

// record wraps the server's handler to note what the pages ask of it.
func (c *compat) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if r.Header.Get("Origin") == "" {
			return // the test's own REST calls
		}
		c.mu.Lock()
		c.served = append(c.served, fmt.Sprintf("%s %s -> %d", r.Method, r.URL.Path, sw.status))
		c.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// open loads a page in a new browser context, noting every URL it requests.
func (c *compat) open(path string) *browsertest.Tab {
	c.t.Helper()
	tab := c.b.NewContext(c.t)
	err := chromedp.Listen(tab.Context(), func(ev any) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			req := e.Request.Method + " " + e.Request.URL
			c.asked = append(c.asked, req)
			c.reqs[string(e.RequestID)] = req
		case *network.EventLoadingFailed:
			c.failed = append(c.failed, c.reqs[string(e.RequestID)])
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
	tab.Navigate(c.pages.Origin + path)
	if err := tab.WaitFor("window.ready === true", 10*time.Second); err != nil {
		c.t.Fatalf("the page did not load the SDK: %v (console: %v, exceptions: %v)", err, tab.Console(), tab.Exceptions())
	}
	return tab
}

// servedSet is what the pages asked of the server, each request once.
func (c *compat) servedSet() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := slices.Clone(c.served)
	slices.Sort(s)
	return slices.Compact(s)
}

// waitFailed waits until a request of a page ("METHOD URL") has failed in
// the browser: the SDK's fetch has rejected.
func (c *compat) waitFailed(req string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		failed := slices.Contains(c.failed, req)
		c.mu.Unlock()
		if failed {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s did not fail within %v; the server saw %q", req, timeout, c.servedSet())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// elsewhere lists the requests of the pages that went neither to the pages'
// origin nor to the server.
func (c *compat) elsewhere() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.asked {
		_, raw, _ := strings.Cut(a, " ")
		u, err := url.Parse(raw)
		if err != nil || u.Scheme+"://"+u.Host != c.pages.Origin && u.Scheme+"://"+u.Host != c.srv.URL {
			out = append(out, a)
		}
	}
	return out
}

// newToken mints an auth token over REST, as an app's own backend does.
func (c *compat) newToken(uid string) string {
	c.t.Helper()
	var tok struct{ AuthToken string }
	r := c.srv.Do(c.t, "POST", "/v3/users/"+uid+"/auth_tokens", map[string]string{"apiKey": c.srv.AuthKey}, map[string]any{})
	r.Decode(c.t, &tok)
	if tok.AuthToken == "" {
		c.t.Fatalf("no token: %d %s", r.Status, r.Body)
	}
	return tok.AuthToken
}

// me answers GET /v3.0/me for tok: the uid, or the error code.
func (c *compat) me(tok string) string {
	c.t.Helper()
	r := c.srv.Do(c.t, "GET", "/v3.0/me", map[string]string{"authToken": tok}, nil)
	if r.Code != "" {
		return r.Code
	}
	var u struct{ UID string }
	r.Decode(c.t, &u)
	return u.UID
}

// TestCompatChatSDK: @cometchat/chat-sdk-javascript, with its client and
// admin hosts overridden to callgate, logs in with the auth key and with an
// auth token minted by a backend, keeps its session through the calls it
// makes in the background to endpoints callgate does not have, and logs
// out, which revokes the token on callgate.
func TestCompatChatSDK(t *testing.T) {
	c := newCompat(t)
	tab := c.open("/chat")
	host := strings.TrimPrefix(c.srv.URL, "https://") + "/v3.0"
	init := fmt.Sprintf(`CometChat.init(%q, new CometChat.AppSettingsBuilder().setRegion(%q).overrideClientHost(%q).overrideAdminHost(%q).build())`,
		c.srv.AppID, c.srv.Region, host, host)
	if got := string(tab.MustEval(init)); got != "true" {
		t.Fatalf("init: %s", got)
	}

	// callgate's error envelope reaches the SDK's CometChatException.
	bad := `CometChat.login("cometchat-uid-1", "0000000000000000000000000000000000000000").then(u => "resolved: " + u.getUid(), e => e.code)`
	if got := evalJSON[string](t, tab, bad); got != "AUTH_ERR_APIKEY_NOT_FOUND" {
		t.Errorf("login with an unknown key: %s, want AUTH_ERR_APIKEY_NOT_FOUND", got)
	}

	// Development: login(uid, authKey).
	login := fmt.Sprintf(`(async () => {
		const user = await CometChat.login("cometchat-uid-1", %q);
		const me = await CometChat.getLoggedinUser();
		return [user.getUid(), user.getName(), me && me.getUid(), CometChat.getInstance().getAuthToken()];
	})()`, c.srv.AuthKey)
	got := evalJSON[[]string](t, tab, login)
	if len(got) != 4 || got[0] != "cometchat-uid-1" || got[1] != "Andrew Joseph" || got[2] != "cometchat-uid-1" || got[3] == "" {
		t.Fatalf("login, getLoggedinUser, getAuthToken: %q", got)
	}
	tok := got[3]
	if uid := c.me(tok); uid != "cometchat-uid-1" {
		t.Fatalf("callgate does not know the SDK's token: GET /me %s", uid)
	}
	if ex := tab.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions during login: %q", ex)
	}

	// After a login the SDK asks for settings (analytics ping, WebSocket
	// host) and, 5 s later, posts user_sessions: chat features callgate does
	// not have. Those calls fail, and the session must survive them.
	c.waitFailed("POST "+c.srv.URL+"/v3.0/user_sessions", 10*time.Second)
	if got := evalJSON[string](t, tab, `CometChat.getLoggedinUser().then(u => u ? u.getUid() : "logged out")`); got != "cometchat-uid-1" {
		t.Errorf("after the background calls, getLoggedinUser: %s", got)
	}
	if uid := c.me(tok); uid != "cometchat-uid-1" {
		t.Errorf("after the background calls, GET /me: %s", uid)
	}
	// The SDK leaves the failed user_sessions post unhandled: an "Uncaught
	// (in promise)" of a plain object, shown as "Object". Anything else is news.
	for _, ex := range tab.Exceptions() {
		if ex != "Object" {
			t.Errorf("uncaught exception: %s", ex)
		}
	}

	// logout: DELETE /me, and the token is dead on callgate.
	if got := string(tab.MustEval(`CometChat.logout()`)); got != `{"success":true,"message":"Logout successful","uid":"cometchat-uid-1"}` {
		t.Errorf("logout: %s", got)
	}
	if got := string(tab.MustEval(`CometChat.getLoggedinUser()`)); got != "null" {
		t.Errorf("after logout, getLoggedinUser: %s", got)
	}
	if code := c.me(tok); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Errorf("after logout, the token: %s, want AUTH_ERR_AUTH_TOKEN_NOT_FOUND", code)
	}

	// Production: login(authToken) with a token minted by the app's backend.
	tok2 := c.newToken("cometchat-uid-2")
	got = evalJSON[[]string](t, tab, fmt.Sprintf(`(async () => {
		const user = await CometChat.login(%q);
		const me = await CometChat.getLoggedinUser();
		return [user.getUid(), me && me.getUid()];
	})()`, tok2))
	if len(got) != 2 || got[0] != "cometchat-uid-2" || got[1] != "cometchat-uid-2" {
		t.Errorf("login with an auth token: %q", got)
	}
	tab.MustEval(`CometChat.logout()`)
	if code := c.me(tok2); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Errorf("after the second logout, the token: %s", code)
	}

	// Everything the SDK asked for, and nothing from CometChat's cloud: the
	// overrides cover every call of this flow. The preflights of settings
	// and user_sessions are 404 without CORS headers (unknown paths), so
	// the SDK sees a network error for them, as it would offline.
	want := []string{
		"DELETE /v3.0/me -> 200",
		"OPTIONS /v3.0/me -> 204",
		"OPTIONS /v3.0/settings -> 404",
		"OPTIONS /v3.0/user_sessions -> 404",
		"OPTIONS /v3.0/users/cometchat-uid-1/auth_tokens -> 204",
		"POST /v3.0/users/cometchat-uid-1/auth_tokens -> 200",
		"POST /v3.0/users/cometchat-uid-1/auth_tokens -> 401",
		"PUT /v3.0/me -> 200",
	}
	if got := c.servedSet(); !slices.Equal(got, want) {
		t.Errorf("the SDK asked callgate for\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if other := c.elsewhere(); len(other) > 0 {
		t.Errorf("requests to neither the page's origin nor callgate: %q", other)
	}
}

// TestCompatCallsSDK: @cometchat/calls-sdk-javascript, with its host set to
// callgate, turns an auth token minted by a backend into a call token that
// callgate verifies, and passes callgate's error code through.
func TestCompatCallsSDK(t *testing.T) {
	c := newCompat(t)
	tab := c.open("/calls")
	init := fmt.Sprintf(`CometChatCalls.init(new CometChatCalls.CallAppSettingsBuilder().setAppId(%q).setRegion(%q).setHost(%q).build()).then(() => "ok")`,
		c.srv.AppID, c.srv.Region, c.srv.URL+"/v3.0/")
	if got := evalJSON[string](t, tab, init); got != "ok" {
		t.Fatalf("init: %s", got)
	}
	tok := c.newToken("cometchat-uid-2")
	ct := evalJSON[map[string]any](t, tab, fmt.Sprintf(`CometChatCalls.generateToken("call-7", %q)`, tok))
	callToken, _ := ct["token"].(string)
	if callToken == "" || ct["sessionId"] != "call-7" || ct["expiresAt"] == nil {
		t.Fatalf("generateToken: %v", ct)
	}
	r := c.srv.Do(t, "GET", "/v3.0/call_tokens", map[string]string{"callToken": callToken}, nil)
	var claims struct{ Sub, Sid, App string }
	r.Decode(t, &claims)
	if r.Status != http.StatusOK || claims.Sub != "cometchat-uid-2" || claims.Sid != "call-7" || claims.App != c.srv.AppID {
		t.Errorf("callgate verified the call token as %d %s", r.Status, r.Body)
	}

	// A dead auth token: callgate's code reaches the SDK's error.
	if r := c.srv.Do(t, "DELETE", "/v3/users/cometchat-uid-2/auth_tokens/"+tok, map[string]string{"apiKey": c.srv.RESTKey}, nil); r.Status != http.StatusOK {
		t.Fatalf("delete the token: %d %s", r.Status, r.Body)
	}
	code := evalJSON[string](t, tab, fmt.Sprintf(`CometChatCalls.generateToken("call-7", %q).then(() => "resolved", e => e.code)`, tok))
	if code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Errorf("generateToken with a deleted auth token: %s, want AUTH_ERR_AUTH_TOKEN_NOT_FOUND", code)
	}

	want := []string{
		"OPTIONS /v3.0/call_tokens -> 204",
		"POST /v3.0/call_tokens -> 200",
		"POST /v3.0/call_tokens -> 401",
	}
	if got := c.servedSet(); !slices.Equal(got, want) {
		t.Errorf("the SDK asked callgate for\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The bundle's own stylesheet asks Google Fonts for Inter (which fails
	// offline); nothing goes to CometChat's cloud.
	for _, o := range c.elsewhere() {
		if !strings.Contains(o, "://fonts.googleapis.com/") {
			t.Errorf("a request to neither the page's origin nor callgate: %s", o)
		}
	}
	if ex := tab.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %q", ex)
	}
}

package calls_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/servertest"
)

func TestInitValidatesSettings(t *testing.T) {
	t.Setenv(calls.HostEnv, "")
	good := calls.AppSettings{AppID: "my-app-1", Region: "us", Host: "http://127.0.0.1:8080", SessionStore: calls.NewMemoryStore()}
	tests := []struct {
		name   string
		change func(*calls.AppSettings)
		ok     bool
	}{
		{"valid", func(*calls.AppSettings) {}, true},
		{"https host with path", func(s *calls.AppSettings) { s.Host = "https://calls.example.com/callgate/" }, true},
		{"empty host uses the default", func(s *calls.AppSettings) { s.Host = "" }, true},
		{"app id 64", func(s *calls.AppSettings) { s.AppID = strings.Repeat("a", 64) }, true},
		{"region 32", func(s *calls.AppSettings) { s.Region = strings.Repeat("e", 32) }, true},
		{"empty app id", func(s *calls.AppSettings) { s.AppID = "" }, false},
		{"upper-case app id", func(s *calls.AppSettings) { s.AppID = "MyApp" }, false},
		{"app id with underscore", func(s *calls.AppSettings) { s.AppID = "my_app" }, false},
		{"app id with slash", func(s *calls.AppSettings) { s.AppID = "../etc" }, false},
		{"app id 65", func(s *calls.AppSettings) { s.AppID = strings.Repeat("a", 65) }, false},
		{"empty region", func(s *calls.AppSettings) { s.Region = "" }, false},
		{"upper-case region", func(s *calls.AppSettings) { s.Region = "US" }, false},
		{"region 33", func(s *calls.AppSettings) { s.Region = strings.Repeat("e", 33) }, false},
		{"host without scheme", func(s *calls.AppSettings) { s.Host = "127.0.0.1:8080" }, false},
		{"ftp host", func(s *calls.AppSettings) { s.Host = "ftp://example.com" }, false},
		{"host not a URL", func(s *calls.AppSettings) { s.Host = "http://exa mple.com" }, false},
		{"host without host", func(s *calls.AppSettings) { s.Host = "http://" }, false},
		{"host with query", func(s *calls.AppSettings) { s.Host = "http://example.com/?a=b" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.change(&s)
			c, err := calls.New(s)
			if tt.ok {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			wantCode(t, err, calls.ErrInvalidAppSettings)
			if c != nil {
				t.Fatal("New returned a client with an error")
			}
			// Init on an existing client fails the same way and keeps it as it was.
			var z calls.Client
			wantCode(t, z.Init(s), calls.ErrInvalidAppSettings)
			_, err = z.Login(context.Background(), uid1, "key")
			wantCode(t, err, calls.ErrSDKNotInitialized)
		})
	}
}

func TestHostFromEnvironment(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	t.Setenv(calls.HostEnv, srv.URL)
	s := settings(srv, nil)
	s.Host = ""
	c, err := calls.New(s)
	if err != nil {
		t.Fatal(err)
	}
	login(t, c, srv, uid1)

	t.Setenv(calls.HostEnv, "not a url")
	_, err = calls.New(s)
	wantCode(t, err, calls.ErrInvalidAppSettings)
}

// TestCheckOrder pins the order of Login's and LoginWithAuthToken's checks
// (docs/sdk-go.md "Errors"): in flight, blank, space, key, not initialised.
func TestCheckOrder(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()

	type state int
	const (
		uninit   state = iota // the zero Client
		ready                 // initialised, no AuthKey in the settings
		withKey               // initialised, AppSettings.AuthKey set
		inFlight              // initialised, a login held in flight
	)
	g := newGate(func(r *http.Request) bool { return r.Header.Get("X-Hold") != "" })
	held := servertest.Start(t, servertest.Options{Handler: g.wrap})
	t.Cleanup(g.release)
	// A client whose login is held on the server for the whole test.
	holdHTTP := &http.Client{Transport: headerRT{"X-Hold", "1"}}
	hs := settings(held, nil)
	hs.HTTPClient = holdHTTP
	holding, err := calls.New(hs)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		holding.Login(ctx, uid1, held.AuthKey)
	}()
	g.waitEntered(t)
	t.Cleanup(func() { g.release(); <-done })

	client := func(st state) *calls.Client {
		switch st {
		case uninit:
			return &calls.Client{}
		case inFlight:
			return holding
		case withKey:
			s := settings(srv, nil)
			s.AuthKey = srv.AuthKey
			c, err := calls.New(s)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		return newClient(t, srv)
	}

	loginTests := []struct {
		state    state
		uid, key string
		want     string
	}{
		{inFlight, "", "", calls.ErrLoginInProgress},
		{inFlight, "a b", "", calls.ErrLoginInProgress},
		{inFlight, uid2, "k", calls.ErrLoginInProgress},
		{uninit, "", "", calls.ErrInvalidUID},
		{uninit, "   ", "k", calls.ErrInvalidUID},
		{uninit, "\t\n", "k", calls.ErrInvalidUID},
		{ready, "", "", calls.ErrInvalidUID},
		{uninit, "a b", "", calls.ErrUIDWithSpace},
		{uninit, " cometchat-uid-1", "", calls.ErrUIDWithSpace},
		{ready, "cometchat-uid-1 ", "k", calls.ErrUIDWithSpace},
		{ready, "a\tb", "k", calls.ErrUIDWithSpace},
		{uninit, uid1, "", calls.ErrAPIKeyNotFound},
		{uninit, uid1, "  ", calls.ErrAPIKeyNotFound},
		{ready, uid1, "", calls.ErrAPIKeyNotFound},
		{uninit, uid1, "k", calls.ErrSDKNotInitialized},
		{withKey, uid1, "", ""}, // AppSettings.AuthKey is used
		{ready, uid1, srv.AuthKey, ""},
	}
	for _, tt := range loginTests {
		t.Run("Login/"+tt.uid+"/"+tt.key+"/"+tt.want, func(t *testing.T) {
			c := client(tt.state)
			start := time.Now()
			u, err := c.Login(ctx, tt.uid, tt.key)
			if codeOf(t, err) != tt.want {
				t.Fatalf("Login(%q, %q) in state %d = %v, want %q", tt.uid, tt.key, tt.state, err, tt.want)
			}
			if tt.want != "" && u != nil {
				t.Fatal("a user with an error")
			}
			if tt.want == calls.ErrLoginInProgress && time.Since(start) > time.Second {
				t.Fatal("ERROR_LOGIN_IN_PROGRESS was not immediate")
			}
		})
	}

	tokenTests := []struct {
		state state
		token string
		want  string
	}{
		{inFlight, "", calls.ErrLoginInProgress},
		{inFlight, "a b", calls.ErrLoginInProgress},
		{uninit, "", calls.ErrBlankAuthToken},
		{ready, "  ", calls.ErrBlankAuthToken},
		{uninit, "a b", calls.ErrAuthTokenWithSpace},
		{ready, "tok ", calls.ErrAuthTokenWithSpace},
		{uninit, "tok", calls.ErrSDKNotInitialized},
		{ready, "cometchat-uid-1_123abc", "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
	}
	for _, tt := range tokenTests {
		t.Run("LoginWithAuthToken/"+tt.token+"/"+tt.want, func(t *testing.T) {
			c := client(tt.state)
			u, err := c.LoginWithAuthToken(ctx, tt.token)
			if codeOf(t, err) != tt.want {
				t.Fatalf("LoginWithAuthToken(%q) in state %d = %v, want %q", tt.token, tt.state, err, tt.want)
			}
			if u != nil {
				t.Fatal("a user with an error")
			}
		})
	}
}

type headerRT struct{ k, v string }

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.k, h.v)
	return http.DefaultTransport.RoundTrip(r)
}

func TestLoginAndLogout(t *testing.T) {
	cnt := &counter{}
	srv := servertest.Start(t, servertest.Options{Handler: cnt.wrap})
	c := newClient(t, srv)
	ctx := context.Background()

	if c.GetLoggedInUser() != nil || c.IsUserLoggedIn() || c.GetUserAuthToken() != "" {
		t.Fatal("logged in before Login")
	}
	u := login(t, c, srv, uid1)
	if u.UID != uid1 || u.Name != "Andrew Joseph" || u.Status != "online" || u.AuthToken == "" || u.Role != "default" || u.LastActiveAt == 0 {
		t.Fatalf("user = %+v", u)
	}
	if n := cnt.n.Load(); n != 2 {
		t.Fatalf("Login made %d requests, want 2 (POST auth_tokens, PUT me)", n)
	}
	if got := c.GetLoggedInUser(); got == nil || got.UID != uid1 || got.AuthToken != u.AuthToken {
		t.Fatalf("GetLoggedInUser = %+v", got)
	}
	if !c.IsUserLoggedIn() || c.GetUserAuthToken() != u.AuthToken {
		t.Fatal("IsUserLoggedIn/GetUserAuthToken disagree with Login")
	}
	if code := meCode(t, srv, u.AuthToken); code != "" {
		t.Fatalf("GET /me with the session's token: %s", code)
	}

	// The returned user is a copy: changing it does not change the session.
	u.Name = "changed"
	if c.GetLoggedInUser().Name != "Andrew Joseph" {
		t.Fatal("the session shares memory with a returned user")
	}

	msg, err := c.Logout(ctx)
	if err != nil || msg != "Logout successful" {
		t.Fatalf("Logout = %q, %v", msg, err)
	}
	if c.GetLoggedInUser() != nil || c.IsUserLoggedIn() || c.GetUserAuthToken() != "" {
		t.Fatal("still logged in after Logout")
	}
	if code := meCode(t, srv, u.AuthToken); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Fatalf("the token survived Logout: GET /me = %q", code)
	}
	_, err = c.Logout(ctx)
	wantCode(t, err, calls.ErrNoUserLoggedIn)
}

func TestLogoutChecks(t *testing.T) {
	var z calls.Client
	_, err := z.Logout(context.Background())
	wantCode(t, err, calls.ErrSDKNotInitialized)

	srv := servertest.Start(t, servertest.Options{})
	c := newClient(t, srv)
	msg, err := c.Logout(context.Background())
	wantCode(t, err, calls.ErrNoUserLoggedIn)
	if msg != "" {
		t.Fatalf("message %q with an error", msg)
	}
}

func TestLoginSameUIDMakesNoRequest(t *testing.T) {
	cnt := &counter{}
	srv := servertest.Start(t, servertest.Options{Handler: cnt.wrap})
	c := newClient(t, srv)
	first := login(t, c, srv, uid1)
	before := cnt.n.Load()
	for _, uid := range []string{uid1, "Cometchat-UID-1", "COMETCHAT-UID-1"} {
		// The key is not even needed to be valid: no request is made.
		u, err := c.Login(context.Background(), uid, "not-a-key")
		if err != nil || u.AuthToken != first.AuthToken || u.UID != uid1 {
			t.Fatalf("Login(%s) = %+v, %v; want the current session", uid, u, err)
		}
	}
	u, err := c.LoginWithAuthToken(context.Background(), first.AuthToken)
	if err != nil || u.AuthToken != first.AuthToken {
		t.Fatalf("LoginWithAuthToken(current token) = %+v, %v", u, err)
	}
	if n := cnt.n.Load() - before; n != 0 {
		t.Fatalf("%d requests for the uid already logged in", n)
	}
}

func TestLoginUpperCaseUID(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	c := newClient(t, srv)
	u := login(t, c, srv, "CometChat-UID-3")
	if u.UID != "cometchat-uid-3" || u.Name != "Nancy Grace" {
		t.Fatalf("user = %+v", u)
	}
}

func TestLoginWithAuthToken(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	c, err := calls.New(settings(srv, calls.NewFileStore(dir)))
	if err != nil {
		t.Fatal(err)
	}
	token := restToken(t, srv, uid2)
	u, err := c.LoginWithAuthToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if u.UID != uid2 || u.Name != "George Alan" || u.AuthToken != token || u.Status != "online" {
		t.Fatalf("user = %+v", u)
	}
	if c.GetUserAuthToken() != token {
		t.Fatal("GetUserAuthToken is not the token logged in with")
	}
	saved, err := calls.NewFileStore(dir).Load(srv.AppID)
	if err != nil || saved == nil || saved.AuthToken != token {
		t.Fatalf("saved session = %+v, %v", saved, err)
	}

	// Another token of the same user replaces the session and revokes the
	// first token.
	token2 := restToken(t, srv, uid2)
	if _, err := c.LoginWithAuthToken(context.Background(), token2); err != nil {
		t.Fatal(err)
	}
	if code := meCode(t, srv, token); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Fatalf("the replaced token is still live: %q", code)
	}
	if meCode(t, srv, token2) != "" {
		t.Fatal("the new token is not live")
	}
}

func TestSwitchUsers(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	c, err := calls.New(settings(srv, calls.NewFileStore(dir)))
	if err != nil {
		t.Fatal(err)
	}
	first := login(t, c, srv, uid1)
	second := login(t, c, srv, uid2)
	if second.UID != uid2 || c.GetLoggedInUser().UID != uid2 || c.GetUserAuthToken() != second.AuthToken {
		t.Fatalf("session after the switch = %+v", c.GetLoggedInUser())
	}
	if code := meCode(t, srv, first.AuthToken); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Fatalf("the first user's token survived the switch: GET /me = %q", code)
	}
	if meCode(t, srv, second.AuthToken) != "" {
		t.Fatal("the second user's token is not live")
	}
	saved, _ := calls.NewFileStore(dir).Load(srv.AppID)
	if saved == nil || saved.UID != uid2 || saved.AuthToken != second.AuthToken {
		t.Fatalf("saved session = %+v", saved)
	}
}

func TestServerErrorsPassThrough(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	tests := []struct {
		name      string
		loggedIn  bool // someone is logged in before the failing call
		do        func(c *calls.Client) error
		code      string
		inMessage string
	}{
		{"unknown uid", false, func(c *calls.Client) error {
			_, err := c.Login(ctx, "no-such-user", srv.AuthKey)
			return err
		}, "ERR_UID_NOT_FOUND", "The UID no-such-user does not exist"},
		{"bad key", false, func(c *calls.Client) error {
			_, err := c.Login(ctx, uid1, "0000000000000000000000000000000000000000")
			return err
		}, "AUTH_ERR_APIKEY_NOT_FOUND", "apiKey is invalid"},
		{"bad key and bad uid: the key first", false, func(c *calls.Client) error {
			_, err := c.Login(ctx, "no-such-user", "bad")
			return err
		}, "AUTH_ERR_APIKEY_NOT_FOUND", ""},
		{"bad token", false, func(c *calls.Client) error {
			_, err := c.LoginWithAuthToken(ctx, "cometchat-uid-1_1700000000"+strings.Repeat("ab", 32))
			return err
		}, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND", "invalid or has expired"},
		{"bad uid characters", false, func(c *calls.Client) error {
			_, err := c.Login(ctx, "bad!uid", srv.AuthKey)
			return err
		}, "ERR_BAD_REQUEST", "uid"},
		{"unknown uid while logged in", true, func(c *calls.Client) error {
			_, err := c.Login(ctx, "no-such-user", srv.AuthKey)
			return err
		}, "ERR_UID_NOT_FOUND", ""},
		{"bad token while logged in", true, func(c *calls.Client) error {
			_, err := c.LoginWithAuthToken(ctx, "garbage")
			return err
		}, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sessions")
			c, err := calls.New(settings(srv, calls.NewFileStore(dir)))
			if err != nil {
				t.Fatal(err)
			}
			var before *calls.User
			if tt.loggedIn {
				before = login(t, c, srv, uid1)
			}
			e := wantCode(t, tt.do(c), tt.code)
			if !strings.Contains(e.Description, tt.inMessage) {
				t.Fatalf("description %q does not contain %q", e.Description, tt.inMessage)
			}
			if before == nil {
				if c.IsUserLoggedIn() || c.GetLoggedInUser() != nil {
					t.Fatal("a failed login left a session")
				}
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					entries, _ := os.ReadDir(dir)
					if len(entries) != 0 {
						t.Fatalf("a failed login left files behind: %v", entries)
					}
				}
				return
			}
			if got := c.GetLoggedInUser(); got == nil || got.AuthToken != before.AuthToken {
				t.Fatalf("a failed login changed the previous session: %+v", got)
			}
			if meCode(t, srv, before.AuthToken) != "" {
				t.Fatal("a failed login revoked the previous session")
			}
			saved, _ := calls.NewFileStore(dir).Load(srv.AppID)
			if saved == nil || saved.AuthToken != before.AuthToken {
				t.Fatalf("a failed login changed the saved session: %+v", saved)
			}
		})
	}
}

func TestUnknownApp(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	s := settings(srv, nil)
	s.AppID = "no-such-app"
	c, err := calls.New(s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(context.Background(), uid1, srv.AuthKey)
	wantCode(t, err, "AUTH_ERR_INVALID_APPID")
	_, err = c.LoginWithAuthToken(context.Background(), restToken(t, srv, uid1))
	wantCode(t, err, "AUTH_ERR_INVALID_APPID")
}

// TestLoginInProgress holds a login on a deliberately slow server: every
// other login of the client fails at once, reads never block, and the held
// login completes normally.
func TestLoginInProgress(t *testing.T) {
	// Only the SDK's requests (they carry the sdk header) are held.
	g := newGate(func(r *http.Request) bool {
		return r.Header.Get("sdk") != "" && strings.HasSuffix(r.URL.Path, "/auth_tokens")
	})
	srv := servertest.Start(t, servertest.Options{Handler: g.wrap})
	t.Cleanup(g.release)
	c := newClient(t, srv)
	ctx := context.Background()

	type result struct {
		u   *calls.User
		err error
	}
	done := make(chan result, 1)
	go func() {
		u, err := c.Login(ctx, uid1, srv.AuthKey)
		done <- result{u, err}
	}()
	g.waitEntered(t)

	attempts := []struct {
		name string
		do   func() error
	}{
		{"Login same uid", func() error { _, err := c.Login(ctx, uid1, srv.AuthKey); return err }},
		{"Login other uid", func() error { _, err := c.Login(ctx, uid2, srv.AuthKey); return err }},
		{"Login blank uid", func() error { _, err := c.Login(ctx, "", ""); return err }},
		{"LoginWithAuthToken", func() error { _, err := c.LoginWithAuthToken(ctx, "tok"); return err }},
		{"LoginWithAuthToken blank", func() error { _, err := c.LoginWithAuthToken(ctx, ""); return err }},
		{"Init", func() error { return c.Init(settings(srv, nil)) }},
	}
	for _, a := range attempts {
		start := time.Now()
		err := a.do()
		if codeOf(t, err) != calls.ErrLoginInProgress {
			t.Fatalf("%s during a login = %v, want ERROR_LOGIN_IN_PROGRESS", a.name, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s waited %v for the login in flight", a.name, d)
		}
	}
	if c.GetLoggedInUser() != nil || c.IsUserLoggedIn() || c.GetUserAuthToken() != "" {
		t.Fatal("logged in before the login completed")
	}
	// Logout is not a login: with nobody logged in it says so at once.
	_, err := c.Logout(ctx)
	wantCode(t, err, calls.ErrNoUserLoggedIn)

	// Another client is independent.
	other := newClient(t, srv)
	if _, err := other.LoginWithAuthToken(ctx, restToken(t, srv, uid2)); err != nil {
		t.Fatalf("an independent client was blocked: %v", err)
	}

	g.release()
	r := <-done
	if r.err != nil || r.u.UID != uid1 {
		t.Fatalf("held login = %+v, %v", r.u, r.err)
	}
	if c.GetUserAuthToken() != r.u.AuthToken {
		t.Fatal("the held login did not become the session")
	}
	// And the next login may start.
	if _, err := c.Login(ctx, uid2, srv.AuthKey); err != nil {
		t.Fatal(err)
	}
}

func TestServerDown(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	logs := &logBuffer{}
	s := settings(srv, calls.NewFileStore(dir))
	s.Logger = logs.logger()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.HTTPClient = &http.Client{Transport: tr}
	c, err := calls.New(s)
	if err != nil {
		t.Fatal(err)
	}
	u := login(t, c, srv, uid1)
	srv.Stop()
	// A kept-alive connection the server was closing would fail the next
	// POST with EOF rather than a refused connection.
	tr.CloseIdleConnections()
	ctx := context.Background()

	e := wantCode(t, func() error { _, err := c.Login(ctx, uid2, srv.AuthKey); return err }(), calls.ErrNetwork)
	if !strings.Contains(e.Description, "refused") {
		t.Errorf("description %q does not give the cause", e.Description)
	}
	wantCode(t, func() error { _, err := c.LoginWithAuthToken(ctx, "tok"); return err }(), calls.ErrNetwork)
	if c.GetUserAuthToken() != u.AuthToken {
		t.Fatal("a failed login while the server is down changed the session")
	}

	msg, err := c.Logout(ctx)
	if err != nil || msg != "Logout successful" {
		t.Fatalf("Logout with the server down = %q, %v", msg, err)
	}
	if c.IsUserLoggedIn() {
		t.Fatal("Logout did not clear the local session")
	}
	if saved, _ := calls.NewFileStore(dir).Load(srv.AppID); saved != nil {
		t.Fatal("Logout did not clear the saved session")
	}
	if !strings.Contains(logs.String(), "may still be live") {
		t.Fatalf("no warning that the token may still be live; logs:\n%s", logs)
	}
}

func TestRestartRestoresSession(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	dir := filepath.Join(t.TempDir(), "sessions")
	c, err := calls.New(settings(srv, calls.NewFileStore(dir)))
	if err != nil {
		t.Fatal(err)
	}
	u := login(t, c, srv, uid1)

	// No server: whatever the new client knows comes from the file.
	srv.Stop()
	for _, restart := range []func() (*calls.Client, error){
		func() (*calls.Client, error) { return calls.New(settings(srv, calls.NewFileStore(dir))) },
		func() (*calls.Client, error) {
			var c calls.Client
			return &c, c.Init(settings(srv, calls.NewFileStore(dir)))
		},
	} {
		c2, err := restart()
		if err != nil {
			t.Fatal(err)
		}
		got := c2.GetLoggedInUser()
		if got == nil {
			t.Fatal("not logged in after a restart")
		}
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("restored %+v, want %+v", got, u)
		}
		if !c2.IsUserLoggedIn() || c2.GetUserAuthToken() != u.AuthToken {
			t.Fatal("IsUserLoggedIn/GetUserAuthToken after a restart")
		}
		// Logging in as the same uid is answered from the restored session.
		if again, err := c2.Login(context.Background(), "COMETCHAT-UID-1", "k"); err != nil || again.AuthToken != u.AuthToken {
			t.Fatalf("Login of the restored uid = %+v, %v", again, err)
		}
	}
}

func TestSessionStoreIsPerApp(t *testing.T) {
	a := servertest.Start(t, servertest.Options{})
	b := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	ca, _ := calls.New(settings(a, calls.NewFileStore(dir)))
	cb, _ := calls.New(settings(b, calls.NewFileStore(dir)))
	ua := login(t, ca, a, uid1)
	ub := login(t, cb, b, uid2)
	for _, tt := range []struct {
		srv   *servertest.Server
		token string
	}{{a, ua.AuthToken}, {b, ub.AuthToken}} {
		c, err := calls.New(settings(tt.srv, calls.NewFileStore(dir)))
		if err != nil {
			t.Fatal(err)
		}
		if c.GetUserAuthToken() != tt.token {
			t.Fatalf("app %s restored the wrong session", tt.srv.AppID)
		}
	}
	// Re-initialising a client for another app takes that app's session.
	if err := ca.Init(settings(b, calls.NewFileStore(dir))); err != nil {
		t.Fatal(err)
	}
	if ca.GetUserAuthToken() != ub.AuthToken {
		t.Fatal("Init did not restore the new app's session")
	}
}

func TestCorruptSessionFile(t *testing.T) {
	// The file store reports through slog.Default.
	logs := &logBuffer{}
	old := slog.Default()
	slog.SetDefault(logs.logger())
	t.Cleanup(func() { slog.SetDefault(old) })

	srv := servertest.Start(t, servertest.Options{})
	tests := []struct{ name, content string }{
		{"garbage", "{not json"},
		{"empty", ""},
		{"null", "null"},
		{"array", "[1,2]"},
		{"no token", `{"uid":"cometchat-uid-1","name":"x"}`},
		{"wrong types", `{"uid":1,"authToken":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, srv.AppID+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			u, err := calls.NewFileStore(dir).Load(srv.AppID)
			if err != nil || u != nil {
				t.Fatalf("Load of a corrupt file = %+v, %v; want no session", u, err)
			}
			c, err := calls.New(settings(srv, calls.NewFileStore(dir)))
			if err != nil {
				t.Fatalf("New with a corrupt session file: %v", err)
			}
			if c.IsUserLoggedIn() {
				t.Fatal("logged in from a corrupt file")
			}
			// A login replaces the corrupt file.
			login(t, c, srv, uid1)
			if u, _ := calls.NewFileStore(dir).Load(srv.AppID); u == nil || u.UID != uid1 {
				t.Fatalf("the corrupt file was not replaced: %+v", u)
			}
		})
	}
	if !strings.Contains(logs.String(), "corrupt session file") {
		t.Fatalf("a corrupt file was not reported through slog; logs:\n%s", logs)
	}
}

func TestFileStoreModes(t *testing.T) {
	if os.PathSeparator != '/' {
		t.Skip("POSIX modes")
	}
	srv := servertest.Start(t, servertest.Options{})
	dir := filepath.Join(t.TempDir(), "config", "callgate", "sessions")
	c, err := calls.New(settings(srv, calls.NewFileStore(dir)))
	if err != nil {
		t.Fatal(err)
	}
	u := login(t, c, srv, uid1)
	path := filepath.Join(dir, srv.AppID+".json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("session file mode %o, want 600", m)
	}
	for _, d := range []string{dir, filepath.Dir(dir), filepath.Dir(filepath.Dir(dir))} {
		di, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if m := di.Mode().Perm(); m != 0o700 {
			t.Fatalf("directory %s mode %o, want 700", d, m)
		}
	}
	// The file is the user as JSON, with the names of the wire format.
	b, _ := os.ReadFile(path)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"uid", "name", "avatar", "status", "authToken", "link", "role", "metadata", "lastActiveAt"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("session file has no %q", k)
		}
	}
	if raw["authToken"] != u.AuthToken {
		t.Fatal("session file has the wrong token")
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("session directory holds %d entries, want 1", len(entries))
	}
	if _, err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Logout left the session file")
	}
}

func TestFileStoreRejectsBadAppID(t *testing.T) {
	st := calls.NewFileStore(t.TempDir())
	for _, id := range []string{"", "../x", "a/b", "A", `a\b`} {
		if _, err := st.Load(id); err == nil {
			t.Errorf("Load(%q) accepted", id)
		}
		if err := st.Save(id, &calls.User{UID: "u", AuthToken: "t"}); err == nil {
			t.Errorf("Save(%q) accepted", id)
		}
	}
}

func TestStores(t *testing.T) {
	stores := map[string]calls.SessionStore{
		"memory": calls.NewMemoryStore(),
		"file":   calls.NewFileStore(filepath.Join(t.TempDir(), "s")),
	}
	for name, st := range stores {
		t.Run(name, func(t *testing.T) {
			if u, err := st.Load("app"); u != nil || err != nil {
				t.Fatalf("empty store Load = %+v, %v", u, err)
			}
			if err := st.Clear("app"); err != nil {
				t.Fatalf("Clear of nothing: %v", err)
			}
			in := &calls.User{UID: "u", AuthToken: "t", Metadata: map[string]any{"k": []any{"v"}}}
			if err := st.Save("app", in); err != nil {
				t.Fatal(err)
			}
			in.Metadata["k"].([]any)[0] = "changed"
			out, err := st.Load("app")
			if err != nil || out == nil || out.UID != "u" || out.Metadata["k"].([]any)[0] != "v" {
				t.Fatalf("Load = %+v, %v", out, err)
			}
			if u, _ := st.Load("other"); u != nil {
				t.Fatal("sessions leak between apps")
			}
			if err := st.Clear("app"); err != nil {
				t.Fatal(err)
			}
			if u, _ := st.Load("app"); u != nil {
				t.Fatal("Clear did not clear")
			}
		})
	}
}

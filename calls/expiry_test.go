package calls_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/servertest"
)

// stamp is one listener callback and when it ran.
type stamp struct {
	what string
	at   time.Time
}

// timeline records a client's login and connection callbacks with their
// times: "willexpire:{expiresAt}", "login:{uid}:{token}", "login-failed:{code}",
// "logout", "connected", "disconnected", "revoked:{reason}".
type timeline struct {
	ch  chan stamp
	mu  sync.Mutex
	all []stamp // every event, whatever wait consumed
}

func track(c *calls.Client) *timeline {
	tl := &timeline{ch: make(chan stamp, 1000)}
	add := func(s string) {
		st := stamp{s, time.Now()}
		tl.mu.Lock()
		tl.all = append(tl.all, st)
		tl.mu.Unlock()
		tl.ch <- st
	}
	c.AddLoginListener("tl", calls.LoginListener{
		OnLoginSuccess:        func(u *calls.User) { add("login:" + u.UID + ":" + u.AuthToken) },
		OnLoginFailure:        func(e *calls.Error) { add("login-failed:" + e.Code + ":" + e.Description) },
		OnLogoutSuccess:       func() { add("logout") },
		OnAuthTokenWillExpire: func(exp int64) { add(fmt.Sprint("willexpire:", exp)) },
	})
	c.AddConnectionListener("tl", calls.ConnectionListener{
		OnConnected:      func() { add("connected") },
		OnDisconnected:   func() { add("disconnected") },
		OnSessionRevoked: func(r string) { add("revoked:" + r) },
	})
	return tl
}

// wait returns the first event starting with prefix, skipping others.
func (tl *timeline) wait(t *testing.T, prefix string, timeout time.Duration) stamp {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case s := <-tl.ch:
			if strings.HasPrefix(s.what, prefix) {
				return s
			}
		case <-deadline:
			tl.mu.Lock()
			for _, s := range tl.all {
				t.Logf("%s %s", s.at.Format("15:04:05.000"), s.what)
			}
			tl.mu.Unlock()
			t.Fatalf("no %q within %v", prefix, timeout)
		}
	}
}

// none fails if an event starting with prefix arrives within d.
func (tl *timeline) none(t *testing.T, prefix string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case s := <-tl.ch:
			if strings.HasPrefix(s.what, prefix) {
				t.Fatalf("unexpected %q", s.what)
			}
		case <-deadline:
			return
		}
	}
}

// seen counts the events so far that start with prefix.
func (tl *timeline) seen(prefix string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	n := 0
	for _, s := range tl.all {
		if strings.HasPrefix(s.what, prefix) {
			n++
		}
	}
	return n
}

// eventually waits until ok holds, failing after timeout.
func eventually(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newToken creates an auth token for uid with the REST key, as an app's
// backend does for a TokenProvider (no *testing.T: providers run on the
// SDK's goroutines).
func newToken(ctx context.Context, srv *servertest.Server, uid string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v3/users/"+uid+"/auth_tokens", strings.NewReader("{}"))
	if err != nil {
		return "", err
	}
	req.Header.Set("appId", srv.AppID)
	req.Header.Set("apiKey", srv.RESTKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var env struct {
		Data struct {
			AuthToken string `json:"authToken"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || env.Data.AuthToken == "" {
		return "", fmt.Errorf("create token: HTTP %d, %v", res.StatusCode, err)
	}
	return env.Data.AuthToken, nil
}

// provider is a TokenProvider that counts its calls.
type provider struct {
	calls atomic.Int32
	get   func(ctx context.Context) (string, error)
}

func (p *provider) fn(ctx context.Context) (string, error) {
	p.calls.Add(1)
	return p.get(ctx)
}

// expiring returns a client of srv whose tokens live ttl seconds (the
// app's setting), with lead and provider (either may be zero), tracked.
func expiring(t *testing.T, srv *servertest.Server, ttl int, lead time.Duration, p *provider, realtime bool) (*calls.Client, *timeline) {
	t.Helper()
	setTTL(t, srv, ttl)
	s := settings(srv, nil)
	s.TokenWillExpireBefore = lead
	s.DisableRealtime = !realtime
	if p != nil {
		s.TokenProvider = p.fn
	}
	c, err := calls.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c, track(c)
}

// within fails unless got is in [want-early, want+late].
func within(t *testing.T, what string, got, want time.Time, early, late time.Duration) {
	t.Helper()
	if d := got.Sub(want); d < -early || d > late {
		t.Errorf("%s at %s, want %s (off by %v)", what, got.Format("15:04:05.000"), want.Format("15:04:05.000"), d)
	}
}

func TestWillExpireAt(t *testing.T) {
	hex := strings.Repeat("ab12", 16)
	const created = 1700000000
	tok := "cometchat-uid-1_" + fmt.Sprint(created) + hex
	now := time.Unix(created+5, 0)
	for _, tc := range []struct {
		name  string
		token string
		exp   int64
		lead  time.Duration
		want  time.Time
	}{
		{"an hour's token: the lead", tok, created + 3600, time.Minute, time.Unix(created+3600-60, 0)},
		{"a small lead", tok, created + 100, time.Second, time.Unix(created+99, 0)},
		{"a short life: at 90 %", tok, created + 100, time.Minute, time.Unix(created+90, 0)},
		{"10 s: at 9 s", tok, created + 10, time.Minute, time.Unix(created+9, 0)},
		{"uid with underscores", "a_b_" + fmt.Sprint(created) + hex, created + 100, time.Minute, time.Unix(created+90, 0)},
		{"no creation in the token: life from now", "opaque", created + 105, time.Minute, time.Unix(created+95, 0)},
		{"creation after expiry: from now", tok, created - 1, time.Minute, time.Unix(created-1, 0)},
		{"not hex", "u_" + fmt.Sprint(created) + strings.Repeat("zz", 32), created + 105, time.Minute, time.Unix(created+95, 0)},
	} {
		if got := calls.WillExpireAt(tc.token, tc.exp, tc.lead, now); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got.Unix(), tc.want.Unix())
		}
	}
}

// Without a TokenProvider: OnAuthTokenWillExpire at the lead (or at 90 %
// of a short life), then the session ends at expiry, reported once.
func TestSessionEndsAtExpiry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lead     time.Duration
		realtime bool
	}{
		{"lead shorter than a tenth", 300 * time.Millisecond, true},
		{"default lead, 90 percent", 0, true},
		{"without realtime", 200 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, servertest.Options{NoRealtime: !tc.realtime})
			const ttl = 5
			store := calls.NewMemoryStore()
			s := settings(srv, store)
			setTTL(t, srv, ttl)
			s.TokenWillExpireBefore = tc.lead
			s.DisableRealtime = !tc.realtime
			c, err := calls.New(s)
			if err != nil {
				t.Fatal(err)
			}
			tl := track(c)
			u := login(t, c, srv, uid1)
			if tc.realtime {
				tl.wait(t, "connected", 5*time.Second)
			}
			ss, err := c.ListSessions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			created := currentOf(t, ss).CreatedAt
			exp := time.Unix(u.AuthTokenExpiresAt, 0)
			if u.AuthTokenExpiresAt != created+ttl {
				t.Fatalf("expires at %d, created at %d", u.AuthTokenExpiresAt, created)
			}
			lead := time.Duration(ttl) * time.Second / 10
			if tc.lead != 0 && tc.lead < lead {
				lead = tc.lead
			}
			w := tl.wait(t, "willexpire:", ttl*time.Second)
			if w.what != fmt.Sprint("willexpire:", u.AuthTokenExpiresAt) {
				t.Errorf("got %s, want expiresAt %d", w.what, u.AuthTokenExpiresAt)
			}
			within(t, "OnAuthTokenWillExpire", w.at, exp.Add(-lead), 50*time.Millisecond, 400*time.Millisecond)
			if !c.IsUserLoggedIn() {
				t.Fatal("the session ended before its expiry")
			}
			r := tl.wait(t, "revoked:", 3*time.Second)
			if r.what != "revoked:"+calls.RevokedTokenExpired {
				t.Fatalf("got %s", r.what)
			}
			within(t, "OnSessionRevoked", r.at, exp, 50*time.Millisecond, 700*time.Millisecond)
			if c.IsUserLoggedIn() || c.GetUserAuthToken() != "" {
				t.Error("still logged in after expiry")
			}
			if saved, _ := store.Load(srv.AppID); saved != nil {
				t.Error("the store still holds the expired session")
			}
			// The server closes the socket with token_expired too: reported once.
			tl.none(t, "revoked:", 700*time.Millisecond)
			// A restart does not restore an expired session.
			if c2, _ := calls.New(settings(srv, calls.NewMemoryStore())); c2.IsUserLoggedIn() {
				t.Error("restored from an empty store")
			}
		})
	}
}

func TestExpiredSessionIsNotRestored(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	store := calls.NewMemoryStore()
	u := &calls.User{UID: uid1, AuthToken: restToken(t, srv, uid1), AuthTokenExpiresAt: time.Now().Unix() - 1}
	store.Save(srv.AppID, u)
	c, err := calls.New(settings(srv, store))
	if err != nil {
		t.Fatal(err)
	}
	if c.IsUserLoggedIn() {
		t.Fatal("an expired session was restored")
	}
	// One that expires later is restored, with its timers: it ends at expiry.
	setTTL(t, srv, 2)
	c1 := newClient(t, srv)
	u1 := login(t, c1, srv, uid1)
	store.Save(srv.AppID, c1.GetLoggedInUser())
	c2 := &calls.Client{}
	tl := track(c2)
	s := settings(srv, store)
	s.DisableRealtime = true // only the SDK's own timer can end it
	if err := c2.Init(s); err != nil {
		t.Fatal(err)
	}
	if r := c2.GetLoggedInUser(); r == nil || r.AuthTokenExpiresAt != u1.AuthTokenExpiresAt {
		t.Fatalf("restored %+v", r)
	}
	tl.wait(t, "willexpire:", 3*time.Second)
	r := tl.wait(t, "revoked:", 3*time.Second)
	if r.what != "revoked:"+calls.RevokedTokenExpired {
		t.Fatalf("got %s", r.what)
	}
	within(t, "OnSessionRevoked", r.at, time.Unix(u1.AuthTokenExpiresAt, 0), 50*time.Millisecond, 500*time.Millisecond)
}

// Logout, another login and Init stop the timers of the session they end.
func TestSessionChangesCancelTimers(t *testing.T) {
	ctx := context.Background()
	t.Run("logout", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, servertest.Options{})
		c, tl := expiring(t, srv, 2, 0, nil, true)
		u := login(t, c, srv, uid1)
		if _, err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(time.Unix(u.AuthTokenExpiresAt, 0).Add(300 * time.Millisecond)))
		for _, p := range []string{"willexpire:", "revoked:"} {
			if n := tl.seen(p); n != 0 {
				t.Errorf("%d %q after Logout", n, p)
			}
		}
	})
	t.Run("login as another user", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, servertest.Options{})
		c, tl := expiring(t, srv, 2, 0, nil, true)
		u := login(t, c, srv, uid1)
		setTTL(t, srv, 0) // the next user's token never expires
		login(t, c, srv, uid2)
		time.Sleep(time.Until(time.Unix(u.AuthTokenExpiresAt, 0).Add(300 * time.Millisecond)))
		for _, p := range []string{"willexpire:", "revoked:"} {
			if n := tl.seen(p); n != 0 {
				t.Errorf("%d %q after the switch", n, p)
			}
		}
		if got := c.GetLoggedInUser(); got == nil || got.UID != uid2 || got.AuthTokenExpiresAt != 0 {
			t.Fatalf("session %+v", got)
		}
	})
	t.Run("init to another store", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, servertest.Options{})
		c, tl := expiring(t, srv, 2, 0, nil, true)
		u := login(t, c, srv, uid1)
		if err := c.Init(settings(srv, calls.NewMemoryStore())); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(time.Unix(u.AuthTokenExpiresAt, 0).Add(300 * time.Millisecond)))
		for _, p := range []string{"willexpire:", "revoked:"} {
			if n := tl.seen(p); n != 0 {
				t.Errorf("%d %q after Init", n, p)
			}
		}
	})
}

// With a TokenProvider the session moves to a new token before expiry:
// PUT /me with it, the session (store and memory), realtime reconnected,
// then the old token logged out on the server, then OnLoginSuccess.
func TestRefreshWithProvider(t *testing.T) {
	srv := rtServer(t)
	ctx := context.Background()
	p := &provider{get: func(ctx context.Context) (string, error) { return newToken(ctx, srv, uid1) }}
	setTTL(t, srv, 6)
	store := calls.NewMemoryStore()
	s := settings(srv, store)
	s.TokenProvider = p.fn
	c, err := calls.New(s)
	if err != nil {
		t.Fatal(err)
	}
	tl := track(c)
	u := login(t, c, srv, uid1)
	old := u.AuthToken
	tl.wait(t, "connected", 5*time.Second)
	// What the world looks like when OnLoginSuccess runs.
	type seen struct {
		token, saved, oldMe, newMe string
	}
	atLogin := make(chan seen, 1)
	c.AddLoginListener("check", calls.LoginListener{OnLoginSuccess: func(u *calls.User) {
		saved, _ := store.Load(srv.AppID)
		atLogin <- seen{c.GetUserAuthToken(), saved.AuthToken, meCode(t, srv, old), meCode(t, srv, u.AuthToken)}
	}})

	w := tl.wait(t, "willexpire:", 7*time.Second)
	l := tl.wait(t, "login:", 3*time.Second)
	newToken := strings.TrimPrefix(l.what, "login:"+uid1+":")
	if newToken == old || newToken == "" {
		t.Fatalf("OnLoginSuccess with %q", l.what)
	}
	if l.at.After(time.Unix(u.AuthTokenExpiresAt, 0)) {
		t.Errorf("refreshed %v after expiry", l.at.Sub(time.Unix(u.AuthTokenExpiresAt, 0)))
	}
	t.Logf("refreshed %v after OnAuthTokenWillExpire", l.at.Sub(w.at))
	if at := <-atLogin; at != (seen{newToken, newToken, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND", ""}) {
		t.Errorf("at OnLoginSuccess: %+v", at)
	}
	// Realtime reconnected with the new token.
	eventually(t, "OnConnected again", 5*time.Second, func() bool { return tl.seen("connected") == 2 })
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
	nu := c.GetLoggedInUser()
	if nu == nil || nu.AuthToken != newToken || nu.UID != uid1 || nu.AuthTokenExpiresAt <= u.AuthTokenExpiresAt {
		t.Fatalf("session after the refresh %+v", nu)
	}
	// The session outlives the old token's expiry, and the server sees one session.
	time.Sleep(time.Until(time.Unix(u.AuthTokenExpiresAt, 0).Add(300 * time.Millisecond)))
	if c.GetUserAuthToken() != newToken || meCode(t, srv, newToken) != "" {
		t.Fatal("the session did not survive the old token's expiry")
	}
	if n := tl.seen("revoked:"); n != 0 {
		t.Errorf("%d revocations reported", n)
	}
	ss, err := c.ListSessions(ctx)
	if err != nil || len(ss) != 1 || !ss[0].Current {
		t.Fatalf("sessions after the refresh: %+v, %v", ss, err)
	}
	if !srv.Hub.Online(srv.AppID, uid1) {
		t.Error("not online after the refresh")
	}
}

// However many goroutines use the client around the refresh, the provider
// is asked once, and no call fails: one that meets the old token gone is
// made again with the new one.
func TestRefreshSingleFlight(t *testing.T) {
	srv := rtServer(t)
	ctx := context.Background()
	p := &provider{get: func(ctx context.Context) (string, error) {
		time.Sleep(200 * time.Millisecond) // a slow backend widens the race
		return newToken(ctx, srv, uid1)
	}}
	c, tl := expiring(t, srv, 10, 0, p, true)
	u := login(t, c, srv, uid1)
	tl.wait(t, "login:", time.Second) // Login's own
	// From shortly before the will-expire moment until after the refresh.
	time.Sleep(time.Until(calls.WillExpireAt(u.AuthToken, u.AuthTokenExpiresAt, time.Minute, time.Now()).Add(-300 * time.Millisecond)))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int32
	var errs sync.Map
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				var err error
				switch i % 4 {
				case 0:
					_, err = c.GenerateToken(ctx, fmt.Sprint("room-", i))
				case 1:
					_, err = c.ListSessions(ctx)
				case 2:
					if c.GetLoggedInUser() == nil || !c.IsUserLoggedIn() || c.GetUserAuthToken() == "" {
						err = errors.New("logged out")
					}
				case 3:
					tok := c.GetUserAuthToken()
					if tok != "" && tok != u.AuthToken && !strings.HasPrefix(tok, uid1+"_") {
						err = errors.New("odd token " + tok)
					}
				}
				if err != nil {
					failures.Add(1)
					errs.Store(err.Error(), true)
				}
			}
		}()
	}
	tl.wait(t, "willexpire:", 2*time.Second)
	tl.wait(t, "login:", 2*time.Second) // the refresh's
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
	if n := failures.Load(); n != 0 {
		errs.Range(func(k, _ any) bool { t.Log(k); return true })
		t.Errorf("%d calls failed around the refresh", n)
	}
	if c.GetUserAuthToken() == u.AuthToken {
		t.Error("the token was not refreshed")
	}
}

// A provider that fails — an error, a blank token, the current one, one
// the server refuses — is retried with backoff, not in a loop, and the
// session ends at expiry.
func TestRefreshFailureBacksOff(t *testing.T) {
	t.Cleanup(calls.SetRefreshBackoff(100*time.Millisecond, 400*time.Millisecond))
	for _, tc := range []struct {
		name string
		get  func(c **calls.Client) func(context.Context) (string, error)
		why  string
	}{
		{"error", func(**calls.Client) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { return "", errors.New("backend down") }
		}, "backend down"},
		{"blank", func(**calls.Client) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { return " ", nil }
		}, "empty token"},
		{"same token", func(c **calls.Client) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { return (*c).GetUserAuthToken(), nil }
		}, "current token"},
		{"refused", func(**calls.Client) func(context.Context) (string, error) {
			return func(context.Context) (string, error) {
				return uid1 + "_1700000000" + strings.Repeat("0", 64), nil
			}
		}, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"panics", func(**calls.Client) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { panic("boom") }
		}, "panic: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := rtServer(t)
			var c *calls.Client
			p := &provider{get: tc.get(&c)}
			// A 10 s token: the refresh window is its last second.
			c, tl := expiring(t, srv, 10, 0, p, true)
			u := login(t, c, srv, uid1)
			exp := time.Unix(u.AuthTokenExpiresAt, 0)
			tl.wait(t, "willexpire:", 11*time.Second)
			f := tl.wait(t, "login-failed:", 2*time.Second)
			if !strings.HasPrefix(f.what, "login-failed:"+calls.ErrTokenRefreshFailed+":") || !strings.Contains(f.what, tc.why) {
				t.Errorf("failure %q, want %s about %q", f.what, calls.ErrTokenRefreshFailed, tc.why)
			}
			r := tl.wait(t, "revoked:", 2*time.Second)
			if r.what != "revoked:"+calls.RevokedTokenExpired {
				t.Fatalf("got %s", r.what)
			}
			within(t, "OnSessionRevoked", r.at, exp, 50*time.Millisecond, 700*time.Millisecond)
			// In a 1 s window, 100 ms doubling to 400 ms (with jitter)
			// allows 4 to 7 attempts; a loop would make thousands.
			n := p.calls.Load()
			if n < 3 || n > 8 {
				t.Errorf("%d provider calls in the last second, want 4 to 7", n)
			}
			// Every attempt that ended before the token did is reported;
			// one still in flight at expiry (a PUT /me on a slow
			// machine) is cancelled by the session's end, unreported.
			if failures := tl.seen("login-failed:"); failures != int(n) && failures != int(n)-1 {
				t.Errorf("%d failures reported for %d attempts", failures, n)
			}
			time.Sleep(500 * time.Millisecond)
			if m := p.calls.Load(); m != n {
				t.Errorf("%d provider calls after the session ended", m-n)
			}
			if c.IsUserLoggedIn() {
				t.Error("still logged in")
			}
			tl.none(t, "revoked:", 300*time.Millisecond)
			if n := tl.seen("revoked:"); n != 1 {
				t.Errorf("%d revocations reported", n)
			}
		})
	}
}

// A refresh in flight ends with the session: Logout cancels the
// provider's context, and nothing is reported.
func TestLogoutCancelsRefresh(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	entered := make(chan struct{}, 1)
	cancelled := make(chan struct{})
	p := &provider{get: func(ctx context.Context) (string, error) {
		entered <- struct{}{}
		<-ctx.Done()
		close(cancelled)
		return "", ctx.Err()
	}}
	c, tl := expiring(t, srv, 4, 0, p, false)
	login(t, c, srv, uid1)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the provider was never asked")
	}
	if _, err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(time.Second):
		t.Fatal("Logout did not cancel the provider's context")
	}
	time.Sleep(500 * time.Millisecond)
	// Login's own success, no other: no failure, no success of the refresh.
	if n, m := tl.seen("login:"), tl.seen("login-failed:"); n != 1 || m != 0 {
		t.Errorf("%d successes and %d failures reported", n, m)
	}
	if c.IsUserLoggedIn() {
		t.Fatal("logged in after Logout")
	}
}

func TestTokenWillExpireBeforeValidated(t *testing.T) {
	s := calls.AppSettings{AppID: "app", Region: "us", SessionStore: calls.NewMemoryStore(), TokenWillExpireBefore: -time.Second}
	_, err := calls.New(s)
	wantCode(t, err, calls.ErrInvalidAppSettings)
}

// The token a refresh moves to exists on the server before the client has
// it; LogoutOtherSessions waits for the refresh rather than end it.
func TestLogoutOtherSessionsWaitsForRefresh(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	p := &provider{get: func(ctx context.Context) (string, error) {
		tok, err := newToken(ctx, srv, uid1)
		entered <- struct{}{}
		<-release
		return tok, err
	}}
	c, tl := expiring(t, srv, 6, 0, p, false)
	u := login(t, c, srv, uid1)
	select {
	case <-entered:
	case <-time.After(8 * time.Second):
		t.Fatal("the provider was never asked")
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.LogoutOtherSessions(context.Background())
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("LogoutOtherSessions returned during the refresh: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	tl.wait(t, "login:"+uid1+":"+c.GetUserAuthToken(), 2*time.Second)
	tok := c.GetUserAuthToken()
	if tok == u.AuthToken || meCode(t, srv, tok) != "" {
		t.Fatalf("the refreshed session's token is dead or not new (LogoutOtherSessions ended %d)", r.n)
	}
	if meCode(t, srv, u.AuthToken) != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Error("the old token survived")
	}
}

package calls_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/servertest"
)

// setTTL sets the lifetime of the dev app's new auth tokens (0: never
// expire) through PUT /v3/app, as an app's backend would.
func setTTL(t *testing.T, srv *servertest.Server, seconds int) {
	t.Helper()
	if code, _ := api(t, srv, "PUT", "/v3/app", map[string]string{"apiKey": srv.RESTKey},
		map[string]any{"settings": map[string]any{"authTokenTTL": seconds}}); code != "" {
		t.Fatalf("PUT /v3/app authTokenTTL=%d: %s", seconds, code)
	}
}

// sessionOf returns the current session (and fails without exactly one).
func currentOf(t *testing.T, ss []calls.Session) calls.Session {
	t.Helper()
	var cur []calls.Session
	for _, s := range ss {
		if s.Current {
			cur = append(cur, s)
		}
	}
	if len(cur) != 1 {
		t.Fatalf("%d current sessions in %+v, want 1", len(cur), ss)
	}
	return cur[0]
}

func TestListSessions(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	a, b := newClient(t, srv), newClient(t, srv)
	start := time.Now().Unix()
	login(t, a, srv, uid1)
	login(t, b, srv, uid1)
	other := newClient(t, srv)
	login(t, other, srv, uid2) // another user's session is not listed

	ssA, err := a.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ssA) != 2 {
		t.Fatalf("ListSessions = %+v, want 2 sessions", ssA)
	}
	curA := currentOf(t, ssA)
	for _, s := range ssA {
		if !strings.HasPrefix(s.ID, "tok") || s.Platform != "go" || !strings.HasPrefix(s.DeviceID, "go-") ||
			!strings.HasPrefix(s.UserAgent, "callgate-go/") || s.CreatedAt < start || s.CreatedAt > time.Now().Unix() ||
			s.ExpiresAt != 0 {
			t.Errorf("session %+v", s)
		}
	}
	ssB, err := b.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if curB := currentOf(t, ssB); curB.ID == curA.ID {
		t.Fatalf("two clients share the current session %s", curB.ID)
	}

	// With a lifetime, sessions and the user carry their expiry.
	setTTL(t, srv, 3600)
	c := newClient(t, srv)
	u := login(t, c, srv, uid1)
	if u.AuthTokenExpiresAt < start+3600 || u.AuthTokenExpiresAt > time.Now().Unix()+3600 {
		t.Fatalf("AuthTokenExpiresAt = %d, want about now + 3600", u.AuthTokenExpiresAt)
	}
	ssC, err := c.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ssC) != 3 {
		t.Fatalf("%d sessions, want 3", len(ssC))
	}
	if cur := currentOf(t, ssC); cur.ExpiresAt != u.AuthTokenExpiresAt || cur.ExpiresAt != cur.CreatedAt+3600 {
		t.Errorf("current session %+v, user expires at %d", cur, u.AuthTokenExpiresAt)
	}
}

func TestAuthTokenExpiresAtIsSaved(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	setTTL(t, srv, 3600)
	store := calls.NewMemoryStore()
	c, err := calls.New(settings(srv, store))
	if err != nil {
		t.Fatal(err)
	}
	u := login(t, c, srv, uid1)
	if u.AuthTokenExpiresAt == 0 || c.GetLoggedInUser().AuthTokenExpiresAt != u.AuthTokenExpiresAt {
		t.Fatalf("AuthTokenExpiresAt: Login %d, GetLoggedInUser %d", u.AuthTokenExpiresAt, c.GetLoggedInUser().AuthTokenExpiresAt)
	}
	if saved, _ := store.Load(srv.AppID); saved == nil || saved.AuthTokenExpiresAt != u.AuthTokenExpiresAt {
		t.Fatalf("saved session %+v", saved)
	}
	// A restart restores it with the session; so does the file store.
	c2, err := calls.New(settings(srv, store))
	if err != nil {
		t.Fatal(err)
	}
	if r := c2.GetLoggedInUser(); r == nil || r.AuthTokenExpiresAt != u.AuthTokenExpiresAt {
		t.Fatalf("restored %+v", r)
	}
	fs := calls.NewFileStore(t.TempDir())
	c3, _ := calls.New(settings(srv, fs))
	u3, err := c3.LoginWithAuthToken(context.Background(), u.AuthToken)
	if err != nil {
		t.Fatal(err)
	}
	if saved, err := fs.Load(srv.AppID); err != nil || saved == nil || saved.AuthTokenExpiresAt != u3.AuthTokenExpiresAt {
		t.Fatalf("file store: %+v, %v", saved, err)
	}
}

func TestLogoutSessionOfAnotherClient(t *testing.T) {
	srv := rtServer(t)
	ctx := context.Background()
	a, b := newClient(t, srv), newClient(t, srv)
	evA, evB := watch(t, a), watch(t, b)
	login(t, a, srv, uid1)
	ub := login(t, b, srv, uid1)
	evA.expect(t, "connected", 5*time.Second)
	evB.expect(t, "connected", 5*time.Second)

	ss, err := a.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var other string
	for _, s := range ss {
		if !s.Current {
			other = s.ID
		}
	}
	start := time.Now()
	if err := a.LogoutSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	evB.expect(t, "revoked:"+calls.RevokedLoggedOutElsewhere, time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("the other client heard of it after %v", d)
	}
	if b.IsUserLoggedIn() {
		t.Error("the other client is still logged in")
	}
	if code := meCode(t, srv, ub.AuthToken); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Errorf("the ended session's token: GET /me = %q", code)
	}
	if !a.IsUserLoggedIn() || meCode(t, srv, a.GetUserAuthToken()) != "" {
		t.Error("LogoutSession of another session ended this one")
	}
	evA.never(t, "revoked:"+calls.RevokedLoggedOutElsewhere, 300*time.Millisecond)
	// Ended already: the server's code passes through.
	wantCode(t, a.LogoutSession(ctx, other), "ERR_AUTH_TOKEN_NOT_FOUND")
}

func TestLogoutSessionCurrentIsALogout(t *testing.T) {
	for _, listed := range []bool{true, false} {
		t.Run(fmt.Sprintf("listed=%v", listed), func(t *testing.T) {
			cnt := &counter{}
			srv := servertest.Start(t, servertest.Options{Handler: cnt.wrap})
			ctx := context.Background()
			store := calls.NewMemoryStore()
			c, err := calls.New(settings(srv, store))
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			c.AddLoginListener("rec", rec.listener())
			ev := watch(t, c)
			u := login(t, c, srv, uid1)
			ev.expect(t, "connected", 5*time.Second)
			// The current session's id, as another client of the user sees
			// it (without realtime, whose requests would count).
			ps := settings(srv, nil)
			ps.DisableRealtime = true
			peer, _ := calls.New(ps)
			login(t, peer, srv, uid1)
			ss, err := peer.ListSessions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var id string
			for _, s := range ss {
				if !s.Current {
					id = s.ID
				}
			}
			if listed {
				ss, err := c.ListSessions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if currentOf(t, ss).ID != id {
					t.Fatal("the clients disagree on the session's id")
				}
			}
			rec.take()
			before := cnt.n.Load()
			if err := c.LogoutSession(ctx, id); err != nil {
				t.Fatal(err)
			}
			// Without a listing, the client asks which session is its own first.
			want := int64(1)
			if !listed {
				want = 2
			}
			if n := cnt.n.Load() - before; n != want {
				t.Errorf("LogoutSession made %d requests, want %d", n, want)
			}
			if c.IsUserLoggedIn() || c.GetUserAuthToken() != "" {
				t.Fatal("still logged in after LogoutSession of the current session")
			}
			if saved, _ := store.Load(srv.AppID); saved != nil {
				t.Fatal("the store still holds the session")
			}
			if code := meCode(t, srv, u.AuthToken); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
				t.Fatalf("the token survived: GET /me = %q", code)
			}
			if got := strings.Join(rec.take(), ","); got != "logout" {
				t.Fatalf("listener events %q, want logout", got)
			}
			// Like Logout, it is not reported as a revocation.
			ev.never(t, "revoked:"+calls.RevokedLogout, 300*time.Millisecond)
			if !peer.IsUserLoggedIn() {
				t.Fatal("the peer's session ended too")
			}
		})
	}
}

func TestLogoutOtherSessions(t *testing.T) {
	srv := rtServer(t)
	ctx := context.Background()
	a := newClient(t, srv)
	ua := login(t, a, srv, uid1)
	var others []*calls.Client
	var evs []*events
	for range 2 {
		c := newClient(t, srv)
		ev := watch(t, c)
		login(t, c, srv, uid1)
		ev.expect(t, "connected", 5*time.Second)
		others = append(others, c)
		evs = append(evs, ev)
	}
	d := newClient(t, srv)
	ud := login(t, d, srv, uid2)

	n, err := a.LogoutOtherSessions(ctx)
	if err != nil || n != 2 {
		t.Fatalf("LogoutOtherSessions = %d, %v; want 2", n, err)
	}
	for i, ev := range evs {
		ev.expect(t, "revoked:"+calls.RevokedLoggedOutElsewhere, time.Second)
		if others[i].IsUserLoggedIn() {
			t.Errorf("client %d is still logged in", i)
		}
	}
	if !a.IsUserLoggedIn() || a.GetUserAuthToken() != ua.AuthToken || meCode(t, srv, ua.AuthToken) != "" {
		t.Fatal("LogoutOtherSessions ended the current session")
	}
	if meCode(t, srv, ud.AuthToken) != "" {
		t.Fatal("LogoutOtherSessions ended another user's session")
	}
	ss, err := a.ListSessions(ctx)
	if err != nil || len(ss) != 1 || !ss[0].Current {
		t.Fatalf("after: %+v, %v", ss, err)
	}
	if n, err := a.LogoutOtherSessions(ctx); err != nil || n != 0 {
		t.Fatalf("again: %d, %v; want 0", n, err)
	}
}

func TestSessionCallsChecks(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t, servertest.Options{})
	type call struct {
		name string
		do   func(c *calls.Client) error
	}
	all := []call{
		{"ListSessions", func(c *calls.Client) error { _, err := c.ListSessions(ctx); return err }},
		{"LogoutSession", func(c *calls.Client) error { return c.LogoutSession(ctx, "tok_x") }},
		{"LogoutOtherSessions", func(c *calls.Client) error { _, err := c.LogoutOtherSessions(ctx); return err }},
	}
	for _, tc := range all {
		wantCode(t, tc.do(&calls.Client{}), calls.ErrSDKNotInitialized)
		wantCode(t, tc.do(newClient(t, srv)), calls.ErrNoUserLoggedIn)
	}
	// A blank id is checked first, before anything else.
	for _, id := range []string{"", "  ", "\t"} {
		wantCode(t, (&calls.Client{}).LogoutSession(ctx, id), calls.ErrSessionIDMissing)
		c := newClient(t, srv)
		login(t, c, srv, uid1)
		wantCode(t, c.LogoutSession(ctx, id), calls.ErrSessionIDMissing)
	}

	// Server errors pass through with the server's code.
	c := newClient(t, srv)
	login(t, c, srv, uid1)
	wantCode(t, c.LogoutSession(ctx, "tok_nosuchsession"), "ERR_AUTH_TOKEN_NOT_FOUND")
	wantCode(t, c.LogoutSession(ctx, "a/b?c"), "ERR_AUTH_TOKEN_NOT_FOUND")
	peer := newClient(t, srv)
	login(t, peer, srv, uid2)
	ss, err := peer.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another user's session is as unknown as none.
	wantCode(t, c.LogoutSession(ctx, currentOf(t, ss).ID), "ERR_AUTH_TOKEN_NOT_FOUND")
	if meCode(t, srv, peer.GetUserAuthToken()) != "" {
		t.Fatal("a user ended another user's session")
	}

	// The session revoked behind the client's back (no realtime to tell it).
	s := settings(srv, nil)
	s.DisableRealtime = true
	dead, _ := calls.New(s)
	login(t, dead, srv, uid1)
	restDelete(t, srv, "/users/"+uid1+"/auth_tokens")
	for _, tc := range all {
		wantCode(t, tc.do(dead), "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	}
}

// The package-level functions use the default client.
func TestPackageLevelSessions(t *testing.T) {
	calls.ResetDefault()
	t.Cleanup(calls.ResetDefault)
	ctx := context.Background()
	_, err := calls.ListSessions(ctx)
	wantCode(t, err, calls.ErrSDKNotInitialized)
	wantCode(t, calls.LogoutSession(ctx, "x"), calls.ErrSDKNotInitialized)
	wantCode(t, calls.LogoutSession(ctx, ""), calls.ErrSessionIDMissing)
	_, err = calls.LogoutOtherSessions(ctx)
	wantCode(t, err, calls.ErrSDKNotInitialized)

	srv := servertest.Start(t, servertest.Options{})
	s := settings(srv, nil)
	s.DisableRealtime = true
	if err := calls.Init(s); err != nil {
		t.Fatal(err)
	}
	_, err = calls.ListSessions(ctx)
	wantCode(t, err, calls.ErrNoUserLoggedIn)
	if _, err := calls.Login(ctx, uid1, srv.AuthKey); err != nil {
		t.Fatal(err)
	}
	peer := newClient(t, srv)
	login(t, peer, srv, uid1)
	login(t, newClient(t, srv), srv, uid1)
	ss, err := calls.ListSessions(ctx)
	if err != nil || len(ss) != 3 {
		t.Fatalf("ListSessions = %+v, %v", ss, err)
	}
	pss, _ := peer.ListSessions(ctx)
	if err := calls.LogoutSession(ctx, currentOf(t, pss).ID); err != nil {
		t.Fatal(err)
	}
	if n, err := calls.LogoutOtherSessions(ctx); err != nil || n != 1 {
		t.Fatalf("LogoutOtherSessions = %d, %v", n, err)
	}
	if err := calls.LogoutSession(ctx, currentOf(t, ss).ID); err != nil || calls.IsUserLoggedIn() {
		t.Fatalf("LogoutSession(current) = %v, logged in %v", err, calls.IsUserLoggedIn())
	}
}

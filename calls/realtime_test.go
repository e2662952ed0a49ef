package calls_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/servertest"
)

// events records what a client's realtime listeners saw.
type events struct {
	mu sync.Mutex
	ch chan string
}

func watch(t *testing.T, c *calls.Client) *events {
	t.Helper()
	ev := &events{ch: make(chan string, 100)}
	send := func(s string) { ev.ch <- s }
	c.AddConnectionListener("t", calls.ConnectionListener{
		OnConnected:      func() { send("connected") },
		OnDisconnected:   func() { send("disconnected") },
		OnSessionRevoked: func(r string) { send("revoked:" + r) },
	})
	c.AddUserListener("t", calls.UserListener{
		OnUserOnline:  func(u *calls.User) { send("online:" + u.UID) },
		OnUserOffline: func(u *calls.User) { send("offline:" + u.UID) },
	})
	return ev
}

// expect waits for want, skipping other events; it fails after timeout.
func (ev *events) expect(t *testing.T, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(timeout)
	for {
		select {
		case got := <-ev.ch:
			if got == want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("no %q within %v", want, timeout)
		}
	}
}

// never fails if unwanted arrives within d.
func (ev *events) never(t *testing.T, unwanted string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case got := <-ev.ch:
			if got == unwanted {
				t.Fatalf("unexpected %q", unwanted)
			}
		case <-deadline:
			return
		}
	}
}

func rtServer(t *testing.T) *servertest.Server {
	return servertest.Start(t, servertest.Options{Realtime: realtime.Config{Grace: 300 * time.Millisecond}})
}

func restDelete(t *testing.T, srv *servertest.Server, path string) {
	t.Helper()
	req, _ := http.NewRequest("DELETE", srv.URL+"/v3"+path, nil)
	req.Header.Set("appId", srv.AppID)
	req.Header.Set("apiKey", srv.RESTKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("DELETE %s: %d", path, res.StatusCode)
	}
}

func TestRealtimePresenceBetweenTwoClients(t *testing.T) {
	srv := rtServer(t)
	a, b := newClient(t, srv), newClient(t, srv)
	evA, evB := watch(t, a), watch(t, b)
	login(t, b, srv, uid2)
	evB.expect(t, "connected", 5*time.Second)
	login(t, a, srv, uid1)
	evA.expect(t, "connected", 5*time.Second)
	evB.expect(t, "online:"+uid1, 2*time.Second)

	if _, err := a.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	// An explicit logout is offline at once, not after the grace period,
	// and is never reported to the client itself as a revocation.
	if d := evB.expect(t, "offline:"+uid1, 2*time.Second); d > time.Second {
		t.Errorf("offline after logout took %v", d)
	}
	evA.never(t, "revoked:logout", 300*time.Millisecond)
}

func TestRealtimeRevocationReachesClient(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		revoke       func(t *testing.T, srv *servertest.Server, uid string)
	}{
		{"flush", "tokens_flushed", func(t *testing.T, srv *servertest.Server, uid string) {
			restDelete(t, srv, "/users/"+uid+"/auth_tokens")
		}},
		{"user deleted", "user_deleted", func(t *testing.T, srv *servertest.Server, uid string) {
			restDelete(t, srv, "/users/"+uid)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := rtServer(t)
			store := calls.NewMemoryStore()
			c, err := calls.New(settings(srv, store))
			if err != nil {
				t.Fatal(err)
			}
			ev := watch(t, c)
			login(t, c, srv, uid1)
			ev.expect(t, "connected", 5*time.Second)
			start := time.Now()
			tc.revoke(t, srv, uid1)
			ev.expect(t, "revoked:"+tc.reason, 2*time.Second)
			if d := time.Since(start); d > time.Second {
				t.Errorf("revocation reached the client after %v", d)
			}
			if c.GetLoggedInUser() != nil || c.GetUserAuthToken() != "" {
				t.Error("session still set after revocation")
			}
			if u, _ := store.Load(srv.AppID); u != nil {
				t.Error("store still holds the revoked session")
			}
		})
	}
}

func TestRealtimeRestoredSessionConnects(t *testing.T) {
	srv := rtServer(t)
	store := calls.NewMemoryStore()
	c1, _ := calls.New(settings(srv, store))
	login(t, c1, srv, uid1)
	// A second client restoring the same session connects without a login.
	c2 := &calls.Client{}
	ev := watch(t, c2)
	if err := c2.Init(settings(srv, store)); err != nil {
		t.Fatal(err)
	}
	ev.expect(t, "connected", 5*time.Second)
}

func TestRealtimeDisabled(t *testing.T) {
	srv := rtServer(t)
	s := settings(srv, nil)
	s.DisableRealtime = true
	c, _ := calls.New(s)
	ev := watch(t, c)
	login(t, c, srv, uid1)
	ev.never(t, "connected", 500*time.Millisecond)
	if srv.Hub.Online(srv.AppID, uid1) {
		t.Error("a client with realtime disabled is connected")
	}
}

func TestRealtimeReconnects(t *testing.T) {
	srv := rtServer(t)
	c := newClient(t, srv)
	ev := watch(t, c)
	login(t, c, srv, uid1)
	ev.expect(t, "connected", 5*time.Second)
	// Stopping the server drops the connection; the session stays.
	srv.Stop()
	ev.expect(t, "disconnected", 5*time.Second)
	if c.GetLoggedInUser() == nil {
		t.Fatal("a dropped connection ended the session")
	}
}

// A logout is offline at once even with the server's full grace period:
// the SDK revokes before it closes, and the server ends the grace of a
// revoked token's dropped connection whichever comes first.
func TestRealtimeLogoutOfflineAtOnce(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Realtime: realtime.Config{Grace: 5 * time.Second}})
	a, b := newClient(t, srv), newClient(t, srv)
	evA, evB := watch(t, a), watch(t, b)
	login(t, b, srv, uid2)
	evB.expect(t, "connected", 5*time.Second)
	login(t, a, srv, uid1)
	evA.expect(t, "connected", 5*time.Second)
	evB.expect(t, "online:"+uid1, 2*time.Second)

	start := time.Now()
	if _, err := a.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := evB.expect(t, "offline:"+uid1, 2*time.Second); time.Since(start) > time.Second {
		t.Errorf("B heard offline %v after the logout (event wait %v)", time.Since(start), d)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v3/users/"+uid1, nil)
	req.Header.Set("appId", srv.AppID)
	req.Header.Set("apiKey", srv.RESTKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Data struct{ Status string } }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Data.Status != "offline" {
		t.Errorf("REST reads %q right after the logout, want offline", body.Data.Status)
	}
	evA.never(t, "revoked:logout", 300*time.Millisecond)
}

// Connection callbacks run on the connection's goroutine and may end the
// session they report on: ending it stops that connection, which must not
// wait for the goroutine the callback runs on.
func TestRealtimeCallbackMayEndTheSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(c *calls.Client, srv *servertest.Server) error
	}{
		{"logout", func(c *calls.Client, _ *servertest.Server) error {
			_, err := c.Logout(context.Background())
			return err
		}},
		{"login as another user", func(c *calls.Client, srv *servertest.Server) error {
			_, err := c.Login(context.Background(), uid2, srv.AuthKey)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := rtServer(t)
			c := newClient(t, srv)
			done := make(chan error, 1)
			var once sync.Once
			c.AddConnectionListener("end", calls.ConnectionListener{OnConnected: func() {
				once.Do(func() { done <- tc.end(c, srv) })
			}})
			ev := watch(t, c)
			login(t, c, srv, uid1)
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the callback never returned: ending the session waited for its own goroutine")
			}
			if tc.name != "logout" {
				// The new session connects in turn (after the first
				// connection's own report).
				ev.expect(t, "connected", 5*time.Second)
				ev.expect(t, "connected", 5*time.Second)
				if u := c.GetLoggedInUser(); u == nil || u.UID != uid2 {
					t.Fatalf("session = %+v", u)
				}
			}
		})
	}
}

// AppSettings.Presence chooses whose presence the client hears; a bad one
// is refused by Init.
func TestRealtimePresenceSetting(t *testing.T) {
	srv := rtServer(t)
	none := settings(srv, calls.NewMemoryStore())
	none.Presence = "none"
	quiet, err := calls.New(none)
	if err != nil {
		t.Fatal(err)
	}
	all := newClient(t, srv)
	evQuiet, evAll := watch(t, quiet), watch(t, all)
	login(t, quiet, srv, uid1)
	evQuiet.expect(t, "connected", 5*time.Second)
	login(t, all, srv, uid2)
	evAll.expect(t, "connected", 5*time.Second)
	other := newClient(t, srv)
	login(t, other, srv, "cometchat-uid-3")
	evAll.expect(t, "online:cometchat-uid-3", 2*time.Second)
	evQuiet.never(t, "online:cometchat-uid-3", 300*time.Millisecond)

	bad := settings(srv, calls.NewMemoryStore())
	bad.Presence = "everyone"
	if _, err := calls.New(bad); err == nil || !strings.Contains(err.Error(), "Presence") {
		t.Errorf("Presence %q: %v", bad.Presence, err)
	}
}

package calls_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/servertest"
)

// recorder is a LoginListener that records every callback.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

func (r *recorder) listener() calls.LoginListener {
	return calls.LoginListener{
		OnLoginSuccess:  func(u *calls.User) { r.add("login:" + u.UID) },
		OnLoginFailure:  func(e *calls.Error) { r.add("login-failed:" + e.Code) },
		OnLogoutSuccess: func() { r.add("logout") },
		OnLogoutFailure: func(e *calls.Error) { r.add("logout-failed:" + e.Code) },
	}
}

func TestLoginListeners(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	logs := &logBuffer{}
	s := settings(srv, nil)
	s.Logger = logs.logger()
	c, err := calls.New(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := &recorder{}
	c.AddLoginListener("rec", rec.listener())
	// A listener that panics in every callback must not break the SDK or
	// keep the others from being called ("a" runs before "rec").
	c.AddLoginListener("a-panics", calls.LoginListener{
		OnLoginSuccess:  func(*calls.User) { panic("boom") },
		OnLoginFailure:  func(*calls.Error) { panic("boom") },
		OnLogoutSuccess: func() { panic("boom") },
		OnLogoutFailure: func(*calls.Error) { panic("boom") },
	})
	// A listener that calls back into the SDK: no lock is held.
	c.AddLoginListener("reentrant", calls.LoginListener{
		OnLoginSuccess: func(u *calls.User) {
			if got := c.GetLoggedInUser(); got == nil || got.UID != u.UID {
				rec.add("reentrant: session not visible")
			}
		},
		OnLogoutSuccess: func() {
			if c.IsUserLoggedIn() {
				rec.add("reentrant: still logged in")
			}
		},
		OnLoginFailure: func(*calls.Error) { c.GetUserAuthToken() },
	})
	// Only the fields set are called.
	c.AddLoginListener("partial", calls.LoginListener{})

	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"local failure", func() { c.Login(ctx, "", "") }, []string{"login-failed:ERROR_INVALID_UID"}},
		{"missing key", func() { c.Login(ctx, uid1, "") }, []string{"login-failed:ERROR_API_KEY_NOT_FOUND"}},
		{"blank token", func() { c.LoginWithAuthToken(ctx, " ") }, []string{"login-failed:ERROR_BLANK_AUTHTOKEN"}},
		{"server failure", func() { c.Login(ctx, "nobody", srv.AuthKey) }, []string{"login-failed:ERR_UID_NOT_FOUND"}},
		{"success", func() { c.Login(ctx, uid1, srv.AuthKey) }, []string{"login:" + uid1}},
		{"same uid", func() { c.Login(ctx, uid1, srv.AuthKey) }, []string{"login:" + uid1}},
		{"switch", func() { c.Login(ctx, uid2, srv.AuthKey) }, []string{"login:" + uid2}},
		{"logout", func() { c.Logout(ctx) }, []string{"logout"}},
		{"logout nobody", func() { c.Logout(ctx) }, []string{"logout-failed:ERROR_NO_USER_LOGGED_IN"}},
		{"token", func() { c.LoginWithAuthToken(ctx, restToken(t, srv, uid1)) }, []string{"login:" + uid1}},
		{"replaced", func() {
			c.AddLoginListener("rec", calls.LoginListener{OnLogoutSuccess: func() { rec.add("replaced-logout") }})
			c.Logout(ctx)
		}, []string{"replaced-logout"}},
		{"removed", func() {
			c.RemoveLoginListener("rec")
			c.RemoveLoginListener("never-added")
			c.Login(ctx, "", "")
		}, nil},
	}
	for _, st := range steps {
		st.do()
		if got := rec.take(); fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("%s: events %v, want %v", st.name, got, st.want)
		}
	}
	if !strings.Contains(logs.String(), "listener panicked") || !strings.Contains(logs.String(), "boom") {
		t.Fatalf("the panicking listener was not logged; logs:\n%s", logs)
	}

	// Listeners of an uninitialised client are called too.
	var z calls.Client
	z.AddLoginListener("rec", rec.listener())
	z.Login(ctx, uid1, "k")
	z.Logout(ctx)
	if got := fmt.Sprint(rec.take()); got != "[login-failed:ERROR_SDK_NOT_INITIALIZED logout-failed:ERROR_SDK_NOT_INITIALIZED]" {
		t.Fatalf("events of an uninitialised client: %s", got)
	}
}

// TestListenerGetsCopies: a listener changing the user or error it gets
// does not change the session or what Login returns.
func TestListenerGetsCopies(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	c := newClient(t, srv)
	c.AddLoginListener("evil", calls.LoginListener{
		OnLoginSuccess: func(u *calls.User) { u.AuthToken = "x"; u.UID = "x" },
		OnLoginFailure: func(e *calls.Error) { e.Code = "x" },
	})
	u := login(t, c, srv, uid1)
	if u.UID != uid1 || c.GetLoggedInUser().UID != uid1 || c.GetUserAuthToken() == "x" {
		t.Fatal("a listener changed the session")
	}
	_, err := c.Login(context.Background(), "", "")
	wantCode(t, err, calls.ErrInvalidUID)
}

// TestConcurrentUse hammers one client from many goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	c, err := calls.New(settings(srv, calls.NewFileStore(t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Readers and listener churn.
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("l", i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if u := c.GetLoggedInUser(); u != nil && u.AuthToken == "" {
					t.Error("a user without a token")
				}
				c.IsUserLoggedIn()
				c.GetUserAuthToken()
				c.AddLoginListener(id, calls.LoginListener{OnLoginSuccess: func(*calls.User) {}})
				c.RemoveLoginListener(id)
			}
		}()
	}
	// Writers: logins, switches and logouts racing each other.
	var writers sync.WaitGroup
	uids := []string{uid1, uid2, "cometchat-uid-3"}
	for i := range 6 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for j := range 8 {
				switch (i + j) % 3 {
				case 0, 1:
					_, err := c.Login(ctx, uids[(i+j)%len(uids)], srv.AuthKey)
					if code := codeOf(t, err); code != "" && code != calls.ErrLoginInProgress {
						t.Errorf("Login: %v", err)
					}
				case 2:
					_, err := c.Logout(ctx)
					if code := codeOf(t, err); code != "" && code != calls.ErrNoUserLoggedIn {
						t.Errorf("Logout: %v", err)
					}
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()

	// Whatever happened, the session left behind is live.
	if tok := c.GetUserAuthToken(); tok != "" && meCode(t, srv, tok) != "" {
		t.Fatal("the session left behind is not live on the server")
	}
}

func TestConcurrentUseStoreAgrees(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	c, err := calls.New(settings(srv, calls.NewFileStore(dir)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				c.Login(ctx, uid1, srv.AuthKey)
			} else {
				c.Logout(ctx)
			}
		}()
	}
	wg.Wait()
	saved, _ := calls.NewFileStore(dir).Load(srv.AppID)
	mem := c.GetLoggedInUser()
	if (saved == nil) != (mem == nil) || saved != nil && saved.AuthToken != mem.AuthToken {
		t.Fatalf("memory %+v and store %+v disagree", mem, saved)
	}
}

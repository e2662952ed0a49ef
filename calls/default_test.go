package calls_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/servertest"
)

// TestPackageLevelFunctions runs the seed's flow on the default client,
// starting from "never initialised". Not parallel: the default client is
// shared by the whole package.
func TestPackageLevelFunctions(t *testing.T) {
	calls.ResetDefault()
	t.Cleanup(calls.ResetDefault)
	ctx := context.Background()

	// Before Init: reads answer nothing, never block, never panic.
	if calls.GetLoggedInUser() != nil || calls.IsUserLoggedIn() || calls.GetUserAuthToken() != "" {
		t.Fatal("logged in before Init")
	}
	rec := &recorder{}
	calls.AddLoginListener("rec", rec.listener()) // before Init: kept by Init

	before := []struct {
		name string
		do   func() error
		want string
	}{
		{"Login", func() error { _, err := calls.Login(ctx, uid1, "key"); return err }, calls.ErrSDKNotInitialized},
		{"Login blank uid", func() error { _, err := calls.Login(ctx, " ", "key"); return err }, calls.ErrInvalidUID},
		{"Login uid with space", func() error { _, err := calls.Login(ctx, "a b", ""); return err }, calls.ErrUIDWithSpace},
		{"Login no key", func() error { _, err := calls.Login(ctx, uid1, ""); return err }, calls.ErrAPIKeyNotFound},
		{"LoginWithAuthToken", func() error { _, err := calls.LoginWithAuthToken(ctx, "tok"); return err }, calls.ErrSDKNotInitialized},
		{"LoginWithAuthToken blank", func() error { _, err := calls.LoginWithAuthToken(ctx, ""); return err }, calls.ErrBlankAuthToken},
		{"LoginWithAuthToken space", func() error { _, err := calls.LoginWithAuthToken(ctx, "a b"); return err }, calls.ErrAuthTokenWithSpace},
		{"Logout", func() error { _, err := calls.Logout(ctx); return err }, calls.ErrSDKNotInitialized},
		{"bad Init", func() error { return calls.Init(calls.AppSettings{AppID: "Bad App", Region: "us"}) }, calls.ErrInvalidAppSettings},
		{"Login after a bad Init", func() error { _, err := calls.Login(ctx, uid1, "key"); return err }, calls.ErrSDKNotInitialized},
	}
	for _, tt := range before {
		if got := codeOf(t, tt.do()); got != tt.want {
			t.Fatalf("%s before Init: %q, want %q", tt.name, got, tt.want)
		}
	}
	if n := len(rec.take()); n != 9 {
		t.Fatalf("%d listener calls before Init, want 9 (every failed login and logout)", n)
	}

	srv := servertest.Start(t, servertest.Options{})
	if err := calls.Init(settings(srv, calls.NewMemoryStore())); err != nil {
		t.Fatal(err)
	}
	if calls.GetLoggedInUser() != nil {
		t.Fatal("a fresh memory store restored a session")
	}
	u, err := calls.Login(ctx, uid1, srv.AuthKey)
	if err != nil {
		t.Fatal(err)
	}
	if !calls.IsUserLoggedIn() || calls.GetUserAuthToken() != u.AuthToken || calls.GetLoggedInUser().UID != uid1 {
		t.Fatal("the package-level reads disagree with Login")
	}
	token := restToken(t, srv, uid2)
	if u2, err := calls.LoginWithAuthToken(ctx, token); err != nil || u2.UID != uid2 {
		t.Fatalf("LoginWithAuthToken = %+v, %v", u2, err)
	}
	msg, err := calls.Logout(ctx)
	if err != nil || msg != "Logout successful" {
		t.Fatalf("Logout = %q, %v", msg, err)
	}
	calls.RemoveLoginListener("rec")
	calls.Logout(ctx)
	if got := strings.Join(rec.take(), ","); got != "login:"+uid1+",login:"+uid2+",logout" {
		t.Fatalf("listener events %s", got)
	}
}

// failingStore fails every operation.
type failingStore struct{}

func (failingStore) Load(string) (*calls.User, error) { return nil, errors.New("disk on fire") }
func (failingStore) Save(string, *calls.User) error   { return errors.New("disk on fire") }
func (failingStore) Clear(string) error               { return errors.New("disk on fire") }

// TestStoreFailures: a store that fails never fails Init, Login or Logout;
// each failure is logged.
func TestStoreFailures(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	logs := &logBuffer{}
	s := settings(srv, failingStore{})
	s.Logger = logs.logger()
	c, err := calls.New(s)
	if err != nil {
		t.Fatalf("New with a failing store: %v", err)
	}
	if c.IsUserLoggedIn() {
		t.Fatal("logged in from a failing store")
	}
	u := login(t, c, srv, uid1)
	if c.GetUserAuthToken() != u.AuthToken {
		t.Fatal("the session is not kept in memory when the store fails")
	}
	if msg, err := c.Logout(context.Background()); err != nil || msg != calls.LogoutMessage {
		t.Fatalf("Logout = %q, %v", msg, err)
	}
	if c.IsUserLoggedIn() {
		t.Fatal("Logout did not clear memory when the store failed")
	}
	for _, want := range []string{"could not restore", "could not save", "could not delete"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in the logs:\n%s", want, logs)
		}
	}
}

// TestRevokedHook covers the hook realtime will call when the server
// revokes the session: the local session and the store are cleared, and
// only when the token is still the session's.
func TestRevokedHook(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	store := calls.NewMemoryStore()
	c, err := calls.New(settings(srv, store))
	if err != nil {
		t.Fatal(err)
	}
	u := login(t, c, srv, uid1)
	if c.Revoked("another-token") || !c.IsUserLoggedIn() {
		t.Fatal("a stale revocation ended the current session")
	}
	if !c.Revoked(u.AuthToken) || c.IsUserLoggedIn() {
		t.Fatal("the revocation did not end the session")
	}
	if saved, _ := store.Load(srv.AppID); saved != nil {
		t.Fatal("the revocation left the saved session")
	}
	if c.Revoked(u.AuthToken) {
		t.Fatal("a second revocation reported success")
	}
}

package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// ---- context

func testContext(t *testing.T, s store.Store) {
	live := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "ctx-user")
	tok := newToken(t, s, app.ID, u.UID)
	key := keyRec(app.ID)
	must(t, "CreateAPIKey", s.CreateAPIKey(live, key, 25))
	for _, uid := range []string{"ctx-del-user", "ctx-flush", "ctx-del-tok"} {
		newUser(t, s, app.ID, uid)
	}
	delTok := newToken(t, s, app.ID, "ctx-del-tok")
	flushTok := newToken(t, s, app.ID, "ctx-flush")
	expTok := tokenRec(app.ID, u.UID)
	expTok.ExpiresAt = base
	must(t, "CreateAuthToken", s.CreateAuthToken(live, expTok))

	sk := signingKeyRec(app.ID)
	must(t, "CreateSigningKey", s.CreateSigningKey(live, sk))
	rotKey := signingKeyRec(app.ID)
	sigApp := newApp(t, s)
	newSK := signingKeyRec(sigApp.ID)

	// For the session and audit calls: a node with a lease alive by the
	// database's clock (which Connected reads), a user whose tokens are
	// revoked, a token idle long before every other, an event.
	_, err := s.RenewNode(live, "ctx-live-node", time.Now().Unix()+3600)
	must(t, "RenewNode", err)
	liveTok := newToken(t, s, app.ID, u.UID)
	newUser(t, s, app.ID, "ctx-revoke")
	revTok := newToken(t, s, app.ID, "ctx-revoke")
	idleTok := tokenAt(app.ID, u.UID, base-1000)
	must(t, "CreateAuthToken", s.CreateAuthToken(live, idleTok))
	oldEvent := auditRec(app.ID, "cli", "root", "app.update", app.ID, base-10)
	must(t, "RecordAuditEvents", s.RecordAuditEvents(live, []*store.AuditEvent{oldEvent}))
	newEvent := auditRec(app.ID, "cli", "root", "user.create", "ctx-new", base)

	newTok := tokenRec(app.ID, u.UID)
	newKey := keyRec(app.ID)
	newU := userRec(app.ID, "ctx-new")
	newA := &store.App{ID: "ctx-app-" + randHex(4), Name: "x", Region: "us", CreatedAt: base}

	// Each call must fail under a dead context (without applying anything:
	// check says so) and then succeed under a live one.
	calls := []struct {
		name  string
		call  func(ctx context.Context) error
		check func(t *testing.T) // after the dead-context call: nothing changed
	}{
		{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }, nil},
		{"CreateApp", func(ctx context.Context) error { return s.CreateApp(ctx, newA) }, func(t *testing.T) {
			_, err := s.GetApp(live, newA.ID)
			wantErr(t, "GetApp", err, store.ErrNotFound)
		}},
		{"GetApp", func(ctx context.Context) error { _, err := s.GetApp(ctx, app.ID); return err }, nil},
		{"ListApps", func(ctx context.Context) error { _, err := s.ListApps(ctx); return err }, nil},
		{"UpdateApp", func(ctx context.Context) error {
			a := *app
			a.Name = "changed"
			return s.UpdateApp(ctx, &a)
		}, func(t *testing.T) {
			a, err := s.GetApp(live, app.ID)
			must(t, "GetApp", err)
			if a.Name == "changed" {
				t.Error("UpdateApp applied under a dead context")
			}
		}},
		{"CreateAPIKey", func(ctx context.Context) error { return s.CreateAPIKey(ctx, newKey, 25) }, func(t *testing.T) {
			_, err := s.GetAPIKey(live, app.ID, newKey.ID)
			wantErr(t, "GetAPIKey", err, store.ErrNotFound)
		}},
		{"GetAPIKey", func(ctx context.Context) error { _, err := s.GetAPIKey(ctx, app.ID, key.ID); return err }, nil},
		{"GetAPIKeyByHash", func(ctx context.Context) error { _, err := s.GetAPIKeyByHash(ctx, app.ID, key.Hash); return err }, nil},
		{"ListAPIKeys", func(ctx context.Context) error { _, err := s.ListAPIKeys(ctx, app.ID); return err }, nil},
		{"UpdateAPIKey", func(ctx context.Context) error { return s.UpdateAPIKey(ctx, key) }, nil},
		{"CreateUser", func(ctx context.Context) error { return s.CreateUser(ctx, newU, nil) }, func(t *testing.T) {
			_, err := s.GetUser(live, app.ID, newU.UID)
			wantErr(t, "GetUser", err, store.ErrNotFound)
		}},
		{"GetUser", func(ctx context.Context) error { _, err := s.GetUser(ctx, app.ID, u.UID); return err }, nil},
		{"ListUsers", func(ctx context.Context) error {
			_, _, err := s.ListUsers(ctx, app.ID, store.UserQuery{Search: "ctx", Limit: 10})
			return err
		}, nil},
		{"UpdateUser", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Name: ptr("changed")}, base)
			return err
		}, func(t *testing.T) {
			got, err := s.GetUser(live, app.ID, u.UID)
			must(t, "GetUser", err)
			if got.Name == "changed" {
				t.Error("UpdateUser applied under a dead context")
			}
		}},
		{"CreateAuthToken", func(ctx context.Context) error { return s.CreateAuthToken(ctx, newTok) }, func(t *testing.T) {
			_, _, err := s.GetSession(live, newTok.Hash)
			wantErr(t, "GetSession", err, store.ErrNotFound)
		}},
		{"GetSession", func(ctx context.Context) error { _, _, err := s.GetSession(ctx, tok.Hash); return err }, nil},
		{"GetAuthToken", func(ctx context.Context) error { _, err := s.GetAuthToken(ctx, app.ID, u.UID, tok.ID); return err }, nil},
		{"ListAuthTokens", func(ctx context.Context) error { _, err := s.ListAuthTokens(ctx, app.ID, u.UID); return err }, nil},
		{"StartSessions", func(ctx context.Context) error {
			return s.StartSessions(ctx, map[string]store.SessionUpdate{string(tok.Hash): {Platform: "android", Now: base + 5}})
		}, func(t *testing.T) {
			got, _, err := s.GetSession(live, tok.Hash)
			must(t, "GetSession", err)
			if got.Platform == "android" {
				t.Error("StartSession applied under a dead context")
			}
		}},
		{"TouchAuthTokens", func(ctx context.Context) error {
			return s.TouchAuthTokens(ctx, map[string]int64{string(tok.Hash): base + 9})
		}, nil},
		{"DeleteAuthToken", func(ctx context.Context) error {
			_, err := s.DeleteAuthToken(ctx, app.ID, "ctx-del-tok", delTok.ID)
			return err
		}, func(t *testing.T) {
			if _, _, err := s.GetSession(live, delTok.Hash); err != nil {
				t.Errorf("DeleteAuthToken applied under a dead context: %v", err)
			}
		}},
		{"DeleteAuthTokens", func(ctx context.Context) error { _, err := s.DeleteAuthTokens(ctx, app.ID, "ctx-flush"); return err }, func(t *testing.T) {
			if _, _, err := s.GetSession(live, flushTok.Hash); err != nil {
				t.Errorf("DeleteAuthTokens applied under a dead context: %v", err)
			}
		}},
		{"DeleteExpiredAuthTokens", func(ctx context.Context) error { _, err := s.DeleteExpiredAuthTokens(ctx, base+1); return err }, func(t *testing.T) {
			if _, _, err := s.GetSession(live, expTok.Hash); err != nil {
				t.Errorf("DeleteExpiredAuthTokens applied under a dead context: %v", err)
			}
		}},
		{"RevokeAuthTokensBefore", func(ctx context.Context) error {
			_, err := s.RevokeAuthTokensBefore(ctx, app.ID, "ctx-revoke", base+1_000_000)
			return err
		}, func(t *testing.T) {
			if _, _, err := s.GetSession(live, revTok.Hash); err != nil {
				t.Errorf("RevokeAuthTokensBefore applied under a dead context: %v", err)
			}
		}},
		{"DeleteIdleAuthTokens", func(ctx context.Context) error {
			_, err := s.DeleteIdleAuthTokens(ctx, app.ID, base-500, base)
			return err
		}, func(t *testing.T) {
			if _, _, err := s.GetSession(live, idleTok.Hash); err != nil {
				t.Errorf("DeleteIdleAuthTokens applied under a dead context: %v", err)
			}
		}},
		{"SetLiveTokens", func(ctx context.Context) error {
			return s.SetLiveTokens(ctx, "ctx-live-node", [][]byte{liveTok.Hash}, nil)
		}, func(t *testing.T) {
			if connected(t, s, app.ID, u.UID)[liveTok.ID] {
				t.Error("SetLiveTokens applied under a dead context")
			}
		}},
		{"RecordAuditEvents", func(ctx context.Context) error {
			return s.RecordAuditEvents(ctx, []*store.AuditEvent{newEvent})
		}, func(t *testing.T) {
			_, n, err := s.ListAuditEvents(live, app.ID, store.AuditQuery{Action: "user.create"})
			must(t, "ListAuditEvents", err)
			if n != 0 {
				t.Error("RecordAuditEvents applied under a dead context")
			}
		}},
		{"ListAuditEvents", func(ctx context.Context) error {
			_, _, err := s.ListAuditEvents(ctx, app.ID, store.AuditQuery{Actor: "cli", Limit: 10})
			return err
		}, nil},
		{"DeleteAuditEventsBefore", func(ctx context.Context) error { _, err := s.DeleteAuditEventsBefore(ctx, base); return err }, func(t *testing.T) {
			_, n, err := s.ListAuditEvents(live, app.ID, store.AuditQuery{Action: "app.update"})
			must(t, "ListAuditEvents", err)
			if n != 1 {
				t.Error("DeleteAuditEventsBefore applied under a dead context")
			}
		}},
		{"RenewNode", func(ctx context.Context) error { _, err := s.RenewNode(ctx, "ctx-node", base+1_000_000); return err }, nil},
		{"SetPresence", func(ctx context.Context) error { return s.SetPresence(ctx, "ctx-node", app.ID, u.UID, true, base) }, func(t *testing.T) {
			on, err := s.Online(live, app.ID, u.UID, base)
			must(t, "Online", err)
			if on {
				t.Error("SetPresence applied under a dead context")
			}
		}},
		{"Online", func(ctx context.Context) error { _, err := s.Online(ctx, app.ID, u.UID, base); return err }, nil},
		{"ReapNodes", func(ctx context.Context) error { _, err := s.ReapNodes(ctx, base); return err }, nil},
		{"RemoveNode", func(ctx context.Context) error { _, err := s.RemoveNode(ctx, "ctx-node"); return err }, nil},
		{"CreateSigningKey", func(ctx context.Context) error { return s.CreateSigningKey(ctx, newSK) }, func(t *testing.T) {
			_, err := s.GetSigningKey(live, newSK.ID)
			wantErr(t, "GetSigningKey", err, store.ErrNotFound)
		}},
		{"ActiveSigningKey", func(ctx context.Context) error { _, err := s.ActiveSigningKey(ctx, app.ID); return err }, nil},
		{"GetSigningKey", func(ctx context.Context) error { _, err := s.GetSigningKey(ctx, sk.ID); return err }, nil},
		{"ListSigningKeys", func(ctx context.Context) error { _, err := s.ListSigningKeys(ctx, app.ID); return err }, nil},
		{"ListPublishedSigningKeys", func(ctx context.Context) error { _, err := s.ListPublishedSigningKeys(ctx, base); return err }, nil},
		{"RotateSigningKey", func(ctx context.Context) error { _, err := s.RotateSigningKey(ctx, rotKey, base+100); return err }, func(t *testing.T) {
			k, err := s.ActiveSigningKey(live, app.ID)
			must(t, "ActiveSigningKey", err)
			if k.ID != sk.ID {
				t.Error("RotateSigningKey applied under a dead context")
			}
		}},
		{"DeleteExpiredSigningKeys", func(ctx context.Context) error { _, err := s.DeleteExpiredSigningKeys(ctx, base); return err }, nil},
		{"DeleteUser", func(ctx context.Context) error { _, err := s.DeleteUser(ctx, app.ID, "ctx-del-user"); return err }, func(t *testing.T) {
			if _, err := s.GetUser(live, app.ID, "ctx-del-user"); err != nil {
				t.Errorf("DeleteUser applied under a dead context: %v", err)
			}
		}},
	}

	dead := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		ok   func(error) bool
	}{
		{"canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(live)
			cancel()
			return ctx, cancel
		}, func(err error) bool { return err != nil }},
		{"deadline passed", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(live, time.Now().Add(-time.Second))
		}, func(err error) bool {
			// Timeouts are the "retry later" kind of failure.
			return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable)
		}},
	}
	for _, d := range dead {
		t.Run(d.name, func(t *testing.T) {
			for _, c := range calls {
				t.Run(c.name, func(t *testing.T) {
					ctx, cancel := d.ctx()
					defer cancel()
					done := make(chan error, 1)
					go func() { done <- c.call(ctx) }()
					select {
					case err := <-done:
						if !d.ok(err) {
							t.Errorf("%s under a %s context: err = %v", c.name, d.name, err)
						}
					case <-time.After(5 * time.Second):
						t.Fatalf("%s under a %s context hangs", c.name, d.name)
					}
					if c.check != nil {
						c.check(t)
					}
				})
			}
		})
	}
	// Every call was valid: each succeeds under a live context.
	t.Run("live", func(t *testing.T) {
		for _, c := range calls {
			if err := c.call(live); err != nil {
				t.Errorf("%s under a live context: %v", c.name, err)
			}
		}
	})
}

// ---- blocked writes

// testBlockedWrites: a write stuck behind a lock held outside the store
// (another process holding SQLite's write lock, another session's row lock
// on PostgreSQL) gives up when its context does instead of waiting out the
// database's own timeouts, and the store works again once the lock goes.
func testBlockedWrites(t *testing.T, w WriteLock) {
	ctx := t.Context()
	open, lock := w.Place(t)
	s, _ := opened(t, open)
	if err := s.CreateApp(ctx, &store.App{ID: "a", Name: "a", Region: "us", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{AppID: "a", UID: "u", Name: "u", CreatedAt: 1, UpdatedAt: 1}, nil); err != nil {
		t.Fatal(err)
	}
	release := lock(t, "a", "u")
	name := "blocked"
	abandoned := []byte("0123456789abcdef0123456789abcdef")
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"UpdateUser", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, "a", "u", store.UserPatch{Name: &name}, 2)
			return err
		}},
		// On PostgreSQL the token's foreign key check needs a share lock on
		// the user row.
		{"CreateAuthToken", func(ctx context.Context) error {
			return s.CreateAuthToken(ctx, &store.AuthToken{Hash: abandoned, ID: "t", AppID: "a", UID: "u", CreatedAt: 1})
		}},
	}
	for _, c := range calls {
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		start := time.Now()
		err := c.call(tctx)
		took := time.Since(start)
		cancel()
		t.Logf("%s: %v after %v", c.name, err, took)
		if took > 3*time.Second {
			t.Errorf("blocked %s took %v with a 300ms deadline", c.name, took)
		}
		if !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want a timeout (ErrUnavailable)", c.name, err)
		}
	}
	release()
	// The lock is gone: writes work again.
	if _, err := s.UpdateUser(ctx, "a", "u", store.UserPatch{Name: &name}, 3); err != nil {
		t.Errorf("UpdateUser after the lock is gone: %v", err)
	}
	if err := s.CreateAuthToken(ctx, &store.AuthToken{Hash: []byte("fedcba9876543210fedcba9876543210"), ID: "t2", AppID: "a", UID: "u", CreatedAt: 1}); err != nil {
		t.Errorf("CreateAuthToken after the lock is gone: %v", err)
	}
	_, _, err := s.GetSession(ctx, abandoned)
	if w.DropsAbandoned {
		// The token whose caller gave up was not stored behind its back.
		wantErr(t, "abandoned token: GetSession", err, store.ErrNotFound)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession: %v", err)
	}
}

package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// ---- ping

func testPing(t *testing.T, s store.Store) {
	must(t, "Ping", s.Ping(t.Context()))
}

// ---- closed store

func testClosed(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "closer")
	tok := newToken(t, s, app.ID, u.UID)
	must(t, "Close", s.Close())
	// After Close every call fails; none hangs or panics.
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"GetApp", func() error { _, err := s.GetApp(ctx, app.ID); return err }},
		{"CreateUser", func() error { return s.CreateUser(ctx, userRec(app.ID, "late"), nil) }},
		{"GetSession", func() error { _, _, err := s.GetSession(ctx, tok.Hash); return err }},
		{"CreateAuthToken", func() error { return s.CreateAuthToken(ctx, tokenRec(app.ID, u.UID)) }},
		{"TouchAuthTokens", func() error { return s.TouchAuthTokens(ctx, map[string]int64{string(tok.Hash): base}) }},
		{"ActiveSigningKey", func() error { _, err := s.ActiveSigningKey(ctx, app.ID); return err }},
		{"CreateSigningKey", func() error { return s.CreateSigningKey(ctx, signingKeyRec(app.ID)) }},
		{"ListPublishedSigningKeys", func() error { _, err := s.ListPublishedSigningKeys(ctx, base); return err }},
		{"RevokeAuthTokensBefore", func() error { _, err := s.RevokeAuthTokensBefore(ctx, app.ID, u.UID, base); return err }},
		{"RevokeAuthTokensBefore(app)", func() error { _, err := s.RevokeAuthTokensBefore(ctx, app.ID, "", base); return err }},
		{"DeleteIdleAuthTokens", func() error { _, err := s.DeleteIdleAuthTokens(ctx, app.ID, base, base); return err }},
		{"SetLiveTokens", func() error { return s.SetLiveTokens(ctx, "node", [][]byte{tok.Hash}, [][]byte{newHash()}) }},
		{"ListAuthTokens", func() error { _, err := s.ListAuthTokens(ctx, app.ID, u.UID); return err }},
		{"RecordAuditEvents", func() error {
			return s.RecordAuditEvents(ctx, []*store.AuditEvent{auditRec(app.ID, "cli", "root", "app.update", app.ID, base)})
		}},
		{"ListAuditEvents", func() error { _, _, err := s.ListAuditEvents(ctx, app.ID, store.AuditQuery{}); return err }},
		{"DeleteAuditEventsBefore", func() error { _, err := s.DeleteAuditEventsBefore(ctx, base); return err }},
	}
	for _, c := range calls {
		done := make(chan error, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Errorf("panic: %v", r)
				}
			}()
			done <- c.call()
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s after Close succeeded", c.name)
			} else if strings.HasPrefix(err.Error(), "panic:") {
				t.Errorf("%s after Close: %v", c.name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s after Close hangs", c.name)
		}
	}
	// A token insert is queued for group commit: refused, not left waiting.
	wantErr(t, "CreateAuthToken after Close", s.CreateAuthToken(ctx, tokenRec(app.ID, u.UID)), store.ErrClosed)
}

// ---- persistence

func testReopen(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	s, closeIt := opened(t, open)
	app := &store.App{ID: "persist", Name: "Persist", Region: "eu", CreatedAt: base,
		Settings: store.AppSettings{AuthTokenTTL: 60, CORSOrigins: []string{"https://p.example"}}}
	must(t, "CreateApp", s.CreateApp(ctx, app))
	key := keyRec(app.ID)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, key, 25))
	u := userRec(app.ID, "keeper")
	u.Metadata, u.Tags = json.RawMessage(`{"a":1}`), []string{"x"}
	tok := tokenRec(app.ID, u.UID)
	must(t, "CreateUser", s.CreateUser(ctx, u, tok))
	tok2 := newToken(t, s, app.ID, u.UID)
	must(t, "StartSessions", s.StartSessions(ctx, map[string]store.SessionUpdate{string(tok2.Hash): {Platform: "web", DeviceID: "d", UserAgent: "ua", Now: base + 9}}))
	gone := newToken(t, s, app.ID, u.UID)
	_, err := s.DeleteAuthToken(ctx, app.ID, u.UID, gone.ID)
	must(t, "DeleteAuthToken", err)
	oldSK, newSK := signingKeyRec(app.ID), signingKeyRec(app.ID)
	oldSK.CreatedAt = base + 10
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, oldSK))
	newSK.CreatedAt = base + 50
	_, err = s.RotateSigningKey(ctx, newSK, base+500)
	must(t, "RotateSigningKey", err)
	closeIt()

	s2, closeIt2 := opened(t, open)
	defer closeIt2()
	gotApp, err := s2.GetApp(ctx, app.ID)
	must(t, "GetApp after reopen", err)
	if !reflect.DeepEqual(gotApp, app) {
		t.Errorf("app after reopen: %+v, want %+v", gotApp, app)
	}
	gotKey, err := s2.GetAPIKeyByHash(ctx, app.ID, key.Hash)
	must(t, "GetAPIKeyByHash after reopen", err)
	if !reflect.DeepEqual(gotKey, key) {
		t.Errorf("key after reopen: %+v, want %+v", gotKey, key)
	}
	gotUser, err := s2.GetUser(ctx, app.ID, u.UID)
	must(t, "GetUser after reopen", err)
	wantU := *u
	wantU.LastActiveAt = base + 9
	checkUser(t, "user after reopen", gotUser, &wantU)
	gotTok, _, err := s2.GetSession(ctx, tok.Hash)
	must(t, "GetSession after reopen", err)
	checkToken(t, "token after reopen", gotTok, tok)
	got2, _, err := s2.GetSession(ctx, tok2.Hash)
	must(t, "GetSession(tok2) after reopen", err)
	if got2.DeviceID != "d" || got2.LastUsedAt != base+9 {
		t.Errorf("session fields lost: %+v", got2)
	}
	_, _, err = s2.GetSession(ctx, gone.Hash)
	wantErr(t, "deleted token after reopen", err, store.ErrNotFound)
	gotSK, err := s2.ActiveSigningKey(ctx, app.ID)
	must(t, "ActiveSigningKey after reopen", err)
	checkSigningKey(t, "active signing key after reopen", gotSK, newSK, true)
	keys, err := s2.ListSigningKeys(ctx, app.ID)
	must(t, "ListSigningKeys after reopen", err)
	wantOld := *oldSK
	wantOld.RetiredAt, wantOld.PublishedUntil = base+50, base+500
	if len(keys) != 2 {
		t.Fatalf("ListSigningKeys after reopen: %d keys, want 2", len(keys))
	}
	checkSigningKey(t, "retired signing key after reopen", keys[0], &wantOld, false)
	// Still writable, and the schema is intact.
	must(t, "CreateAuthToken after reopen", s2.CreateAuthToken(ctx, tokenRec(app.ID, u.UID)))
	wantErr(t, "CreateApp(duplicate) after reopen", s2.CreateApp(ctx, app), store.ErrAlreadyExists)
}

func testCloseWaits(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	s, closeIt := opened(t, open)
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "racer")
	const n = 50
	toks := make([]*store.AuthToken, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		toks[i] = tokenRec(app.ID, u.UID)
		wg.Go(func() {
			<-start
			errs[i] = s.CreateAuthToken(ctx, toks[i])
		})
	}
	close(start)
	time.Sleep(time.Millisecond) // let some of them queue
	closed := make(chan struct{})
	go func() { closeIt(); close(closed) }()
	done := make(chan struct{})
	go func() { wg.Wait(); <-closed; close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("CreateAuthToken racing Close hangs")
	}
	s2, closeIt2 := opened(t, open)
	defer closeIt2()
	acked := 0
	for i, tk := range toks {
		_, _, err := s2.GetSession(ctx, tk.Hash)
		if errs[i] == nil {
			acked++
			// An acknowledged token is durable.
			if err != nil {
				t.Errorf("acknowledged token #%d lost across Close: %v", i, err)
			}
		}
	}
	t.Logf("%d of %d inserts acknowledged before Close", acked, n)
}

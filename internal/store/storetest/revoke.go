package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
)

// ---- revoking and expiring tokens by age

// tokenAt is a token record (not stored) created at the second created,
// with a key as the server makes it (the creation second is in the key).
func tokenAt(appID, uid string, created int64) *store.AuthToken {
	tk := tokenRec(appID, uid)
	_, tk.Hash = credential.NewToken(uid, time.Unix(created, 0))
	tk.CreatedAt = created
	return tk
}

func storeToken(t *testing.T, s store.Store, tk *store.AuthToken) *store.AuthToken {
	t.Helper()
	must(t, "CreateAuthToken", s.CreateAuthToken(t.Context(), tk))
	return tk
}

// wantTokens fails unless exactly the tokens of want (by key) are stored of
// those in all.
func wantTokens(t *testing.T, s store.Store, what string, all, want []*store.AuthToken) {
	t.Helper()
	for _, tk := range all {
		_, _, err := s.GetSession(t.Context(), tk.Hash)
		stored := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: GetSession: %v", what, err)
		}
		if w := slices.Contains(want, tk); stored != w {
			t.Errorf("%s: token %s of %s/%s created at %d: stored = %v, want %v", what, tk.ID, tk.AppID, tk.UID, tk.CreatedAt, stored, w)
		}
	}
}

// testRevokeAuthTokensBefore: one user's or the whole app's tokens created
// before a second go; those created at it or later, other users' and other
// apps' stay.
func testRevokeAuthTokensBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	// "ali" is a prefix of "alice": the key range of one must not reach
	// the other.
	for _, uid := range []string{"alice", "ali", "bob"} {
		newUser(t, s, app.ID, uid)
	}
	newUser(t, s, other.ID, "alice")
	const cut = base + 30
	var (
		alice10 = storeToken(t, s, tokenAt(app.ID, "alice", base+10))
		alice20 = storeToken(t, s, tokenAt(app.ID, "alice", base+20))
		alice30 = storeToken(t, s, tokenAt(app.ID, "alice", cut)) // at the second: stays
		alice40 = storeToken(t, s, tokenAt(app.ID, "alice", base+40))
		ali10   = storeToken(t, s, tokenAt(app.ID, "ali", base+10))
		bob10   = storeToken(t, s, tokenAt(app.ID, "bob", base+10))
		bob30   = storeToken(t, s, tokenAt(app.ID, "bob", cut))
		theirs  = storeToken(t, s, tokenAt(other.ID, "alice", base+10)) // same uid, other app
	)
	all := []*store.AuthToken{alice10, alice20, alice30, alice40, ali10, bob10, bob30, theirs}
	revoke := func(t *testing.T, appID, uid string, before int64, want int) {
		t.Helper()
		n, err := s.RevokeAuthTokensBefore(ctx, appID, uid, before)
		must(t, "RevokeAuthTokensBefore", err)
		if n != want {
			t.Errorf("RevokeAuthTokensBefore(%q, %q, %d) = %d, want %d", appID, uid, before, n, want)
		}
	}

	t.Run("NothingToRevoke", func(t *testing.T) {
		revoke(t, app.ID, "alice", base+10, 0) // created at it, not before
		revoke(t, app.ID, "alice", 0, 0)
		revoke(t, app.ID, "alice", -1, 0)
		revoke(t, app.ID, "", base+10, 0)
		revoke(t, app.ID, "nobody", cut, 0)
		revoke(t, "no-such-app", "alice", cut, 0)
		revoke(t, "no-such-app", "", cut, 0)
		wantTokens(t, s, "after revoking nothing", all, all)
	})

	t.Run("OneUser", func(t *testing.T) {
		revoke(t, app.ID, "alice", cut, 2)
		wantTokens(t, s, "after revoking alice's", all, []*store.AuthToken{alice30, alice40, ali10, bob10, bob30, theirs})
		toks, err := s.ListAuthTokens(ctx, app.ID, "alice")
		must(t, "ListAuthTokens", err)
		if got := tokenHashes(toks); !slices.Equal(got, tokenHashes([]*store.AuthToken{alice30, alice40})) {
			t.Errorf("alice's tokens after the revoke: %d, want the two from %d on", len(toks), cut)
		}
		revoke(t, app.ID, "alice", cut, 0) // again: nothing left to revoke
		revoke(t, app.ID, "ali", cut, 1)
		wantTokens(t, s, "after revoking ali's", all, []*store.AuthToken{alice30, alice40, bob10, bob30, theirs})
	})

	t.Run("WholeApp", func(t *testing.T) {
		revoke(t, app.ID, "", cut, 1) // bob10; alice30 and bob30 were created at the second
		wantTokens(t, s, "after revoking the app's", all, []*store.AuthToken{alice30, alice40, bob30, theirs})
		revoke(t, app.ID, "", base+1000, 3)
		wantTokens(t, s, "after revoking all the app's", all, []*store.AuthToken{theirs})
		// The users stay: they log in again.
		newToken(t, s, app.ID, "alice")
		revoke(t, other.ID, "", cut, 1)
		wantTokens(t, s, "after revoking the other app's", all, nil)
	})
}

// testDeleteIdleAuthTokens: the app's tokens neither used nor created since
// idleBefore go, unless a node with a lease alive at now holds them.
func testDeleteIdleAuthTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	newUser(t, s, app.ID, "idler")
	newUser(t, s, other.ID, "idler")
	const (
		idleBefore = base + 1000
		now        = base + 5000
	)
	idle := func(appID, uid string, created, used int64) *store.AuthToken {
		tk := tokenAt(appID, uid, created)
		tk.LastUsedAt = used
		return storeToken(t, s, tk)
	}
	var (
		neverUsed   = idle(app.ID, "idler", idleBefore-1, 0)
		usedLong    = idle(app.ID, "idler", base, idleBefore-1)
		usedAtEdge  = idle(app.ID, "idler", base, idleBefore) // used at idleBefore: stays
		createdEdge = idle(app.ID, "idler", idleBefore, 0)    // created at idleBefore: stays
		recent      = idle(app.ID, "idler", base, idleBefore+500)
		young       = idle(app.ID, "idler", idleBefore+10, 0)
		heldLive    = idle(app.ID, "idler", base, 0)
		heldLapsed  = idle(app.ID, "idler", base, 0)
		heldAtEdge  = idle(app.ID, "idler", base, 0)
		heldReaped  = idle(app.ID, "idler", base, 0)
		theirs      = idle(other.ID, "idler", base, 0) // idle, but another app's
	)
	all := []*store.AuthToken{neverUsed, usedLong, usedAtEdge, createdEdge, recent, young, heldLive, heldLapsed, heldAtEdge, heldReaped, theirs}
	for node, lease := range map[string]int64{
		"alive":   now + 30,
		"lapsed":  now - 30,
		"at-edge": now, // a lease ending at now is over, as for Online and ReapNodes
		"reaped":  now + 30,
	} {
		_, err := s.RenewNode(ctx, node, lease)
		must(t, "RenewNode", err)
	}
	must(t, "SetLiveTokens alive", s.SetLiveTokens(ctx, "alive", keys([]*store.AuthToken{heldLive}), nil))
	must(t, "SetLiveTokens lapsed", s.SetLiveTokens(ctx, "lapsed", keys([]*store.AuthToken{heldLapsed}), nil))
	must(t, "SetLiveTokens at-edge", s.SetLiveTokens(ctx, "at-edge", keys([]*store.AuthToken{heldAtEdge}), nil))
	must(t, "SetLiveTokens reaped", s.SetLiveTokens(ctx, "reaped", keys([]*store.AuthToken{heldReaped}), nil))
	_, err := s.RemoveNode(ctx, "reaped")
	must(t, "RemoveNode", err)

	got, err := s.DeleteIdleAuthTokens(ctx, app.ID, idleBefore, now)
	must(t, "DeleteIdleAuthTokens", err)
	deleted := []*store.AuthToken{neverUsed, usedLong, heldLapsed, heldAtEdge, heldReaped}
	if g, w := tokenHashes(got), tokenHashes(deleted); !slices.Equal(g, w) {
		t.Errorf("DeleteIdleAuthTokens returned %d tokens, want %d (never used, used long ago, held by lapsed or removed nodes)", len(g), len(w))
	}
	for _, g := range got {
		for _, w := range deleted {
			if string(g.Hash) == string(w.Hash) {
				checkToken(t, "returned token", g, w)
			}
		}
	}
	kept := []*store.AuthToken{usedAtEdge, createdEdge, recent, young, heldLive, theirs}
	wantTokens(t, s, "after DeleteIdleAuthTokens", all, kept)

	again, err := s.DeleteIdleAuthTokens(ctx, app.ID, idleBefore, now)
	must(t, "DeleteIdleAuthTokens again", err)
	if len(again) != 0 {
		t.Errorf("second DeleteIdleAuthTokens returned %d tokens", len(again))
	}
	none, err := s.DeleteIdleAuthTokens(ctx, "no-such-app", idleBefore, now)
	must(t, "DeleteIdleAuthTokens(unknown app)", err)
	if len(none) != 0 {
		t.Errorf("DeleteIdleAuthTokens(unknown app) returned %d tokens", len(none))
	}
	// Once its node lets go, the held token is idle too; the other app's
	// goes only when asked for that app.
	must(t, "SetLiveTokens alive down", s.SetLiveTokens(ctx, "alive", nil, keys([]*store.AuthToken{heldLive})))
	got, err = s.DeleteIdleAuthTokens(ctx, app.ID, idleBefore, now)
	must(t, "DeleteIdleAuthTokens after down", err)
	if g := tokenHashes(got); !slices.Equal(g, tokenHashes([]*store.AuthToken{heldLive})) {
		t.Errorf("after the node let go: deleted %d tokens, want the one it held", len(g))
	}
	got, err = s.DeleteIdleAuthTokens(ctx, other.ID, idleBefore, now)
	must(t, "DeleteIdleAuthTokens(other app)", err)
	if g := tokenHashes(got); !slices.Equal(g, tokenHashes([]*store.AuthToken{theirs})) {
		t.Errorf("other app: deleted %d tokens, want its one idle token", len(g))
	}
	wantTokens(t, s, "at the end", all, []*store.AuthToken{usedAtEdge, createdEdge, recent, young})
}

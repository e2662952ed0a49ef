package storetest

import (
	"testing"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// ---- live tokens (which node holds a realtime connection of which token)

// connected returns, by token id, what ListAuthTokens says of each of the
// user's tokens.
func connected(t *testing.T, s store.Store, appID, uid string) map[string]bool {
	t.Helper()
	toks, err := s.ListAuthTokens(t.Context(), appID, uid)
	must(t, "ListAuthTokens", err)
	out := make(map[string]bool, len(toks))
	for _, tk := range toks {
		out[tk.ID] = tk.Connected
	}
	return out
}

// wantConnected checks ListAuthTokens' Connected for each token in want.
func wantConnected(t *testing.T, s store.Store, what string, want map[*store.AuthToken]bool) {
	t.Helper()
	byUser := map[[2]string]map[string]bool{}
	for tk, w := range want {
		k := [2]string{tk.AppID, tk.UID}
		if byUser[k] == nil {
			byUser[k] = connected(t, s, tk.AppID, tk.UID)
		}
		got, ok := byUser[k][tk.ID]
		if !ok {
			t.Errorf("%s: token %s of %s/%s not listed", what, tk.ID, tk.AppID, tk.UID)
		} else if got != w {
			t.Errorf("%s: token %s of %s/%s Connected = %v, want %v", what, tk.ID, tk.AppID, tk.UID, got, w)
		}
	}
}

// testLiveTokens: SetLiveTokens records which tokens a node holds;
// ListAuthTokens reports a token connected while a node whose lease is
// alive by the database's clock (as user reads judge presence) holds it;
// removing or reaping a node forgets its rows.
func testLiveTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	newUser(t, s, app.ID, "holder")
	newUser(t, s, app.ID, "second")
	newUser(t, s, other.ID, "holder") // same uid, other app
	now := time.Now().Unix()
	renew := func(t *testing.T, node string, lease int64) {
		t.Helper()
		_, err := s.RenewNode(ctx, node, lease)
		must(t, "RenewNode "+node, err)
	}
	set := func(t *testing.T, node string, up, down []*store.AuthToken) {
		t.Helper()
		must(t, "SetLiveTokens "+node, s.SetLiveTokens(ctx, node, keys(up), keys(down)))
	}
	renew(t, "live", now+3600)
	renew(t, "live2", now+3600)
	renew(t, "lapsed", now-60) // registered, not reaped, lease over

	t.Run("UpDown", func(t *testing.T) {
		a, b, c := newToken(t, s, app.ID, "holder"), newToken(t, s, app.ID, "holder"), newToken(t, s, app.ID, "holder")
		sameUID := newToken(t, s, other.ID, "holder")
		wantConnected(t, s, "before any connection", map[*store.AuthToken]bool{a: false, b: false, c: false, sameUID: false})
		set(t, "live", []*store.AuthToken{a, b}, nil)
		wantConnected(t, s, "after up", map[*store.AuthToken]bool{a: true, b: true, c: false, sameUID: false})
		// Idempotent: up again, and down of a row never recorded.
		set(t, "live", []*store.AuthToken{a}, []*store.AuthToken{c})
		must(t, "SetLiveTokens(nothing)", s.SetLiveTokens(ctx, "live", nil, nil))
		// Two nodes hold a; one letting go leaves it connected.
		set(t, "live2", []*store.AuthToken{a}, nil)
		set(t, "live", nil, []*store.AuthToken{a})
		wantConnected(t, s, "after one of two nodes let go", map[*store.AuthToken]bool{a: true, b: true, c: false})
		set(t, "live2", nil, []*store.AuthToken{a})
		set(t, "live", nil, []*store.AuthToken{b, b}) // a repeat is fine
		wantConnected(t, s, "after down", map[*store.AuthToken]bool{a: false, b: false, c: false})
		// A token in both up and down of one call ends up not held.
		set(t, "live", []*store.AuthToken{c}, []*store.AuthToken{c})
		wantConnected(t, s, "after up and down at once", map[*store.AuthToken]bool{c: false})
		// A down for a node that is gone, or never was, is fine.
		must(t, "SetLiveTokens(unknown node, down)", s.SetLiveTokens(ctx, "node-never-was", nil, keys([]*store.AuthToken{a})))
	})

	t.Run("UnregisteredNode", func(t *testing.T) {
		tk := newToken(t, s, app.ID, "holder")
		wantErr(t, "SetLiveTokens(unknown node, up)", s.SetLiveTokens(ctx, "node-never-was", keys([]*store.AuthToken{tk}), nil), store.ErrNotFound)
		wantConnected(t, s, "after a refused up", map[*store.AuthToken]bool{tk: false})
	})

	t.Run("PerApp", func(t *testing.T) {
		mine, theirs := newToken(t, s, app.ID, "holder"), newToken(t, s, other.ID, "holder")
		set(t, "live", []*store.AuthToken{theirs}, nil)
		wantConnected(t, s, "another app's token held", map[*store.AuthToken]bool{mine: false, theirs: true})
		set(t, "live", nil, []*store.AuthToken{theirs})
	})

	t.Run("LapsedLease", func(t *testing.T) {
		tk := newToken(t, s, app.ID, "second")
		// A node whose lease is over may record rows until it is reaped;
		// they do not make the token connected.
		set(t, "lapsed", []*store.AuthToken{tk}, nil)
		wantConnected(t, s, "held by a lapsed node only", map[*store.AuthToken]bool{tk: false})
		// Renewed before anyone reaped it, its rows count again.
		renew(t, "lapsed", now+3600)
		wantConnected(t, s, "lapsed node renewed", map[*store.AuthToken]bool{tk: true})
		renew(t, "lapsed", now-60)
		wantConnected(t, s, "lapsed again", map[*store.AuthToken]bool{tk: false})
	})

	t.Run("ManyAtOnce", func(t *testing.T) {
		// More keys than one statement takes; live rows need no token row.
		var up [][]byte
		for range 700 {
			up = append(up, tokenRec(app.ID, "holder").Hash)
		}
		tk := newToken(t, s, app.ID, "second")
		up = append(up[:350], append([][]byte{tk.Hash}, up[350:]...)...)
		must(t, "SetLiveTokens(many up)", s.SetLiveTokens(ctx, "live", up, nil))
		wantConnected(t, s, "after many up", map[*store.AuthToken]bool{tk: true})
		must(t, "SetLiveTokens(many down)", s.SetLiveTokens(ctx, "live", nil, up))
		wantConnected(t, s, "after many down", map[*store.AuthToken]bool{tk: false})
	})

	t.Run("TokenDeletedWhileLive", func(t *testing.T) {
		tk := newToken(t, s, app.ID, "second")
		set(t, "live", []*store.AuthToken{tk}, nil)
		// No foreign key to the token: it goes while its socket is open,
		// and the node's later down finds nothing to delete.
		_, err := s.DeleteAuthToken(ctx, app.ID, "second", tk.ID)
		must(t, "DeleteAuthToken(live token)", err)
		set(t, "live", nil, []*store.AuthToken{tk})
	})

	t.Run("RemoveNode", func(t *testing.T) {
		tk, kept := newToken(t, s, app.ID, "holder"), newToken(t, s, app.ID, "holder")
		renew(t, "leaving", now+3600)
		set(t, "leaving", []*store.AuthToken{tk}, nil)
		set(t, "live", []*store.AuthToken{kept}, nil)
		wantConnected(t, s, "before RemoveNode", map[*store.AuthToken]bool{tk: true, kept: true})
		_, err := s.RemoveNode(ctx, "leaving")
		must(t, "RemoveNode", err)
		// Registered again with a live lease: had the rows stayed, the
		// token would show as connected.
		renew(t, "leaving", now+3600)
		wantConnected(t, s, "after RemoveNode", map[*store.AuthToken]bool{tk: false, kept: true})
		set(t, "live", nil, []*store.AuthToken{kept})
	})

	t.Run("ReapNodes", func(t *testing.T) {
		tk, kept := newToken(t, s, app.ID, "holder"), newToken(t, s, app.ID, "holder")
		renew(t, "crashed", now+3600)
		set(t, "crashed", []*store.AuthToken{tk}, nil)
		set(t, "live", []*store.AuthToken{kept}, nil)
		renew(t, "crashed", now-30) // its lease lapses
		// Reap as of now: the nodes whose lease ended go, live ones stay.
		_, err := s.ReapNodes(ctx, now)
		must(t, "ReapNodes", err)
		existed, err := s.RenewNode(ctx, "crashed", now+3600)
		must(t, "RenewNode after reap", err)
		if existed {
			t.Fatal("crashed node survived the reap")
		}
		wantConnected(t, s, "after ReapNodes", map[*store.AuthToken]bool{tk: false, kept: true})
	})
}

func keys(toks []*store.AuthToken) [][]byte {
	if toks == nil {
		return nil
	}
	out := make([][]byte, len(toks))
	for i, tk := range toks {
		out[i] = tk.Hash
	}
	return out
}

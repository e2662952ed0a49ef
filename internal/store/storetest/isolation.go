package storetest

import (
	"slices"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

// ---- isolation

func testIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newApp(t, s), newApp(t, s)
	const uid = "shared-uid"
	ua := userRec(a.ID, uid)
	ua.Name = "In A"
	ub := userRec(b.ID, uid)
	ub.Name = "In B"
	must(t, "CreateUser a", s.CreateUser(ctx, ua, nil))
	must(t, "CreateUser b (same uid, other app)", s.CreateUser(ctx, ub, nil))
	ta := newToken(t, s, a.ID, uid)
	tb := newToken(t, s, b.ID, uid)

	t.Run("Users", func(t *testing.T) {
		ga, err := s.GetUser(ctx, a.ID, uid)
		must(t, "GetUser a", err)
		gb, err := s.GetUser(ctx, b.ID, uid)
		must(t, "GetUser b", err)
		if ga.Name != "In A" || gb.Name != "In B" {
			t.Errorf("names %q and %q", ga.Name, gb.Name)
		}
		_, err = s.UpdateUser(ctx, b.ID, uid, store.UserPatch{Name: ptr("B renamed"), Deactivated: ptr(true)}, base+1)
		must(t, "UpdateUser b", err)
		ga, err = s.GetUser(ctx, a.ID, uid)
		must(t, "GetUser a", err)
		if ga.Name != "In A" || ga.DeactivatedAt != 0 {
			t.Errorf("updating b's user changed a's: %+v", ga)
		}
		// a's user can still get tokens though b's is deactivated.
		newToken(t, s, a.ID, uid)
		_, err = s.UpdateUser(ctx, b.ID, uid, store.UserPatch{Deactivated: ptr(false)}, base+2)
		must(t, "reactivate b", err)
	})

	t.Run("Sessions", func(t *testing.T) {
		for _, c := range []struct {
			tok *store.AuthToken
			app string
		}{{ta, a.ID}, {tb, b.ID}} {
			gt, gu, err := s.GetSession(ctx, c.tok.Hash)
			must(t, "GetSession", err)
			if gt.AppID != c.app || gu.AppID != c.app {
				t.Errorf("token of %s resolves to app %s / user of %s", c.app, gt.AppID, gu.AppID)
			}
		}
		_, err := s.GetAuthToken(ctx, b.ID, uid, ta.ID)
		wantErr(t, "GetAuthToken(a's token under b)", err, store.ErrNotFound)
		lb, err := s.ListAuthTokens(ctx, b.ID, uid)
		must(t, "ListAuthTokens b", err)
		for _, tk := range lb {
			if tk.AppID != b.ID {
				t.Errorf("b lists a token of %s", tk.AppID)
			}
		}
		_, err = s.DeleteAuthToken(ctx, b.ID, uid, ta.ID)
		wantErr(t, "DeleteAuthToken(a's token under b)", err, store.ErrNotFound)
	})

	t.Run("ListUsers", func(t *testing.T) {
		newUser(t, s, a.ID, "only-a")
		got, total, err := s.ListUsers(ctx, b.ID, store.UserQuery{Limit: 100})
		must(t, "ListUsers b", err)
		if g := uids(got); !slices.Equal(g, []string{uid}) || total != 1 {
			t.Errorf("b lists %q (total %d)", g, total)
		}
		for _, u := range got {
			if u.AppID != b.ID {
				t.Errorf("b lists a user of %s", u.AppID)
			}
		}
	})

	t.Run("FlushAndDelete", func(t *testing.T) {
		flushed, err := s.DeleteAuthTokens(ctx, b.ID, uid)
		must(t, "DeleteAuthTokens b", err)
		for _, tk := range flushed {
			if tk.AppID != b.ID {
				t.Errorf("flush under b removed a token of %s", tk.AppID)
			}
		}
		if _, _, err := s.GetSession(ctx, ta.Hash); err != nil {
			t.Errorf("a's token after flushing b: %v", err)
		}
		_, err = s.DeleteUser(ctx, b.ID, uid)
		must(t, "DeleteUser b", err)
		if _, err := s.GetUser(ctx, a.ID, uid); err != nil {
			t.Errorf("a's user after deleting b's: %v", err)
		}
		if _, _, err := s.GetSession(ctx, ta.Hash); err != nil {
			t.Errorf("a's token after deleting b's user: %v", err)
		}
	})
}

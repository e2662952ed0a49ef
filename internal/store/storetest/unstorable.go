package storetest

import (
	"fmt"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

// ---- keys no row can have

// testUnstorableKeys: lookups by keys that are not UTF-8 or hold NUL (a raw
// path segment like %FF) find nothing, on every backend, rather than fail
// with a driver error.
func testUnstorableKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "keyed")
	newToken(t, s, app.ID, u.UID)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, keyRec(app.ID), 25))
	for _, bad := range []string{"\xff\xfe", "a\x00b", "\x00", "caf\xe9"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			notFound := []struct {
				name string
				call func() error
			}{
				{"GetApp", func() error { _, err := s.GetApp(ctx, bad); return err }},
				{"GetAPIKey", func() error { _, err := s.GetAPIKey(ctx, app.ID, bad); return err }},
				{"GetAPIKey(app)", func() error { _, err := s.GetAPIKey(ctx, bad, "key"); return err }},
				{"GetAPIKeyByHash", func() error { _, err := s.GetAPIKeyByHash(ctx, bad, newHash()); return err }},
				{"DeleteAPIKey", func() error { return s.DeleteAPIKey(ctx, app.ID, bad) }},
				{"GetUser", func() error { _, err := s.GetUser(ctx, app.ID, bad); return err }},
				{"UpdateUser", func() error { _, err := s.UpdateUser(ctx, app.ID, bad, store.UserPatch{}, base); return err }},
				{"DeleteUser", func() error { _, err := s.DeleteUser(ctx, app.ID, bad); return err }},
				{"GetAuthToken", func() error { _, err := s.GetAuthToken(ctx, app.ID, u.UID, bad); return err }},
				{"DeleteAuthToken", func() error { _, err := s.DeleteAuthToken(ctx, app.ID, u.UID, bad); return err }},
				{"GetSigningKey", func() error { _, err := s.GetSigningKey(ctx, bad); return err }},
				{"ActiveSigningKey", func() error { _, err := s.ActiveSigningKey(ctx, bad); return err }},
				{"CreateSigningKey(app)", func() error { return s.CreateSigningKey(ctx, signingKeyRec(bad)) }},
				{"CreateSigningKey(kid)", func() error {
					k := signingKeyRec(app.ID)
					k.ID = bad
					return s.CreateSigningKey(ctx, k)
				}},
				{"RotateSigningKey", func() error { _, err := s.RotateSigningKey(ctx, signingKeyRec(bad), base); return err }},
				// Up for a node no row can name: refused as for an unregistered node.
				{"SetLiveTokens(up)", func() error { return s.SetLiveTokens(ctx, bad, [][]byte{newHash()}, nil) }},
			}
			// A node no row can name lets go of nothing, without error.
			must(t, "SetLiveTokens(down)", s.SetLiveTokens(ctx, bad, nil, [][]byte{newHash()}))
			for _, c := range notFound {
				wantErr(t, c.name, c.call(), store.ErrNotFound)
			}
			users, total, err := s.ListUsers(ctx, app.ID, store.UserQuery{Search: bad, Limit: 10})
			if err != nil || len(users) != 0 || total != 0 {
				t.Errorf("ListUsers(search %q) = %d users, total %d, %v; want none", bad, len(users), total, err)
			}
			empty := []struct {
				name string
				call func() (int, error)
			}{
				{"ListAPIKeys", func() (int, error) { l, err := s.ListAPIKeys(ctx, bad); return len(l), err }},
				{"ListAuthTokens", func() (int, error) { l, err := s.ListAuthTokens(ctx, app.ID, bad); return len(l), err }},
				{"DeleteAuthTokens", func() (int, error) { l, err := s.DeleteAuthTokens(ctx, app.ID, bad); return len(l), err }},
				{"ListSigningKeys", func() (int, error) { l, err := s.ListSigningKeys(ctx, bad); return len(l), err }},
				{"RevokeAuthTokensBefore", func() (int, error) { return s.RevokeAuthTokensBefore(ctx, app.ID, bad, base+1_000_000) }},
				{"RevokeAuthTokensBefore(app)", func() (int, error) { return s.RevokeAuthTokensBefore(ctx, bad, "", base+1_000_000) }},
				{"DeleteIdleAuthTokens", func() (int, error) {
					l, err := s.DeleteIdleAuthTokens(ctx, bad, base+1_000_000, base)
					return len(l), err
				}},
				{"ListAuditEvents(app)", func() (int, error) { l, _, err := s.ListAuditEvents(ctx, bad, store.AuditQuery{}); return len(l), err }},
				{"ListAuditEvents(action)", func() (int, error) {
					l, _, err := s.ListAuditEvents(ctx, app.ID, store.AuditQuery{Action: bad})
					return len(l), err
				}},
				{"ListAuditEvents(actor)", func() (int, error) {
					l, _, err := s.ListAuditEvents(ctx, app.ID, store.AuditQuery{Actor: bad})
					return len(l), err
				}},
				{"ListAuditEvents(target)", func() (int, error) {
					l, _, err := s.ListAuditEvents(ctx, app.ID, store.AuditQuery{Target: bad})
					return len(l), err
				}},
			}
			for _, c := range empty {
				if n, err := c.call(); err != nil || n != 0 {
					t.Errorf("%s = %d, %v; want none", c.name, n, err)
				}
			}
		})
	}
	// Nothing was touched.
	toks, err := s.ListAuthTokens(ctx, app.ID, u.UID)
	must(t, "ListAuthTokens", err)
	if len(toks) != 1 {
		t.Errorf("user has %d tokens, want 1", len(toks))
	}
}

package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

func kids(keys []*store.SigningKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()

	t.Run("None", func(t *testing.T) {
		app := newApp(t, s)
		_, err := s.ActiveSigningKey(ctx, app.ID)
		wantErr(t, "ActiveSigningKey(no key)", err, store.ErrNotFound)
		keys, err := s.ListSigningKeys(ctx, app.ID)
		must(t, "ListSigningKeys", err)
		if keys == nil || len(keys) != 0 {
			t.Errorf("ListSigningKeys of an app without keys = %#v, want empty", keys)
		}
		_, err = s.GetSigningKey(ctx, "kid-missing")
		wantErr(t, "GetSigningKey(missing)", err, store.ErrNotFound)
	})

	t.Run("CreateGet", func(t *testing.T) {
		app := newApp(t, s)
		k := signingKeyRec(app.ID)
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k))
		got, err := s.ActiveSigningKey(ctx, app.ID)
		must(t, "ActiveSigningKey", err)
		checkSigningKey(t, "ActiveSigningKey", got, k, true)
		// Every other read carries the public half only.
		pub, err := s.GetSigningKey(ctx, k.ID)
		must(t, "GetSigningKey", err)
		checkSigningKey(t, "GetSigningKey", pub, k, false)
		keys, err := s.ListSigningKeys(ctx, app.ID)
		must(t, "ListSigningKeys", err)
		if len(keys) != 1 {
			t.Fatalf("ListSigningKeys: %d keys, want 1", len(keys))
		}
		checkSigningKey(t, "ListSigningKeys", keys[0], k, false)
		published, err := s.ListPublishedSigningKeys(ctx, base+1_000_000)
		must(t, "ListPublishedSigningKeys", err)
		found := false
		for _, p := range published {
			if p.Private != nil {
				t.Errorf("ListPublishedSigningKeys carries a private key (kid %s)", p.ID)
			}
			if p.ID == k.ID {
				found = true
				checkSigningKey(t, "ListPublishedSigningKeys", p, k, false)
			}
		}
		if !found {
			t.Errorf("the active key %s is not published", k.ID)
		}
	})

	t.Run("CreateErrors", func(t *testing.T) {
		app := newApp(t, s)
		first := signingKeyRec(app.ID)
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, first))
		dupKid := signingKeyRec(newApp(t, s).ID)
		dupKid.ID = first.ID
		tests := []struct {
			name string
			k    *store.SigningKey
			want error
		}{
			{"missing app", signingKeyRec("missing-app"), store.ErrNotFound},
			{"second active key", signingKeyRec(app.ID), store.ErrAlreadyExists},
			{"kid taken (other app)", dupKid, store.ErrAlreadyExists},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, tc.k), tc.want)
			})
		}
		got, err := s.ActiveSigningKey(ctx, app.ID)
		must(t, "ActiveSigningKey", err)
		checkSigningKey(t, "active key after refused creates", got, first, true)
	})

	t.Run("Rotate", func(t *testing.T) {
		app := newApp(t, s)
		k1 := signingKeyRec(app.ID)
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k1))
		k2 := signingKeyRec(app.ID)
		retired, err := s.RotateSigningKey(ctx, k2, k2.CreatedAt+3630)
		must(t, "RotateSigningKey", err)
		want1 := *k1
		want1.RetiredAt, want1.PublishedUntil = k2.CreatedAt, k2.CreatedAt+3630
		checkSigningKey(t, "retired key", retired, &want1, false)
		active, err := s.ActiveSigningKey(ctx, app.ID)
		must(t, "ActiveSigningKey", err)
		checkSigningKey(t, "active key after rotation", active, k2, true)
		old, err := s.GetSigningKey(ctx, k1.ID)
		must(t, "GetSigningKey(retired)", err)
		checkSigningKey(t, "GetSigningKey(retired)", old, &want1, false)

		k3 := signingKeyRec(app.ID)
		_, err = s.RotateSigningKey(ctx, k3, k3.CreatedAt+60)
		must(t, "RotateSigningKey again", err)
		keys, err := s.ListSigningKeys(ctx, app.ID)
		must(t, "ListSigningKeys", err)
		if got, want := kids(keys), []string{k1.ID, k2.ID, k3.ID}; !slices.Equal(got, want) {
			t.Errorf("ListSigningKeys = %v, want %v (oldest first)", got, want)
		}
		// The first rotation's retirement is kept as it was.
		checkSigningKey(t, "first key after two rotations", keys[0], &want1, false)
		if keys[1].RetiredAt != k3.CreatedAt || keys[1].PublishedUntil != k3.CreatedAt+60 || keys[2].RetiredAt != 0 {
			t.Errorf("after two rotations: %+v / %+v", keys[1], keys[2])
		}
	})

	t.Run("RotateErrors", func(t *testing.T) {
		t.Run("app without a key", func(t *testing.T) {
			app := newApp(t, s)
			k := signingKeyRec(app.ID)
			retired, err := s.RotateSigningKey(ctx, k, base+99)
			must(t, "RotateSigningKey", err)
			if retired != nil {
				t.Errorf("retired %+v from an app without keys", retired)
			}
			active, err := s.ActiveSigningKey(ctx, app.ID)
			must(t, "ActiveSigningKey", err)
			checkSigningKey(t, "active", active, k, true)
		})
		t.Run("missing app", func(t *testing.T) {
			_, err := s.RotateSigningKey(ctx, signingKeyRec("missing-app"), base)
			wantErr(t, "RotateSigningKey(missing app)", err, store.ErrNotFound)
		})
		t.Run("kid taken: nothing changes", func(t *testing.T) {
			app := newApp(t, s)
			k := signingKeyRec(app.ID)
			must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k))
			dup := signingKeyRec(app.ID)
			dup.ID = k.ID
			_, err := s.RotateSigningKey(ctx, dup, base+99)
			wantErr(t, "RotateSigningKey(kid taken)", err, store.ErrAlreadyExists)
			active, err := s.ActiveSigningKey(ctx, app.ID)
			must(t, "ActiveSigningKey", err)
			checkSigningKey(t, "active key after a failed rotation", active, k, true)
		})
	})

	t.Run("PublishedAndExpired", func(t *testing.T) {
		// Two apps, each rotated twice: published are the active keys and
		// the retired ones whose PublishedUntil is after now.
		a, b := newApp(t, s), newApp(t, s)
		var all []*store.SigningKey
		for _, app := range []*store.App{a, b} {
			k1, k2, k3 := signingKeyRec(app.ID), signingKeyRec(app.ID), signingKeyRec(app.ID)
			must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k1))
			_, err := s.RotateSigningKey(ctx, k2, base+1000)
			must(t, "RotateSigningKey", err)
			_, err = s.RotateSigningKey(ctx, k3, base+2000)
			must(t, "RotateSigningKey", err)
			all = append(all, k1, k2, k3)
		}
		mine := func(keys []*store.SigningKey) []string {
			var out []string
			for _, k := range keys {
				if k.AppID == a.ID || k.AppID == b.ID {
					out = append(out, k.ID)
				}
			}
			return out
		}
		byApp := func(ids ...int) []string {
			// ListPublishedSigningKeys orders by app id, then age.
			sel := make([]string, 0, len(ids))
			first, second := all[:3], all[3:]
			if b.ID < a.ID {
				first, second = second, first
			}
			for _, i := range ids {
				if i < 3 {
					sel = append(sel, first[i].ID)
				} else {
					sel = append(sel, second[i-3].ID)
				}
			}
			return sel
		}
		for _, tc := range []struct {
			now  int64
			want []string
		}{
			{base + 999, byApp(0, 1, 2, 3, 4, 5)},
			{base + 1000, byApp(1, 2, 4, 5)}, // published until 1000: gone at 1000
			{base + 1999, byApp(1, 2, 4, 5)},
			{base + 2000, byApp(2, 5)},
			{base + 1_000_000, byApp(2, 5)}, // active keys never lapse
		} {
			keys, err := s.ListPublishedSigningKeys(ctx, tc.now)
			must(t, "ListPublishedSigningKeys", err)
			if got := mine(keys); !slices.Equal(got, tc.want) {
				t.Errorf("ListPublishedSigningKeys(base+%d) = %v, want %v", tc.now-base, got, tc.want)
			}
		}
		n, err := s.DeleteExpiredSigningKeys(ctx, base+1000)
		must(t, "DeleteExpiredSigningKeys", err)
		if n < 2 {
			t.Errorf("DeleteExpiredSigningKeys(base+1000) removed %d keys, want at least 2", n)
		}
		for _, app := range []*store.App{a, b} {
			keys, err := s.ListSigningKeys(ctx, app.ID)
			must(t, "ListSigningKeys", err)
			if len(keys) != 2 || keys[0].PublishedUntil != base+2000 || keys[1].RetiredAt != 0 {
				t.Errorf("app %s after DeleteExpiredSigningKeys: %v", app.ID, kids(keys))
			}
		}
		_, err = s.DeleteExpiredSigningKeys(ctx, base+1_000_000)
		must(t, "DeleteExpiredSigningKeys", err)
		for _, app := range []*store.App{a, b} {
			k, err := s.ActiveSigningKey(ctx, app.ID)
			must(t, "ActiveSigningKey after deleting every expired key", err)
			keys, _ := s.ListSigningKeys(ctx, app.ID)
			if len(keys) != 1 || keys[0].ID != k.ID {
				t.Errorf("app %s keeps %v, want only its active key %s", app.ID, kids(keys), k.ID)
			}
		}
	})

	t.Run("Isolation", func(t *testing.T) {
		a, b := newApp(t, s), newApp(t, s)
		ka, kb := signingKeyRec(a.ID), signingKeyRec(b.ID)
		must(t, "CreateSigningKey a", s.CreateSigningKey(ctx, ka))
		must(t, "CreateSigningKey b", s.CreateSigningKey(ctx, kb))
		kb2 := signingKeyRec(b.ID)
		_, err := s.RotateSigningKey(ctx, kb2, base+10)
		must(t, "RotateSigningKey b", err)
		got, err := s.ActiveSigningKey(ctx, a.ID)
		must(t, "ActiveSigningKey a", err)
		checkSigningKey(t, "a's key after b rotated", got, ka, true)
		keys, err := s.ListSigningKeys(ctx, a.ID)
		must(t, "ListSigningKeys a", err)
		if !slices.Equal(kids(keys), []string{ka.ID}) {
			t.Errorf("ListSigningKeys(a) = %v, want only %s", kids(keys), ka.ID)
		}
	})
}

// testConcurrentSigningKeys: racing first uses create one active key;
// racing rotations all apply, one after the other.
func testConcurrentSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	t.Run("Create", func(t *testing.T) {
		app := newApp(t, s)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			k := signingKeyRec(app.ID)
			wg.Go(func() {
				<-start
				errs[i] = s.CreateSigningKey(ctx, k)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("racing CreateSigningKey: %v, want nil or ErrAlreadyExists", err)
			}
		}
		keys, err := s.ListSigningKeys(ctx, app.ID)
		must(t, "ListSigningKeys", err)
		if ok != 1 || len(keys) != 1 {
			t.Errorf("%d racing creates succeeded, %d keys stored; want 1 and 1", ok, len(keys))
		}
	})
	t.Run("Rotate", func(t *testing.T) {
		app := newApp(t, s)
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, signingKeyRec(app.ID)))
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			k := signingKeyRec(app.ID)
			wg.Go(func() {
				<-start
				_, errs[i] = s.RotateSigningKey(ctx, k, k.CreatedAt+100)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("racing RotateSigningKey: %v", err)
			}
		}
		keys, err := s.ListSigningKeys(ctx, app.ID)
		must(t, "ListSigningKeys", err)
		active := 0
		for _, k := range keys {
			if k.RetiredAt == 0 {
				active++
			}
		}
		if len(keys) != n+1 || active != 1 {
			t.Errorf("after %d racing rotations: %d keys, %d active; want %d and 1", n, len(keys), active, n+1)
		}
	})
}

package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

// ---- API keys

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	appA, appB := newApp(t, s), newApp(t, s)

	k1 := keyRec(appA.ID)
	k1.Name, k1.Scope = "auth", store.ScopeAuthOnly
	t.Run("CreateGet", func(t *testing.T) {
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k1, 25))
		got, err := s.GetAPIKey(ctx, appA.ID, k1.ID)
		must(t, "GetAPIKey", err)
		if !reflect.DeepEqual(got, k1) {
			t.Errorf("GetAPIKey = %+v, want %+v", got, k1)
		}
		got, err = s.GetAPIKeyByHash(ctx, appA.ID, k1.Hash)
		must(t, "GetAPIKeyByHash", err)
		if !reflect.DeepEqual(got, k1) {
			t.Errorf("GetAPIKeyByHash = %+v, want %+v", got, k1)
		}
	})

	t.Run("CreateErrors", func(t *testing.T) {
		dupID := keyRec(appA.ID)
		dupID.ID = k1.ID
		dupHash := keyRec(appA.ID)
		dupHash.Hash = k1.Hash
		tests := []struct {
			name string
			k    *store.APIKey
			want error
		}{
			{"missing app", keyRec("missing-app"), store.ErrNotFound},
			{"duplicate id", dupID, store.ErrAlreadyExists},
			{"duplicate hash", dupHash, store.ErrAlreadyExists},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, tc.k, 25), tc.want)
			})
		}
	})

	t.Run("ScopedToApp", func(t *testing.T) {
		tests := []struct {
			name string
			get  func() (*store.APIKey, error)
		}{
			{"by id under other app", func() (*store.APIKey, error) { return s.GetAPIKey(ctx, appB.ID, k1.ID) }},
			{"by hash under other app", func() (*store.APIKey, error) { return s.GetAPIKeyByHash(ctx, appB.ID, k1.Hash) }},
			{"by id under missing app", func() (*store.APIKey, error) { return s.GetAPIKey(ctx, "missing", k1.ID) }},
			{"missing id", func() (*store.APIKey, error) { return s.GetAPIKey(ctx, appA.ID, "key_missing") }},
			{"unknown hash", func() (*store.APIKey, error) { return s.GetAPIKeyByHash(ctx, appA.ID, newHash()) }},
			{"empty hash", func() (*store.APIKey, error) { return s.GetAPIKeyByHash(ctx, appA.ID, nil) }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				k, err := tc.get()
				wantErr(t, "get", err, store.ErrNotFound)
				if err == nil {
					t.Errorf("found %+v", k)
				}
			})
		}
	})

	t.Run("Limit", func(t *testing.T) {
		app := newApp(t, s)
		const max = 3
		var keys []*store.APIKey
		for i := range max {
			k := keyRec(app.ID)
			k.CreatedAt = base + int64(i)
			must(t, fmt.Sprintf("CreateAPIKey #%d", i+1), s.CreateAPIKey(ctx, k, max))
			keys = append(keys, k)
		}
		wantErr(t, "CreateAPIKey over the limit", s.CreateAPIKey(ctx, keyRec(app.ID), max), store.ErrLimitReached)
		// The limit is per app.
		must(t, "CreateAPIKey in another app", s.CreateAPIKey(ctx, keyRec(appB.ID), max))
		// Deleting a key makes room again.
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, app.ID, keys[0].ID))
		must(t, "CreateAPIKey after delete", s.CreateAPIKey(ctx, keyRec(app.ID), max))
		wantErr(t, "CreateAPIKey over the limit again", s.CreateAPIKey(ctx, keyRec(app.ID), max), store.ErrLimitReached)
		list, err := s.ListAPIKeys(ctx, app.ID)
		must(t, "ListAPIKeys", err)
		if len(list) != max {
			t.Errorf("%d keys, want %d", len(list), max)
		}
	})

	t.Run("LimitConcurrent", func(t *testing.T) {
		// The count and the insert must be atomic: racing creators cannot
		// exceed the limit together.
		app := newApp(t, s)
		const max, n = 25, 40
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.CreateAPIKey(ctx, keyRec(app.ID), max) })
		}
		wg.Wait()
		ok, limited := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrLimitReached):
				limited++
			default:
				t.Errorf("CreateAPIKey: %v", err)
			}
		}
		if ok != max || limited != n-max {
			t.Errorf("%d created, %d limited; want %d and %d", ok, limited, max, n-max)
		}
		list, err := s.ListAPIKeys(ctx, app.ID)
		must(t, "ListAPIKeys", err)
		if len(list) != max {
			t.Errorf("app has %d keys, want %d", len(list), max)
		}
	})

	t.Run("List", func(t *testing.T) {
		app := newApp(t, s)
		var want []*store.APIKey
		for i := range 3 {
			k := keyRec(app.ID)
			k.Name = fmt.Sprintf("key %d", i)
			k.CreatedAt = base + 10 - int64(i) // created in reverse order of time
			must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, 25))
			want = append([]*store.APIKey{k}, want...)
		}
		got, err := s.ListAPIKeys(ctx, app.ID)
		must(t, "ListAPIKeys", err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ListAPIKeys = %v, want %v (by creation time)", got, want)
		}
		empty := newApp(t, s)
		got, err = s.ListAPIKeys(ctx, empty.ID)
		must(t, "ListAPIKeys(empty app)", err)
		if len(got) != 0 {
			t.Errorf("app without keys lists %d", len(got))
		}
	})

	t.Run("Update", func(t *testing.T) {
		k := keyRec(appA.ID)
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, 25))
		upd := *k
		upd.Name, upd.Scope = "renamed", store.ScopeAuthOnly
		must(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &upd))
		got, err := s.GetAPIKey(ctx, appA.ID, k.ID)
		must(t, "GetAPIKey", err)
		if !reflect.DeepEqual(got, &upd) {
			t.Errorf("after UpdateAPIKey: %+v, want %+v", got, &upd)
		}
		other := upd
		other.AppID, other.Name = appB.ID, "hijacked"
		wantErr(t, "UpdateAPIKey under another app", s.UpdateAPIKey(ctx, &other), store.ErrNotFound)
		missing := upd
		missing.ID = "key_missing"
		wantErr(t, "UpdateAPIKey(missing)", s.UpdateAPIKey(ctx, &missing), store.ErrNotFound)
		got, err = s.GetAPIKey(ctx, appA.ID, k.ID)
		must(t, "GetAPIKey", err)
		if got.Name != "renamed" {
			t.Errorf("key changed by a failed update: %+v", got)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		k := keyRec(appA.ID)
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, 25))
		wantErr(t, "DeleteAPIKey under another app", s.DeleteAPIKey(ctx, appB.ID, k.ID), store.ErrNotFound)
		if _, err := s.GetAPIKey(ctx, appA.ID, k.ID); err != nil {
			t.Fatalf("key gone after a delete under another app: %v", err)
		}
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, appA.ID, k.ID))
		_, err := s.GetAPIKey(ctx, appA.ID, k.ID)
		wantErr(t, "GetAPIKey after delete", err, store.ErrNotFound)
		_, err = s.GetAPIKeyByHash(ctx, appA.ID, k.Hash)
		wantErr(t, "GetAPIKeyByHash after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteAPIKey again", s.DeleteAPIKey(ctx, appA.ID, k.ID), store.ErrNotFound)
		wantErr(t, "DeleteAPIKey(missing)", s.DeleteAPIKey(ctx, appA.ID, "key_missing"), store.ErrNotFound)
	})
}

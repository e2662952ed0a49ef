// Package storetest is the conformance suite every store.Store backend must
// pass, in the manner of dex's storage/conformance: a backend's test calls
// Run with a function that opens a fresh, empty, migrated store, and the
// suite exercises every method of the interface through it.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
)

// Option configures Run.
type Option func(*config)

type config struct {
	place func(t *testing.T) func(t *testing.T) store.Store
}

// WithReopen enables the persistence tests. place is called once per test to
// pick a fresh location (a database file, a schema) and returns an opener for
// it: every call of the opener opens the same data again. The suite closes
// each store it gets from the opener.
func WithReopen(place func(t *testing.T) func(t *testing.T) store.Store) Option {
	return func(c *config) { c.place = place }
}

// Run runs the conformance suite. open must return a fresh, empty, migrated
// store; Run closes it when the test that opened it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	groups := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"Apps", testApps},
		{"APIKeys", testAPIKeys},
		{"Users", testUsers},
		{"ListUsers", testListUsers},
		{"UpdateUser", testUpdateUser},
		{"DeleteUser", testDeleteUser},
		{"AuthTokens", testAuthTokens},
		{"ConcurrentAuthTokens", testConcurrentAuthTokens},
		{"Presence", testPresence},
		{"SigningKeys", testSigningKeys},
		{"ConcurrentSigningKeys", testConcurrentSigningKeys},
		{"PresenceInReads", testPresenceInReads},
		{"CrossAppIsolation", testIsolation},
		{"UnstorableKeys", testUnstorableKeys},
		{"Context", testContext},
		{"Closed", testClosed},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.fn(t, fresh(t)) })
	}
	t.Run("Reopen", func(t *testing.T) {
		if cfg.place == nil {
			t.Skip("backend gave no reopen hook (storetest.WithReopen)")
		}
		testReopen(t, cfg.place(t))
	})
	t.Run("CloseWaitsForQueuedWrites", func(t *testing.T) {
		if cfg.place == nil {
			t.Skip("backend gave no reopen hook (storetest.WithReopen)")
		}
		testCloseWaits(t, cfg.place(t))
	})
}

// ---- helpers

// base is the clock of the suite; tests use fixed unix seconds around it.
const base = int64(1_700_000_000)

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// newHash is the SHA-256 of a random secret, as the server stores them.
func newHash() []byte {
	sum := sha256.Sum256([]byte("secret_" + randHex(32)))
	return sum[:]
}

func newApp(t *testing.T, s store.Store) *store.App {
	t.Helper()
	a := &store.App{
		ID:        "app-" + randHex(6),
		Name:      "Test app",
		Region:    "us",
		Settings:  store.AppSettings{AuthTokenTTL: 3600},
		CreatedAt: base,
	}
	if err := s.CreateApp(t.Context(), a); err != nil {
		t.Fatalf("CreateApp(%s): %v", a.ID, err)
	}
	return a
}

func userRec(appID, uid string) *store.User {
	return &store.User{
		AppID:     appID,
		UID:       uid,
		Name:      "Name of " + uid,
		Role:      "default",
		CreatedAt: base,
		UpdatedAt: base,
	}
}

func newUser(t *testing.T, s store.Store, appID, uid string) *store.User {
	t.Helper()
	u := userRec(appID, uid)
	if err := s.CreateUser(t.Context(), u, nil); err != nil {
		t.Fatalf("CreateUser(%s/%s): %v", appID, uid, err)
	}
	return u
}

var tokenSeq struct {
	sync.Mutex
	n int64
}

// tokenRec is an auth token (not stored) with a key as the server makes
// them (credential.TokenKey: the uid first), a random display id and a creation
// time that increases with every call, so lists have a defined order.
func tokenRec(appID, uid string) *store.AuthToken {
	tokenSeq.Lock()
	tokenSeq.n++
	n := tokenSeq.n
	tokenSeq.Unlock()
	_, key := credential.NewToken(uid, time.Unix(base+n, 0))
	return &store.AuthToken{
		Hash:      key,
		ID:        "tok_" + randHex(8),
		AppID:     appID,
		UID:       uid,
		Platform:  "web",
		DeviceID:  "device-" + randHex(4),
		UserAgent: "storetest/1.0",
		CreatedAt: base + n,
	}
}

func newToken(t *testing.T, s store.Store, appID, uid string) *store.AuthToken {
	t.Helper()
	tok := tokenRec(appID, uid)
	if err := s.CreateAuthToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateAuthToken(%s/%s): %v", appID, uid, err)
	}
	return tok
}

func keyRec(appID string) *store.APIKey {
	return &store.APIKey{
		ID:        "key_" + randHex(8),
		AppID:     appID,
		Name:      "key",
		Scope:     store.ScopeFullAccess,
		Hash:      newHash(),
		CreatedAt: base,
	}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// jsonEqual compares two JSON documents by value; both empty is equal.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// diffUser lists the fields in which got differs from want. Tags nil and
// empty are the same; metadata is compared as JSON.
func diffUser(got, want *store.User) string {
	if got == nil {
		return "user is nil"
	}
	var d []string
	f := func(name string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			d = append(d, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
		}
	}
	f("AppID", got.AppID, want.AppID)
	f("UID", got.UID, want.UID)
	f("Name", got.Name, want.Name)
	f("Avatar", got.Avatar, want.Avatar)
	f("Link", got.Link, want.Link)
	f("Role", got.Role, want.Role)
	if !jsonEqual(got.Metadata, want.Metadata) {
		d = append(d, fmt.Sprintf("Metadata = %s, want %s", got.Metadata, want.Metadata))
	}
	if len(got.Tags) != 0 || len(want.Tags) != 0 {
		f("Tags", got.Tags, want.Tags)
	}
	f("LastActiveAt", got.LastActiveAt, want.LastActiveAt)
	f("CreatedAt", got.CreatedAt, want.CreatedAt)
	f("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	f("DeactivatedAt", got.DeactivatedAt, want.DeactivatedAt)
	return strings.Join(d, "; ")
}

func checkUser(t *testing.T, what string, got, want *store.User) {
	t.Helper()
	if d := diffUser(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

func checkToken(t *testing.T, what string, got, want *store.AuthToken) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func tokenHashes(toks []*store.AuthToken) []string {
	out := make([]string, len(toks))
	for i, tk := range toks {
		out[i] = hex.EncodeToString(tk.Hash)
	}
	sort.Strings(out)
	return out
}

func uids(us []*store.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.UID
	}
	return out
}

// ---- ping

func testPing(t *testing.T, s store.Store) {
	must(t, "Ping", s.Ping(t.Context()))
}

// ---- apps

func testApps(t *testing.T, s store.Store) {
	ctx := t.Context()

	t.Run("EmptyList", func(t *testing.T) {
		apps, err := s.ListApps(ctx)
		must(t, "ListApps", err)
		if len(apps) != 0 {
			t.Errorf("fresh store has %d apps", len(apps))
		}
	})

	a := &store.App{
		ID:     "acme-" + randHex(4),
		Name:   "Acme Calls",
		Region: "eu",
		Settings: store.AppSettings{
			AuthTokenTTL: 86400,
			CallTokenTTL: 600,
			CORSOrigins:  []string{"https://acme.example", "http://localhost:5173"},
		},
		CreatedAt: base,
	}
	t.Run("CreateGet", func(t *testing.T) {
		must(t, "CreateApp", s.CreateApp(ctx, a))
		got, err := s.GetApp(ctx, a.ID)
		must(t, "GetApp", err)
		if !reflect.DeepEqual(got, a) {
			t.Errorf("GetApp = %+v, want %+v", got, a)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup := *a
		dup.Name = "Other"
		wantErr(t, "CreateApp(duplicate)", s.CreateApp(ctx, &dup), store.ErrAlreadyExists)
		got, err := s.GetApp(ctx, a.ID)
		must(t, "GetApp", err)
		if got.Name != a.Name {
			t.Errorf("duplicate create changed the app: name %q", got.Name)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		for _, id := range []string{"", "missing", strings.ToUpper(a.ID), a.ID + "x"} {
			_, err := s.GetApp(ctx, id)
			wantErr(t, fmt.Sprintf("GetApp(%q)", id), err, store.ErrNotFound)
		}
	})

	t.Run("List", func(t *testing.T) {
		b := &store.App{ID: "b-" + randHex(4), Name: "B", Region: "us", CreatedAt: base + 2}
		c := &store.App{ID: "c-" + randHex(4), Name: "C", Region: "in", CreatedAt: base + 1,
			Settings: store.AppSettings{CORSOrigins: []string{"*"}}}
		must(t, "CreateApp b", s.CreateApp(ctx, b))
		must(t, "CreateApp c", s.CreateApp(ctx, c))
		apps, err := s.ListApps(ctx)
		must(t, "ListApps", err)
		want := []*store.App{a, c, b} // by creation time
		if !reflect.DeepEqual(apps, want) {
			t.Errorf("ListApps =")
			for _, x := range apps {
				t.Errorf("  %+v", x)
			}
			t.Errorf("want")
			for _, x := range want {
				t.Errorf("  %+v", x)
			}
		}
	})

	t.Run("Update", func(t *testing.T) {
		tests := []struct {
			name string
			edit func(a *store.App)
		}{
			{"settings", func(a *store.App) {
				a.Settings = store.AppSettings{AuthTokenTTL: 60, CallTokenTTL: 7200, CORSOrigins: []string{"https://x.example"}}
			}},
			{"call grants", func(a *store.App) {
				a.Settings.CallGrants = &store.CallGrants{Join: true, PublishAudio: true, Moderator: true}
			}},
			{"name and region", func(a *store.App) { a.Name = "Renamed — ünïcode"; a.Region = "in" }},
			{"clear settings", func(a *store.App) { a.Settings = store.AppSettings{} }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cur, err := s.GetApp(ctx, a.ID)
				must(t, "GetApp", err)
				tc.edit(cur)
				must(t, "UpdateApp", s.UpdateApp(ctx, cur))
				got, err := s.GetApp(ctx, a.ID)
				must(t, "GetApp", err)
				if !reflect.DeepEqual(got, cur) {
					t.Errorf("after UpdateApp: %+v, want %+v", got, cur)
				}
			})
		}
		t.Run("missing", func(t *testing.T) {
			wantErr(t, "UpdateApp(missing)", s.UpdateApp(ctx, &store.App{ID: "missing", Name: "x", Region: "us"}), store.ErrNotFound)
		})
	})
}

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

// ---- users

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)

	full := &store.User{
		AppID:        app.ID,
		UID:          "cometchat-uid-1",
		Name:         "Andrew Joseph",
		Avatar:       "https://data-us.cometchat.io/assets/images/avatars/ironman.png",
		Link:         "https://example.com/andrew",
		Role:         "moderator",
		Metadata:     json.RawMessage(`{"@private":{"email":"a@example.com","contactNumber":"0123"},"n":1.5,"list":[1,"two",null,true],"ü":"ß"}`),
		Tags:         []string{"vip", "beta tester", "ünïcode"},
		LastActiveAt: base - 10,
		CreatedAt:    base,
		UpdatedAt:    base + 1,
	}

	t.Run("CreateGet", func(t *testing.T) {
		must(t, "CreateUser", s.CreateUser(ctx, full, nil))
		got, err := s.GetUser(ctx, app.ID, full.UID)
		must(t, "GetUser", err)
		checkUser(t, "GetUser", got, full)
		if got.Status != "offline" {
			t.Errorf("Status = %q, want offline (nobody is connected)", got.Status)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name string
			edit func(u *store.User)
		}{
			{"minimal", func(u *store.User) {}},
			{"nil metadata and tags", func(u *store.User) { u.Metadata, u.Tags = nil, nil }},
			{"empty object metadata", func(u *store.User) { u.Metadata = json.RawMessage(`{}`) }},
			{"nested metadata", func(u *store.User) {
				u.Metadata = json.RawMessage(`{"a":{"b":{"c":[1,2,{"d":"e"}]}},"quote":"\"'\\","emoji":"📞"}`)
			}},
			{"one tag", func(u *store.User) { u.Tags = []string{"solo"} }},
			{"tags with punctuation", func(u *store.User) { u.Tags = []string{`a"b`, "c,d", "[e]", ""} }},
			{"deactivated", func(u *store.User) { u.DeactivatedAt = base + 5 }},
			{"long name", func(u *store.User) { u.Name = strings.Repeat("ñ", 100) }},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := userRec(app.ID, fmt.Sprintf("roundtrip-%d", i))
				tc.edit(u)
				must(t, "CreateUser", s.CreateUser(ctx, u, nil))
				got, err := s.GetUser(ctx, app.ID, u.UID)
				must(t, "GetUser", err)
				checkUser(t, "GetUser", got, u)
			})
		}
	})

	t.Run("CreateErrors", func(t *testing.T) {
		dup := userRec(app.ID, full.UID)
		dup.Name = "Impostor"
		tests := []struct {
			name string
			u    *store.User
			want error
		}{
			{"duplicate", dup, store.ErrAlreadyExists},
			{"missing app", userRec("missing-app", "someone"), store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateUser", s.CreateUser(ctx, tc.u, nil), tc.want)
			})
		}
		got, err := s.GetUser(ctx, app.ID, full.UID)
		must(t, "GetUser", err)
		checkUser(t, "user after failed duplicate create", got, full)
	})

	t.Run("GetMissing", func(t *testing.T) {
		other := newApp(t, s)
		tests := []struct{ app, uid string }{
			{app.ID, "nobody"},
			{app.ID, ""},
			{other.ID, full.UID},
			{"missing-app", full.UID},
		}
		for _, tc := range tests {
			_, err := s.GetUser(ctx, tc.app, tc.uid)
			wantErr(t, fmt.Sprintf("GetUser(%q, %q)", tc.app, tc.uid), err, store.ErrNotFound)
		}
	})

	t.Run("CreateWithToken", func(t *testing.T) {
		u := userRec(app.ID, "with-token")
		tok := tokenRec(app.ID, u.UID)
		must(t, "CreateUser", s.CreateUser(ctx, u, tok))
		gotTok, gotUser, err := s.GetSession(ctx, tok.Hash)
		must(t, "GetSession", err)
		checkToken(t, "token", gotTok, tok)
		checkUser(t, "user of the token", gotUser, u)
		list, err := s.ListAuthTokens(ctx, app.ID, u.UID)
		must(t, "ListAuthTokens", err)
		if len(list) != 1 {
			t.Errorf("%d tokens, want 1", len(list))
		}
	})

	t.Run("CreateWithTokenAtomic", func(t *testing.T) {
		existing := userRec(app.ID, "atomic-existing")
		existingTok := tokenRec(app.ID, existing.UID)
		must(t, "CreateUser", s.CreateUser(ctx, existing, existingTok))

		t.Run("user insert fails", func(t *testing.T) {
			dup := userRec(app.ID, existing.UID)
			tok := tokenRec(app.ID, dup.UID)
			wantErr(t, "CreateUser(duplicate, token)", s.CreateUser(ctx, dup, tok), store.ErrAlreadyExists)
			_, _, err := s.GetSession(ctx, tok.Hash)
			wantErr(t, "GetSession of the failed create's token", err, store.ErrNotFound)
			list, err := s.ListAuthTokens(ctx, app.ID, existing.UID)
			must(t, "ListAuthTokens", err)
			if got := tokenHashes(list); !reflect.DeepEqual(got, tokenHashes([]*store.AuthToken{existingTok})) {
				t.Errorf("existing user's tokens changed: %v", got)
			}
		})
		t.Run("user insert fails, missing app", func(t *testing.T) {
			u := userRec("missing-app", "ghost")
			tok := tokenRec(u.AppID, u.UID)
			wantErr(t, "CreateUser(missing app, token)", s.CreateUser(ctx, u, tok), store.ErrNotFound)
			_, _, err := s.GetSession(ctx, tok.Hash)
			wantErr(t, "GetSession of the failed create's token", err, store.ErrNotFound)
		})
		t.Run("token insert fails", func(t *testing.T) {
			u := userRec(app.ID, "atomic-new")
			tok := tokenRec(app.ID, u.UID)
			tok.Hash = existingTok.Hash // collides
			wantErr(t, "CreateUser(user, duplicate token)", s.CreateUser(ctx, u, tok), store.ErrAlreadyExists)
			_, err := s.GetUser(ctx, app.ID, u.UID)
			wantErr(t, "GetUser after a failed create", err, store.ErrNotFound)
			// The uid is still free.
			must(t, "CreateUser retry", s.CreateUser(ctx, u, tokenRec(app.ID, u.UID)))
		})
	})
}

// ---- list users

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	other := newApp(t, s)
	people := []struct{ uid, name string }{
		{"alice-1", "Alice Liddell"},
		{"bob_2", "Bobby Tables"},
		{"carol3", "Carol 100% Sure"},
		{"dave", "Dave x_y"},
		{"erin", "Érin Ünal"},
		{"frank", "FRANK"},
		{"grace", `Grace back\slash`},
	}
	var all []string
	for _, p := range people {
		u := userRec(app.ID, p.uid)
		u.Name = p.name
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		all = append(all, p.uid)
	}
	// Noise in another app that matches every search.
	for _, p := range people {
		newUser(t, s, other.ID, p.uid+"-other")
	}
	sort.Strings(all)

	t.Run("Search", func(t *testing.T) {
		tests := []struct {
			search string
			want   []string
		}{
			{"", all},
			{"alice", []string{"alice-1"}},   // uid
			{"ALICE", []string{"alice-1"}},   // uid, case-insensitive
			{"liddell", []string{"alice-1"}}, // name
			{"LiDDeLL", []string{"alice-1"}}, // name, case-insensitive
			{"frank", []string{"frank"}},     // upper-case name, lower-case search
			{"a", []string{"alice-1", "bob_2", "carol3", "dave", "erin", "frank", "grace"}},
			{"_", []string{"bob_2", "dave"}}, // literal underscore in uid and name
			{"e_1", nil},                     // "_" as a wildcard would match alice-1
			{"%", []string{"carol3"}},        // literal percent
			{"0% s", []string{"carol3"}},     // percent in the middle
			{"%sure", nil},                   // "%" as a wildcard would match carol3
			{`\`, []string{"grace"}},         // backslash is literal too
			{`k\s`, []string{"grace"}},       // backslash is literal too
			{`\%`, nil},                      // an escape sequence is literal
			{"ünal", []string{"erin"}},       // non-ASCII, case-insensitive
			{"ÉRIN", []string{"erin"}},       // non-ASCII upper-case search
			{"nobody", nil},                  // no match
			{"alice-1-other", nil},           // other app's users never show
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%q", tc.search), func(t *testing.T) {
				got, total, err := s.ListUsers(ctx, app.ID, store.UserQuery{Search: tc.search, Limit: 100})
				must(t, "ListUsers", err)
				if g := uids(got); !slices.Equal(g, tc.want) {
					t.Errorf("ListUsers(search %q) = %q, want %q", tc.search, g, tc.want)
				}
				if total != len(tc.want) {
					t.Errorf("total = %d, want %d", total, len(tc.want))
				}
			})
		}
	})

	t.Run("Status", func(t *testing.T) {
		// Presence lives in the realtime layer: the store sees nobody online.
		got, total, err := s.ListUsers(ctx, app.ID, store.UserQuery{Status: "offline", Limit: 100})
		must(t, "ListUsers(offline)", err)
		if g := uids(got); !slices.Equal(g, all) || total != len(all) {
			t.Errorf("offline: %q (total %d), want %q", g, total, all)
		}
		for _, u := range got {
			if u.Status != "offline" {
				t.Errorf("%s: status %q in the offline list", u.UID, u.Status)
			}
		}
		got, total, err = s.ListUsers(ctx, app.ID, store.UserQuery{Status: "online", Limit: 100})
		must(t, "ListUsers(online)", err)
		if len(got) != 0 || total != 0 {
			t.Errorf("online: %q (total %d), want none", uids(got), total)
		}
		got, total, err = s.ListUsers(ctx, app.ID, store.UserQuery{Status: "offline", Search: "ALICE", Limit: 100})
		must(t, "ListUsers(offline, search)", err)
		if g := uids(got); !slices.Equal(g, []string{"alice-1"}) || total != 1 {
			t.Errorf("offline+search: %q (total %d)", g, total)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		papp := newApp(t, s)
		var want []string
		for i := range 25 {
			uid := fmt.Sprintf("page-%02d", i)
			want = append(want, uid)
		}
		// Insert out of order; lists are ordered by uid.
		for _, i := range rand25() {
			newUser(t, s, papp.ID, want[i])
		}
		tests := []struct {
			limit, offset int
			search        string
			want          []string
			total         int
		}{
			{10, 0, "", want[0:10], 25},
			{10, 10, "", want[10:20], 25},
			{10, 20, "", want[20:25], 25},
			{10, 25, "", nil, 25},
			{10, 1000, "", nil, 25},
			{1, 24, "", want[24:], 25},
			{100, 0, "", want, 25},
			{3, 0, "page-1", want[10:13], 10},
			{3, 9, "page-1", want[19:20], 10},
			{5, 0, "PAGE-2", want[20:25], 5},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("limit=%d,offset=%d,search=%q", tc.limit, tc.offset, tc.search), func(t *testing.T) {
				got, total, err := s.ListUsers(ctx, papp.ID, store.UserQuery{Limit: tc.limit, Offset: tc.offset, Search: tc.search})
				must(t, "ListUsers", err)
				if g := uids(got); !slices.Equal(g, tc.want) {
					t.Errorf("page = %q, want %q", g, tc.want)
				}
				if total != tc.total {
					t.Errorf("total = %d, want %d", total, tc.total)
				}
			})
		}
		// Walking the pages visits every user once.
		var seen []string
		for off := 0; ; off += 7 {
			got, _, err := s.ListUsers(ctx, papp.ID, store.UserQuery{Limit: 7, Offset: off})
			must(t, "ListUsers", err)
			if len(got) == 0 {
				break
			}
			seen = append(seen, uids(got)...)
		}
		if !slices.Equal(seen, want) {
			t.Errorf("paging by 7 saw %q", seen)
		}
	})

	t.Run("EmptyApp", func(t *testing.T) {
		empty := newApp(t, s)
		got, total, err := s.ListUsers(ctx, empty.ID, store.UserQuery{Limit: 10})
		must(t, "ListUsers", err)
		if len(got) != 0 || total != 0 {
			t.Errorf("empty app lists %q, total %d", uids(got), total)
		}
	})
}

// rand25 is a fixed permutation of 0..24.
func rand25() []int {
	return []int{17, 3, 24, 0, 11, 8, 21, 14, 5, 19, 1, 23, 9, 16, 2, 12, 7, 20, 4, 15, 22, 10, 6, 18, 13}
}

// ---- update user

func ptr[T any](v T) *T { return &v }

func testUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)

	seed := func(uid string) *store.User {
		u := userRec(app.ID, uid)
		u.Avatar = "https://example.com/a.png"
		u.Link = "https://example.com/u"
		u.Role = "default"
		u.Metadata = json.RawMessage(`{"k":"v"}`)
		u.Tags = []string{"t1", "t2"}
		u.LastActiveAt = base - 100
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		return u
	}

	t.Run("Patch", func(t *testing.T) {
		meta := json.RawMessage(`{"new":{"nested":[1,2,3]},"x":"ÿ"}`)
		tests := []struct {
			name  string
			patch store.UserPatch
			edit  func(u *store.User) // the expected effect on the user
		}{
			{"empty patch", store.UserPatch{}, func(u *store.User) {}},
			{"name", store.UserPatch{Name: ptr("New Name")}, func(u *store.User) { u.Name = "New Name" }},
			{"avatar", store.UserPatch{Avatar: ptr("https://x.example/b.png")}, func(u *store.User) { u.Avatar = "https://x.example/b.png" }},
			{"clear avatar", store.UserPatch{Avatar: ptr("")}, func(u *store.User) { u.Avatar = "" }},
			{"link", store.UserPatch{Link: ptr("https://x.example")}, func(u *store.User) { u.Link = "https://x.example" }},
			{"role", store.UserPatch{Role: ptr("admin")}, func(u *store.User) { u.Role = "admin" }},
			{"metadata", store.UserPatch{Metadata: &meta}, func(u *store.User) { u.Metadata = meta }},
			{"tags", store.UserPatch{Tags: ptr([]string{"x"})}, func(u *store.User) { u.Tags = []string{"x"} }},
			{"clear tags", store.UserPatch{Tags: ptr([]string{})}, func(u *store.User) { u.Tags = nil }},
			{"everything", store.UserPatch{Name: ptr("N"), Avatar: ptr("A"), Link: ptr("L"), Role: ptr("R"),
				Metadata: &meta, Tags: ptr([]string{"a", "b"})}, func(u *store.User) {
				u.Name, u.Avatar, u.Link, u.Role, u.Metadata, u.Tags = "N", "A", "L", "R", meta, []string{"a", "b"}
			}},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := seed(fmt.Sprintf("patch-%d", i))
				now := base + 500
				want := *u
				tc.edit(&want)
				want.UpdatedAt = now
				got, err := s.UpdateUser(ctx, app.ID, u.UID, tc.patch, now)
				must(t, "UpdateUser", err)
				checkUser(t, "UpdateUser result", got, &want)
				stored, err := s.GetUser(ctx, app.ID, u.UID)
				must(t, "GetUser", err)
				checkUser(t, "GetUser after UpdateUser", stored, &want)
			})
		}
	})

	t.Run("Successive", func(t *testing.T) {
		// Each patch leaves the fields it does not name as the previous one left them.
		u := seed("successive")
		_, err := s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Name: ptr("First")}, base+1)
		must(t, "UpdateUser 1", err)
		_, err = s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Tags: ptr([]string{"z"})}, base+2)
		must(t, "UpdateUser 2", err)
		got, err := s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Role: ptr("owner")}, base+3)
		must(t, "UpdateUser 3", err)
		want := *u
		want.Name, want.Tags, want.Role, want.UpdatedAt = "First", []string{"z"}, "owner", base+3
		checkUser(t, "after three patches", got, &want)
	})

	t.Run("DeactivateReactivate", func(t *testing.T) {
		u := seed("deact")
		pre := newToken(t, s, app.ID, u.UID) // minted before the deactivation
		steps := []struct {
			name        string
			deactivated bool
			now         int64
			wantAt      int64
			tokenErr    error
		}{
			{"deactivate", true, base + 10, base + 10, store.ErrNotFound},
			{"deactivate again keeps the first time", true, base + 20, base + 10, store.ErrNotFound},
			{"reactivate", false, base + 30, 0, nil},
			{"reactivate again", false, base + 40, 0, nil},
			{"deactivate after reactivation", true, base + 50, base + 50, store.ErrNotFound},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				got, err := s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Deactivated: ptr(st.deactivated)}, st.now)
				must(t, "UpdateUser", err)
				if got.DeactivatedAt != st.wantAt {
					t.Errorf("DeactivatedAt = %d, want %d", got.DeactivatedAt, st.wantAt)
				}
				stored, err := s.GetUser(ctx, app.ID, u.UID)
				must(t, "GetUser (a deactivated user is still readable)", err)
				if stored.DeactivatedAt != st.wantAt {
					t.Errorf("stored DeactivatedAt = %d, want %d", stored.DeactivatedAt, st.wantAt)
				}
				if stored.Name != u.Name || !jsonEqual(stored.Metadata, u.Metadata) {
					t.Errorf("deactivation changed other fields: %+v", stored)
				}
				// An existing session still resolves, showing the
				// deactivation so the caller can refuse it.
				_, su, err := s.GetSession(ctx, pre.Hash)
				must(t, "GetSession", err)
				if su.DeactivatedAt != st.wantAt {
					t.Errorf("GetSession user DeactivatedAt = %d, want %d", su.DeactivatedAt, st.wantAt)
				}
				err = s.CreateAuthToken(ctx, tokenRec(app.ID, u.UID))
				if st.tokenErr == nil {
					must(t, "CreateAuthToken", err)
				} else {
					wantErr(t, "CreateAuthToken", err, st.tokenErr)
				}
			})
		}
	})

	t.Run("Missing", func(t *testing.T) {
		other := newApp(t, s)
		seed("present")
		tests := []struct{ app, uid string }{
			{app.ID, "nobody"},
			{other.ID, "present"},
			{"missing-app", "present"},
		}
		for _, tc := range tests {
			_, err := s.UpdateUser(ctx, tc.app, tc.uid, store.UserPatch{Name: ptr("x")}, base)
			wantErr(t, fmt.Sprintf("UpdateUser(%q, %q)", tc.app, tc.uid), err, store.ErrNotFound)
		}
		_, err := s.GetUser(ctx, other.ID, "present")
		wantErr(t, "UpdateUser must not create", err, store.ErrNotFound)
	})
}

// ---- delete user

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)

	u := newUser(t, s, app.ID, "doomed")
	bystander := newUser(t, s, app.ID, "bystander")
	var toks []*store.AuthToken
	for range 3 {
		toks = append(toks, newToken(t, s, app.ID, u.UID))
	}
	keep := newToken(t, s, app.ID, bystander.UID)

	got, err := s.DeleteUser(ctx, app.ID, u.UID)
	must(t, "DeleteUser", err)
	if !reflect.DeepEqual(tokenHashes(got), tokenHashes(toks)) {
		t.Errorf("DeleteUser returned tokens %v, want %v", tokenHashes(got), tokenHashes(toks))
	}
	for _, tk := range got {
		if tk.AppID != app.ID || tk.UID != u.UID || tk.ID == "" {
			t.Errorf("returned token lacks its identity: %+v", tk)
		}
	}
	_, err = s.GetUser(ctx, app.ID, u.UID)
	wantErr(t, "GetUser after DeleteUser", err, store.ErrNotFound)
	for _, tk := range toks {
		_, _, err := s.GetSession(ctx, tk.Hash)
		wantErr(t, "GetSession of a deleted user's token", err, store.ErrNotFound)
	}
	list, err := s.ListAuthTokens(ctx, app.ID, u.UID)
	must(t, "ListAuthTokens", err)
	if len(list) != 0 {
		t.Errorf("%d tokens survive their user", len(list))
	}
	if _, _, err := s.GetSession(ctx, keep.Hash); err != nil {
		t.Errorf("bystander's token: %v", err)
	}
	_, err = s.DeleteUser(ctx, app.ID, u.UID)
	wantErr(t, "DeleteUser again", err, store.ErrNotFound)
	_, err = s.DeleteUser(ctx, "missing-app", bystander.UID)
	wantErr(t, "DeleteUser under a missing app", err, store.ErrNotFound)

	t.Run("WithoutTokens", func(t *testing.T) {
		newUser(t, s, app.ID, "lonely")
		got, err := s.DeleteUser(ctx, app.ID, "lonely")
		must(t, "DeleteUser", err)
		if len(got) != 0 {
			t.Errorf("returned %d tokens", len(got))
		}
	})

	t.Run("Recreate", func(t *testing.T) {
		// A deleted uid is free again and does not inherit anything.
		again := newUser(t, s, app.ID, u.UID)
		list, err := s.ListAuthTokens(ctx, app.ID, again.UID)
		must(t, "ListAuthTokens", err)
		if len(list) != 0 {
			t.Errorf("recreated user has %d tokens", len(list))
		}
	})
}

// ---- auth tokens

func testAuthTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	other := newApp(t, s)
	u := newUser(t, s, app.ID, "tokuser")
	u2 := newUser(t, s, app.ID, "tokuser2")
	newUser(t, s, other.ID, "only-in-other")

	t.Run("CreateGetSession", func(t *testing.T) {
		tok := tokenRec(app.ID, u.UID)
		tok.ExpiresAt = base + 100_000_000 // beyond every "now" of DeleteExpired
		tok.LastUsedAt = base
		must(t, "CreateAuthToken", s.CreateAuthToken(ctx, tok))
		gotTok, gotUser, err := s.GetSession(ctx, tok.Hash)
		must(t, "GetSession", err)
		checkToken(t, "GetSession token", gotTok, tok)
		checkUser(t, "GetSession user", gotUser, u)
		got, err := s.GetAuthToken(ctx, app.ID, u.UID, tok.ID)
		must(t, "GetAuthToken", err)
		checkToken(t, "GetAuthToken", got, tok)
	})

	t.Run("CreateErrors", func(t *testing.T) {
		deact := newUser(t, s, app.ID, "deactivated")
		_, err := s.UpdateUser(ctx, app.ID, deact.UID, store.UserPatch{Deactivated: ptr(true)}, base)
		must(t, "deactivate", err)
		existing := newToken(t, s, app.ID, u.UID)
		dupHash := tokenRec(app.ID, u2.UID)
		dupHash.Hash = existing.Hash
		tests := []struct {
			name string
			tok  *store.AuthToken
			want error
		}{
			{"missing user", tokenRec(app.ID, "nobody"), store.ErrNotFound},
			{"user of another app", tokenRec(app.ID, "only-in-other"), store.ErrNotFound},
			{"missing app", tokenRec("missing-app", u.UID), store.ErrNotFound},
			{"deactivated user", tokenRec(app.ID, deact.UID), store.ErrNotFound},
			{"duplicate hash", dupHash, store.ErrAlreadyExists},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateAuthToken", s.CreateAuthToken(ctx, tc.tok), tc.want)
				if tc.want == store.ErrNotFound {
					_, _, err := s.GetSession(ctx, tc.tok.Hash)
					wantErr(t, "GetSession of a refused token", err, store.ErrNotFound)
				}
			})
		}
		// Display ids are 64 random bits and not checked for uniqueness;
		// the same id under another user is certainly fine.
		sameID := tokenRec(app.ID, u2.UID)
		sameID.ID = existing.ID
		must(t, "CreateAuthToken(same display id, other user)", s.CreateAuthToken(ctx, sameID))
	})

	t.Run("GetMissing", func(t *testing.T) {
		tok := newToken(t, s, app.ID, u.UID)
		_, _, err := s.GetSession(ctx, newHash())
		wantErr(t, "GetSession(unknown hash)", err, store.ErrNotFound)
		_, _, err = s.GetSession(ctx, tok.Hash[:16])
		wantErr(t, "GetSession(hash prefix)", err, store.ErrNotFound)
		tests := []struct{ app, uid, id string }{
			{app.ID, u.UID, "tok_missing"},
			{app.ID, u2.UID, tok.ID},                      // another user's token
			{other.ID, u.UID, tok.ID},                     // another app
			{app.ID, u.UID, ""},                           // empty id
			{app.ID, u.UID, hex.EncodeToString(tok.Hash)}, // the hash is not the id
		}
		for _, tc := range tests {
			_, err := s.GetAuthToken(ctx, tc.app, tc.uid, tc.id)
			wantErr(t, fmt.Sprintf("GetAuthToken(%q, %q, %q)", tc.app, tc.uid, tc.id), err, store.ErrNotFound)
		}
	})

	t.Run("List", func(t *testing.T) {
		lu := newUser(t, s, app.ID, "lister")
		var want []*store.AuthToken
		for range 4 {
			want = append(want, newToken(t, s, app.ID, lu.UID))
		}
		newToken(t, s, app.ID, u2.UID) // noise
		got, err := s.ListAuthTokens(ctx, app.ID, lu.UID)
		must(t, "ListAuthTokens", err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ListAuthTokens: got %d tokens, want %d in creation order", len(got), len(want))
			for i := range got {
				t.Logf("  got %+v", got[i])
			}
		}
		for _, q := range []struct{ app, uid string }{{other.ID, lu.UID}, {app.ID, "nobody"}} {
			got, err := s.ListAuthTokens(ctx, q.app, q.uid)
			must(t, "ListAuthTokens", err)
			if len(got) != 0 {
				t.Errorf("ListAuthTokens(%q, %q) = %d tokens", q.app, q.uid, len(got))
			}
		}
	})

	t.Run("StartSession", func(t *testing.T) {
		su := newUser(t, s, app.ID, "sessioner")
		tok := newToken(t, s, app.ID, su.UID)
		sibling := newToken(t, s, app.ID, su.UID)
		up := store.SessionUpdate{Platform: "ios", DeviceID: "iphone-15-" + randHex(4), UserAgent: "CometChatCalls/5 iOS", Now: base + 777}
		must(t, "StartSessions", s.StartSessions(ctx, map[string]store.SessionUpdate{string(tok.Hash): up}))
		gotTok, gotUser, err := s.GetSession(ctx, tok.Hash)
		must(t, "GetSession", err)
		want := *tok
		want.Platform, want.DeviceID, want.UserAgent, want.LastUsedAt = up.Platform, up.DeviceID, up.UserAgent, up.Now
		checkToken(t, "token after StartSession", gotTok, &want)
		if gotUser.LastActiveAt != up.Now {
			t.Errorf("user LastActiveAt = %d, want %d", gotUser.LastActiveAt, up.Now)
		}
		stored, err := s.GetUser(ctx, app.ID, su.UID)
		must(t, "GetUser", err)
		if stored.LastActiveAt != up.Now {
			t.Errorf("GetUser LastActiveAt = %d, want %d", stored.LastActiveAt, up.Now)
		}
		// Only this token's device fields change.
		sib, err := s.GetAuthToken(ctx, app.ID, su.UID, sibling.ID)
		must(t, "GetAuthToken(sibling)", err)
		checkToken(t, "sibling token", sib, sibling)
		// Other users are untouched.
		other, err := s.GetUser(ctx, app.ID, u2.UID)
		must(t, "GetUser(u2)", err)
		if other.LastActiveAt != u2.LastActiveAt {
			t.Errorf("another user's LastActiveAt changed to %d", other.LastActiveAt)
		}
		// Write-behind batches may name tokens revoked since: ignored.
		must(t, "StartSessions(unknown hash)", s.StartSessions(ctx, map[string]store.SessionUpdate{string(newHash()): up}))
		// Many at once.
		batch := map[string]store.SessionUpdate{}
		var toks []*store.AuthToken
		for i := range 300 { // more than one write-behind transaction holds
			bt := newToken(t, s, app.ID, su.UID)
			toks = append(toks, bt)
			batch[string(bt.Hash)] = store.SessionUpdate{Platform: "web", DeviceID: "d" + strconv.Itoa(i), Now: base + 900 + int64(i)}
		}
		must(t, "StartSessions(batch)", s.StartSessions(ctx, batch))
		for i, bt := range toks {
			got, err := s.GetAuthToken(ctx, app.ID, su.UID, bt.ID)
			must(t, "GetAuthToken", err)
			if got.DeviceID != "d"+strconv.Itoa(i) || got.Platform != "web" {
				t.Errorf("batch token %d: device %q platform %q", i, got.DeviceID, got.Platform)
			}
		}
		stored, err = s.GetUser(ctx, app.ID, su.UID)
		must(t, "GetUser", err)
		if stored.LastActiveAt != base+1199 {
			t.Errorf("after batch, LastActiveAt = %d, want the latest %d", stored.LastActiveAt, base+1199)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		du := newUser(t, s, app.ID, "deleter")
		tok := newToken(t, s, app.ID, du.UID)
		keep := newToken(t, s, app.ID, du.UID)
		_, err := s.DeleteAuthToken(ctx, other.ID, du.UID, tok.ID)
		wantErr(t, "DeleteAuthToken under another app", err, store.ErrNotFound)
		_, err = s.DeleteAuthToken(ctx, app.ID, u2.UID, tok.ID)
		wantErr(t, "DeleteAuthToken under another user", err, store.ErrNotFound)
		got, err := s.DeleteAuthToken(ctx, app.ID, du.UID, tok.ID)
		must(t, "DeleteAuthToken", err)
		checkToken(t, "deleted token", got, tok)
		_, _, err = s.GetSession(ctx, tok.Hash)
		wantErr(t, "GetSession after delete", err, store.ErrNotFound)
		_, err = s.GetAuthToken(ctx, app.ID, du.UID, tok.ID)
		wantErr(t, "GetAuthToken after delete", err, store.ErrNotFound)
		_, err = s.DeleteAuthToken(ctx, app.ID, du.UID, tok.ID)
		wantErr(t, "DeleteAuthToken again", err, store.ErrNotFound)
		_, err = s.DeleteAuthToken(ctx, app.ID, du.UID, "tok_missing")
		wantErr(t, "DeleteAuthToken(missing)", err, store.ErrNotFound)
		if _, _, err := s.GetSession(ctx, keep.Hash); err != nil {
			t.Errorf("sibling token: %v", err)
		}
	})

	t.Run("Flush", func(t *testing.T) {
		fu := newUser(t, s, app.ID, "flusher")
		var toks []*store.AuthToken
		for range 5 {
			toks = append(toks, newToken(t, s, app.ID, fu.UID))
		}
		keep := newToken(t, s, app.ID, u2.UID)
		got, err := s.DeleteAuthTokens(ctx, other.ID, fu.UID)
		must(t, "DeleteAuthTokens under another app", err)
		if len(got) != 0 {
			t.Errorf("flush under another app removed %d tokens", len(got))
		}
		got, err = s.DeleteAuthTokens(ctx, app.ID, fu.UID)
		must(t, "DeleteAuthTokens", err)
		if !reflect.DeepEqual(tokenHashes(got), tokenHashes(toks)) {
			t.Errorf("flushed %v, want %v", tokenHashes(got), tokenHashes(toks))
		}
		list, err := s.ListAuthTokens(ctx, app.ID, fu.UID)
		must(t, "ListAuthTokens", err)
		if len(list) != 0 {
			t.Errorf("%d tokens left after flush", len(list))
		}
		for _, tk := range toks {
			_, _, err := s.GetSession(ctx, tk.Hash)
			wantErr(t, "GetSession after flush", err, store.ErrNotFound)
		}
		if _, _, err := s.GetSession(ctx, keep.Hash); err != nil {
			t.Errorf("another user's token: %v", err)
		}
		got, err = s.DeleteAuthTokens(ctx, app.ID, fu.UID)
		must(t, "DeleteAuthTokens with none left", err)
		if len(got) != 0 {
			t.Errorf("second flush returned %d", len(got))
		}
		// The user stays.
		if _, err := s.GetUser(ctx, app.ID, fu.UID); err != nil {
			t.Errorf("GetUser after flush: %v", err)
		}
	})

	t.Run("Touch", func(t *testing.T) {
		tu := newUser(t, s, app.ID, "toucher")
		a, b := tokenRec(app.ID, tu.UID), tokenRec(app.ID, tu.UID)
		a.LastUsedAt, b.LastUsedAt = base+100, base+100
		must(t, "CreateAuthToken a", s.CreateAuthToken(ctx, a))
		must(t, "CreateAuthToken b", s.CreateAuthToken(ctx, b))
		steps := []struct {
			name         string
			touch        map[string]int64
			wantA, wantB int64
		}{
			{"empty", map[string]int64{}, base + 100, base + 100},
			{"nil", nil, base + 100, base + 100},
			{"forward", map[string]int64{string(a.Hash): base + 200}, base + 200, base + 100},
			{"backward is ignored", map[string]int64{string(a.Hash): base + 150}, base + 200, base + 100},
			{"same is fine", map[string]int64{string(a.Hash): base + 200}, base + 200, base + 100},
			{"many at once, mixed", map[string]int64{string(a.Hash): base + 300, string(b.Hash): base + 50}, base + 300, base + 100},
			{"unknown hash is ignored", map[string]int64{string(newHash()): base + 999, string(b.Hash): base + 400}, base + 300, base + 400},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				must(t, "TouchAuthTokens", s.TouchAuthTokens(ctx, st.touch))
				ga, err := s.GetAuthToken(ctx, app.ID, tu.UID, a.ID)
				must(t, "GetAuthToken a", err)
				gb, err := s.GetAuthToken(ctx, app.ID, tu.UID, b.ID)
				must(t, "GetAuthToken b", err)
				if ga.LastUsedAt != st.wantA || gb.LastUsedAt != st.wantB {
					t.Errorf("lastUsedAt a=%d b=%d, want %d %d", ga.LastUsedAt-base, gb.LastUsedAt-base, st.wantA-base, st.wantB-base)
				}
			})
		}
		t.Run("many", func(t *testing.T) {
			m := map[string]int64{}
			var toks []*store.AuthToken
			for i := range 300 {
				tk := tokenRec(app.ID, tu.UID)
				must(t, "CreateAuthToken", s.CreateAuthToken(ctx, tk))
				m[string(tk.Hash)] = base + 1000 + int64(i)
				toks = append(toks, tk)
			}
			must(t, "TouchAuthTokens", s.TouchAuthTokens(ctx, m))
			for _, tk := range toks {
				got, _, err := s.GetSession(ctx, tk.Hash)
				must(t, "GetSession", err)
				if got.LastUsedAt != m[string(tk.Hash)] {
					t.Fatalf("token %s lastUsedAt %d, want %d", tk.ID, got.LastUsedAt, m[string(tk.Hash)])
				}
			}
		})
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		eapp := newApp(t, s)
		e1 := newUser(t, s, eapp.ID, "exp1")
		e2 := newUser(t, s, eapp.ID, "exp2")
		now := base + 10_000
		mk := func(uid string, expires int64) *store.AuthToken {
			tk := tokenRec(eapp.ID, uid)
			tk.ExpiresAt = expires
			must(t, "CreateAuthToken", s.CreateAuthToken(ctx, tk))
			return tk
		}
		never := mk(e1.UID, 0)
		expired1 := mk(e1.UID, now-1)
		expired2 := mk(e2.UID, now-5000)
		expired3 := mk(e2.UID, 1) // long ago
		live := mk(e1.UID, now+1)
		liveFar := mk(e2.UID, now+1_000_000)
		got, err := s.DeleteExpiredAuthTokens(ctx, now)
		must(t, "DeleteExpiredAuthTokens", err)
		want := []*store.AuthToken{expired1, expired2, expired3}
		if !reflect.DeepEqual(tokenHashes(got), tokenHashes(want)) {
			t.Errorf("deleted %d tokens %v, want %v", len(got), tokenHashes(got), tokenHashes(want))
		}
		for _, tk := range got {
			if tk.AppID != eapp.ID || tk.UID == "" || tk.ID == "" || tk.ExpiresAt == 0 {
				t.Errorf("returned token lacks what revocation needs: %+v", tk)
			}
		}
		for _, tk := range want {
			_, _, err := s.GetSession(ctx, tk.Hash)
			wantErr(t, "GetSession of an expired token", err, store.ErrNotFound)
		}
		for _, tk := range []*store.AuthToken{never, live, liveFar} {
			if _, _, err := s.GetSession(ctx, tk.Hash); err != nil {
				t.Errorf("token expiring at %d was removed: %v", tk.ExpiresAt, err)
			}
		}
		// Tokens of the other tests (expiresAt 0 or in the future) survive.
		if _, err := s.ListAuthTokens(ctx, app.ID, u.UID); err != nil {
			t.Error(err)
		}
		got, err = s.DeleteExpiredAuthTokens(ctx, now)
		must(t, "DeleteExpiredAuthTokens again", err)
		if len(got) != 0 {
			t.Errorf("second sweep deleted %d", len(got))
		}
		// Users stay.
		for _, uid := range []string{e1.UID, e2.UID} {
			if _, err := s.GetUser(ctx, eapp.ID, uid); err != nil {
				t.Errorf("GetUser(%s): %v", uid, err)
			}
		}
	})
}

// ---- concurrency

func testConcurrentAuthTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	const n = 50
	var users []*store.User
	for i := range 5 {
		users = append(users, newUser(t, s, app.ID, fmt.Sprintf("conc-%d", i)))
	}

	t.Run("AllSucceed", func(t *testing.T) {
		toks := make([]*store.AuthToken, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			toks[i] = tokenRec(app.ID, users[i%len(users)].UID)
			wg.Go(func() {
				<-start
				errs[i] = s.CreateAuthToken(ctx, toks[i])
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("CreateAuthToken #%d: %v", i, err)
			}
		}
		// Acknowledged means readable, at once.
		for _, tk := range toks {
			got, u, err := s.GetSession(ctx, tk.Hash)
			if err != nil {
				t.Errorf("GetSession(%s): %v", tk.ID, err)
				continue
			}
			checkToken(t, "token", got, tk)
			if u.UID != tk.UID {
				t.Errorf("token %s belongs to %s, want %s", tk.ID, u.UID, tk.UID)
			}
		}
		total := 0
		for _, u := range users {
			list, err := s.ListAuthTokens(ctx, app.ID, u.UID)
			must(t, "ListAuthTokens", err)
			total += len(list)
		}
		if total != n {
			t.Errorf("%d tokens listed, want %d", total, n)
		}
	})

	t.Run("FailuresDoNotSpread", func(t *testing.T) {
		// Good inserts racing with bad ones (missing user, duplicate hash,
		// deactivated user) must succeed, whatever batch they share.
		deact := newUser(t, s, app.ID, "conc-deactivated")
		_, err := s.UpdateUser(ctx, app.ID, deact.UID, store.UserPatch{Deactivated: ptr(true)}, base)
		must(t, "deactivate", err)
		existing := newToken(t, s, app.ID, users[0].UID)
		type job struct {
			tok  *store.AuthToken
			want error
		}
		var jobs []job
		for i := range n {
			jobs = append(jobs, job{tokenRec(app.ID, users[i%len(users)].UID), nil})
			switch i % 5 {
			case 1:
				jobs = append(jobs, job{tokenRec(app.ID, fmt.Sprintf("ghost-%d", i)), store.ErrNotFound})
			case 2:
				dup := tokenRec(app.ID, users[1].UID)
				dup.Hash = existing.Hash
				jobs = append(jobs, job{dup, store.ErrAlreadyExists})
			case 3:
				jobs = append(jobs, job{tokenRec(app.ID, deact.UID), store.ErrNotFound})
			}
		}
		errs := make([]error, len(jobs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Go(func() {
				<-start
				errs[i] = s.CreateAuthToken(ctx, jobs[i].tok)
			})
		}
		close(start)
		wg.Wait()
		for i, j := range jobs {
			if j.want == nil {
				if errs[i] != nil {
					t.Errorf("good insert #%d failed: %v", i, errs[i])
					continue
				}
				if _, _, err := s.GetSession(ctx, j.tok.Hash); err != nil {
					t.Errorf("good insert #%d not readable: %v", i, err)
				}
			} else {
				wantErr(t, fmt.Sprintf("bad insert #%d", i), errs[i], j.want)
			}
		}
	})
}

// ---- presence

func refs(rs []store.UserRef) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.AppID + "/" + r.UID
	}
	sort.Strings(out)
	return out
}

func testPresence(t *testing.T, s store.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	for _, uid := range []string{"p1", "p2", "p3", "gone"} {
		newUser(t, s, app.ID, uid)
	}
	newUser(t, s, other.ID, "p1") // same uid, other app
	now := base + 1000
	online := func(t *testing.T, appID, uid string, at int64) bool {
		t.Helper()
		on, err := s.Online(ctx, appID, uid, at)
		must(t, "Online", err)
		return on
	}

	t.Run("RenewNode", func(t *testing.T) {
		steps := []struct {
			name    string
			node    string
			lease   int64
			existed bool
		}{
			{"first start", "node-r", now + 30, false},
			{"renew", "node-r", now + 60, true},
			{"renew with the same lease", "node-r", now + 60, true},
			{"another node", "node-r2", now + 30, false},
		}
		for _, st := range steps {
			existed, err := s.RenewNode(ctx, st.node, st.lease)
			must(t, st.name, err)
			if existed != st.existed {
				t.Errorf("%s: existed = %v, want %v", st.name, existed, st.existed)
			}
		}
		_, err := s.RemoveNode(ctx, "node-r")
		must(t, "RemoveNode", err)
		_, err = s.RemoveNode(ctx, "node-r2")
		must(t, "RemoveNode", err)
	})

	t.Run("OnlineOffline", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-a", now+30)
		must(t, "RenewNode a", err)
		_, err = s.RenewNode(ctx, "node-b", now+30)
		must(t, "RenewNode b", err)
		if online(t, app.ID, "p1", now) {
			t.Fatal("p1 online before any connection")
		}
		must(t, "SetPresence a online", s.SetPresence(ctx, "node-a", app.ID, "p1", true, now))
		if !online(t, app.ID, "p1", now) {
			t.Error("p1 offline while node-a holds them")
		}
		u, err := s.GetUser(ctx, app.ID, "p1")
		must(t, "GetUser", err)
		if u.LastActiveAt != now {
			t.Errorf("LastActiveAt = %d, want %d", u.LastActiveAt, now)
		}
		// Idempotent.
		must(t, "SetPresence a online again", s.SetPresence(ctx, "node-a", app.ID, "p1", true, now+1))
		// Per app: the same uid elsewhere is not online.
		if online(t, other.ID, "p1", now) {
			t.Error("p1 of another app is online")
		}
		// Two nodes hold p1; one letting go leaves them online.
		must(t, "SetPresence b online", s.SetPresence(ctx, "node-b", app.ID, "p1", true, now+2))
		must(t, "SetPresence a offline", s.SetPresence(ctx, "node-a", app.ID, "p1", false, now+3))
		if !online(t, app.ID, "p1", now+3) {
			t.Error("p1 offline while node-b still holds them")
		}
		must(t, "SetPresence b offline", s.SetPresence(ctx, "node-b", app.ID, "p1", false, now+4))
		if online(t, app.ID, "p1", now+4) {
			t.Error("p1 online after every node let go")
		}
		u, err = s.GetUser(ctx, app.ID, "p1")
		must(t, "GetUser", err)
		if u.LastActiveAt != now+4 {
			t.Errorf("LastActiveAt = %d, want %d (stamped going offline too)", u.LastActiveAt, now+4)
		}
		// Offline for a connection never recorded, or a user since deleted, is fine.
		must(t, "SetPresence offline, never online", s.SetPresence(ctx, "node-a", app.ID, "p2", false, now+5))
		must(t, "SetPresence offline, no such user", s.SetPresence(ctx, "node-a", app.ID, "nobody", false, now+5))
	})

	t.Run("OnlineRefused", func(t *testing.T) {
		tests := []struct{ name, node, app, uid string }{
			{"missing user", "node-a", app.ID, "nobody"},
			{"user of another app", "node-a", other.ID, "p2"},
			{"unregistered node", "node-unknown", app.ID, "p2"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.SetPresence(ctx, tc.node, tc.app, tc.uid, true, now)
				wantErr(t, "SetPresence online", err, store.ErrNotFound)
				if online(t, tc.app, tc.uid, now) {
					t.Error("online after a refused SetPresence")
				}
			})
		}
	})

	t.Run("LeaseLapses", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-c", now+30)
		must(t, "RenewNode c", err)
		must(t, "SetPresence", s.SetPresence(ctx, "node-c", app.ID, "p2", true, now))
		if !online(t, app.ID, "p2", now+29) {
			t.Error("p2 offline within the lease")
		}
		// A lapsed lease counts for nothing, reaped or not.
		if online(t, app.ID, "p2", now+30) || online(t, app.ID, "p2", now+1000) {
			t.Error("p2 online after the lease ended")
		}
		// Renewing before anyone reaps keeps the presence.
		existed, err := s.RenewNode(ctx, "node-c", now+2000)
		must(t, "RenewNode c", err)
		if !existed {
			t.Error("RenewNode before a reap: existed = false")
		}
		if !online(t, app.ID, "p2", now+1000) {
			t.Error("p2 offline after the lease was renewed")
		}
	})

	t.Run("ReapNodes", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-dead", now+10)
		must(t, "RenewNode dead", err)
		_, err = s.RenewNode(ctx, "node-live", now+10_000)
		must(t, "RenewNode live", err)
		must(t, "SetPresence", s.SetPresence(ctx, "node-dead", app.ID, "p3", true, now))
		must(t, "SetPresence", s.SetPresence(ctx, "node-dead", other.ID, "p1", true, now))
		must(t, "SetPresence", s.SetPresence(ctx, "node-live", app.ID, "p1", true, now))
		got, err := s.ReapNodes(ctx, now+9)
		must(t, "ReapNodes before the lease ends", err)
		if len(got) != 0 {
			t.Errorf("reaped %v before any lease ended", refs(got))
		}
		// node-a, node-b (from OnlineOffline, lease now+30) and node-dead
		// lapse by now+5000; node-c (now+2000) too; node-live does not.
		got, err = s.ReapNodes(ctx, now+5000)
		must(t, "ReapNodes", err)
		want := []string{app.ID + "/p2", app.ID + "/p3", other.ID + "/p1"}
		sort.Strings(want)
		if g := refs(got); !slices.Equal(g, want) {
			t.Errorf("ReapNodes returned %q, want %q", g, want)
		}
		if !online(t, app.ID, "p1", now+5000) {
			t.Error("reaping lapsed nodes took a live node's user offline")
		}
		got, err = s.ReapNodes(ctx, now+5000)
		must(t, "ReapNodes again", err)
		if len(got) != 0 {
			t.Errorf("second reap returned %v", refs(got))
		}
		// A reaped node starts over: its presence is gone.
		existed, err := s.RenewNode(ctx, "node-dead", now+6000)
		must(t, "RenewNode after reap", err)
		if existed {
			t.Error("RenewNode of a reaped node: existed = true")
		}
		if online(t, app.ID, "p3", now+5000) {
			t.Error("p3 online again after the reap")
		}
		// And can record presence again.
		must(t, "SetPresence after re-registering", s.SetPresence(ctx, "node-dead", app.ID, "p3", true, now+5000))
		if !online(t, app.ID, "p3", now+5000) {
			t.Error("p3 offline after re-registering")
		}
	})

	t.Run("RemoveNode", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-x", now+10_000)
		must(t, "RenewNode", err)
		must(t, "SetPresence", s.SetPresence(ctx, "node-x", app.ID, "p2", true, now))
		must(t, "SetPresence", s.SetPresence(ctx, "node-x", app.ID, "gone", true, now))
		// Deleting a user drops their presence.
		_, err = s.DeleteUser(ctx, app.ID, "gone")
		must(t, "DeleteUser", err)
		if online(t, app.ID, "gone", now) {
			t.Error("deleted user is online")
		}
		got, err := s.RemoveNode(ctx, "node-x")
		must(t, "RemoveNode", err)
		if g := refs(got); !slices.Equal(g, []string{app.ID + "/p2"}) {
			t.Errorf("RemoveNode returned %q, want [%s/p2]", g, app.ID)
		}
		if online(t, app.ID, "p2", now) {
			t.Error("p2 online after their node left")
		}
		existed, err := s.RenewNode(ctx, "node-x", now+10_000)
		must(t, "RenewNode after RemoveNode", err)
		if existed {
			t.Error("RenewNode after RemoveNode: existed = true")
		}
		got, err = s.RemoveNode(ctx, "node-never-was")
		must(t, "RemoveNode(unknown)", err)
		if len(got) != 0 {
			t.Errorf("RemoveNode(unknown) returned %v", refs(got))
		}
	})
}

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
			}
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
}

// ---- persistence

// opened opens a store from the opener and makes sure it is closed at the end.
func opened(t *testing.T, open func(t *testing.T) store.Store) (store.Store, func()) {
	t.Helper()
	s := open(t)
	var once sync.Once
	closeIt := func() {
		once.Do(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(closeIt)
	return s, closeIt
}

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

// testPresenceInReads: user reads carry status from presence, judged against
// the database's own clock (a lease in the real future is live).
func testPresenceInReads(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	for _, uid := range []string{"on", "off", "lapsed"} {
		newUser(t, s, app.ID, uid)
	}
	tok := newToken(t, s, app.ID, "on")
	now := time.Now().Unix()
	_, err := s.RenewNode(ctx, "live", now+60)
	must(t, "RenewNode live", err)
	_, err = s.RenewNode(ctx, "dead", now-60)
	must(t, "RenewNode dead", err)
	must(t, "SetPresence on", s.SetPresence(ctx, "live", app.ID, "on", true, now))
	must(t, "SetPresence lapsed", s.SetPresence(ctx, "dead", app.ID, "lapsed", true, now))

	for uid, want := range map[string]string{"on": "online", "off": "offline", "lapsed": "offline"} {
		u, err := s.GetUser(ctx, app.ID, uid)
		must(t, "GetUser", err)
		if u.Status != want {
			t.Errorf("GetUser(%s).Status = %q, want %q", uid, u.Status, want)
		}
	}
	_, u, err := s.GetSession(ctx, tok.Hash)
	must(t, "GetSession", err)
	if u.Status != "online" {
		t.Errorf("GetSession user status = %q, want online", u.Status)
	}
	for _, tc := range []struct {
		status string
		want   []string
	}{
		{"online", []string{"on"}},
		{"offline", []string{"lapsed", "off"}},
		{"", []string{"lapsed", "off", "on"}},
	} {
		users, total, err := s.ListUsers(ctx, app.ID, store.UserQuery{Status: tc.status, Limit: 10})
		must(t, "ListUsers", err)
		var got []string
		for _, u := range users {
			got = append(got, u.UID)
		}
		if total != len(tc.want) || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ListUsers(status=%q) = %v (total %d), want %v", tc.status, got, total, tc.want)
		}
	}
}

// ---- signing keys

var signingSeq struct {
	sync.Mutex
	n int64
}

// signingKeyRec is a signing key record (not stored) with random key
// material and a creation time that increases with every call.
func signingKeyRec(appID string) *store.SigningKey {
	signingSeq.Lock()
	signingSeq.n++
	n := signingSeq.n
	signingSeq.Unlock()
	pub := make([]byte, 32)
	priv := make([]byte, 61) // sealed: opaque to the store
	rand.Read(pub)
	rand.Read(priv)
	return &store.SigningKey{
		ID:        "kid-" + randHex(16),
		AppID:     appID,
		Algorithm: "EdDSA",
		PublicKey: pub,
		Private:   priv,
		CreatedAt: base + n,
	}
}

// checkSigningKey compares a key read back with what was stored; withPrivate
// says whether the read must carry the private half (only ActiveSigningKey
// does) or must not.
func checkSigningKey(t *testing.T, what string, got, want *store.SigningKey, withPrivate bool) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: nil key", what)
		return
	}
	w := *want
	if !withPrivate {
		w.Private = nil
	}
	if !reflect.DeepEqual(got, &w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, &w)
	}
}

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

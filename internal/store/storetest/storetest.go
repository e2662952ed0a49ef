package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
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
	place      func(t *testing.T) func(t *testing.T) store.Store
	migrations bool
	writeLock  *WriteLock
}

// WithReopen enables the persistence tests. place is called once per test to
// pick a fresh location (a database file, a schema) and returns an opener for
// it: every call of the opener opens the same data again. The suite closes
// each store it gets from the opener.
func WithReopen(place func(t *testing.T) func(t *testing.T) store.Store) Option {
	return func(c *config) { c.place = place }
}

// WithMigrations enables the schema tests, for a backend whose stores are
// Migrators. They open their stores through the WithReopen hook.
func WithMigrations() Option {
	return func(c *config) { c.migrations = true }
}

// WriteLock is the hook of the blocked-write test: how to block a store's
// writes from outside it.
type WriteLock struct {
	// Place picks a fresh location, as WithReopen's place does, and returns
	// an opener for it and lock, which holds from outside any store opened
	// there (another process on the SQLite file, another PostgreSQL
	// session) a lock that blocks writes to the user's row, until release.
	Place func(t *testing.T) (open func(t *testing.T) store.Store, lock func(t *testing.T, appID, uid string) (release func()))
	// DropsAbandoned: a token insert whose caller gave up while blocked is
	// never stored later. SQLite's group commit waits for the lock before
	// its batch starts, and skips callers gone by then; on PostgreSQL the
	// batch is already inserting and may commit once the lock goes
	// (harmless: nobody received the token's secret).
	DropsAbandoned bool
}

// WithWriteLock enables the blocked-write test.
func WithWriteLock(w WriteLock) Option {
	return func(c *config) { c.writeLock = &w }
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
		{"LiveTokens", testLiveTokens},
		{"RevokeAuthTokensBefore", testRevokeAuthTokensBefore},
		{"DeleteIdleAuthTokens", testDeleteIdleAuthTokens},
		{"AuditEvents", testAuditEvents},
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
	migrations := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"Migrations", testMigrations},
		{"MigrationTokenKeysByUser", testMigrationTokenKeysByUser},
	}
	for _, g := range migrations {
		t.Run(g.name, func(t *testing.T) {
			if !cfg.migrations || cfg.place == nil {
				t.Skip("backend gave no migration hooks (storetest.WithMigrations and WithReopen)")
			}
			g.fn(t, cfg.place(t))
		})
	}
	t.Run("BlockedWriteHonoursDeadline", func(t *testing.T) {
		if cfg.writeLock == nil {
			t.Skip("backend gave no write-lock hook (storetest.WithWriteLock)")
		}
		testBlockedWrites(t, *cfg.writeLock)
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

// newHash is the SHA-256 of a random secret, as the server stores API keys
// (tests also use it as a token key that matches no token).
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

func ptr[T any](v T) *T { return &v }

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

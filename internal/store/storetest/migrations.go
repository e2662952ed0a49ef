package storetest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/migrate"
)

// Migrator is a store whose schema is numbered migrations recorded in a
// schema_migrations table (version, name, applied_at), as sqlstore.Store's
// is. The suite names the methods it needs here rather than import the SQL
// store, so that it stays a suite of the store interface.
type Migrator interface {
	store.Store
	// Migrate applies pending migrations and returns those it applied.
	Migrate(ctx context.Context) ([]migrate.Migration, error)
	// Applied returns the migrations that opening the store applied.
	Applied() []migrate.Migration
	// SchemaVersion is the highest applied migration.
	SchemaVersion(ctx context.Context) (int, error)
	// DB is the database itself: the tests read schema_migrations and put a
	// schema back to before a migration through it. Queries use $1
	// placeholders, which PostgreSQL and SQLite both take.
	DB() *sql.DB
}

// openMigrator opens a store from the opener as a Migrator, closed at the
// end of the test at the latest.
func openMigrator(t *testing.T, open func(t *testing.T) store.Store) (Migrator, func()) {
	t.Helper()
	s, closeIt := opened(t, open)
	m, ok := s.(Migrator)
	if !ok {
		t.Fatalf("storetest.WithMigrations: %T is not a storetest.Migrator", s)
	}
	return m, closeIt
}

// testMigrations: a fresh store records every migration once, in order;
// migrating again, or reopening, applies nothing.
func testMigrations(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	s, closeIt := openMigrator(t, open)
	type row struct {
		version   int
		name      string
		appliedAt int64
	}
	rows := func(s Migrator) []row {
		t.Helper()
		rs, err := s.DB().QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []row
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.version, &r.name, &r.appliedAt); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	first := rows(s)
	if len(first) == 0 {
		t.Fatal("no migrations recorded")
	}
	for i, r := range first {
		if r.version != i+1 || r.name == "" || r.appliedAt <= 0 {
			t.Errorf("migration row %d: %+v", i, r)
		}
	}
	if first[0].name != "init" {
		t.Errorf("first migration named %q, want init", first[0].name)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != len(first) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(first))
	}
	// Migrating again applies nothing.
	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("Migrate on a migrated store applied %d: %v", len(again), err)
	}
	newApp(t, s)
	closeIt()

	time.Sleep(1100 * time.Millisecond) // a re-application would show a later applied_at
	s, closeIt = openMigrator(t, open)
	defer closeIt()
	if second := rows(s); len(second) != len(first) {
		t.Errorf("reopen: %d migration rows, want %d", len(second), len(first))
	} else {
		for i := range first {
			if second[i] != first[i] {
				t.Errorf("reopen re-applied migration: %+v, was %+v", second[i], first[i])
			}
		}
	}
	apps, err := s.ListApps(ctx)
	if err != nil || len(apps) != 1 {
		t.Errorf("data after reopen: %d apps, %v", len(apps), err)
	}
}

// testMigrationTokenKeysByUser: migration 0004 moves token keys from
// {second}{sha256} to {uid}\0{second}{sha256}: a token stored before it still
// logs in after it.
func testMigrationTokenKeysByUser(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	s, closeIt := openMigrator(t, open)
	must(t, "CreateApp", s.CreateApp(ctx, &store.App{ID: "app", Name: "a", Region: "us"}))
	must(t, "CreateUser", s.CreateUser(ctx, &store.User{AppID: "app", UID: "alice", Name: "A", Role: "default"}, nil))
	token, key := credential.NewToken("alice", time.Unix(1_800_000_000, 0))
	oldKey := key[len("alice")+1:] // what 0003's schema stored
	db := s.DB()
	// Back to the state before 0004: an old-format row, the old index.
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE version = 4`,
		`CREATE UNIQUE INDEX auth_tokens_user_id ON auth_tokens(app_id, uid, id)`,
	} {
		_, err := db.ExecContext(ctx, q)
		must(t, q, err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO auth_tokens (hash, id, app_id, uid, created_at) VALUES ($1, 'tok_old', 'app', 'alice', 1)`, oldKey)
	must(t, "insert an old-format token", err)
	closeIt()

	s, closeIt = openMigrator(t, open)
	defer closeIt()
	if len(s.Applied()) != 1 || s.Applied()[0].Version != 4 {
		t.Fatalf("applied %v, want migration 4", s.Applied())
	}
	want, _ := credential.TokenKey(token)
	tok, _, err := s.GetSession(ctx, want)
	if err != nil || tok.ID != "tok_old" {
		t.Fatalf("the old token after the migration: %v %v", tok, err)
	}
	toks, err := s.ListAuthTokens(ctx, "app", "alice")
	if err != nil || len(toks) != 1 {
		t.Fatalf("ListAuthTokens: %d %v", len(toks), err)
	}
}

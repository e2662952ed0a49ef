package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/sqlstore"
	"github.com/callgate/callgate/internal/store/storetest"
)

func openAt(t *testing.T, path string, opts sqlite.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("sqlite.Open(%s): %v", path, err)
	}
	return s
}

func TestConformance(t *testing.T) { conformance(t, sqlite.Options{}) }

// TestConformanceFull runs the suite at synchronous=FULL too: group commit
// and durability settings must not change behaviour.
func TestConformanceFull(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	conformance(t, sqlite.Options{Durability: sqlite.DurabilityFull, Readers: 2})
}

func conformance(t *testing.T, opts sqlite.Options) {
	storetest.Run(t,
		func(t *testing.T) store.Store {
			return openAt(t, filepath.Join(t.TempDir(), sqlite.FileName), opts)
		},
		storetest.WithReopen(func(t *testing.T) func(t *testing.T) store.Store {
			path := filepath.Join(t.TempDir(), sqlite.FileName)
			return func(t *testing.T) store.Store { return openAt(t, path, opts) }
		}),
		storetest.WithMigrations(),
		storetest.WithWriteLock(storetest.WriteLock{
			Place: func(t *testing.T) (func(t *testing.T) store.Store, func(t *testing.T, appID, uid string) func()) {
				path := filepath.Join(t.TempDir(), sqlite.FileName)
				open := func(t *testing.T) store.Store { return openAt(t, path, opts) }
				return open, func(t *testing.T, appID, uid string) func() { return holdWriteLock(t, path, appID, uid) }
			},
			DropsAbandoned: true,
		}),
	)
}

// holdWriteLock takes the database's write lock from another connection, as
// another process on the same data directory (the CLI, say) would, until
// release.
func holdWriteLock(t *testing.T, path, appID, uid string) (release func()) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	tx, err := other.BeginTx(context.Background(), nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(`UPDATE users SET name = 'held' WHERE app_id = ? AND uid = ?`, appID, uid); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}

// write puts something in the database so the WAL and shared-memory files exist.
func write(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateApp(ctx, &store.App{ID: "modes-" + time.Now().Format("150405.000000"), Name: "m", Region: "us", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
}

func mode(t *testing.T, path string) (fs.FileMode, bool) {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm(), true
}

func TestFileModes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data", "nested")
	path := filepath.Join(dir, sqlite.FileName)
	s := openAt(t, path, sqlite.Options{})
	defer s.Close()
	write(t, s)

	for _, d := range []string{filepath.Join(root, "data"), dir} {
		if m, _ := mode(t, d); m != 0o700 {
			t.Errorf("directory %s has mode %v, want 0700", d, m)
		}
	}
	seen := 0
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		m, ok := mode(t, p)
		if !ok {
			continue
		}
		seen++
		if m != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), m)
		}
	}
	if seen != 3 {
		t.Errorf("expected the database, -wal and -shm files while open; found %d", seen)
	}
	// Nothing else in the directory (no rollback journal, no temp files).
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), sqlite.FileName) {
			t.Errorf("unexpected file %s", e.Name())
		}
		if m, _ := mode(t, filepath.Join(dir, e.Name())); m&0o077 != 0 {
			t.Errorf("%s has mode %v: readable by others", e.Name(), m)
		}
	}
}

func TestFileModesTightened(t *testing.T) {
	// A database left with loose permissions (restored from a backup, say)
	// is tightened on open, and so are the files SQLite derives from it.
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s := openAt(t, path, sqlite.Options{})
	write(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, sqlite.Options{})
	defer s.Close()
	write(t, s)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if m, ok := mode(t, p); ok && m != 0o600 {
			t.Errorf("%s has mode %v after reopen, want 0600", filepath.Base(p), m)
		}
	}
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	tests := []struct {
		durability string
		sync       string // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"", "1"},
		{sqlite.DurabilityNormal, "1"},
		{sqlite.DurabilityFull, "2"},
	}
	for _, tc := range tests {
		t.Run("durability="+tc.durability, func(t *testing.T) {
			s := openAt(t, filepath.Join(t.TempDir(), sqlite.FileName), sqlite.Options{Durability: tc.durability})
			defer s.Close()
			db := s.DB()
			if got := pragma(t, db, "journal_mode"); got != "wal" {
				t.Errorf("journal_mode = %s, want wal", got)
			}
			if got := pragma(t, db, "foreign_keys"); got != "1" {
				t.Errorf("foreign_keys = %s, want 1", got)
			}
			if got := pragma(t, db, "synchronous"); got != tc.sync {
				t.Errorf("synchronous = %s, want %s", got, tc.sync)
			}
			if got := pragma(t, db, "busy_timeout"); got == "0" {
				t.Error("busy_timeout is 0")
			}
			// foreign_keys is on where the writes happen: a user of a
			// missing app is refused.
			err := s.CreateUser(context.Background(), &store.User{AppID: "no-such-app", UID: "u", Name: "u"}, nil)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("user of a missing app: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDurability(t *testing.T) {
	tests := []struct {
		durability string
		ok         bool
	}{
		{"", true},
		{"normal", true},
		{"full", true},
		{"bogus", false},
		{"FULL ", false},
	}
	for _, tc := range tests {
		t.Run(tc.durability, func(t *testing.T) {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.FileName), sqlite.Options{Durability: tc.durability})
			if tc.ok {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				write(t, s)
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("durability %q accepted", tc.durability)
			}
			if !strings.Contains(err.Error(), tc.durability) {
				t.Errorf("error %q does not name the bad value", err)
			}
		})
	}
}

func TestIntegrityCheck(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), sqlite.FileName), sqlite.Options{})
	defer s.Close()
	write(t, s)
	got, err := sqlite.IntegrityCheck(ctx, s.DB())
	if err != nil || got != "ok" {
		t.Errorf("IntegrityCheck = %q, %v; want ok", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	root := t.TempDir()
	// A file where the data directory should be.
	blocker := filepath.Join(root, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(context.Background(), filepath.Join(blocker, sqlite.FileName), sqlite.Options{}); err == nil {
		s.Close()
		t.Error("Open under a regular file succeeded")
	}
	// A directory where the database should be.
	if s, err := sqlite.Open(context.Background(), root, sqlite.Options{}); err == nil {
		s.Close()
		t.Error("Open of a directory succeeded")
	}
	// Not a database.
	junk := filepath.Join(root, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(context.Background(), junk, sqlite.Options{}); err == nil {
		s.Close()
		t.Error("Open of a junk file succeeded")
	}
}

// TestOpenClosesOnBadMigrations: when the migrations cannot be loaded, Open
// closes the pools it opened, so the database file is not left open.
func TestOpenClosesOnBadMigrations(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to see open files")
	}
	defer sqlite.SetMigrations(fstest.MapFS{"migrations/0002_gap.sql": {Data: []byte("SELECT 1;")}})()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open with a gap in the migrations succeeded")
	}
	if n := openFiles(t, path); n != 0 {
		t.Errorf("%d descriptors still open on the database after Open failed", n)
	}
}

// openFiles counts this process's file descriptors open on path.
func openFiles(t *testing.T, path string) int {
	t.Helper()
	path, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			n++
		}
	}
	return n
}

// TestPathWithSpecialCharacters: the path becomes a file: URI; characters
// that mean something in a URI must not change which file is opened.
func TestPathWithSpecialCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my data?x=1#frag %20 é")
	path := filepath.Join(dir, sqlite.FileName)
	s := openAt(t, path, sqlite.Options{})
	write(t, s)
	s.Close()
	if _, ok := mode(t, path); !ok {
		t.Fatalf("database not at %s", path)
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("stray files beside the data directory: %q", names)
	}
	s = openAt(t, path, sqlite.Options{})
	defer s.Close()
	apps, err := s.ListApps(context.Background())
	if err != nil || len(apps) != 1 {
		t.Errorf("reopen: %d apps, %v", len(apps), err)
	}
}

// TestWALRewindsUnderConstantWrites: under writes that never pause, a
// PASSIVE checkpoint never finds the WAL fully copied, so without the
// checkpointer's rewind the WAL would grow to the writer's backstop (50,000
// frames). With it the file stays near the rewind point.
func TestWALRewindsUnderConstantWrites(t *testing.T) {
	defer sqlite.SetCheckpointing(50*time.Millisecond, 300)()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s := openAt(t, path, sqlite.Options{})
	defer s.Close()
	ctx := context.Background()
	if err := s.CreateApp(ctx, &store.App{ID: "a", Name: "a", Region: "us"}); err != nil {
		t.Fatal(err)
	}
	const users, tokens = 200, 20000
	for i := range users {
		if err := s.CreateUser(ctx, &store.User{AppID: "a", UID: fmt.Sprintf("u%d", i), Name: "u"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= tokens; i = next.Add(1) {
				uid := fmt.Sprintf("u%d", i%users)
				_, key := credential.NewToken(uid, time.Now())
				if err := s.CreateAuthToken(ctx, &store.AuthToken{Hash: key, ID: credential.NewID("tok"), AppID: "a", UID: uid, CreatedAt: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// A WAL that never rewound holds a frame (4 KiB + 24 bytes) for most
	// tokens (~17,700 here); one that rewinds holds the rewind point plus
	// what one checkpointer tick lets pile up.
	if frames := fi.Size() / 4120; frames > tokens*3/10 {
		t.Errorf("WAL grew to %d frames for %d tokens; it should rewind near 300", frames, tokens)
	} else {
		t.Logf("WAL high-water mark: %d frames for %d tokens", frames, tokens)
	}
}

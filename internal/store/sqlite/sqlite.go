package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/migrate"
	"github.com/callgate/callgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations is where Open reads the migrations from (a variable for tests).
var migrations fs.FS = migrationFS

// lowerFunc is a Unicode-aware lower(): SQLite's built-in one (without ICU)
// folds ASCII only, so searching users for "élodie" would miss "Élodie",
// which PostgreSQL finds.
const lowerFunc = "callgate_lower"

func init() {
	err := sqlite.RegisterDeterministicScalarFunction(lowerFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil
		}
	})
	if err != nil {
		panic(err)
	}
}

// Durability levels.
const (
	// DurabilityNormal (synchronous=NORMAL in WAL mode) survives a crash of
	// the process; a power loss may lose the last commits.
	DurabilityNormal = "normal"
	// DurabilityFull fsyncs the WAL on every commit (group commit keeps the
	// cost shared), so acknowledged writes also survive a power loss.
	DurabilityFull = "full"
)

// Options tune the database.
type Options struct {
	Durability string // DurabilityNormal (default) or DurabilityFull
	Readers    int    // size of the reader pool; default max(4, 2×CPUs)
}

// FileName is the database file inside a data directory.
const FileName = "callgate.db"

// Open opens (creating if needed) the database at path, mode 0600, and applies
// pending migrations.
func Open(ctx context.Context, path string, opts Options) (*sqlstore.Store, error) {
	if err := ensureFile(path); err != nil {
		return nil, err
	}
	sync := "NORMAL"
	switch opts.Durability {
	case "", DurabilityNormal:
	case DurabilityFull:
		sync = "FULL"
	default:
		return nil, fmt.Errorf("unknown durability %q (want normal or full)", opts.Durability)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(5000)&_pragma=wal_autocheckpoint(50000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(" + sync + ")"
	// The writer gets a 16 MiB page cache (default 2 MiB): logins insert
	// into a random user's leaf page, and with the small cache a fifth of an
	// insert went to re-reading evicted pages from the WAL.
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=temp_store(MEMORY)&_pragma=cache_size(-16384)")
	if err != nil {
		return nil, err
	}
	// One writer: SQLite serialises writes anyway, and a single connection
	// turns lock contention (SQLITE_BUSY) into an orderly queue.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, classify(err))
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	ms, err := migrate.Load(migrations, "migrations")
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, w, r, sqlstore.Dialect{
		Name:       "sqlite",
		Migrations: ms,
		Classify:   classify,
		Lower:      lowerFunc,
		Now:        "unixepoch()",
		LocalWaits: true, // busy_timeout bounds every wait
	})
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if cp, err := sql.Open("sqlite", base); err == nil {
		cp.SetMaxOpenConns(1)
		s.OnClose(startCheckpointer(cp, w))
	}
	return s, nil
}

// checkpointEvery is how often the background checkpointer copies the WAL
// back into the database.
var checkpointEvery = 250 * time.Millisecond // a variable for tests

// rewindFrames is the WAL length (in frames of a page) at which the
// checkpointer rewinds the WAL; the writer's wal_autocheckpoint (50,000) is
// the backstop. Each rewind stalls writes for a few milliseconds, so rarer is
// better for the tail; the price is a WAL file of up to ~150 MB (it keeps its
// high-water size) once sustained writes have made it that long.
var rewindFrames = 36000 // a variable for tests

// startCheckpointer moves WAL checkpoints off the write path: a PASSIVE
// checkpoint on its own connection (cp) never blocks the writer, so commits do
// not stall for a whole checkpoint. But under constant writes a PASSIVE
// checkpoint never catches up (the writer appends while it copies), and only a
// WAL with every frame copied back rewinds to its start. Left alone, the
// writer's wal_autocheckpoint would do that: copy up to a tick's worth of
// frames and fsync while holding the write lock (the 35–70 ms login stalls
// seen under load). So once the WAL is long, the checkpointer first catches
// up in the background and then copies the last few frames on the writer
// connection (w) itself: writes queue behind it in the pool for those few
// milliseconds, and the next write transaction rewinds the WAL. It returns
// the stop function.
func startCheckpointer(cp, w *sql.DB) func() error {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				checkpoint(cp, w)
			}
		}
	}()
	return func() error {
		close(stop)
		<-done
		return cp.Close()
	}
}

func checkpoint(cp, w *sql.DB) {
	// Errors (busy, closed) only mean "try next tick".
	var busy, frames, copied int
	if cp.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied) != nil || frames < rewindFrames {
		return
	}
	// Catch up on what was appended during that pass (each pass is shorter),
	// so the writer-side pass has little left to copy.
	for range 4 {
		prev := frames
		if cp.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied) != nil {
			return
		}
		if frames-prev < 128 {
			break
		}
	}
	w.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
}

// ensureFile creates the database file 0600 (so the WAL and shared-memory
// files SQLite derives from it get the same mode) and tightens an existing one.
func ensureFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err) // the *PathError names it
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open database: %w", err) // the *PathError names it
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	return nil
}

func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %v", store.ErrAlreadyExists, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok").
func IntegrityCheck(ctx context.Context, db *sql.DB) (string, error) {
	var res string
	err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res)
	return res, err
}

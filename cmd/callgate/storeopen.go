package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/callgate/callgate/internal/store/postgres"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/sqlstore"
)

// storeFlags are the flags that pick the database, shared by every command
// that opens it.
type storeFlags struct {
	data       string
	db         string
	durability string
}

func (f *storeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.data, "data", "./callgate-data", "data directory (SQLite database, dev credentials); created 0700")
	fs.StringVar(&f.db, "db", "", "PostgreSQL URL (postgres://…); empty uses SQLite in --data")
	fs.StringVar(&f.durability, "durability", "normal", "SQLite durability: normal (survives process crashes) or full (fsync on commit; survives power loss)")
}

// open opens the configured store and describes it for logs (never with a password).
func (f *storeFlags) open(ctx context.Context) (*sqlstore.Store, string, error) {
	if f.db != "" {
		if !strings.HasPrefix(f.db, "postgres://") && !strings.HasPrefix(f.db, "postgresql://") {
			return nil, "", fmt.Errorf("--db %q: want a postgres:// URL (leave it empty for SQLite in --data)", redactDSN(f.db))
		}
		s, err := postgres.Open(ctx, f.db, postgres.Options{})
		if err != nil {
			return nil, "", fmt.Errorf("%w\n  check that PostgreSQL is running and --db/CALLGATE_DB is right", err)
		}
		return s, "postgres " + redactDSN(f.db), nil
	}
	path := filepath.Join(f.data, sqlite.FileName)
	s, err := sqlite.Open(ctx, path, sqlite.Options{Durability: f.durability})
	if err != nil {
		return nil, "", fmt.Errorf("%w\n  check that %s is writable and the disk has space, or pick another --data", err, f.data)
	}
	return s, "sqlite " + path, nil
}

// redactDSN hides the password of a database DSN for messages: the
// user-info password (url.URL.Redacted) and a password query parameter. A
// DSN that is not a URL (libpq's "host=… password=…") is not shown at all.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return "(a DSN that is not a URL; not shown, as it may hold a password)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/migrate"
	"github.com/callgate/callgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the advisory lock key that serialises migrations across
// nodes starting at once.
const migrationLock = 0x63616c6c // "call"

// Options tune the pool.
type Options struct {
	MaxConns int // default 16
}

// Open connects to the database named by dsn (a postgres:// URL or key=value
// string) and applies pending migrations.
func Open(ctx context.Context, dsn string, opts Options) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 5*time.Second {
		// A database that went away must turn into a quick 503, not a hang.
		cfg.ConnectTimeout = 3 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	n := opts.MaxConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.Host, cfg.Port, classify(err))
	}
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		db.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, db, db, sqlstore.Dialect{
		Name:         "postgres",
		Migrations:   ms,
		Numbered:     true,
		Classify:     classify,
		ForUpdate:    " FOR NO KEY UPDATE", // keys never change; inserts' foreign-key checks need not wait
		InsertTokens: insertTokensSQL,
		Retryable: func(err error) bool {
			var pe *pgconn.PgError
			return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
		},
		Now: "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
		LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock)
			return err
		},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %v", store.ErrAlreadyExists, err)
		case pe.Code == "23503":
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		case pe.Code[:2] == "08", pe.Code[:2] == "53", pe.Code[:2] == "57":
			// connection exception, insufficient resources, operator intervention
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// insertTokensSQL inserts a whole group-commit batch of auth tokens in one
// round trip (sqlstore.Dialect.InsertTokens): arrays in, the hashes of the
// tokens inserted out; a token whose user is missing or deactivated is left
// out.
const insertTokensSQL = `INSERT INTO auth_tokens (hash, id, app_id, uid, platform, device_id, user_agent, created_at, last_used_at, expires_at)
SELECT t.hash, t.id, t.app_id, t.uid, t.platform, t.device_id, t.user_agent, t.created_at, t.last_used_at, t.expires_at
FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[])
	AS t(hash, id, app_id, uid, platform, device_id, user_agent, created_at, last_used_at, expires_at)
JOIN users u ON u.app_id = t.app_id AND u.uid = t.uid AND u.deactivated_at = 0
RETURNING hash`

// Package sqlite is the embedded, default backend: pure-Go SQLite
// (modernc.org/sqlite, so CGO_ENABLED=0 builds work) tuned like PocketBase —
// WAL, a busy timeout, foreign keys, one writer connection and a pool of
// readers that WAL lets run beside it. It opens, tunes and migrates the
// database (docs/operations.md, "Storage"); the store itself is sqlstore.
//
// It must not import the server, the CLI or postgres.
package sqlite

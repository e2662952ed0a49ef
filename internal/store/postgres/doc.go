// Package postgres is the backend for teams that outgrow one machine:
// PostgreSQL through pgx/v5. Several callgate nodes may share one database.
// It connects and migrates (docs/operations.md, "Storage"); the store itself
// is sqlstore.
//
// It must not import the server, the CLI or sqlite.
package postgres

// Package store defines callgate's storage contract: the records it keeps and
// one Store interface that every backend (SQLite, PostgreSQL) implements. The
// conformance suite in storetest runs the same tests against each backend.
//
// It imports nothing of callgate's: the server, the CLI and the backends
// depend on it, never the reverse.
package store

// Package migrate reads numbered, embedded SQL migrations. The SQL store
// applies them one transaction per migration and records each in its
// schema_migrations table.
//
// It imports only the standard library.
package migrate

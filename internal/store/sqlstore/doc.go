// Package sqlstore implements store.Store once, over database/sql, for every
// SQL backend. A Dialect supplies what differs: placeholders, the schema, how
// driver errors map onto the store's sentinel errors, and locking.
//
// It must not import sqlite or postgres: they import it and hand it their
// pools and Dialect. Of callgate's it imports store, migrate and credential
// (for the range of a user's token keys) only.
package sqlstore

package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmts holds the reader pool's prepared statements of the hot reads (the
// session behind every token, a user, an app, a key, presence), prepared
// once per pool connection instead of on every call. The SQLite driver
// parses each unprepared query anew: in a connect storm of 19,000
// WebSocket sessions, parsing GetSession's join (twice an upgrade: the
// authentication, then the hub's check that the token still lives) was a
// quarter of the server's CPU in a profile. database/sql prepares a
// statement on each connection it runs on and again after a reconnect.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// row runs a one-row query (already rebound for the dialect) as a
// prepared statement. A failed prepare runs the query unprepared, so its
// error reaches the caller the usual way (Scan).
func (c *stmts) row(ctx context.Context, query string, args ...any) *sql.Row {
	c.mu.Lock()
	st := c.m[query]
	c.mu.Unlock()
	if st == nil {
		var err error
		if st, err = c.db.PrepareContext(ctx, query); err != nil {
			return c.db.QueryRowContext(ctx, query, args...)
		}
		c.mu.Lock()
		if old := c.m[query]; old != nil { // another caller won
			st.Close()
			st = old
		} else {
			c.m[query] = st
		}
		c.mu.Unlock()
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *stmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, q)
	}
	return first
}

package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/callgate/callgate/internal/store"
)

// liveTokensChunk bounds the tokens one statement of SetLiveTokens names
// (two parameters each on insert), far below either database's limit on
// parameters; a call's chunks share one transaction.
const liveTokensChunk = 256

// SetLiveTokens records up and then down, in one transaction: a token in
// both ends up not held (the caller nets its events; this only makes the
// outcome defined). Both are idempotent. Recording up for a node that is
// not registered (never was, or reaped) fails with ErrNotFound, as
// SetPresence does: the node re-registers and records its tokens again.
func (s *Store) SetLiveTokens(ctx context.Context, node string, up, down [][]byte) error {
	up, down = sortedKeys(up), sortedKeys(down)
	if len(up) == 0 && len(down) == 0 {
		return nil
	}
	if !storable(node) {
		if len(up) > 0 {
			return store.ErrNotFound
		}
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for part := range slices.Chunk(up, liveTokensChunk) {
			args := make([]any, 0, 2*len(part))
			for _, k := range part {
				args = append(args, k, node)
			}
			q := `INSERT INTO live_tokens (token_key, node_id) VALUES ` + repeatJoin("(?, ?)", len(part)) +
				` ON CONFLICT (token_key, node_id) DO NOTHING`
			if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
				return err
			}
		}
		for part := range slices.Chunk(down, liveTokensChunk) {
			args := make([]any, 0, 1+len(part))
			args = append(args, node)
			for _, k := range part {
				args = append(args, k)
			}
			q := `DELETE FROM live_tokens WHERE node_id = ? AND token_key IN (` + repeatJoin("?", len(part)) + `)`
			if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// sortedKeys returns keys sorted and without repeats (a copy: the caller's
// slice is left alone). Concurrent calls then lock rows in the same order.
func sortedKeys(keys [][]byte) [][]byte {
	out := slices.Clone(keys)
	slices.SortFunc(out, bytes.Compare)
	return slices.CompactFunc(out, bytes.Equal)
}

// repeatJoin is n copies of s joined by ", ".
func repeatJoin(s string, n int) string {
	return strings.TrimSuffix(strings.Repeat(s+", ", n), ", ")
}

// tokenLive is the condition that a node whose lease is alive at leaseAt
// (an SQL expression: a placeholder, or the database clock) holds a live row
// for the token whose key is the SQL expression key. Alive means
// lease_until > leaseAt, as for presence (Online, onlineCount): ReapNodes at
// leaseAt removes a node whose lease ends then.
func tokenLive(key, leaseAt string) string {
	return `EXISTS (SELECT 1 FROM live_tokens l JOIN nodes n ON n.id = l.node_id WHERE l.token_key = ` + key +
		` AND n.lease_until > ` + leaseAt + `)`
}

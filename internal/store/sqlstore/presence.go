package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/callgate/callgate/internal/store"
)

func (s *Store) RenewNode(ctx context.Context, node string, leaseUntil int64) (bool, error) {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE nodes SET lease_until = ? WHERE id = ?`), leaseUntil, node)
	if err != nil {
		return false, s.classify(err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return true, nil
	}
	_, err = s.w.ExecContext(ctx, s.q(`INSERT INTO nodes (id, lease_until, started_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until`), node, leaseUntil, leaseUntil)
	return false, s.classify(err)
}

func (s *Store) SetPresence(ctx context.Context, node, appID, uid string, online bool, now int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// The user's row first: the presence row's foreign-key check then
		// finds it already locked by this transaction. The other way round,
		// the check's share lock had to be upgraded for the update, and a
		// concurrent user update queued between the two deadlocked with it
		// (PostgreSQL found it after deadlock_timeout: a 1 s stall).
		_, err := tx.ExecContext(ctx, s.q(`UPDATE users SET last_active_at = ? WHERE app_id = ? AND uid = ?`), now, appID, uid)
		if err != nil {
			return err
		}
		if online {
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO presence (app_id, uid, node_id, since) VALUES (?, ?, ?, ?)
				ON CONFLICT (app_id, uid, node_id) DO NOTHING`), appID, uid, node, now)
		} else {
			_, err = tx.ExecContext(ctx, s.q(`DELETE FROM presence WHERE app_id = ? AND uid = ? AND node_id = ?`), appID, uid, node)
		}
		return err
	})
}

func (s *Store) Online(ctx context.Context, appID, uid string, now int64) (bool, error) {
	var n int
	err := s.rs.row(ctx, s.q(`SELECT count(*) FROM presence p JOIN nodes n ON n.id = p.node_id
		WHERE p.app_id = ? AND p.uid = ? AND n.lease_until > ?`), appID, uid, now).Scan(&n)
	return n > 0, s.classify(err)
}

func (s *Store) ReapNodes(ctx context.Context, now int64) ([]store.UserRef, error) {
	return s.removeNodes(ctx, `lease_until <= ?`, now)
}

func (s *Store) RemoveNode(ctx context.Context, node string) ([]store.UserRef, error) {
	return s.removeNodes(ctx, `id = ?`, node)
}

func (s *Store) removeNodes(ctx context.Context, where string, arg any) ([]store.UserRef, error) {
	var users []store.UserRef
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		users = nil // a retried transaction starts over
		rows, err := tx.QueryContext(ctx, s.q(`DELETE FROM presence WHERE node_id IN (SELECT id FROM nodes WHERE `+where+`) RETURNING app_id, uid`), arg)
		if err != nil {
			return err
		}
		for rows.Next() {
			var u store.UserRef
			if err := rows.Scan(&u.AppID, &u.UID); err != nil {
				rows.Close()
				return err
			}
			users = append(users, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM nodes WHERE `+where), arg)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return users, err
}

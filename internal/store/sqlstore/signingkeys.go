package sqlstore

import (
	"context"
	"database/sql"

	"github.com/callgate/callgate/internal/store"
)

// ---- signing keys (call tokens)

// SigningKey aliases store.SigningKey.
type SigningKey = store.SigningKey

// pubKeyCols are the columns of a key without its private half: every read
// but ActiveSigningKey selects these, so the private key is only ever
// loaded where a token is signed.
const pubKeyCols = `id, app_id, algorithm, public_key, created_at, retired_at, published_until`

func scanPubKey(r scanner) (*SigningKey, error) {
	var k SigningKey
	return &k, r.Scan(&k.ID, &k.AppID, &k.Algorithm, &k.PublicKey, &k.CreatedAt, &k.RetiredAt, &k.PublishedUntil)
}

// keyOrder lists keys oldest first. Creation times are whole seconds, so a
// key and the one that replaced it in the same second are ordered by
// retirement: retired ones (in the order retired) before the active one.
const keyOrder = `created_at, CASE WHEN retired_at = 0 THEN 1 ELSE 0 END, retired_at, id`

func (s *Store) insertSigningKey(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, k *SigningKey) error {
	_, err := ex.ExecContext(ctx, s.q(`INSERT INTO signing_keys (id, app_id, algorithm, public_key, private_key, created_at, retired_at, published_until) VALUES (?, ?, ?, ?, ?, ?, 0, 0)`),
		k.ID, k.AppID, k.Algorithm, k.PublicKey, k.Private, k.CreatedAt)
	return err
}

func (s *Store) CreateSigningKey(ctx context.Context, k *SigningKey) error {
	if !storable(k.ID, k.AppID) {
		return store.ErrNotFound
	}
	return s.classify(s.insertSigningKey(ctx, s.w, k))
}

func (s *Store) ActiveSigningKey(ctx context.Context, appID string) (*SigningKey, error) {
	if !storable(appID) {
		return nil, store.ErrNotFound
	}
	var k SigningKey
	err := s.r.QueryRowContext(ctx, s.q(`SELECT `+pubKeyCols+`, private_key FROM signing_keys WHERE app_id = ? AND retired_at = 0`), appID).
		Scan(&k.ID, &k.AppID, &k.Algorithm, &k.PublicKey, &k.CreatedAt, &k.RetiredAt, &k.PublishedUntil, &k.Private)
	if err != nil {
		return nil, s.classify(err)
	}
	return &k, nil
}

func (s *Store) RotateSigningKey(ctx context.Context, k *SigningKey, publishedUntil int64) (*SigningKey, error) {
	if !storable(k.ID, k.AppID) {
		return nil, store.ErrNotFound
	}
	var retired *SigningKey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Lock the app: concurrent rotations of one app (on PostgreSQL,
		// from several nodes) run one after the other.
		var id string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM apps WHERE id = ?`+s.d.ForUpdate), k.AppID).Scan(&id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.q(`UPDATE signing_keys SET retired_at = ?, published_until = ? WHERE app_id = ? AND retired_at = 0 RETURNING `+pubKeyCols),
			k.CreatedAt, publishedUntil, k.AppID)
		if err != nil {
			return err
		}
		for rows.Next() {
			if retired, err = scanPubKey(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return s.insertSigningKey(ctx, tx, k)
	})
	if err != nil {
		return nil, err
	}
	return retired, nil
}

func (s *Store) GetSigningKey(ctx context.Context, kid string) (*SigningKey, error) {
	if !storable(kid) {
		return nil, store.ErrNotFound
	}
	k, err := scanPubKey(s.r.QueryRowContext(ctx, s.q(`SELECT `+pubKeyCols+` FROM signing_keys WHERE id = ?`), kid))
	if err != nil {
		return nil, s.classify(err)
	}
	return k, nil
}

func (s *Store) ListSigningKeys(ctx context.Context, appID string) ([]*SigningKey, error) {
	if !storable(appID) {
		return []*SigningKey{}, nil
	}
	return list(s, ctx, scanPubKey, `SELECT `+pubKeyCols+` FROM signing_keys WHERE app_id = ? ORDER BY `+keyOrder, appID)
}

func (s *Store) ListPublishedSigningKeys(ctx context.Context, now int64) ([]*SigningKey, error) {
	return list(s, ctx, scanPubKey, `SELECT `+pubKeyCols+` FROM signing_keys WHERE retired_at = 0 OR published_until > ? ORDER BY app_id, `+keyOrder, now)
}

func (s *Store) DeleteExpiredSigningKeys(ctx context.Context, now int64) (int, error) {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM signing_keys WHERE retired_at <> 0 AND published_until <= ?`), now)
	if err != nil {
		return 0, s.classify(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

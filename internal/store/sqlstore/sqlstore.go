package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/migrate"
)

// Dialect is what a backend contributes.
type Dialect struct {
	Name       string
	Migrations []migrate.Migration
	// Numbered placeholders ($1) instead of "?".
	Numbered bool
	// Classify maps a driver error to a store sentinel (wrapped) or returns it.
	Classify func(error) error
	// ForUpdate is appended to the row-locking select that serialises writers
	// on a row whose key never changes (" FOR NO KEY UPDATE" on PostgreSQL;
	// SQLite has one writer anyway).
	ForUpdate string
	// Retryable reports a transaction the database aborted only to break a
	// deadlock or a serialisation conflict: running it again may succeed.
	Retryable func(error) bool
	// LockMigrations serialises migrations across processes, inside tx.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// Now is the SQL expression for the current unix time in seconds.
	Now string
	// Lower names the SQL function that lower-cases text for case-insensitive
	// search; it must fold all of Unicode the way strings.ToLower does (the
	// search string is folded in Go). Empty means "lower", right for
	// PostgreSQL; SQLite's built-in lower() folds ASCII only.
	Lower string
	// LocalWaits: every wait of a write is bounded by the database itself
	// (SQLite's busy_timeout), so the token writer runs its transactions
	// without a cancellable context. The SQLite driver watches a cancellable
	// context with a goroutine per statement, a cost the hot path can skip.
	LocalWaits bool
	// InsertTokens, if set, inserts a batch of auth tokens in one statement:
	// its parameters are arrays of the token columns in tokenCols order
	// (hash, id, app_id, uid, platform, device_id, user_agent, created_at,
	// last_used_at, expires_at); it inserts only tokens whose user exists and
	// is active, and returns the hash of each token it inserted. Empty means a
	// statement per token (right for SQLite, where a statement costs no
	// round trip).
	InsertTokens string
}

// Store is store.Store on a SQL database. Writes go to w, reads to r; for
// SQLite w is a single-connection pool and r a pool of readers (WAL lets them
// run beside the writer), for PostgreSQL both are the same pool.
type Store struct {
	w, r *sql.DB
	rs   *stmts // the reader's prepared hot reads
	d    Dialect
	tok  *tokenWriter
	// applied lists the migrations New applied (for `callgate migrate`).
	applied []migrate.Migration
	closers []func() error
}

// OnClose registers f to run when the store closes, before the pools do
// (backends use it for their background work).
func (s *Store) OnClose(f func() error) { s.closers = append(s.closers, f) }

var _ store.Store = (*Store)(nil)

// New wraps the pools and applies pending migrations.
func New(ctx context.Context, w, r *sql.DB, d Dialect) (*Store, error) {
	s := &Store{w: w, r: r, d: d, rs: &stmts{db: r, m: map[string]*sql.Stmt{}}}
	applied, err := s.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	s.applied = applied
	s.tok = newTokenWriter(s)
	return s, nil
}

// Migrate applies pending migrations, one transaction each, and returns the
// ones it applied.
func (s *Store) Migrate(ctx context.Context) ([]migrate.Migration, error) {
	var done []migrate.Migration
	for _, m := range s.d.Migrations {
		applied, err := s.applyOne(ctx, m)
		if err != nil {
			return done, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if applied {
			done = append(done, m)
		}
	}
	return done, nil
}

func (s *Store) applyOne(ctx context.Context, m migrate.Migration) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, s.classify(err)
	}
	defer tx.Rollback()
	if s.d.LockMigrations != nil {
		if err := s.d.LockMigrations(ctx, tx); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, time.Now().Unix()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Applied returns the migrations that opening the store applied.
func (s *Store) Applied() []migrate.Migration { return s.applied }

// SchemaVersion is the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), s.classify(err)
}

// DB returns the write pool, for backend-specific maintenance.
func (s *Store) DB() *sql.DB { return s.w }

func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.classify(s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one))
}

func (s *Store) Close() error {
	s.tok.close()
	var err error
	for _, f := range s.closers {
		err = errors.Join(err, f())
	}
	s.closers = nil
	err = errors.Join(err, s.rs.close(), s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// q rewrites "?" placeholders for the dialect. Queries are constants, so the
// result is cached.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	rebound.Store(query, b.String())
	return b.String()
}

func (s *Store) classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyExists) ||
		errors.Is(err, store.ErrLimitReached) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	if s.d.Classify != nil {
		return s.d.Classify(err)
	}
	return err
}

// storable reports whether every key is text a database can hold.
// PostgreSQL refuses strings that are not UTF-8 or contain NUL (SQLSTATE
// 22021) where SQLite just finds no row, so a lookup by such a key (a raw
// path segment, say) would be a driver error — a 500 — on one backend and
// ErrNotFound on the other. No stored row can have such a key: lookups
// answer ErrNotFound (lists: nothing) on every backend without asking.
func storable(keys ...string) bool {
	for _, k := range keys {
		if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			return false
		}
	}
	return true
}

// inTx runs fn in a write transaction.
// inTx runs fn in a write transaction. A transaction the database aborted
// to break a deadlock (or a serialisation failure) is retried: write-behind
// batches touch rows in another order than deletes, and either may lose.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTxOnce(ctx, fn)
		if err == nil || attempt == 3 || s.d.Retryable == nil || !s.d.Retryable(err) || ctx.Err() != nil {
			return s.classify(err)
		}
	}
}

func (s *Store) inTxOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) exec1(ctx context.Context, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return s.classify(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ---- apps

const appCols = `id, name, region, settings, created_at`

type scanner interface{ Scan(...any) error }

func scanApp(r scanner) (*App, error) {
	var a App
	var settings string
	if err := r.Scan(&a.ID, &a.Name, &a.Region, &settings, &a.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(settings), &a.Settings); err != nil {
		return nil, fmt.Errorf("app %s: bad settings: %w", a.ID, err)
	}
	return &a, nil
}

// App aliases keep signatures short.
type (
	App       = store.App
	APIKey    = store.APIKey
	User      = store.User
	AuthToken = store.AuthToken
)

func (s *Store) CreateApp(ctx context.Context, a *App) error {
	settings, _ := json.Marshal(a.Settings)
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO apps (`+appCols+`) VALUES (?, ?, ?, ?, ?)`),
		a.ID, a.Name, a.Region, string(settings), a.CreatedAt)
	return s.classify(err)
}

func (s *Store) GetApp(ctx context.Context, id string) (*App, error) {
	if !storable(id) {
		return nil, store.ErrNotFound
	}
	a, err := scanApp(s.rs.row(ctx, s.q(`SELECT `+appCols+` FROM apps WHERE id = ?`), id))
	return a, s.classify(err)
}

func (s *Store) ListApps(ctx context.Context) ([]*App, error) {
	return list(s, ctx, scanApp, `SELECT `+appCols+` FROM apps ORDER BY created_at, id`)
}

func (s *Store) UpdateApp(ctx context.Context, a *App) error {
	settings, _ := json.Marshal(a.Settings)
	return s.exec1(ctx, `UPDATE apps SET name = ?, region = ?, settings = ? WHERE id = ?`,
		a.Name, a.Region, string(settings), a.ID)
}

// list runs a read query and scans every row.
func list[T any](s *Store, ctx context.Context, scan func(scanner) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.classify(err)
		}
		out = append(out, v)
	}
	return out, s.classify(rows.Err())
}

// ---- API keys

const keyCols = `id, app_id, name, scope, hash, created_at`

func scanKey(r scanner) (*APIKey, error) {
	var k APIKey
	return &k, r.Scan(&k.ID, &k.AppID, &k.Name, &k.Scope, &k.Hash, &k.CreatedAt)
}

func (s *Store) CreateAPIKey(ctx context.Context, k *APIKey, max int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var id string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM apps WHERE id = ?`+s.d.ForUpdate), k.AppID).Scan(&id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM api_keys WHERE app_id = ?`), k.AppID).Scan(&n); err != nil {
			return err
		}
		if max > 0 && n >= max {
			return store.ErrLimitReached
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?)`),
			k.ID, k.AppID, k.Name, k.Scope, k.Hash, k.CreatedAt)
		return err
	})
}

func (s *Store) GetAPIKey(ctx context.Context, appID, id string) (*APIKey, error) {
	if !storable(appID, id) {
		return nil, store.ErrNotFound
	}
	k, err := scanKey(s.r.QueryRowContext(ctx, s.q(`SELECT `+keyCols+` FROM api_keys WHERE app_id = ? AND id = ?`), appID, id))
	return k, s.classify(err)
}

func (s *Store) GetAPIKeyByHash(ctx context.Context, appID string, hash []byte) (*APIKey, error) {
	if !storable(appID) {
		return nil, store.ErrNotFound
	}
	k, err := scanKey(s.rs.row(ctx, s.q(`SELECT `+keyCols+` FROM api_keys WHERE hash = ? AND app_id = ?`), hash, appID))
	return k, s.classify(err)
}

func (s *Store) ListAPIKeys(ctx context.Context, appID string) ([]*APIKey, error) {
	if !storable(appID) {
		return []*APIKey{}, nil
	}
	return list(s, ctx, scanKey, `SELECT `+keyCols+` FROM api_keys WHERE app_id = ? ORDER BY created_at, id`, appID)
}

func (s *Store) UpdateAPIKey(ctx context.Context, k *APIKey) error {
	return s.exec1(ctx, `UPDATE api_keys SET name = ?, scope = ? WHERE app_id = ? AND id = ?`, k.Name, k.Scope, k.AppID, k.ID)
}

func (s *Store) DeleteAPIKey(ctx context.Context, appID, id string) error {
	if !storable(appID, id) {
		return store.ErrNotFound
	}
	return s.exec1(ctx, `DELETE FROM api_keys WHERE app_id = ? AND id = ?`, appID, id)
}

// ---- users

const userCols = `app_id, uid, name, avatar, link, role, metadata, tags, last_active_at, created_at, updated_at, deactivated_at`

// userRow receives a user row: the userCols columns, then (for reads) the
// number of live nodes holding a connection of the user.
type userRow struct {
	u      User
	meta   sql.NullString
	tags   string
	online int
}

func (r *userRow) dest(withStatus bool) []any {
	u := &r.u
	d := []any{&u.AppID, &u.UID, &u.Name, &u.Avatar, &u.Link, &u.Role, &r.meta, &r.tags,
		&u.LastActiveAt, &u.CreatedAt, &u.UpdatedAt, &u.DeactivatedAt}
	if withStatus {
		d = append(d, &r.online)
	}
	return d
}

func (r *userRow) user() (*User, error) {
	u := r.u
	if r.meta.Valid && r.meta.String != "" {
		u.Metadata = json.RawMessage(r.meta.String)
	}
	if err := json.Unmarshal([]byte(r.tags), &u.Tags); err != nil {
		return nil, fmt.Errorf("user %s: bad tags: %w", u.UID, err)
	}
	u.Status = "offline"
	if r.online > 0 {
		u.Status = "online"
	}
	return &u, nil
}

// scanUser scans userCols (no status: writes read users this way).
func scanUser(r scanner) (*User, error) {
	var row userRow
	if err := r.Scan(row.dest(false)...); err != nil {
		return nil, err
	}
	return row.user()
}

// scanUserStatus scans what userRead selects.
func scanUserStatus(r scanner) (*User, error) {
	var row userRow
	if err := r.Scan(row.dest(true)...); err != nil {
		return nil, err
	}
	return row.user()
}

// userRead selects a user (as table alias a) with presence: a user is
// online while a node whose lease has not lapsed holds a connection.
func (s *Store) userRead(a string) string {
	cols := strings.Split(userCols, ", ")
	for i, c := range cols {
		cols[i] = a + "." + c
	}
	return strings.Join(cols, ", ") + ", " + s.onlineCount(a)
}

func (s *Store) onlineCount(a string) string {
	return `(SELECT count(*) FROM presence p JOIN nodes n ON n.id = p.node_id WHERE p.app_id = ` + a + `.app_id AND p.uid = ` + a + `.uid AND n.lease_until > ` + s.d.Now + `)`
}

// userJSON is how a user's metadata and tags are stored: the metadata's
// JSON text or NULL, and the tags as a JSON array ([] for none).
func userJSON(u *User) (meta any, tags string) {
	if len(u.Metadata) > 0 {
		meta = string(u.Metadata)
	}
	t := u.Tags
	if t == nil {
		t = []string{}
	}
	tj, _ := json.Marshal(t)
	return meta, string(tj)
}

func userArgs(u *User) []any {
	meta, tags := userJSON(u)
	return []any{u.AppID, u.UID, u.Name, u.Avatar, u.Link, u.Role, meta, tags,
		u.LastActiveAt, u.CreatedAt, u.UpdatedAt, u.DeactivatedAt}
}

const tokenCols = `hash, id, app_id, uid, platform, device_id, user_agent, created_at, last_used_at, expires_at`

// userTokens selects one user's tokens. Token keys begin with the uid
// (credential.TokenKey), so the key range finds them in the primary key; the
// app and uid conditions keep other apps' users of the same uid out.
const userTokens = `WHERE hash >= ? AND hash < ? AND app_id = ? AND uid = ?`

func userTokenArgs(appID, uid string, more ...any) []any {
	lo, hi := credential.TokenKeyRange(uid)
	return append([]any{lo, hi, appID, uid}, more...)
}

func tokenArgs(t *AuthToken) []any {
	return []any{t.Hash, t.ID, t.AppID, t.UID, t.Platform, t.DeviceID, t.UserAgent, t.CreatedAt, t.LastUsedAt, t.ExpiresAt}
}

func scanToken(r scanner) (*AuthToken, error) {
	var t AuthToken
	return &t, r.Scan(&t.Hash, &t.ID, &t.AppID, &t.UID, &t.Platform, &t.DeviceID, &t.UserAgent, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt)
}

func (s *Store) CreateUser(ctx context.Context, u *User, tok *AuthToken) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), userArgs(u)...); err != nil {
			return err
		}
		if tok == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO auth_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), tokenArgs(tok)...)
		return err
	})
}

func (s *Store) GetUser(ctx context.Context, appID, uid string) (*User, error) {
	if !storable(appID, uid) {
		return nil, store.ErrNotFound
	}
	u, err := scanUserStatus(s.rs.row(ctx, s.q(`SELECT `+s.userRead("u")+` FROM users u WHERE u.app_id = ? AND u.uid = ?`), appID, uid))
	return u, s.classify(err)
}

func (s *Store) ListUsers(ctx context.Context, appID string, q store.UserQuery) ([]*User, int, error) {
	if !storable(appID, q.Search) {
		return []*User{}, 0, nil
	}
	where := ` FROM users u WHERE u.app_id = ?`
	args := []any{appID}
	if q.Search != "" {
		pat := "%" + likeEscaper.Replace(strings.ToLower(q.Search)) + "%"
		lower := s.d.Lower
		if lower == "" {
			lower = "lower"
		}
		where += ` AND (u.uid LIKE ? ESCAPE '\' OR ` + lower + `(u.name) LIKE ? ESCAPE '\')`
		args = append(args, pat, pat)
	}
	switch q.Status {
	case "online":
		where += ` AND ` + s.onlineCount("u") + ` > 0`
	case "offline":
		where += ` AND ` + s.onlineCount("u") + ` = 0`
	}
	var total int
	if err := s.r.QueryRowContext(ctx, s.q(`SELECT count(*)`+where), args...).Scan(&total); err != nil {
		return nil, 0, s.classify(err)
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	users, err := list(s, ctx, scanUserStatus, `SELECT `+s.userRead("u")+where+` ORDER BY u.uid LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	return users, total, err
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (s *Store) UpdateUser(ctx context.Context, appID, uid string, p store.UserPatch, now int64) (*User, error) {
	if !storable(appID, uid) {
		return nil, store.ErrNotFound
	}
	var out *User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE app_id = ? AND uid = ?`+s.d.ForUpdate), appID, uid))
		if err != nil {
			return err
		}
		p.Apply(u)
		if p.Deactivated != nil {
			switch {
			case *p.Deactivated && u.DeactivatedAt == 0:
				u.DeactivatedAt = now
			case !*p.Deactivated:
				u.DeactivatedAt = 0
			}
		}
		u.UpdatedAt = now
		meta, tags := userJSON(u)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET name = ?, avatar = ?, link = ?, role = ?, metadata = ?, tags = ?, updated_at = ?, deactivated_at = ? WHERE app_id = ? AND uid = ?`),
			u.Name, u.Avatar, u.Link, u.Role, meta, tags, u.UpdatedAt, u.DeactivatedAt, appID, uid); err != nil {
			return err
		}
		out = u
		return nil
	})
	return out, err
}

func (s *Store) DeleteUser(ctx context.Context, appID, uid string) ([]*AuthToken, error) {
	if !storable(appID, uid) {
		return nil, store.ErrNotFound
	}
	var toks []*AuthToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if toks, err = deleteTokens(s, ctx, tx, userTokens, userTokenArgs(appID, uid)...); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE app_id = ? AND uid = ?`), appID, uid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	return toks, err
}

func deleteTokens(s *Store, ctx context.Context, tx *sql.Tx, where string, args ...any) ([]*AuthToken, error) {
	rows, err := tx.QueryContext(ctx, s.q(`DELETE FROM auth_tokens `+where+` RETURNING `+tokenCols), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*AuthToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ---- auth tokens

func (s *Store) CreateAuthToken(ctx context.Context, t *AuthToken) error {
	return s.tok.insert(ctx, t)
}

func (s *Store) GetSession(ctx context.Context, hash []byte) (*AuthToken, *User, error) {
	row := s.rs.row(ctx, s.q(`SELECT t.hash, t.id, t.app_id, t.uid, t.platform, t.device_id, t.user_agent, t.created_at, t.last_used_at, t.expires_at, `+
		s.userRead("u")+` FROM auth_tokens t JOIN users u ON u.app_id = t.app_id AND u.uid = t.uid WHERE t.hash = ?`), hash)
	var t AuthToken
	var ur userRow
	dest := append([]any{&t.Hash, &t.ID, &t.AppID, &t.UID, &t.Platform, &t.DeviceID, &t.UserAgent, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt}, ur.dest(true)...)
	if err := row.Scan(dest...); err != nil {
		return nil, nil, s.classify(err)
	}
	u, err := ur.user()
	if err != nil {
		return nil, nil, err
	}
	return &t, u, nil
}

func (s *Store) GetAuthToken(ctx context.Context, appID, uid, id string) (*AuthToken, error) {
	if !storable(appID, uid, id) {
		return nil, store.ErrNotFound
	}
	t, err := scanToken(s.r.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM auth_tokens `+userTokens+` AND id = ?`), userTokenArgs(appID, uid, id)...))
	return t, s.classify(err)
}

// ListAuthTokens fills Connected as user reads fill Status (onlineCount):
// a lease is judged by the database's clock, since the method takes no now.
// Nodes set their leases by their own clocks, so this trusts the clocks to
// agree to well within a lease, as presence already does.
func (s *Store) ListAuthTokens(ctx context.Context, appID, uid string) ([]*AuthToken, error) {
	if !storable(appID, uid) {
		return []*AuthToken{}, nil
	}
	return list(s, ctx, scanTokenConnected, `SELECT `+tokenCols+`, `+tokenLive("auth_tokens.hash", s.d.Now)+
		` FROM auth_tokens `+userTokens+` ORDER BY created_at, id`, userTokenArgs(appID, uid)...)
}

// scanTokenConnected scans tokenCols and then whether the token is connected.
func scanTokenConnected(r scanner) (*AuthToken, error) {
	var t AuthToken
	return &t, r.Scan(&t.Hash, &t.ID, &t.AppID, &t.UID, &t.Platform, &t.DeviceID, &t.UserAgent, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt, &t.Connected)
}

// writeBehindChunk bounds the rows one write-behind transaction updates: a
// flush of a busy interval (thousands of sessions) as one transaction held
// SQLite's only writer — and every login queued behind it — for ~30 ms.
const writeBehindChunk = 128

// inChunks runs fn over token hashes in transactions of at most
// writeBehindChunk, in key order: keys begin with the uid, so flushes on
// different nodes lock token and user rows in (nearly) the same order and
// rarely deadlock (inTx retries when they do).
func inChunks(ctx context.Context, s *Store, items []string, fn func(tx *sql.Tx, part []string) error) error {
	slices.Sort(items)
	for len(items) > 0 {
		part := items[:min(len(items), writeBehindChunk)]
		if err := s.inTx(ctx, func(tx *sql.Tx) error { return fn(tx, part) }); err != nil {
			return err
		}
		items = items[len(part):]
	}
	return nil
}

func (s *Store) StartSessions(ctx context.Context, sessions map[string]store.SessionUpdate) error {
	hashes := make([]string, 0, len(sessions))
	for h := range sessions {
		hashes = append(hashes, h)
	}
	return inChunks(ctx, s, hashes, func(tx *sql.Tx, part []string) error {
		tok, err := tx.PrepareContext(ctx, s.q(`UPDATE auth_tokens SET platform = ?, device_id = ?, user_agent = ?,
			last_used_at = CASE WHEN last_used_at > ? THEN last_used_at ELSE ? END WHERE hash = ? RETURNING app_id, uid`))
		if err != nil {
			return err
		}
		defer tok.Close()
		user, err := tx.PrepareContext(ctx, s.q(`UPDATE users SET last_active_at = ? WHERE app_id = ? AND uid = ? AND last_active_at < ?`))
		if err != nil {
			return err
		}
		defer user.Close()
		for _, h := range part {
			su := sessions[h]
			var appID, uid string
			err := tok.QueryRowContext(ctx, su.Platform, su.DeviceID, su.UserAgent, su.Now, su.Now, []byte(h)).Scan(&appID, &uid)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if _, err := user.ExecContext(ctx, su.Now, appID, uid, su.Now); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) DeleteAuthToken(ctx context.Context, appID, uid, id string) (*AuthToken, error) {
	if !storable(appID, uid, id) {
		return nil, store.ErrNotFound
	}
	var toks []*AuthToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		toks, err = deleteTokens(s, ctx, tx, userTokens+` AND id = ?`, userTokenArgs(appID, uid, id)...)
		if err == nil && len(toks) == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return toks[0], nil
}

func (s *Store) DeleteAuthTokens(ctx context.Context, appID, uid string) ([]*AuthToken, error) {
	if !storable(appID, uid) {
		return []*AuthToken{}, nil
	}
	var toks []*AuthToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		toks, err = deleteTokens(s, ctx, tx, userTokens, userTokenArgs(appID, uid)...)
		return err
	})
	return toks, err
}

func (s *Store) TouchAuthTokens(ctx context.Context, lastUsed map[string]int64) error {
	hashes := make([]string, 0, len(lastUsed))
	for h := range lastUsed {
		hashes = append(hashes, h)
	}
	return inChunks(ctx, s, hashes, func(tx *sql.Tx, part []string) error {
		stmt, err := tx.PrepareContext(ctx, s.q(`UPDATE auth_tokens SET last_used_at = ? WHERE hash = ? AND last_used_at < ?`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, h := range part {
			at := lastUsed[h]
			if _, err := stmt.ExecContext(ctx, at, []byte(h), at); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) DeleteExpiredAuthTokens(ctx context.Context, now int64) ([]*AuthToken, error) {
	var toks []*AuthToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		toks, err = deleteTokens(s, ctx, tx, `WHERE expires_at > 0 AND expires_at <= ?`, now)
		return err
	})
	return toks, err
}

// RevokeAuthTokensBefore is one DELETE. For one user it is bounded by the
// key range of the user's tokens created before the second
// (credential.TokenKeyRangeBefore: keys hold the creation second after the
// uid), so it reads only the rows it deletes; created_at, which the key
// repeats, decides. For the whole app it reads the whole table: there is
// deliberately no index on auth_tokens(app_id, created_at). Measured with
// storetest.RevokeTiming (one app's 100,000 tokens, 10 each of 10,000
// users, among 400,000 of four apps; 2 CPUs shared with other work, so
// ranges of two or three runs) and BenchmarkCreateAuthToken (medians of 8
// interleaved runs):
//
//	                              SQLite                PostgreSQL
//	                              no index   index      no index   index
//	one user's 10 (median)        0.2-0.3 ms 225-245 ms 0.5-0.7 ms 0.55-0.7 ms
//	the app's 100,000             0.8-1.0 s  0.9-1.9 s  0.2-0.35 s 0.08-0.3 s
//	  none to delete (the search) 130-225 ms 0.2-0.5 ms 85-150 ms  0.7-1.1 ms
//	a login                       56 µs      66 µs      99 µs      95 µs
//
// (SQLite logins at synchronous=NORMAL; at FULL 85 → 107 µs.) On SQLite the
// index saves only the search while the deletes dominate, costs every login
// a fifth more, and, without statistics (nothing runs ANALYZE), its planner
// takes the index over the primary key's range for every per-user token
// query (app_id = ? AND a created_at range, or none): the one-user row. On
// PostgreSQL it saves about 0.1 s of a rare admin action, and what it costs
// a login is lost in the noise: not worth a second index on the hottest
// write, nor schemas that differ between the backends.
func (s *Store) RevokeAuthTokensBefore(ctx context.Context, appID, uid string, before int64) (int, error) {
	if !storable(appID, uid) {
		return 0, nil
	}
	query, args := `DELETE FROM auth_tokens WHERE app_id = ? AND created_at < ?`, []any{appID, before}
	if uid != "" {
		lo, hi := credential.TokenKeyRangeBefore(uid, before)
		query, args = `DELETE FROM auth_tokens WHERE hash >= ? AND hash < ? AND app_id = ? AND uid = ? AND created_at < ?`,
			[]any{lo, hi, appID, uid, before}
	}
	var n int64
	// In a transaction only for inTx's retry: the delete may lose a
	// deadlock to a write-behind batch touching the same tokens.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// DeleteIdleAuthTokens: idle means both last_used_at and created_at are
// before idleBefore (max(last_used_at, created_at) < idleBefore, written so
// both dialects take it). A live row protects a token only on a node whose
// lease is alive at now (tokenLive), so a crashed node's rows protect
// nothing even before the reaper removes them. Like a whole-app revoke it
// reads the whole table (see RevokeAuthTokensBefore: 0.1-0.2 s per 400,000
// tokens, holding SQLite's one writer), so a sweep of every app is for a
// slow timer, not a per-minute one.
func (s *Store) DeleteIdleAuthTokens(ctx context.Context, appID string, idleBefore, now int64) ([]*AuthToken, error) {
	if !storable(appID) {
		return []*AuthToken{}, nil
	}
	var toks []*AuthToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		toks, err = deleteTokens(s, ctx, tx, `WHERE app_id = ? AND created_at < ? AND last_used_at < ? AND NOT `+tokenLive("auth_tokens.hash", "?"),
			appID, idleBefore, idleBefore, now)
		return err
	})
	return toks, err
}

var rebound sync.Map

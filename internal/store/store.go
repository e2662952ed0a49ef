package store

import (
	"context"
	"encoding/json"
	"errors"
)

// Sentinel errors. Backends wrap driver errors into these so callers can use
// errors.Is without knowing the backend.
var (
	ErrNotFound      = errors.New("store: not found")
	ErrAlreadyExists = errors.New("store: already exists")
	ErrLimitReached  = errors.New("store: limit reached")
	// ErrUnavailable means the database could not be reached or timed out;
	// the request may be retried.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrClosed means the store was closed. CreateAuthToken, whose inserts
	// queue for group commit, returns it after Close; other calls fail with
	// the driver's error.
	ErrClosed = errors.New("store: closed")
)

// Scopes of an API key.
const (
	ScopeAuthOnly   = "authOnly"
	ScopeFullAccess = "fullAccess"
)

// App is a tenant.
type App struct {
	ID        string
	Name      string
	Region    string
	Settings  AppSettings
	CreatedAt int64
}

// AppSettings are per-app knobs, stored as JSON so later capabilities can add
// fields without a migration.
type AppSettings struct {
	// AuthTokenTTL is the lifetime of new auth tokens in seconds; 0 = never expire.
	AuthTokenTTL int64 `json:"authTokenTTL,omitempty"`
	// CallTokenTTL is the lifetime of call tokens in seconds; 0 = default.
	CallTokenTTL int64 `json:"callTokenTTL,omitempty"`
	// CORSOrigins lists the browser origins allowed to call the API. nil
	// (never set) and empty (none allowed) are kept apart: dev mode fills
	// in "*" only for a dev app that never had the setting.
	CORSOrigins []string `json:"corsOrigins"`
	// CallGrants are the grants of the app's call tokens; nil = the
	// defaults (join, publishAudio, publishVideo and screenShare true,
	// moderator false).
	CallGrants *CallGrants `json:"callGrants,omitempty"`
	// AuthTokenIdleTimeout ends a token unused for longer, in seconds; 0 =
	// no idle timeout.
	AuthTokenIdleTimeout int64 `json:"authTokenIdleTimeout,omitempty"`
}

// DefaultCallGrants are the grants of a call token when the app sets none.
var DefaultCallGrants = CallGrants{Join: true, PublishAudio: true, PublishVideo: true, ScreenShare: true}

// CallGrants are what a call token allows its holder to do in a call.
type CallGrants struct {
	Join         bool `json:"join"`
	PublishAudio bool `json:"publishAudio"`
	PublishVideo bool `json:"publishVideo"`
	ScreenShare  bool `json:"screenShare"`
	Moderator    bool `json:"moderator"`
}

// SigningKey is an Ed25519 key pair that signs one app's call tokens. The
// public half is served in the JWKS; the private half is stored sealed
// (encrypted under the master key, or raw; see internal/signing), is read
// by ActiveSigningKey only, and is never served.
type SigningKey struct {
	ID        string // kid: the RFC 7638 thumbprint of the public key, unique across apps
	AppID     string
	Algorithm string // "EdDSA"
	PublicKey []byte // 32 bytes
	Private   []byte // the sealed private key; nil from the methods that read public halves only
	CreatedAt int64
	// RetiredAt is when a rotation replaced the key; 0 for the app's
	// active key.
	RetiredAt int64
	// PublishedUntil is, for a retired key, when the last token it signed
	// has expired: until then it stays published and keeps verifying.
	// 0 while the key is active.
	PublishedUntil int64
}

// APIKey is a REST credential of one app. Only the SHA-256 of the secret is kept.
type APIKey struct {
	ID        string
	AppID     string
	Name      string
	Scope     string
	Hash      []byte
	CreatedAt int64
}

// User is an end user of an app. UID is stored lower case.
type User struct {
	AppID         string
	UID           string
	Name          string
	Avatar        string
	Link          string
	Role          string
	Metadata      json.RawMessage // a JSON object, or nil
	Tags          []string
	Status        string // "online" or "offline"
	LastActiveAt  int64
	CreatedAt     int64
	UpdatedAt     int64
	DeactivatedAt int64 // 0 = active
}

// AuthToken is a user's login credential. The token itself is never kept:
// Hash is its storage key, uid‖0‖creation second‖SHA-256(token)
// (credential.TokenKey; docs/design.md, "Tenancy and credentials"), so keys
// sort by user.
type AuthToken struct {
	Hash       []byte
	ID         string // short display id, safe to show and log
	AppID      string
	UID        string
	Platform   string
	DeviceID   string
	UserAgent  string
	CreatedAt  int64
	LastUsedAt int64
	ExpiresAt  int64 // 0 = never
	// Connected: a node with a live lease holds a realtime connection of
	// this token (filled by ListAuthTokens; SetLiveTokens records it).
	Connected bool
}

// UserQuery selects a page of users.
type UserQuery struct {
	Search string // case-insensitive substring of uid or name
	Status string // "", "online" or "offline"
	Limit  int
	Offset int
}

// UserPatch holds the fields of a user update; nil means unchanged.
type UserPatch struct {
	Name, Avatar, Link, Role *string
	Metadata                 *json.RawMessage
	Tags                     *[]string
	Deactivated              *bool
}

// Apply sets u's profile fields that p names (not Deactivated, whose
// timestamps the store keeps).
func (p UserPatch) Apply(u *User) {
	set(&u.Name, p.Name)
	set(&u.Avatar, p.Avatar)
	set(&u.Link, p.Link)
	set(&u.Role, p.Role)
	set(&u.Metadata, p.Metadata)
	set(&u.Tags, p.Tags)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// SessionUpdate is what PUT /me records about a session.
type SessionUpdate struct {
	Platform, DeviceID, UserAgent string
	Now                           int64
}

// Store is the storage contract. Every method honours ctx; a database that
// cannot be reached yields an error wrapping ErrUnavailable.
type Store interface {
	// Ping checks the database is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the database; it waits for queued writes to finish.
	// Calls after it fail.
	Close() error

	CreateApp(ctx context.Context, a *App) error // ErrAlreadyExists
	GetApp(ctx context.Context, id string) (*App, error)
	ListApps(ctx context.Context) ([]*App, error)
	UpdateApp(ctx context.Context, a *App) error

	// CreateAPIKey inserts k unless the app already has max keys (ErrLimitReached).
	CreateAPIKey(ctx context.Context, k *APIKey, max int) error
	GetAPIKey(ctx context.Context, appID, id string) (*APIKey, error)
	GetAPIKeyByHash(ctx context.Context, appID string, hash []byte) (*APIKey, error)
	ListAPIKeys(ctx context.Context, appID string) ([]*APIKey, error)
	UpdateAPIKey(ctx context.Context, k *APIKey) error
	DeleteAPIKey(ctx context.Context, appID, id string) error

	// CreateUser inserts u and, when tok is not nil, its first auth token in
	// the same transaction.
	CreateUser(ctx context.Context, u *User, tok *AuthToken) error
	GetUser(ctx context.Context, appID, uid string) (*User, error)
	ListUsers(ctx context.Context, appID string, q UserQuery) (users []*User, total int, err error)
	UpdateUser(ctx context.Context, appID, uid string, p UserPatch, now int64) (*User, error)
	// DeleteUser removes the user and all their tokens, returning the tokens.
	DeleteUser(ctx context.Context, appID, uid string) ([]*AuthToken, error)

	// CreateAuthToken inserts t; ErrNotFound when the user does not exist or
	// is deactivated.
	CreateAuthToken(ctx context.Context, t *AuthToken) error
	// GetSession returns the token with this hash and its user.
	GetSession(ctx context.Context, hash []byte) (*AuthToken, *User, error)
	GetAuthToken(ctx context.Context, appID, uid, id string) (*AuthToken, error)
	ListAuthTokens(ctx context.Context, appID, uid string) ([]*AuthToken, error)
	// StartSessions records PUT /me for many sessions at once (written
	// behind, in batches): each token's device fields and lastUsedAt, and its
	// user's lastActiveAt (never moved backwards). Tokens that no longer
	// exist are skipped.
	StartSessions(ctx context.Context, sessions map[string]SessionUpdate) error
	DeleteAuthToken(ctx context.Context, appID, uid, id string) (*AuthToken, error)
	DeleteAuthTokens(ctx context.Context, appID, uid string) ([]*AuthToken, error)
	// TouchAuthTokens sets lastUsedAt for many tokens at once (write-behind).
	TouchAuthTokens(ctx context.Context, lastUsed map[string]int64) error
	// DeleteExpiredAuthTokens removes tokens that expired before now.
	DeleteExpiredAuthTokens(ctx context.Context, now int64) ([]*AuthToken, error)
	// RevokeAuthTokensBefore deletes, in one statement, the app's tokens
	// (only uid's when uid is not "") created before the second before, and
	// returns how many it deleted. Tokens created at or after it live on.
	RevokeAuthTokensBefore(ctx context.Context, appID, uid string, before int64) (int, error)
	// DeleteIdleAuthTokens deletes the app's tokens last used (or, never
	// used, created) before idleBefore that no node with a lease alive at
	// now holds a realtime connection of, and returns them.
	DeleteIdleAuthTokens(ctx context.Context, appID string, idleBefore, now int64) ([]*AuthToken, error)
	// SetLiveTokens records that node now holds a realtime connection of
	// each token in up, and no longer of each in down (written behind, in
	// batches). Removing or reaping a node forgets its tokens.
	SetLiveTokens(ctx context.Context, node string, up, down [][]byte) error

	// RecordAuditEvents appends events to the audit log (written behind,
	// in batches); it sets each event's Seq.
	RecordAuditEvents(ctx context.Context, events []*AuditEvent) error
	// ListAuditEvents returns a page of an app's audit events, newest
	// first, and how many match.
	ListAuditEvents(ctx context.Context, appID string, q AuditQuery) ([]*AuditEvent, int, error)
	// DeleteAuditEventsBefore removes events of every app older than
	// before (retention) and returns how many it removed.
	DeleteAuditEventsBefore(ctx context.Context, before int64) (int, error)

	// RenewNode records that a realtime node is alive until leaseUntil. It
	// reports whether the node was still registered (false: first start, or
	// its lease had lapsed and its presence was reaped).
	RenewNode(ctx context.Context, node string, leaseUntil int64) (existed bool, err error)
	// SetPresence records whether node holds a live connection of the user
	// and stamps the user's lastActiveAt.
	SetPresence(ctx context.Context, node, appID, uid string, online bool, now int64) error
	// Online reports whether any node with a live lease holds the user.
	Online(ctx context.Context, appID, uid string, now int64) (bool, error)
	// ReapNodes removes nodes whose lease ended by now, with their
	// presence, and returns the users they held.
	ReapNodes(ctx context.Context, now int64) ([]UserRef, error)
	// RemoveNode removes a node and its presence (clean shutdown).
	RemoveNode(ctx context.Context, node string) ([]UserRef, error)

	// CreateSigningKey inserts k as its app's active key. ErrNotFound when
	// the app does not exist; ErrAlreadyExists when the app already has an
	// active key (another node created it first) or the kid is taken.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ActiveSigningKey returns the app's active key, sealed private key
	// included; ErrNotFound when the app has none.
	ActiveSigningKey(ctx context.Context, appID string) (*SigningKey, error)
	// RotateSigningKey makes k its app's active key: in one transaction it
	// retires the active key (RetiredAt = k.CreatedAt, PublishedUntil =
	// publishedUntil) and inserts k. It returns the key it retired (public
	// half), or nil when the app had none. ErrNotFound when the app does
	// not exist.
	RotateSigningKey(ctx context.Context, k *SigningKey, publishedUntil int64) (*SigningKey, error)
	// GetSigningKey returns a key by kid, public half only.
	GetSigningKey(ctx context.Context, kid string) (*SigningKey, error)
	// ListSigningKeys returns the keys of an app, oldest first, public
	// halves only.
	ListSigningKeys(ctx context.Context, appID string) ([]*SigningKey, error)
	// ListPublishedSigningKeys returns the keys of every app that verify
	// tokens at now: active keys, and retired keys whose PublishedUntil is
	// after now. Public halves only, ordered by app then age.
	ListPublishedSigningKeys(ctx context.Context, now int64) ([]*SigningKey, error)
	// DeleteExpiredSigningKeys removes retired keys whose PublishedUntil
	// is at or before now, and returns how many it removed.
	DeleteExpiredSigningKeys(ctx context.Context, now int64) (int, error)
}

// AuditEvent is one admin write (docs/sessions.md "Audit log"). It never
// holds a secret.
type AuditEvent struct {
	Seq       int64  // the log's order; set by RecordAuditEvents
	ID        string // evt_…
	Time      int64  // unix seconds
	AppID     string
	ActorType string // "apiKey" or "cli"
	ActorID   string // the key's id, or the local user of the CLI
	Action    string // app.update, apikey.create, …
	Target    string // what was acted on: a uid, a key id, …
	IP        string
	RequestID string
	Details   json.RawMessage // a JSON object, or nil
}

// AuditQuery selects a page of audit events; empty fields match all.
type AuditQuery struct {
	Action, Actor, Target string // Actor matches ActorID, or ActorType for "cli"
	Since, Until          int64  // unix seconds, inclusive; 0 = unbounded
	Limit, Offset         int
}

// UserRef names a user.
type UserRef struct{ AppID, UID string }

// UserKey is the one string key of a user across apps ({appId}/{uid}: app
// ids hold no "/"), for maps of users.
func UserKey(appID, uid string) string { return appID + "/" + uid }

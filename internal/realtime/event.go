package realtime

import (
	"context"
	"encoding/hex"
	"encoding/json"
)

// Event kinds carried between nodes.
const (
	// KindRevokeTokens closes connections of the listed tokens and drops them
	// from session caches.
	KindRevokeTokens = "revoke_tokens"
	// KindRevokeUser closes every connection of a user (deleted, deactivated).
	KindRevokeUser = "revoke_user"
	// KindUserChanged drops a user's cached sessions (profile changed).
	KindUserChanged = "user_changed"
	// KindPresence is a user going online or offline.
	KindPresence = "presence"
	// KindKeysRotated: an app's call-token signing key was rotated (Reason
	// holds the retired key's id); drop cached signing and public keys.
	KindKeysRotated = "keys_rotated"
	// KindRevokeBefore closes the connections of an app's tokens (only
	// UID's when set) issued before Before.
	KindRevokeBefore = "revoke_before"
	// KindAppChanged: an app's name or settings changed; drop cached copies.
	KindAppChanged = "app_changed"
	// KindAudit carries audit events as they are recorded (Data: a JSON
	// array of them, as GET /audit_events shows them), for the admin event
	// streams of every node. The hub only passes them on.
	KindAudit = "audit"
	// KindResync is synthesised locally when the bus may have missed events
	// (before its first LISTEN, or after a dropped LISTEN connection): caches
	// must be emptied and live connections re-checked.
	KindResync = "resync"
)

// Event is one message on the bus. Field names are short: PostgreSQL
// NOTIFY payloads are limited to 8000 bytes.
type Event struct {
	Origin       string   `json:"o"`
	Kind         string   `json:"k"`
	AppID        string   `json:"a,omitempty"`
	UID          string   `json:"u,omitempty"`
	Hashes       []string `json:"h,omitempty"` // hex token keys: uid‖0‖second‖SHA-256 (credential.TokenKey)
	Reason       string   `json:"r,omitempty"`
	Status       string   `json:"s,omitempty"`
	LastActiveAt int64    `json:"t,omitempty"`
	Role         string   `json:"ro,omitempty"` // KindPresence: the user's role, for presence filters
	Before       int64    `json:"b,omitempty"`  // KindRevokeBefore
	// Data is a kind's own payload (KindAudit). Whoever fills it keeps the
	// whole event under NOTIFY's limit: MaxPayload bytes.
	Data json.RawMessage `json:"d,omitempty"`
}

// MaxPayload is the most bytes an event may take encoded: PostgreSQL
// refuses a NOTIFY payload of 8000 bytes or more.
const MaxPayload = 7999

// HexHash encodes a token key (Session.TokenHash) for an Event.
func HexHash(h []byte) string { return hex.EncodeToString(h) }

// Bus carries events between the nodes that share a database. Publish never
// delivers to the publishing node itself: a node applies its own events
// before publishing them.
type Bus interface {
	Publish(ctx context.Context, ev Event) error
	// Run delivers other nodes' events to handle until ctx ends. It
	// delivers a KindResync event once it is listening, and again after
	// every reconnect (events sent meanwhile were missed).
	Run(ctx context.Context, handle func(Event))
}

// LocalBus is the bus of a single node (SQLite): there is nobody to tell.
type LocalBus struct{}

func (LocalBus) Publish(context.Context, Event) error   { return nil }
func (LocalBus) Run(ctx context.Context, _ func(Event)) { <-ctx.Done() }

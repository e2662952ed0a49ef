package wire

import (
	"encoding/json"

	"github.com/callgate/callgate/internal/store"
)

// User is a user as the API shows it. Status comes from presence, not from
// the stored record, so the server fills it in.
type User struct {
	UID           string          `json:"uid"`
	Name          string          `json:"name"`
	Avatar        string          `json:"avatar,omitempty"`
	Link          string          `json:"link,omitempty"`
	Role          string          `json:"role"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Tags          []string        `json:"tags,omitempty"`
	Status        string          `json:"status"`
	LastActiveAt  int64           `json:"lastActiveAt,omitempty"`
	CreatedAt     int64           `json:"createdAt"`
	UpdatedAt     int64           `json:"updatedAt,omitempty"`
	DeactivatedAt int64           `json:"deactivatedAt,omitempty"`
	AuthToken     string          `json:"authToken,omitempty"`
	// AuthTokenExpiresAt is set on the client API's answers (PUT and GET
	// /me): when the session's token expires, 0 = never.
	AuthTokenExpiresAt *int64 `json:"authTokenExpiresAt,omitempty"`
}

// Token is an auth token's record; AuthToken (the secret) only on creation.
type Token struct {
	ID         string `json:"id"`
	UID        string `json:"uid"`
	AuthToken  string `json:"authToken,omitempty"`
	Platform   string `json:"platform,omitempty"`
	DeviceID   string `json:"deviceId,omitempty"`
	UserAgent  string `json:"userAgent,omitempty"`
	CreatedAt  int64  `json:"createdAt"`
	LastUsedAt int64  `json:"lastUsedAt,omitempty"`
	ExpiresAt  int64  `json:"expiresAt,omitempty"`
	// Connected: a live realtime connection uses the token now (listings
	// only; absent when false).
	Connected bool `json:"connected,omitempty"`
}

// TokenOf renders a stored token (without its secret).
func TokenOf(t *store.AuthToken) Token {
	return Token{ID: t.ID, UID: t.UID, Platform: t.Platform, DeviceID: t.DeviceID, UserAgent: t.UserAgent,
		CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt, Connected: t.Connected}
}

// Key is an API key's record; APIKey (the secret) only on creation.
type Key struct {
	ID        string `json:"id"`
	APIKey    string `json:"apiKey,omitempty"`
	Name      string `json:"name"`
	Scope     string `json:"scope"`
	CreatedAt int64  `json:"createdAt"`
}

// KeyOf renders a stored key with secret ("" except on creation).
func KeyOf(k *store.APIKey, secret string) Key {
	return Key{ID: k.ID, APIKey: secret, Name: k.Name, Scope: k.Scope, CreatedAt: k.CreatedAt}
}

// SigningKey is a call-token signing key's public record.
type SigningKey struct {
	KID            string `json:"kid"`
	Algorithm      string `json:"alg"`
	CreatedAt      int64  `json:"createdAt"`
	RetiredAt      int64  `json:"retiredAt,omitempty"`
	PublishedUntil int64  `json:"publishedUntil,omitempty"`
	Active         bool   `json:"active"`
	Published      bool   `json:"published"`
}

// SigningKeyOf renders k as of now (unix seconds): a retired key stays
// published until every token it signed has expired.
func SigningKeyOf(k *store.SigningKey, now int64) SigningKey {
	return SigningKey{
		KID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, PublishedUntil: k.PublishedUntil,
		Active: k.RetiredAt == 0, Published: k.RetiredAt == 0 || now < k.PublishedUntil,
	}
}

// App is an app and its effective settings (GET and PUT /app).
type App struct {
	AppID    string      `json:"appId"`
	Name     string      `json:"name"`
	Region   string      `json:"region"`
	Settings AppSettings `json:"settings"`
}

// AppSettings are an app's settings with the defaults filled in.
type AppSettings struct {
	CORSOrigins          []string         `json:"corsOrigins"`
	AuthTokenTTL         int64            `json:"authTokenTTL"`
	AuthTokenIdleTimeout int64            `json:"authTokenIdleTimeout"`
	CallTokenTTL         int64            `json:"callTokenTTL"`
	CallGrants           store.CallGrants `json:"callGrants"`
}

// AppOf renders an app with its effective call-token lifetime (seconds)
// and grants, which the caller computes (internal/signing).
func AppOf(a *store.App, callTokenTTL int64, grants store.CallGrants) App {
	origins := a.Settings.CORSOrigins
	if origins == nil {
		origins = []string{}
	}
	return App{AppID: a.ID, Name: a.Name, Region: a.Region, Settings: AppSettings{
		CORSOrigins: origins, AuthTokenTTL: a.Settings.AuthTokenTTL,
		AuthTokenIdleTimeout: a.Settings.AuthTokenIdleTimeout,
		CallTokenTTL:         callTokenTTL, CallGrants: grants,
	}}
}

// Session is one of a user's auth tokens as the user sees it (GET
// /me/sessions): never the secret.
type Session struct {
	ID         string `json:"id"`
	Platform   string `json:"platform"`
	DeviceID   string `json:"deviceId"`
	UserAgent  string `json:"userAgent"`
	CreatedAt  int64  `json:"createdAt"`
	LastUsedAt int64  `json:"lastUsedAt"`
	ExpiresAt  int64  `json:"expiresAt"`
	Current    bool   `json:"current"`
	Connected  bool   `json:"connected"`
}

// AuditEvent is one entry of the audit log (GET /audit_events).
type AuditEvent struct {
	ID        string          `json:"id"`
	Time      int64           `json:"time"`
	AppID     string          `json:"appId"`
	Actor     AuditActor      `json:"actor"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	IP        string          `json:"ip"`
	RequestID string          `json:"requestId"`
	Details   json.RawMessage `json:"details"`
}

// AuditActor is who made an audited change: an API key (its id) or the
// offline CLI (the local user).
type AuditActor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditEventOf renders a stored event.
func AuditEventOf(e *store.AuditEvent) AuditEvent {
	d := e.Details
	if len(d) == 0 {
		d = json.RawMessage("{}")
	}
	return AuditEvent{ID: e.ID, Time: e.Time, AppID: e.AppID, Actor: AuditActor{Type: e.ActorType, ID: e.ActorID},
		Action: e.Action, Target: e.Target, IP: e.IP, RequestID: e.RequestID, Details: d}
}

// AuditActions are the actions the audit log records.
var AuditActions = []string{
	"app.update", "apikey.create", "apikey.update", "apikey.delete",
	"user.create", "user.update", "user.delete", "user.deactivate", "user.reactivate",
	"token.delete", "token.flush", "token.revoke", "signingkey.rotate",
}

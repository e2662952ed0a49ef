package calltoken

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// Audience is the "aud" of every call token.
	Audience = "callgate:call"
	// Algorithm is the JWS algorithm of every call token; no other is accepted.
	Algorithm = "EdDSA"
	// MaxTokenSize bounds the tokens Verify looks at; callgate's are well
	// under 1 KB.
	MaxTokenSize = 8 << 10
)

// Grants say what the holder of a token may do in the call.
type Grants struct {
	Join         bool `json:"join"`
	PublishAudio bool `json:"publishAudio"`
	PublishVideo bool `json:"publishVideo"`
	ScreenShare  bool `json:"screenShare"`
	Moderator    bool `json:"moderator"`
}

// Claims are the verified contents of a call token. Its JSON form is the
// token's own claims (iss, aud, sub, app, sid, name, iat, nbf, exp, jti,
// grants, tid), times in unix seconds.
type Claims struct {
	Issuer    string // iss: the callgate server's public URL
	Audience  string // aud: always Audience
	Subject   string // sub: the uid of the user
	UID       string // the same as Subject
	AppID     string // app
	SessionID string // sid: the call session the token admits to
	Name      string // name: the user's display name
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
	ID        string // jti: unique per token
	Grants    Grants
	// TokenID (tid) is the display id of the auth token that minted the
	// call token; callgate's online check uses it to see revocations.
	TokenID string
	// KeyID is the kid of the key that signed the token (from its header;
	// not part of the JSON form).
	KeyID string
}

// wire is the JSON of a token's claims as callgate writes them.
type wire struct {
	Iss    string `json:"iss"`
	Aud    string `json:"aud"`
	Sub    string `json:"sub"`
	App    string `json:"app"`
	Sid    string `json:"sid"`
	Name   string `json:"name"`
	Iat    int64  `json:"iat,omitempty"`
	Nbf    int64  `json:"nbf,omitempty"`
	Exp    int64  `json:"exp,omitempty"`
	Jti    string `json:"jti"`
	Grants Grants `json:"grants"`
	Tid    string `json:"tid"`
}

func (c *Claims) wire() wire {
	return wire{Iss: c.Issuer, Aud: c.Audience, Sub: c.Subject, App: c.AppID, Sid: c.SessionID, Name: c.Name,
		Iat: unix(c.IssuedAt), Nbf: unix(c.NotBefore), Exp: unix(c.ExpiresAt), Jti: c.ID, Grants: c.Grants, Tid: c.TokenID}
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// MarshalJSON writes the claims as the token carries them.
func (c Claims) MarshalJSON() ([]byte, error) { return json.Marshal(c.wire()) }

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Claims{Issuer: w.Iss, Audience: w.Aud, Subject: w.Sub, UID: w.Sub, AppID: w.App, SessionID: w.Sid, Name: w.Name,
		IssuedAt: fromUnix(w.Iat), NotBefore: fromUnix(w.Nbf), ExpiresAt: fromUnix(w.Exp), ID: w.Jti, Grants: w.Grants, TokenID: w.Tid}
	return nil
}

// The wire form as jwt.Claims, for signing.
func (w *wire) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.Exp, 0)), nil
}
func (w *wire) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.Iat, 0)), nil
}
func (w *wire) GetNotBefore() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.Nbf, 0)), nil
}
func (w *wire) GetIssuer() (string, error)             { return w.Iss, nil }
func (w *wire) GetSubject() (string, error)            { return w.Sub, nil }
func (w *wire) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings{w.Aud}, nil }

// Sign returns c as a call token signed with key, its header naming kid.
// Audience is filled in when c leaves it empty. callgate signs its tokens
// with it; tests of a media server can mint their own with it.
func Sign(key ed25519.PrivateKey, kid string, c *Claims) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", errors.New("calltoken: Sign needs an Ed25519 private key")
	}
	w := c.wire()
	if w.Aud == "" {
		w.Aud = Audience
	}
	if w.Sub == "" && c.UID != "" {
		w.Sub = c.UID
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &w)
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// ---- errors

var (
	// ErrInvalid: the token is not a valid call token — malformed, not
	// EdDSA, a bad signature, an unknown key, the wrong audience or app, not
	// yet valid, or missing a claim. The message says which.
	ErrInvalid = errors.New("calltoken: invalid call token")
	// ErrExpired: the token was valid but has expired (beyond the leeway).
	ErrExpired = errors.New("calltoken: call token expired")
	// ErrUnknownKey: no key of the key set has the token's kid, even after
	// a refetch (or a refetch was not allowed yet). It is also ErrInvalid.
	ErrUnknownKey error = &kindError{msg: "calltoken: unknown signing key", parent: ErrInvalid}
	// ErrKeysUnavailable: the key set could not be fetched, so the token
	// could not be checked. It is neither ErrInvalid nor ErrExpired: retry.
	ErrKeysUnavailable = errors.New("calltoken: the signing keys could not be fetched")
)

// kindError is a sentinel that is also another (ErrUnknownKey is ErrInvalid).
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.parent }

// Error is what Verify and Parse return: a kind (ErrInvalid, ErrExpired,
// ErrUnknownKey, ErrKeysUnavailable; match it with errors.Is) and why.
type Error struct {
	Kind   error
	Reason string
	Err    error // the underlying cause, if any
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Reason
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func invalid(format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Reason: fmt.Sprintf(format, args...)}
}

package calltoken

import (
	"crypto/ed25519"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the options.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultMinRefetchInterval = 30 * time.Second
	// DefaultKeySetTTL is how long a key set is used when its answer
	// carries no Cache-Control max-age.
	DefaultKeySetTTL = 5 * time.Minute
)

// Option configures a Verifier (and Parse, which uses the options about
// checking a token: WithAppID, WithIssuer, WithLeeway, WithClock).
type Option func(*options)

type options struct {
	hc         *http.Client
	appID      string
	issuer     string
	leeway     time.Duration
	minRefetch time.Duration
	now        func() time.Time
}

func newOptions(opts []Option) options {
	o := options{leeway: DefaultLeeway, minRefetch: DefaultMinRefetchInterval, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.hc == nil {
		o.hc = &http.Client{Timeout: 10 * time.Second}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.leeway < 0 {
		o.leeway = 0
	}
	if o.minRefetch < 0 {
		o.minRefetch = 0
	}
	return o
}

// WithHTTPClient sets the client that fetches the key set (default: one
// with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.hc = c } }

// WithAppID accepts only tokens of this app (the "app" claim). Without it
// tokens of every app of the server verify: check Claims.AppID yourself.
func WithAppID(appID string) Option { return func(o *options) { o.appID = appID } }

// WithIssuer accepts only tokens whose "iss" is iss (the server's public
// URL). By default the issuer is not checked: the key set already names
// the server.
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = iss } }

// WithLeeway sets the clock skew allowed on exp, nbf and iat (default 30 s).
func WithLeeway(d time.Duration) Option { return func(o *options) { o.leeway = d } }

// WithMinRefetchInterval sets the floor between two fetches of the key set
// (default 30 s). A token with an unknown kid makes the Verifier refetch,
// but never sooner than this after the previous fetch, so a flood of
// tokens with made-up kids cannot flood the server.
func WithMinRefetchInterval(d time.Duration) Option { return func(o *options) { o.minRefetch = d } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// KeyFunc returns the public key named kid, or an error (an *Error with
// Kind ErrUnknownKey when there is none).
type KeyFunc func(kid string) (ed25519.PublicKey, error)

// Parse verifies token with the keys keyFunc gives and returns its claims.
// It is what a Verifier does with its cached key set; use it when the keys
// come from elsewhere. Errors are *Error, matching ErrInvalid, ErrExpired,
// ErrUnknownKey or ErrKeysUnavailable with errors.Is.
func Parse(token string, keyFunc KeyFunc, opts ...Option) (*Claims, error) {
	return parse(token, keyFunc, newOptions(opts))
}

// parsed receives the claims of a token; it accepts what any JWT may
// carry (aud as a string or a list, fractional times) and checks the rest.
type parsed struct {
	Iss    string           `json:"iss"`
	Aud    jwt.ClaimStrings `json:"aud"`
	Sub    string           `json:"sub"`
	App    string           `json:"app"`
	Sid    string           `json:"sid"`
	Name   string           `json:"name"`
	Iat    *jwt.NumericDate `json:"iat"`
	Nbf    *jwt.NumericDate `json:"nbf"`
	Exp    *jwt.NumericDate `json:"exp"`
	Jti    string           `json:"jti"`
	Grants Grants           `json:"grants"`
	Tid    string           `json:"tid"`

	wantApp, wantIss string
}

func (p *parsed) GetExpirationTime() (*jwt.NumericDate, error) { return p.Exp, nil }
func (p *parsed) GetIssuedAt() (*jwt.NumericDate, error)       { return p.Iat, nil }
func (p *parsed) GetNotBefore() (*jwt.NumericDate, error)      { return p.Nbf, nil }
func (p *parsed) GetIssuer() (string, error)                   { return p.Iss, nil }
func (p *parsed) GetSubject() (string, error)                  { return p.Sub, nil }
func (p *parsed) GetAudience() (jwt.ClaimStrings, error)       { return p.Aud, nil }

// errClaim marks a claim check of ours (a leaf that is not "expired").
var errClaim = errors.New("bad claim")

// Validate runs with the library's checks (jwt.ClaimsValidator), so a
// token that is both expired and of the wrong app is invalid, not expired.
func (p *parsed) Validate() error {
	var errs []error
	for _, c := range []struct{ name, v string }{{"sub", p.Sub}, {"app", p.App}, {"sid", p.Sid}} {
		if c.v == "" {
			errs = append(errs, claimErr("the "+c.name+" claim is missing"))
		}
	}
	if p.wantApp != "" && p.App != p.wantApp {
		errs = append(errs, claimErr("the token is for app "+quote(p.App)+", not "+quote(p.wantApp)))
	}
	if p.wantIss != "" && p.Iss != p.wantIss {
		errs = append(errs, claimErr("the token was issued by "+quote(p.Iss)+", not "+quote(p.wantIss)))
	}
	return errors.Join(errs...)
}

func claimErr(msg string) error { return &claimError{msg} }

type claimError struct{ msg string }

func (e *claimError) Error() string { return e.msg }
func (e *claimError) Unwrap() error { return errClaim }

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + s + `"`
}

func parse(token string, keyFunc KeyFunc, o options) (*Claims, error) {
	if token == "" {
		return nil, invalid("the token is empty")
	}
	if len(token) > MaxTokenSize {
		return nil, invalid("the token is longer than %d bytes", MaxTokenSize)
	}
	// Base64url and dots only. Go's base64 decoder skips CR and LF even in
	// strict mode, so a token with line breaks in its signature (or after
	// it) verified: one signed token had any number of spellings.
	for i := 0; i < len(token); i++ {
		if c := token[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return nil, invalid("the token holds a byte that is not base64url or a dot (%q at %d)", c, i)
		}
	}
	p := &parsed{wantApp: o.appID, wantIss: o.issuer}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{Algorithm}), // pinned: never none, never HS256 with the public key
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(o.leeway),
		jwt.WithTimeFunc(o.now),
		jwt.WithStrictDecoding(), // one encoding per signature: no malleable base64
	)
	var kid string
	tok, err := parser.ParseWithClaims(token, p, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, invalid("the header names no key (kid)")
		}
		return keyFunc(kid)
	})
	if err != nil {
		return nil, classify(err, p)
	}
	if !tok.Valid {
		return nil, invalid("the token did not verify")
	}
	c := &Claims{
		Issuer: p.Iss, Audience: Audience, Subject: p.Sub, UID: p.Sub, AppID: p.App, SessionID: p.Sid, Name: p.Name,
		ExpiresAt: p.Exp.Time, ID: p.Jti, Grants: p.Grants, TokenID: p.Tid, KeyID: kid,
	}
	if p.Iat != nil {
		c.IssuedAt = p.Iat.Time
	}
	if p.Nbf != nil {
		c.NotBefore = p.Nbf.Time
	}
	return c, nil
}

// classify turns the library's error into ours. A token is expired only
// when expiry is the one thing wrong with it.
func classify(err error, p *parsed) error {
	var e *Error
	if errors.As(err, &e) {
		return e // from the key lookup
	}
	var ls []error
	leaves(err, &ls)
	expired, other := false, false
	for _, l := range ls {
		switch {
		case errors.Is(l, jwt.ErrTokenInvalidClaims):
			// the wrapper of claim errors, not a reason of its own
		case errors.Is(l, jwt.ErrTokenExpired):
			expired = true
		default:
			other = true
		}
	}
	if expired && !other {
		reason := "the token has expired"
		if p.Exp != nil {
			reason = "the token expired at " + p.Exp.Time.UTC().Format(time.RFC3339)
		}
		return &Error{Kind: ErrExpired, Reason: reason, Err: err}
	}
	return &Error{Kind: ErrInvalid, Reason: err.Error(), Err: err}
}

// leaves collects the errors at the bottom of err's tree.
func leaves(err error, out *[]error) {
	switch x := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			leaves(e, out)
		}
	case *claimError:
		*out = append(*out, err)
	case interface{ Unwrap() error }:
		if u := x.Unwrap(); u != nil {
			leaves(u, out)
		} else {
			*out = append(*out, err)
		}
	default:
		*out = append(*out, err)
	}
}

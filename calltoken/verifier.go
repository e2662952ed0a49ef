package calltoken

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// JWK is one public key of a key set (RFC 7517; OKP keys, RFC 8037).
type JWK struct {
	Kty string `json:"kty"`           // "OKP"
	Crv string `json:"crv"`           // "Ed25519"
	X   string `json:"x"`             // the public key, base64url without padding
	Kid string `json:"kid"`           // the key's id, as in the tokens' header
	Use string `json:"use,omitempty"` // "sig"
	Alg string `json:"alg,omitempty"` // "EdDSA"
}

// JWKS is a key set: what /.well-known/jwks.json serves.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes an Ed25519 public key as callgate publishes it.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: kid, Use: "sig", Alg: Algorithm}
}

// Ed25519 returns the key of an OKP/Ed25519 signing JWK, or an error for
// any other kind of key.
func (k JWK) Ed25519() (ed25519.PublicKey, error) {
	if k.Kty != "OKP" || k.Crv != "Ed25519" {
		return nil, fmt.Errorf("key %q is %s/%s, not OKP/Ed25519", k.Kid, k.Kty, k.Crv)
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("key %q is for %q, not sig", k.Kid, k.Use)
	}
	if k.Alg != "" && k.Alg != Algorithm {
		return nil, fmt.Errorf("key %q is for %q, not %s", k.Kid, k.Alg, Algorithm)
	}
	x, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.X, "="))
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %q: x is not a base64url Ed25519 public key", k.Kid)
	}
	return ed25519.PublicKey(x), nil
}

// maxKeySet bounds the key set the Verifier reads.
const maxKeySet = 16 << 20

// maxKeySetTTL caps a Cache-Control max-age.
const maxKeySetTTL = 24 * time.Hour

// Verifier verifies call tokens offline against a server's key set, which
// it fetches on first use and caches: it refetches when the cache expires
// (the answer's Cache-Control max-age, else DefaultKeySetTTL) and when a
// token names a kid it does not know — never more often than the minimum
// refetch interval. If a refetch fails it goes on with the keys it has.
// A Verifier is safe for concurrent use.
type Verifier struct {
	url    string
	urlErr error
	o      options

	fetchMu sync.Mutex // one fetch at a time; waiters then use its result

	mu          sync.RWMutex
	keys        map[string]ed25519.PublicKey
	loaded      bool      // a fetch has succeeded
	attempted   bool      // a fetch has been tried
	lastAttempt time.Time // when (by the Verifier's clock)
	expires     time.Time // when the key set must be refetched
	etag        string
	fetches     int
}

// NewVerifier returns a Verifier of the key set at jwksURL, e.g.
// https://callgate.example.com/.well-known/jwks.json. It fetches nothing
// until the first Verify (or Refresh); a bad URL is reported there.
func NewVerifier(jwksURL string, opts ...Option) *Verifier {
	v := &Verifier{url: jwksURL, o: newOptions(opts), keys: map[string]ed25519.PublicKey{}}
	if u, err := url.Parse(jwksURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.urlErr = fmt.Errorf("the JWKS URL %q is not an http(s) URL", jwksURL)
	}
	return v
}

// Verify checks token — its EdDSA signature by a key of the key set, aud
// "callgate:call", exp and nbf (with the leeway), the app when WithAppID
// was given — and returns its claims. Errors are *Error: errors.Is(err,
// ErrExpired) for an expired token, ErrInvalid for any other bad token
// (ErrUnknownKey, a kind of ErrInvalid, when no key has its kid), and
// ErrKeysUnavailable when the key set could not be fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return parse(token, func(kid string) (ed25519.PublicKey, error) { return v.key(ctx, kid) }, v.o)
}

// Refresh fetches the key set now, whatever the cache and the refetch
// floor say (e.g. to fail fast at startup).
func (v *Verifier) Refresh(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	return v.fetch(ctx)
}

// Fetches reports how many times the key set was fetched (successfully or not).
func (v *Verifier) Fetches() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.fetches
}

func (v *Verifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	now := v.o.now()
	v.mu.RLock()
	k, ok := v.keys[kid]
	fresh := v.loaded && now.Before(v.expires)
	v.mu.RUnlock()
	if ok && fresh {
		return k, nil
	}

	// The cache is stale, empty, or lacks kid: refetch, one caller at a
	// time; the others wait and use what it fetched.
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	now = v.o.now()
	v.mu.RLock()
	k, ok = v.keys[kid]
	fresh = v.loaded && now.Before(v.expires)
	allowed := !v.attempted || now.Sub(v.lastAttempt) >= v.o.minRefetch
	v.mu.RUnlock()
	if ok && fresh {
		return k, nil
	}
	var ferr error
	if allowed {
		if ferr = v.fetch(ctx); ferr == nil {
			v.mu.RLock()
			k, ok = v.keys[kid]
			v.mu.RUnlock()
		}
	}
	switch {
	case ok:
		return k, nil // fresh, or stale while a refetch is not allowed or failed
	case ferr != nil:
		return nil, ferr
	}
	v.mu.RLock()
	loaded := v.loaded
	v.mu.RUnlock()
	if !loaded {
		return nil, &Error{Kind: ErrKeysUnavailable, Reason: "no key set fetched yet; the next fetch is allowed " + v.o.minRefetch.String() + " after the failed one"}
	}
	reason := fmt.Sprintf("no key %s in the key set of %s", quote(kid), v.url)
	if !allowed {
		reason += " (fetched less than " + v.o.minRefetch.String() + " ago, not refetched)"
	}
	return nil, &Error{Kind: ErrUnknownKey, Reason: reason}
}

// fetch loads the key set; the caller holds fetchMu.
func (v *Verifier) fetch(ctx context.Context) error {
	if v.urlErr != nil {
		return &Error{Kind: ErrKeysUnavailable, Reason: v.urlErr.Error()}
	}
	started := v.o.now()
	keys, ttl, etag, notModified, err := v.get(ctx)
	if err != nil && ctx.Err() != nil {
		// The caller gave up: that says nothing about the server, so it
		// does not count against the refetch floor.
		return &Error{Kind: ErrKeysUnavailable, Reason: err.Error(), Err: ctx.Err()}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.attempted, v.lastAttempt = true, started
	v.fetches++
	if err != nil {
		return &Error{Kind: ErrKeysUnavailable, Reason: err.Error(), Err: err}
	}
	if !notModified {
		v.keys, v.etag = keys, etag
	}
	v.loaded = true
	v.expires = started.Add(ttl)
	return nil
}

func (v *Verifier) get(ctx context.Context) (keys map[string]ed25519.PublicKey, ttl time.Duration, etag string, notModified bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, 0, "", false, err
	}
	req.Header.Set("Accept", "application/json")
	v.mu.RLock()
	if v.loaded && v.etag != "" {
		req.Header.Set("If-None-Match", v.etag)
	}
	v.mu.RUnlock()
	resp, err := v.o.hc.Do(req)
	if err != nil {
		return nil, 0, "", false, fmt.Errorf("fetch %s: %w", v.url, err)
	}
	defer resp.Body.Close()
	ttl = cacheTTL(resp.Header.Get("Cache-Control"))
	if resp.StatusCode == http.StatusNotModified {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, ttl, "", true, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, "", false, fmt.Errorf("fetch %s: HTTP %d", v.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySet+1))
	if err != nil {
		return nil, 0, "", false, fmt.Errorf("fetch %s: %w", v.url, err)
	}
	if len(body) > maxKeySet {
		return nil, 0, "", false, fmt.Errorf("fetch %s: the key set is larger than %d bytes", v.url, maxKeySet)
	}
	keys, ok := decodeKeySet(body)
	if !ok {
		return nil, 0, "", false, fmt.Errorf("fetch %s: not a JWK set", v.url)
	}
	return keys, ttl, resp.Header.Get("ETag"), false, nil
}

// decodeKeySet reads the Ed25519 signing keys of a JWK set by kid; ok is
// false when body is not a JWK set at all.
func decodeKeySet(body []byte) (keys map[string]ed25519.PublicKey, ok bool) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || set.Keys == nil {
		return nil, false
	}
	keys = make(map[string]ed25519.PublicKey, len(set.Keys))
	dup := map[string]bool{}
	for _, raw := range set.Keys {
		var k JWK
		if json.Unmarshal(raw, &k) != nil || k.Kid == "" {
			continue
		}
		pub, err := k.Ed25519()
		if err != nil {
			continue // a kind of key we do not use
		}
		if old, seen := keys[k.Kid]; seen && !old.Equal(pub) {
			dup[k.Kid] = true // two keys under one kid: trust neither
		}
		keys[k.Kid] = pub
	}
	for kid := range dup {
		delete(keys, kid)
	}
	return keys, true
}

// cacheTTL reads how long a key set may be used from Cache-Control.
func cacheTTL(cc string) time.Duration {
	ttl := DefaultKeySetTTL
	for _, d := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			// Compared in seconds: a large max-age times time.Second
			// overflows to a negative duration.
			ttl = time.Duration(min(n, int64(maxKeySetTTL/time.Second))) * time.Second
		}
	}
	return ttl
}

package signing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// Algorithm is the JWS algorithm of every signing key.
const Algorithm = "EdDSA"

const (
	// DefaultTTL is the lifetime of a call token when the app sets none.
	DefaultTTL = time.Hour
	// MaxTTL caps the app setting callTokenTTL.
	MaxTTL = 24 * time.Hour
	// DefaultLeeway is the clock skew allowed when verifying call tokens.
	DefaultLeeway = 30 * time.Second
	// PropagationMargin bounds how long a node may keep signing with a key
	// after a rotation made elsewhere (another node, the offline CLI): the
	// server caches an app's active key this long.
	PropagationMargin = 30 * time.Second
)

// TTL is the lifetime of the app's call tokens: its callTokenTTL setting,
// capped at MaxTTL, or DefaultTTL.
func TTL(app *store.App) time.Duration {
	s := app.Settings.CallTokenTTL
	if s <= 0 {
		return DefaultTTL
	}
	if s >= int64(MaxTTL/time.Second) {
		return MaxTTL
	}
	return time.Duration(s) * time.Second
}

// Grants are the grants of the app's call tokens.
func Grants(app *store.App) store.CallGrants {
	if g := app.Settings.CallGrants; g != nil {
		return *g
	}
	return store.DefaultCallGrants
}

// PublishedUntil is how long a key retired at rotatedAt must stay
// published: until the last token it can have signed has expired and the
// verifiers' leeway has passed. A token signed just before the rotation
// lives TTL; one signed by a node that had not yet heard of the rotation
// was signed at most PropagationMargin later.
func PublishedUntil(app *store.App, rotatedAt time.Time, leeway time.Duration) int64 {
	if leeway < 0 {
		leeway = 0
	}
	d := TTL(app) + leeway + PropagationMargin
	return rotatedAt.Unix() + int64((d+time.Second-1)/time.Second)
}

// KeyID is the kid of a public key: its JWK thumbprint (RFC 7638, SHA-256),
// so a kid names one key everywhere and anyone can recompute it.
func KeyID(pub ed25519.PublicKey) string {
	// The thumbprint is the hash of the required members in lexical order,
	// without whitespace (RFC 7638 §3.2; RFC 8037 §2 for OKP).
	h := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Signer is an opened signing key: what signs an app's tokens.
type Signer struct {
	KID   string
	AppID string
	Key   ed25519.PrivateKey
}

// Generate makes a new key pair for appID, created at now, with its private
// half sealed by kr (raw when kr is nil).
func Generate(appID string, now time.Time, kr *Keyring) (*store.SigningKey, *Signer, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	kid := KeyID(pub)
	sealed, err := kr.seal(kid, priv.Seed())
	if err != nil {
		return nil, nil, err
	}
	rec := &store.SigningKey{
		ID: kid, AppID: appID, Algorithm: Algorithm,
		PublicKey: pub, Private: sealed, CreatedAt: now.Unix(),
	}
	return rec, &Signer{KID: kid, AppID: appID, Key: priv}, nil
}

// Open unseals a stored key. It checks that the private half belongs to
// the public one, so a row that was tampered with cannot sign.
func Open(k *store.SigningKey, kr *Keyring) (*Signer, error) {
	if k.Algorithm != Algorithm {
		return nil, fmt.Errorf("signing key %s: unsupported algorithm %q", k.ID, k.Algorithm)
	}
	seed, err := kr.open(k.ID, k.Private)
	if err != nil {
		return nil, fmt.Errorf("signing key %s of app %s: %w", k.ID, k.AppID, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key %s of app %s: bad private key length", k.ID, k.AppID)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(k.PublicKey)) {
		return nil, fmt.Errorf("signing key %s of app %s: the private key does not match the public key", k.ID, k.AppID)
	}
	return &Signer{KID: k.ID, AppID: k.AppID, Key: priv}, nil
}

// Active returns the app's active signer, creating the app's first key
// when it has none. Concurrent first uses (several nodes) create one key:
// the others use the winner's.
func Active(ctx context.Context, st store.Store, kr *Keyring, appID string, now time.Time) (*Signer, error) {
	for attempt := 0; ; attempt++ {
		k, err := st.ActiveSigningKey(ctx, appID)
		if err == nil {
			return Open(k, kr)
		}
		if !errors.Is(err, store.ErrNotFound) || attempt > 0 {
			return nil, err
		}
		rec, signer, err := Generate(appID, now, kr)
		if err != nil {
			return nil, err
		}
		err = st.CreateSigningKey(ctx, rec)
		if err == nil {
			return signer, nil
		}
		if !errors.Is(err, store.ErrAlreadyExists) {
			return nil, err
		}
		// Another node created the app's first key: use it.
	}
}

// Rotate makes a new active key for app; the key it replaces is retired and
// stays published until PublishedUntil. It also removes keys whose
// publication ended. A database whose keys are encrypted is never given a
// raw key: without kr it refuses (ErrMasterKeyRequired).
func Rotate(ctx context.Context, st store.Store, kr *Keyring, app *store.App, now time.Time, leeway time.Duration) (active, retired *store.SigningKey, err error) {
	if !kr.Encrypts() {
		cur, err := st.ActiveSigningKey(ctx, app.ID)
		if err == nil && Encrypted(cur.Private) {
			return nil, nil, ErrMasterKeyRequired
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
	}
	rec, _, err := Generate(app.ID, now, kr)
	if err != nil {
		return nil, nil, err
	}
	retired, err = st.RotateSigningKey(ctx, rec, PublishedUntil(app, now, leeway))
	if err != nil {
		return nil, nil, err
	}
	// Housekeeping: keys nobody can need any more. A failure only means
	// they are removed at the next rotation.
	st.DeleteExpiredSigningKeys(ctx, now.Unix())
	pub := *rec
	pub.Private = nil
	return &pub, retired, nil
}

// EnsureAll creates a key for every app that has none, so the JWKS lists
// an app's key before its first token is minted (a verifier that fetched
// the key set earlier need not wait for its refetch floor). It returns how
// many keys it created.
func EnsureAll(ctx context.Context, st store.Store, kr *Keyring, now time.Time) (int, error) {
	apps, err := st.ListApps(ctx)
	if err != nil {
		return 0, err
	}
	published, err := st.ListPublishedSigningKeys(ctx, now.Unix())
	if err != nil {
		return 0, err
	}
	has := make(map[string]bool, len(published))
	for _, k := range published {
		if k.RetiredAt == 0 {
			has[k.AppID] = true
		}
	}
	created := 0
	for _, a := range apps {
		if has[a.ID] {
			continue
		}
		rec, _, err := Generate(a.ID, now, kr)
		if err != nil {
			return created, err
		}
		switch err := st.CreateSigningKey(ctx, rec); {
		case err == nil:
			created++
		case errors.Is(err, store.ErrAlreadyExists), errors.Is(err, store.ErrNotFound):
			// Another node was first, or the app went away meanwhile.
		default:
			return created, err
		}
	}
	return created, nil
}

// Check opens the active keys of up to limit apps with kr, so a server
// started without its master key (or with another one) fails at start
// rather than at its first call token: ErrMasterKeyRequired or
// ErrWrongMasterKey.
func Check(ctx context.Context, st store.Store, kr *Keyring, limit int) error {
	apps, err := st.ListApps(ctx)
	if err != nil {
		return err
	}
	checked := 0
	for _, a := range apps {
		if checked >= limit {
			break
		}
		k, err := st.ActiveSigningKey(ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		checked++
		if _, err := Open(k, kr); err != nil {
			return err
		}
	}
	return nil
}

package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
)

// MaxAPIKeys is the per-app key limit.
const MaxAPIKeys = 25

// NewAppID returns a random app id in the hosted service's style (16 hex).
func NewAppID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateApp creates an app; id "" picks a random one.
func CreateApp(ctx context.Context, st store.Store, id, name, region string, now time.Time) (*store.App, error) {
	if id == "" {
		id = NewAppID()
	}
	if !credential.ValidAppID(id) {
		return nil, fmt.Errorf("app id %q: use 1–64 characters of a-z, 0-9 and -", id)
	}
	if !credential.ValidRegion(region) {
		return nil, fmt.Errorf("region %q: use 1–32 characters of a-z, 0-9 and - (us, eu, in)", region)
	}
	if name == "" {
		name = id
	}
	a := &store.App{ID: id, Name: name, Region: region, CreatedAt: now.Unix()}
	if err := st.CreateApp(ctx, a); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, fmt.Errorf("app %q already exists: %w", id, err)
		}
		return nil, err
	}
	return a, nil
}

// ValidScope reports whether s is a key scope.
func ValidScope(s string) bool { return s == store.ScopeAuthOnly || s == store.ScopeFullAccess }

// CreateAPIKey creates a key and returns its secret, which is shown once and
// never stored.
func CreateAPIKey(ctx context.Context, st store.Store, appID, name, scope string, now time.Time) (string, *store.APIKey, error) {
	if !ValidScope(scope) {
		return "", nil, fmt.Errorf("scope %q: want authOnly or fullAccess", scope)
	}
	secret, hash := credential.NewAPIKey()
	k := &store.APIKey{ID: credential.NewID("key"), AppID: appID, Name: name, Scope: scope, Hash: hash, CreatedAt: now.Unix()}
	if err := st.CreateAPIKey(ctx, k, MaxAPIKeys); err != nil {
		return "", nil, err
	}
	return secret, k, nil
}

// NewAuthToken builds a token record for uid and returns its secret.
func NewAuthToken(app *store.App, uid string, now time.Time) (string, *store.AuthToken) {
	secret, hash := credential.NewToken(uid, now)
	t := &store.AuthToken{Hash: hash, ID: credential.NewID("tok"), AppID: app.ID, UID: uid, CreatedAt: now.Unix()}
	if app.Settings.AuthTokenTTL > 0 {
		t.ExpiresAt = now.Unix() + app.Settings.AuthTokenTTL
	}
	return secret, t
}

package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
)

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, kind authKind, c *call) error {
	switch kind {
	case authKeyAny, authKeyFull:
		return s.authKey(r, kind, c)
	case authToken:
		return s.authToken(r, r.Header.Get("authToken"), c)
	}
	return nil
}

// appIDFrom names the app: the appId header, else the first label of a Host
// name of at least three labels ({appId}.api-us.example.com) — never an IP
// literal or localhost.
func appIDFrom(r *http.Request) string {
	if id := strings.TrimSpace(r.Header.Get("appId")); id != "" {
		return strings.ToLower(id)
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	labels := strings.Split(host, ".")
	if len(labels) < 3 || strings.EqualFold(labels[len(labels)-1], "localhost") {
		return ""
	}
	return strings.ToLower(labels[0])
}

// lookupApp returns the named app or AUTH_ERR_INVALID_APPID (counted as a
// failed authentication).
func (s *Server) lookupApp(r *http.Request, appID string) (*store.App, error) {
	if !credential.ValidAppID(appID) {
		return nil, s.authFailed(r, apierr.New(apierr.InvalidAppID).With("appId", sanitize(appID)))
	}
	app, err := s.getApp(r.Context(), appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.authFailed(r, apierr.New(apierr.InvalidAppID).With("appId", appID))
	}
	return app, err
}

func (s *Server) authKey(r *http.Request, kind authKind, c *call) error {
	appID := appIDFrom(r)
	if appID == "" {
		return apierr.New(apierr.EmptyAppID)
	}
	app, err := s.lookupApp(r, appID)
	if err != nil {
		return err
	}
	c.app = app
	secret := strings.TrimSpace(r.Header.Get("apiKey"))
	if secret == "" {
		return apierr.New(apierr.EmptyAPIKey)
	}
	hash := credential.Hash(secret)
	key, err := s.cachedAPIKey(r.Context(), app.ID, hash)
	if errors.Is(err, store.ErrNotFound) || err == nil && !credential.Equal(key.Hash, hash) {
		return s.authFailed(r, apierr.New(apierr.APIKeyNotFound).With("appId", app.ID))
	}
	if err != nil {
		return err
	}
	if kind == authKeyFull && key.Scope != store.ScopeFullAccess {
		return apierr.New(apierr.NoAccess)
	}
	c.key = key
	return nil
}

// authToken authenticates a client API call. The appId is optional: the
// token names its app, and a token of another app than the one named is
// treated as unknown.
func (s *Server) authToken(r *http.Request, token string, c *call) error {
	var app *store.App
	if appID := appIDFrom(r); appID != "" {
		var err error
		if strings.TrimSpace(r.Header.Get("appId")) != "" {
			if app, err = s.lookupApp(r, appID); err != nil {
				return err
			}
		} else if app, err = s.getApp(r.Context(), appID); errors.Is(err, store.ErrNotFound) {
			// Without an appId header a Host label is only a guess (the
			// server's own name, callgate.example.com, names no app): the
			// token names its app, as docs/design.md "Wire format: the
			// decisions" says for the client API.
			app = nil
		} else if err != nil {
			return err
		}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return apierr.New(apierr.EmptyAuthToken)
	}
	tok, user, err := s.session(r.Context(), token)
	if errors.Is(err, store.ErrNotFound) || err == nil && app != nil && tok.AppID != app.ID {
		return s.authFailed(r, apierr.New(apierr.AuthTokenNotFound))
	}
	if err != nil {
		return err
	}
	if app == nil {
		if app, err = s.getApp(r.Context(), tok.AppID); err != nil {
			return err
		}
	}
	if s.idle(app, tok) {
		return s.authFailed(r, apierr.New(apierr.AuthTokenNotFound))
	}
	s.touch.mark(tok, s.now().Unix())
	c.app, c.tok, c.user, c.token = app, tok, user, token
	return nil
}

// idle reports whether tok went unused longer than its app's idle timeout
// (docs/sessions.md "Idle timeout"). lastUsedAt is stamped to the minute
// (by this node's requests, every node's in the store, and each minute for
// tokens with a live connection), so a token dies between the timeout and a
// minute after it; one connected to this node is in use.
func (s *Server) idle(app *store.App, tok *store.AuthToken) bool {
	timeout := app.Settings.AuthTokenIdleTimeout
	if timeout <= 0 {
		return false
	}
	now := s.now().Unix()
	used := max(tok.LastUsedAt, tok.CreatedAt, s.touch.stampedAt(tok.Hash))
	if now-used < timeout+lastUsedResolution {
		return false
	}
	if s.hub != nil && s.hub.TokenConnected(tok.Hash) {
		return false
	}
	// The cached copy may be older than another node's stamp: ask the store.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if fresh, _, err := s.st.GetSession(ctx, tok.Hash); err == nil {
		used = max(used, fresh.LastUsedAt)
	} else if !errors.Is(err, store.ErrNotFound) {
		return false // cannot tell: not a reason to end a session
	}
	return now-used >= timeout+lastUsedResolution
}

// session resolves a plaintext token to a session: known, unexpired, of an
// active user (authToken adds the app's checks).
func (s *Server) session(ctx context.Context, token string) (*store.AuthToken, *store.User, error) {
	hash, ok := credential.TokenKey(token)
	if !ok {
		return nil, nil, store.ErrNotFound // not a token's shape: no lookup needed
	}
	tok, user, err := s.sessions.get(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	if !credential.Equal(tok.Hash, hash) || user.DeactivatedAt != 0 || tok.ExpiresAt > 0 && s.now().Unix() >= tok.ExpiresAt {
		return nil, nil, store.ErrNotFound
	}
	return tok, user, nil
}

// authFailed counts a failed authentication against the client's address;
// once its bucket is empty, failures are answered 429 instead.
//
// Only failures are limited: a request whose credentials are valid is never
// refused here, even from an address that is over its limit. Behind a NAT
// or a proxy, refusing everyone from the address would let one client lock
// out all the others by sending a bad key a second. Keys and tokens carry
// at least 160 random bits, so the limit is about the cost of failed
// lookups and the noise they make, not about guessing.
func (s *Server) authFailed(r *http.Request, e *apierr.Error) error {
	s.metrics.authFailures.WithLabelValues(string(e.Code)).Inc()
	ip, now := clientIP(r), s.now()
	if err := s.failLimit.blocked(ip, now); err != nil {
		s.metrics.rateLimited.WithLabelValues("failed_auth").Inc()
		return err
	}
	s.failLimit.spend(ip, now)
	return e
}

// sanitize keeps client-supplied text that is echoed in messages short and printable.
func sanitize(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

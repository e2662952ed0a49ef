package server

// Call tokens (docs/call-tokens.md): POST /call_tokens mints a JWT signed
// with the app's Ed25519 key, GET /call_tokens verifies one online
// (revocation included). The keys, and the JWKS that publishes them for
// offline verifiers, are in signingkeys.go.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/callgate/callgate/calltoken"
	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
)

// ---- POST /call_tokens

type callTokenJSON struct {
	Token     string `json:"token"`
	SessionID string `json:"sessionId"`
	ExpiresAt int64  `json:"expiresAt"`
}

func (s *Server) createCallToken(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		SessionID *string `json:"sessionId"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	var v validator
	sid := v.sessionID(req.SessionID)
	if err := v.result(); err != nil {
		return err
	}
	sg, err := s.ct.signer(r.Context(), s.st, c.app.ID)
	if err != nil {
		return err
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(signing.TTL(c.app))
	if c.tok.ExpiresAt > 0 && exp.Unix() > c.tok.ExpiresAt {
		// A call token dies with the auth token that minted it; offline
		// verifiers only see exp.
		exp = time.Unix(c.tok.ExpiresAt, 0)
	}
	g := signing.Grants(c.app)
	claims := &calltoken.Claims{
		Issuer:    s.issuer(r),
		Audience:  calltoken.Audience,
		Subject:   c.user.UID,
		AppID:     c.app.ID,
		SessionID: sid,
		Name:      c.user.Name,
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: exp,
		ID:        newJTI(),
		Grants: calltoken.Grants{Join: g.Join, PublishAudio: g.PublishAudio, PublishVideo: g.PublishVideo,
			ScreenShare: g.ScreenShare, Moderator: g.Moderator},
		TokenID: c.tok.ID,
	}
	token, err := calltoken.Sign(sg.Key, sg.KID, claims)
	if err != nil {
		return err
	}
	s.ct.minted.Inc()
	writeData(w, callTokenJSON{Token: token, SessionID: sid, ExpiresAt: exp.Unix()})
	return nil
}

// issuer is the iss of call tokens: the configured public URL, else the
// address the client used.
func (s *Server) issuer(r *http.Request) string {
	if s.ct.issuer != "" {
		return s.ct.issuer
	}
	return "http://" + r.Host
}

func newJTI() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ---- GET /call_tokens

// callTokenError is a rejected call token; reason goes to details.
func callTokenError(code apierr.Code, reason string) *apierr.Error {
	e := apierr.New(code)
	if reason != "" {
		e.SetDetails("reason", sanitize(reason))
	}
	return e
}

func (s *Server) verifyCallToken(w http.ResponseWriter, r *http.Request, _ *call) error {
	claims, err := s.checkCallToken(r)
	result := "valid"
	if err != nil {
		result = "error"
		var e *apierr.Error
		if errors.As(err, &e) {
			result = strings.ToLower(strings.TrimPrefix(string(e.Code), "ERR_CALL_TOKEN_"))
		}
	}
	s.ct.verified.WithLabelValues(result).Inc()
	if err != nil {
		return err
	}
	info(r.Context()).appID = claims.AppID
	if r.Header.Get("Origin") != "" {
		app, err := s.getApp(r.Context(), claims.AppID)
		if err != nil {
			return err
		}
		if err := checkOrigin(r, app); err != nil {
			return err
		}
	}
	writeData(w, claims)
	return nil
}

func (s *Server) checkCallToken(r *http.Request) (*calltoken.Claims, error) {
	ctx := r.Context()
	token := strings.TrimSpace(r.Header.Get("callToken"))
	if token == "" {
		return nil, callTokenError(apierr.CallTokenInvalid, "the callToken header is missing")
	}
	opts := []calltoken.Option{calltoken.WithLeeway(s.ct.leeway), calltoken.WithClock(s.now)}
	// The app is named as on the client API: the appId header, or else a
	// Host label that names an existing app (a label that names none is the
	// server's own name, not a claim).
	if appID := strings.ToLower(strings.TrimSpace(r.Header.Get("appId"))); appID != "" {
		opts = append(opts, calltoken.WithAppID(appID))
	} else if appID := appIDFrom(r); appID != "" {
		if _, err := s.getApp(ctx, appID); err == nil {
			opts = append(opts, calltoken.WithAppID(appID))
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	var keyApp string
	claims, err := calltoken.Parse(token, func(kid string) (ed25519.PublicKey, error) {
		k, err := s.ct.publicKey(ctx, s.st, kid)
		if err != nil {
			return nil, &calltoken.Error{Kind: calltoken.ErrKeysUnavailable, Err: err}
		}
		if k == nil {
			return nil, &calltoken.Error{Kind: calltoken.ErrUnknownKey, Reason: "no published key has this kid"}
		}
		keyApp = k.AppID
		return ed25519.PublicKey(k.PublicKey), nil
	}, opts...)
	switch {
	case err == nil:
	case errors.Is(err, calltoken.ErrExpired):
		return nil, callTokenError(apierr.CallTokenExpired, "")
	case errors.Is(err, calltoken.ErrKeysUnavailable):
		var ce *calltoken.Error
		errors.As(err, &ce)
		return nil, ce.Err // storage trouble: 503
	default:
		reason := err.Error()
		var ce *calltoken.Error
		if errors.As(err, &ce) && ce.Reason != "" {
			reason = ce.Reason
		}
		return nil, callTokenError(apierr.CallTokenInvalid, reason)
	}
	if claims.AppID != keyApp {
		return nil, callTokenError(apierr.CallTokenInvalid, "the token is not signed by a key of its app")
	}
	if claims.TokenID == "" {
		return nil, callTokenError(apierr.CallTokenInvalid, "the tid claim is missing")
	}
	if err := s.callTokenLive(ctx, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// callTokenLive checks that the auth token that minted the call token is
// still live: a call token dies with it (logout, deleted, flushed,
// expired; user deleted or deactivated).
func (s *Server) callTokenLive(ctx context.Context, c *calltoken.Claims) error {
	revoked := callTokenError(apierr.CallTokenRevoked, "")
	tok, err := s.st.GetAuthToken(ctx, c.AppID, c.Subject, c.TokenID)
	if errors.Is(err, store.ErrNotFound) {
		return revoked
	}
	if err != nil {
		return err
	}
	if tok.ExpiresAt > 0 && s.now().Unix() >= tok.ExpiresAt {
		return revoked
	}
	app, err := s.getApp(ctx, c.AppID)
	if err != nil {
		return err
	}
	if s.idle(app, tok) {
		return revoked
	}
	u, err := s.st.GetUser(ctx, c.AppID, c.Subject)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.DeactivatedAt != 0 {
		return revoked
	}
	return err
}

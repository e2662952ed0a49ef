package server

// Call tokens (docs/call-tokens.md): POST /call_tokens mints a JWT signed
// with the app's Ed25519 key, GET /call_tokens verifies one online
// (revocation included), and /.well-known/jwks.json publishes the public
// keys for offline verifiers.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/callgate/callgate/calltoken"
	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

const (
	// jwksMaxAge is the Cache-Control max-age of the JWKS. A verifier
	// meeting an unknown kid refetches sooner (bounded by its own floor).
	jwksMaxAge = 300
	// jwksCacheTTL bounds how stale the rendered JWKS of this node may be
	// after a key was created on another node (this node's own changes
	// drop it at once).
	jwksCacheTTL = time.Second
	// pubKeyCacheTTL bounds how long a verification key read from storage
	// is trusted without asking again; a key unknown to storage is
	// remembered for missCacheTTL (tokens naming made-up kids cost one
	// read per kid, not one per request).
	pubKeyCacheTTL = time.Minute
	missCacheTTL   = 5 * time.Second
)

// callTokens is the call-token state of a server: the master key and the
// caches of signing keys.
type callTokens struct {
	kr     *signing.Keyring
	leeway time.Duration
	issuer string
	now    func() time.Time

	// signers caches each app's opened active key (the private key parsed
	// once, not per token). Entries live signing.PropagationMargin, which
	// is how long a rotation made elsewhere can go unseen here.
	signers *ttlCache[*signing.Signer]
	create  singleflight.Group // one key lookup/creation per app at a time
	pubs    *ttlCache[*store.SigningKey]
	misses  *ttlCache[bool]

	jwksMu  sync.Mutex
	jwksDoc *jwksDoc

	minted   prometheus.Counter
	verified *prometheus.CounterVec
}

type jwksDoc struct {
	body []byte
	etag string
	at   time.Time
}

func newCallTokens(cfg Config, reg *prometheus.Registry) *callTokens {
	leeway := cfg.CallTokenLeeway
	switch {
	case leeway == 0:
		leeway = signing.DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	ct := &callTokens{
		kr:      cfg.MasterKey,
		leeway:  leeway,
		issuer:  strings.TrimRight(cfg.PublicURL, "/"),
		now:     cfg.Now,
		signers: newTTLCache[*signing.Signer](signing.PropagationMargin, 100_000, cfg.Now),
		pubs:    newTTLCache[*store.SigningKey](pubKeyCacheTTL, 100_000, cfg.Now),
		misses:  newTTLCache[bool](missCacheTTL, 10_000, cfg.Now),
		minted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callgate_call_tokens_minted_total", Help: "Call tokens minted (POST /call_tokens).",
		}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callgate_call_token_verifications_total", Help: "Online call token verifications (GET /call_tokens) by result.",
		}, []string{"result"}),
	}
	reg.MustRegister(ct.minted, ct.verified)
	return ct
}

// signer returns the app's active signer: cached, else read from storage
// (and opened), else created — the app's first key.
func (ct *callTokens) signer(ctx context.Context, st store.Store, appID string) (*signing.Signer, error) {
	if sg, ok := ct.signers.get(appID); ok {
		return sg, nil
	}
	v, err, _ := ct.create.Do(appID, func() (any, error) {
		if sg, ok := ct.signers.get(appID); ok {
			return sg, nil
		}
		// Shared by every request waiting on this app: one caller going
		// away must not fail the others.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		sg, err := signing.Active(sctx, st, ct.kr, appID, ct.now())
		if err != nil {
			return nil, err
		}
		ct.signers.put(appID, sg)
		ct.dropJWKS() // the key may be new
		return sg, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*signing.Signer), nil
}

// publicKey returns the published key named kid, nil when there is none.
func (ct *callTokens) publicKey(ctx context.Context, st store.Store, kid string) (*store.SigningKey, error) {
	k, ok := ct.pubs.get(kid)
	if !ok {
		if _, miss := ct.misses.get(kid); miss {
			return nil, nil
		}
		var err error
		k, err = st.GetSigningKey(ctx, kid)
		if errors.Is(err, store.ErrNotFound) {
			ct.misses.put(kid, true)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		ct.pubs.put(kid, k)
	}
	if k.RetiredAt != 0 && ct.now().Unix() >= k.PublishedUntil {
		return nil, nil // retired, and every token it signed has expired
	}
	return k, nil
}

func (ct *callTokens) dropJWKS() {
	ct.jwksMu.Lock()
	ct.jwksDoc = nil
	ct.jwksMu.Unlock()
}

// forget drops what a rotation of app changed.
func (ct *callTokens) forget(appID string, retired *store.SigningKey) {
	ct.signers.del(appID)
	if retired != nil {
		ct.pubs.del(retired.ID)
	}
	ct.dropJWKS()
}

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
	u, err := s.st.GetUser(ctx, c.AppID, c.Subject)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.DeactivatedAt != 0 {
		return revoked
	}
	return err
}

// ---- GET /.well-known/jwks.json

func (s *Server) jwks(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DBTimeout)
	defer cancel()
	doc, err := s.ct.jwks(ctx, s.st)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(jwksMaxAge))
	h.Set("ETag", doc.etag)
	if etagMatch(r.Header.Get("If-None-Match"), doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(doc.body))}
	w.WriteHeader(http.StatusOK)
	w.Write(doc.body)
	return nil
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// jwks renders the key set: the public keys of every app that can still
// have live tokens (active keys, and retired keys still published), each
// kid once. Never a private key: the store does not even read them here.
func (ct *callTokens) jwks(ctx context.Context, st store.Store) (*jwksDoc, error) {
	now := ct.now()
	ct.jwksMu.Lock()
	doc := ct.jwksDoc
	ct.jwksMu.Unlock()
	if doc != nil && now.Sub(doc.at) < jwksCacheTTL && !now.Before(doc.at) {
		return doc, nil
	}
	keys, err := st.ListPublishedSigningKeys(ctx, now.Unix())
	if err != nil {
		return nil, err
	}
	set := calltoken.JWKS{Keys: make([]calltoken.JWK, 0, len(keys))}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k.ID] || k.Algorithm != signing.Algorithm || len(k.PublicKey) != ed25519.PublicKeySize {
			continue
		}
		seen[k.ID] = true
		set.Keys = append(set.Keys, calltoken.PublicJWK(k.ID, ed25519.PublicKey(k.PublicKey)))
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	doc = &jwksDoc{body: append(body, '\n'), etag: `"` + hex.EncodeToString(sum[:16]) + `"`, at: now}
	ct.jwksMu.Lock()
	ct.jwksDoc = doc
	ct.jwksMu.Unlock()
	return doc, nil
}

// EnsureSigningKeys creates a signing key for every app that has none, so
// the JWKS lists every app's key before its first call token. `callgate
// serve` runs it at start; apps created later get theirs on first use.
func (s *Server) EnsureSigningKeys(ctx context.Context) (int, error) {
	n, err := signing.EnsureAll(ctx, s.st, s.ct.kr, s.now())
	if n > 0 {
		s.ct.dropJWKS()
	}
	return n, err
}

// ---- REST: GET /signing_keys, POST /signing_keys/rotate

type signingKeyJSON = wire.SigningKey

func (s *Server) listSigningKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	keys, err := s.st.ListSigningKeys(r.Context(), c.app.ID)
	if err != nil {
		return err
	}
	now := s.now().Unix()
	writeAll(w, keys, func(k *store.SigningKey) signingKeyJSON { return wire.SigningKeyOf(k, now) })
	return nil
}

type rotationJSON struct {
	Active  signingKeyJSON  `json:"active"`
	Retired *signingKeyJSON `json:"retired"`
}

func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct{}
	if err := decode(r, &req); err != nil {
		return err
	}
	now := s.now()
	active, retired, err := signing.Rotate(r.Context(), s.st, s.ct.kr, c.app, now, s.ct.leeway)
	if err != nil {
		return err
	}
	s.ct.forget(c.app.ID, retired)
	if s.hub != nil { // other nodes drop their cached keys at once too
		s.hub.Publish(context.WithoutCancel(r.Context()), realtime.Event{Kind: realtime.KindKeysRotated, AppID: c.app.ID, Reason: retiredKID(retired)})
	}
	s.log.InfoContext(r.Context(), "signing key rotated", "app", c.app.ID, "kid", active.ID, "retired", retiredKID(retired))
	out := rotationJSON{Active: wire.SigningKeyOf(active, now.Unix())}
	if retired != nil {
		v := wire.SigningKeyOf(retired, now.Unix())
		out.Retired = &v
	}
	writeData(w, out)
	return nil
}

func retiredKID(k *store.SigningKey) string {
	if k == nil {
		return ""
	}
	return k.ID
}

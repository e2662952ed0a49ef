package server

// Call-token signing keys (docs/call-tokens.md): each app's Ed25519 keys and
// their caches, GET /.well-known/jwks.json that publishes the public halves
// for offline verifiers, and the REST API that lists and rotates them,
// GET /signing_keys and POST /signing_keys/rotate.

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
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

func (s *Server) jwks(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DBTimeout)
	defer cancel()
	doc, err := s.ct.jwks(ctx, s.st)
	if err != nil {
		return err
	}
	h := w.Header()
	// Public keys, for verifiers anywhere (a web media client included).
	h.Set("Access-Control-Allow-Origin", "*")
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
	s.audit(r, c, "signingkey.rotate", active.ID, map[string]any{"retired": retiredKID(retired)})
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

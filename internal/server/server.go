package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
)

// Config configures a Server. Only Store is required.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock (tests use a fake one).
	Now        func() time.Time
	RateLimits RateLimits
	// DBTimeout bounds the storage work of one request, so a database that
	// went away turns into a prompt 503 rather than a hang. Default 4s.
	DBTimeout time.Duration
	// SessionCacheSize bounds the validated-token cache; negative disables it.
	SessionCacheSize int
	// SessionCacheTTL bounds how long a cached session is trusted without
	// asking the database. Revocations reach every node on the realtime bus at
	// once; the TTL is only the safety net. Default 30s.
	SessionCacheTTL time.Duration
	// Hub serves realtime connections (GET /ws); nil disables realtime.
	Hub *realtime.Hub
	// PublicURL is the server's public base URL, the iss of call tokens.
	// Empty: http:// and the Host of the request.
	PublicURL string
	// CallTokenLeeway is the clock skew allowed when verifying call tokens
	// (exp, nbf, iat). 0 means the default, 30s; negative means none.
	CallTokenLeeway time.Duration
	// AuditRetention is how long audit events are kept; 0 means the
	// default, 90 days; negative keeps them for ever.
	AuditRetention time.Duration
	// MasterKey encrypts the signing keys of call tokens at rest; nil
	// stores them raw (see internal/signing).
	MasterKey *signing.Keyring
	// TrustedProxies are the ranges of the reverse proxies whose
	// X-Forwarded-For or Forwarded headers name the client (clientip.go);
	// empty trusts none and the client is the TCP peer.
	TrustedProxies []netip.Prefix
	// AdminHeartbeat is how often an idle admin event stream sends a
	// comment, so proxies and clients see it alive. Default 15s.
	AdminHeartbeat time.Duration
	// AdminKeyCheck is how often an admin event stream checks that its
	// key still exists with fullAccess (changes through this API are
	// noticed at once; this bounds offline ones). Default 30s.
	AdminKeyCheck time.Duration
}

// Server serves the API.
type Server struct {
	cfg       Config
	st        store.Store
	log       *slog.Logger
	now       func() time.Time
	metrics   *metrics
	registry  *prometheus.Registry
	failLimit *limiterSet // failed authentications per client IP
	tokLimit  *limiterSet // token creation per app
	sessions  *sessionCache
	touch     *toucher
	auditLog  *auditor
	// noAudit stops recording audit events; only the tests set it, to
	// measure what recording costs (docs/benchmarks.md).
	noAudit atomic.Bool
	apps    *ttlCache[*store.App]
	keys    *ttlCache[*store.APIKey]
	hub     *realtime.Hub
	ct      *callTokens
	feed    *adminFeed // the admin event streams of this node
	// publicOrigin is the origin of cfg.PublicURL ("" without one): a
	// page of it is the server's own (ownPageAdmin).
	publicOrigin string
	handler      http.Handler
	closeOnce    sync.Once
	// draining is set by Drain: the node is on its way out.
	draining atomic.Bool
}

// New builds a server on cfg.Store.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DBTimeout == 0 {
		cfg.DBTimeout = 4 * time.Second
	}
	if cfg.SessionCacheSize == 0 {
		cfg.SessionCacheSize = 100_000
	}
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = 90 * 24 * time.Hour
	}
	if cfg.SessionCacheTTL == 0 {
		cfg.SessionCacheTTL = 30 * time.Second
	}
	if cfg.AdminHeartbeat <= 0 {
		cfg.AdminHeartbeat = 15 * time.Second
	}
	if cfg.AdminKeyCheck <= 0 {
		cfg.AdminKeyCheck = 30 * time.Second
	}
	s := &Server{
		cfg:      cfg,
		st:       cfg.Store,
		log:      cfg.Logger,
		now:      cfg.Now,
		hub:      cfg.Hub,
		registry: prometheus.NewRegistry(),
	}
	s.metrics = newMetrics(s.registry)
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.RateLimits.Enabled {
		s.failLimit = newLimiterSet(cfg.RateLimits.FailedAuthPerMinute)
		s.tokLimit = newLimiterSet(cfg.RateLimits.TokensPerMinute)
	}
	s.sessions = newSessionCache(cfg.Store, cfg.SessionCacheSize, cfg.SessionCacheTTL, cfg.Now)
	s.apps = newTTLCache[*store.App](2*time.Second, 10_000, cfg.Now)
	s.keys = newTTLCache[*store.APIKey](2*time.Second, 10_000, cfg.Now)
	s.touch = newToucher(cfg.Store, cfg.Logger, 200*time.Millisecond)
	s.publicOrigin = originOf(cfg.PublicURL)
	s.feed = newAdminFeed()
	if cfg.Hub != nil {
		cfg.Hub.Watch(s.feed.deliver)
		registerRealtime(s.registry, cfg.Hub)
	}
	s.auditLog = newAuditor(cfg.Store, cfg.Logger, s.publishAudit)
	s.ct = newCallTokens(cfg, s.registry)
	s.handler = s.buildHandler(s.routes())
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close flushes write-behind state. It does not close the store.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.touch.close()
		s.auditLog.close()
	})
}

// Drain starts a graceful exit. From now on /readyz fails and every request
// except /healthz and /metrics is answered 503 ERR_SERVICE_UNAVAILABLE with
// Retry-After: 1 and, over HTTP/1.1, Connection: close, before anything is
// done for it. A load balancer that probes /readyz stops sending here; one
// that learns from answers (nginx's proxy_next_upstream http_503 with
// max_fails) retries the request on another node and marks this one down,
// so that by the time the listener closes no request is sent to it (one
// sent to a closing listener, or on a keep-alive connection being closed,
// is lost for methods a proxy must not retry, POST). Requests already
// being handled finish normally. Drain cannot be undone.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Registry exposes the metrics registry (for tests and embedding).
func (s *Server) Registry() *prometheus.Registry { return s.registry }

func (s *Server) routes() []route {
	return append(append(s.sdkRoutes(), s.consoleRoutes()...), []route{
		// Ops
		{method: "GET", path: "/healthz", ops: true, h: s.healthz},
		{method: "GET", path: "/readyz", ops: true, h: s.readyz},
		{method: "GET", path: "/metrics", ops: true, h: s.metricsHandler()},
		{method: "GET", path: "/.well-known/jwks.json", ops: true, h: s.jwks},
		{method: "GET", path: "/openapi.json", ops: true, h: s.openapiJSON},

		// REST: API keys
		{method: "POST", path: "/apikeys", auth: authKeyFull, h: s.createAPIKey, body: true},
		{method: "GET", path: "/apikeys", auth: authKeyFull, h: s.listAPIKeys},
		{method: "GET", path: "/apikeys/{ref}", auth: authKeyFull, h: s.getAPIKey},
		{method: "PUT", path: "/apikeys/{ref}", auth: authKeyFull, h: s.updateAPIKey, body: true},
		{method: "DELETE", path: "/apikeys/{ref}", auth: authKeyFull, h: s.deleteAPIKey},

		// REST: call token signing keys
		{method: "GET", path: "/signing_keys", auth: authKeyFull, h: s.listSigningKeys},
		{method: "POST", path: "/signing_keys/rotate", auth: authKeyFull, h: s.rotateSigningKey, body: true},

		// REST: users
		{method: "POST", path: "/users", auth: authKeyAny, h: s.createUser, body: true},
		{method: "GET", path: "/users", auth: authKeyFull, h: s.listUsers},
		{method: "GET", path: "/users/{uid}", auth: authKeyFull, h: s.getUser},
		{method: "PUT", path: "/users/{uid}", auth: authKeyFull, h: s.updateUser, body: true},
		{method: "DELETE", path: "/users/{uid}", auth: authKeyFull, h: s.deleteUser, body: true},

		// REST: auth tokens
		{method: "POST", path: "/users/{uid}/auth_tokens", auth: authKeyAny, h: s.createAuthToken, body: true},
		{method: "GET", path: "/users/{uid}/auth_tokens", auth: authKeyFull, h: s.listAuthTokens},
		{method: "DELETE", path: "/users/{uid}/auth_tokens", auth: authKeyFull, h: s.flushAuthTokens},
		{method: "GET", path: "/users/{uid}/auth_tokens/{ref}", auth: authKeyFull, h: s.getAuthToken},
		{method: "DELETE", path: "/users/{uid}/auth_tokens/{ref}", auth: authKeyFull, h: s.deleteAuthToken},
		{method: "POST", path: "/users/{uid}/auth_tokens/revoke", auth: authKeyFull, h: s.revokeUserTokensBefore, body: true},
		{method: "POST", path: "/auth_tokens/revoke", auth: authKeyFull, h: s.revokeAppTokensBefore, body: true},

		// Client API
		{method: "PUT", path: "/me", auth: authToken, h: s.startSession, body: true},
		{method: "GET", path: "/me", auth: authToken, h: s.getMe},
		{method: "DELETE", path: "/me", auth: authToken, h: s.logout},
		{method: "GET", path: "/me/sessions", auth: authToken, h: s.listMySessions},
		{method: "DELETE", path: "/me/sessions", auth: authToken, h: s.logoutMyOtherSessions},
		{method: "DELETE", path: "/me/sessions/{id}", auth: authToken, h: s.logoutMySession},
		{method: "POST", path: "/call_tokens", auth: authToken, h: s.createCallToken, body: true},
		{method: "GET", path: "/call_tokens", h: s.verifyCallToken}, // the callToken header is the credential
		{method: "GET", path: "/ws", h: s.websocket},

		// The app of the calling key
		{method: "GET", path: "/app", auth: authKeyFull, h: s.getAppSettings},
		{method: "PUT", path: "/app", auth: authKeyFull, h: s.updateAppSettings, body: true},
		{method: "GET", path: "/audit_events", auth: authKeyFull, h: s.listAuditEvents},

		// The app's live events, for the console and other admin tools
		{method: "GET", path: "/admin/events", auth: authKeyFull, root: true, stream: true, h: s.adminEvents},
	}...)
}

// getApp reads an app through a short-lived cache: apps change rarely and
// every request names one.
func (s *Server) getApp(ctx context.Context, id string) (*store.App, error) {
	if a, ok := s.apps.get(id); ok {
		return a, nil
	}
	a, err := s.st.GetApp(ctx, id)
	if err == nil {
		s.apps.put(id, a)
	}
	return a, err
}

func (s *Server) cachedAPIKey(ctx context.Context, appID string, hash []byte) (*store.APIKey, error) {
	ck := appID + "/" + string(hash)
	if k, ok := s.keys.get(ck); ok {
		return k, nil
	}
	k, err := s.st.GetAPIKeyByHash(ctx, appID, hash)
	if err == nil {
		s.keys.put(ck, k)
	}
	return k, err
}

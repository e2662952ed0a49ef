package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/store"
)

// authKind says which credential a route needs.
type authKind int

const (
	authNone    authKind = iota
	authKeyAny           // an authOnly or fullAccess API key
	authKeyFull          // a fullAccess API key
	authToken            // a user's auth token (client API)
)

// call is what authentication established for a request.
type call struct {
	app   *store.App
	key   *store.APIKey
	tok   *store.AuthToken
	user  *store.User
	token string // the plaintext auth token of a client API call
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

type route struct {
	method string
	path   string // under /v3 and /v3.0 unless ops is set
	auth   authKind
	h      handlerFunc
	ops    bool // served at the root, not under /v3, without credentials
	// root: served at the root like ops, but authenticated like an API
	// route (the admin event stream).
	root bool
	// stream: the handler runs as long as the client listens, so no
	// storage deadline wraps it (it bounds its own storage calls).
	stream bool
	// body says the handler decodes a JSON body. The router reads every
	// body alike; the flag is the route table's word on which routes take
	// one, so the bad-input tests send junk to exactly those (a test holds
	// it to the handlers' decode calls).
	body bool
}

// apiPrefixes are the version prefixes every API route is served under.
var apiPrefixes = []string{"/v3", "/v3.0"}

// reqInfo carries per-request facts from the dispatcher out to the
// logging and metrics middleware.
type reqInfo struct {
	id     string
	client string // the client's address (clientip.go); peer is the TCP peer's
	peer   string
	route  string
	appID  string
	code   apierr.Code
	status int
}

type infoKey struct{}

func info(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// buildHandler registers every route on a ServeMux. Each path gets one
// handler that dispatches on method itself, so a wrong method gets our JSON
// error rather than the mux's plain-text 405.
func (s *Server) buildHandler(routes []route) http.Handler {
	mux := http.NewServeMux()
	byPath := map[string][]route{}
	var paths []string
	for _, rt := range routes {
		if _, seen := byPath[rt.path]; !seen {
			paths = append(paths, rt.path)
		}
		byPath[rt.path] = append(byPath[rt.path], rt)
	}
	for _, p := range paths {
		rts := byPath[p]
		if rts[0].ops || rts[0].root {
			mux.Handle(p, s.dispatch(p, rts))
			continue
		}
		for _, prefix := range apiPrefixes {
			mux.Handle(prefix+p, s.dispatch(p, rts))
		}
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).route = "unmatched"
		s.fail(w, r, apierr.New(apierr.EndpointNotFound))
	}))
	return s.middleware(mux)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := writeError(w, r, s.log, s.storageDown(r.Context(), err))
	info(r.Context()).code = e.Code
}

// storageDown marks an unclassified error as ErrUnavailable when the store
// does not answer a ping. A closed or unreachable database (its driver
// errors are not always mapped, e.g. "sql: database is closed") is
// "storage down; retry" — 503, as docs/design.md "Wire format: the
// decisions" says — not a 500.
func (s *Server) storageDown(ctx context.Context, err error) error {
	var ae *apierr.Error
	if errors.As(err, &ae) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if s.st.Ping(pctx) != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

func (s *Server) dispatch(pattern string, rts []route) http.Handler {
	allow := make([]string, 0, len(rts))
	for _, rt := range rts {
		allow = append(allow, rt.method)
		if rt.ops && rt.method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	sort.Strings(allow)
	allowHeader := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		ri.route = pattern
		if s.draining.Load() && pattern != "/healthz" && pattern != "/metrics" {
			s.refuseDraining(w, r)
			return
		}
		var rt *route
		for i := range rts {
			// Ops GETs answer HEAD too (load balancers probe with it);
			// net/http drops the body.
			if rts[i].method == r.Method || r.Method == http.MethodHead && rts[i].method == http.MethodGet && rts[i].ops {
				rt = &rts[i]
				break
			}
		}
		if rt == nil {
			if !rts[0].ops && isPreflight(r) {
				preflight(w, r) // no storage: a preflight cannot name the app
				return
			}
			s.fail(w, r, apierr.New(apierr.EndpointNotFound).SetHeader("Allow", allowHeader))
			return
		}
		if rt.ops {
			if err := rt.h(w, r, &call{}); err != nil {
				s.fail(w, r, err)
			}
			return
		}
		// Storage deadlines bound storage work, not the client: the body is
		// read (bounded by the server's read timeout and MaxBodyBytes)
		// between authentication and the handler, each of which gets its
		// own deadline. One deadline from the start turned a slow but legal
		// upload into 503 "storage unreachable".
		c := &call{}
		err := s.withDeadline(r, func(r *http.Request) error { return s.authenticate(w, r, rt.auth, c) })
		if origin := r.Header.Get("Origin"); origin != "" {
			// A browser: refused here, before the handler changes anything,
			// unless the app allows the origin. Every answer, the refusal
			// included, is readable by the page, so the SDK can show the
			// error (no cookies are involved: reading leaks nothing).
			if oerr := checkOrigin(r, c.app); oerr != nil && !s.ownPageAdmin(r, c) {
				err = oerr
			}
			allowCORS(w, origin)
		}
		if err == nil {
			if c.app != nil {
				ri.appID = c.app.ID
			}
			err = readBody(r)
		}
		if err == nil && rt.stream {
			err = rt.h(w, r, c)
		} else if err == nil {
			err = s.withDeadline(r, func(r *http.Request) error { return rt.h(w, r, c) })
		}
		if err != nil {
			s.fail(w, r, err)
		}
	})
}

// refuseDraining answers a request that reached a draining node (Drain):
// 503 with Retry-After, and the connection closed after it so that a
// proxy's keep-alive pool lets go of this node. The page of a browser may
// read the answer, as it may read every refusal.
func (s *Server) refuseDraining(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		allowCORS(w, origin)
	}
	s.fail(w, r, apierr.New(apierr.ServiceUnavailable).SetHeader("Retry-After", "1").SetDetails("draining", true).
		Wrap(errors.New("refused: this node is draining (shutting down)")))
}

// withDeadline runs f with the storage deadline on r's context.
func (s *Server) withDeadline(r *http.Request, f func(*http.Request) error) error {
	if s.cfg.DBTimeout <= 0 {
		return f(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DBTimeout)
	defer cancel()
	return f(r.WithContext(ctx))
}

// readBody reads the whole request body into memory (it is at most
// MaxBodyBytes), so that handlers decode it without waiting on the client.
func readBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return apierr.New(apierr.BadRequest).With("reason", "the request body could not be read.").Wrap(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// middleware wraps every request: request id, client address, security
// headers, panic recovery, body limit, path hygiene, then logging and
// metrics once the response is written.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: requestID(r)}
		ri.client, ri.peer = resolveClient(r, s.cfg.TrustedProxies)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		rec.Header().Set("X-Request-Id", ri.id)
		securityHeaders(rec.Header(), r)
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "panic", "panic", p, "stack", string(debug.Stack()))
				if !rec.wrote {
					s.fail(rec, r, apierr.New(apierr.Internal))
				}
			}
			ri.status = rec.status
			s.observe(r, ri, time.Since(start))
		}()
		if r.ContentLength > MaxBodyBytes {
			s.fail(rec, r, tooLarge())
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		// The mux would redirect /v3/users/../apikeys to /v3/apikeys; an API
		// should not quietly turn one resource into another.
		if p := r.URL.Path; p != "/" && (path.Clean(p) != strings.TrimSuffix(p, "/") || strings.HasSuffix(p, "/")) {
			info(r.Context()).route = "unmatched"
			s.fail(rec, r, apierr.New(apierr.EndpointNotFound))
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// observe logs one line per request and records metrics. Only the route
// pattern is logged, never the raw path or query: both can hold secrets
// (/apikeys/{key}, /ws?authToken=).
func (s *Server) observe(r *http.Request, ri *reqInfo, d time.Duration) {
	route := ri.route
	if route == "" {
		route = "unmatched"
	}
	s.metrics.observe(route, r.Method, ri.status, d)
	if !s.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", ri.id),
		slog.String("method", methodLabel(r.Method)),
		slog.String("route", route),
		slog.Int("status", ri.status),
		slog.Duration("duration", d),
		slog.String("remote", clientIP(r)),
	}
	if ri.peer != ri.client {
		attrs = append(attrs, slog.String("proxy", ri.peer)) // the trusted proxy that forwarded it
	}
	if ri.appID != "" {
		attrs = append(attrs, slog.String("app", ri.appID))
	}
	if ri.code != "" {
		attrs = append(attrs, slog.String("code", string(ri.code)))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// Request ids are a random per-process prefix and a counter: unique across
// restarts and nodes in practice, without a random read per request.
var (
	idPrefix = func() string {
		b := make([]byte, 4)
		rand.Read(b)
		return hex.EncodeToString(b)
	}()
	idCounter atomic.Uint64
)

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && safeID(id) {
		return id
	}
	var b [16]byte
	copy(b[:], idPrefix)
	n := uint32(idCounter.Add(1))
	for i := 15; i >= 8; i-- {
		b[i] = "0123456789abcdef"[n&0xF]
		n >>= 4
	}
	return string(b[:])
}

func safeID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// recorder remembers the status for logs and metrics. It passes Hijack and
// Flush through (the realtime endpoint needs both).
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	r.status, r.wrote = http.StatusSwitchingProtocols, true
	return hj.Hijack()
}

package server

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Route is one route of the router, as the tests outside the package see it.
type Route struct {
	Method, Path string // Path is the pattern: under /v3 and /v3.0 unless Ops
	Auth         string // "none", "anyKey" (authOnly or fullAccess), "fullKey" or "token"
	TakesBody    bool   // the handler decodes a JSON body
	Ops          bool   // served at the root, without credentials
	Root         bool   // served at the root, with credentials
}

var authNames = map[authKind]string{authNone: "none", authKeyAny: "anyKey", authKeyFull: "fullKey", authToken: "token"}

// Routes lists the router's routes in its order, so that the tests aim at
// the routes the router serves rather than at a copy of the list.
func Routes() []Route {
	var out []Route
	for _, rt := range routeTable() {
		out = append(out, Route{Method: rt.method, Path: rt.path, Auth: authNames[rt.auth], TakesBody: rt.body, Ops: rt.ops, Root: rt.root})
	}
	return out
}

// routeTable is the router's table without a running server: routes()
// only binds handlers, and the metrics handler wants a registry.
func routeTable() []route { return (&Server{registry: prometheus.NewRegistry()}).routes() }

// Janitor runs one pass of the background janitor (expired and idle
// tokens, audit retention) now, as the minute ticker would.
func (s *Server) Janitor(ctx context.Context) {
	s.reapExpired(ctx)
	s.reapIdle(ctx, s.now().Unix())
}

// FlushAudit writes the pending audit events now.
func (s *Server) FlushAudit() { s.auditLog.flush() }

// SetAuditRecording turns the recording of audit events on or off, to
// measure what it costs (BenchmarkAuditOverhead). Never off outside tests.
func (s *Server) SetAuditRecording(on bool) { s.noAudit.Store(!on) }

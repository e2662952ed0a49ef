package server

// Ops endpoints, served at the root rather than under /v3 (docs/api.md
// "Ops"): liveness, readiness and metrics. The JWKS is in signingkeys.go.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callgate/callgate/internal/store"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *call) error {
	writeData(w, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "err", err)
		return errorFor(store.ErrUnavailable).Wrap(err)
	}
	if s.hub != nil && !s.hub.Ready() {
		return errorFor(store.ErrUnavailable).Wrap(errors.New("realtime: not yet listening for other nodes' events"))
	}
	writeData(w, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) metricsHandler() handlerFunc {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	return func(w http.ResponseWriter, r *http.Request, _ *call) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts of the HTTP server. Slow clients cannot hold connections open
// for ever (Slowloris), and a keep-alive connection idles out.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	ShutdownTimeout   = 30 * time.Second
)

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish (up to
// ShutdownTimeout) and returns. beforeShutdown runs first (to end realtime
// connections, which Shutdown does not track).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, beforeShutdown func()) error {
	return serve(ctx, ln, h, log, nil, beforeShutdown)
}

// ServeTLS is Serve over TLS with cfg (CertFiles.TLSConfig): HTTP/2 and
// HTTP/1.1 by ALPN, WebSocket upgrades over HTTP/1.1.
func ServeTLS(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, cfg *tls.Config, beforeShutdown func()) error {
	return serve(ctx, ln, h, log, cfg, beforeShutdown)
}

func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, tlsCfg *tls.Config, beforeShutdown func()) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          httpErrorLog(log),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		TLSConfig:         tlsCfg,
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	if beforeShutdown != nil {
		beforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

package main

// serve's TLS: --tls-cert and --tls-key, loaded before listening, and read
// again on SIGHUP.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/callgate/callgate/internal/server"
)

// loadTLS reads --tls-cert and --tls-key; nil without them.
func (f *serveFlags) loadTLS(log *slog.Logger) (*server.CertFiles, error) {
	switch {
	case f.tlsCert == "" && f.tlsKey == "":
		return nil, nil
	case f.tlsKey == "":
		return nil, errors.New("--tls-cert needs --tls-key: give both (PEM files: the certificate chain and its private key), or neither to serve plain HTTP")
	case f.tlsCert == "":
		return nil, errors.New("--tls-key needs --tls-cert: give both (PEM files: the certificate chain and its private key), or neither to serve plain HTTP")
	}
	certs, err := server.LoadCertFiles(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	logCert(log, "TLS certificate loaded", certs.Leaf())
	return certs, nil
}

// reloadOnHUP reads the certificate files again on each SIGHUP until ctx
// ends or stop is called. A pair that fails to load is logged and the
// current one kept.
func reloadOnHUP(ctx context.Context, certs *server.CertFiles, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				leaf, err := certs.Reload()
				if err != nil {
					log.Error("SIGHUP: TLS certificate not reloaded; keeping the current one", "err", err,
						"current_not_after", certs.Leaf().NotAfter.UTC().Format(time.RFC3339))
					continue
				}
				logCert(log, "SIGHUP: TLS certificate reloaded", leaf)
			}
		}
	}()
	return cancel
}

func logCert(log *slog.Logger, msg string, leaf *x509.Certificate) {
	attrs := []any{"subject", leaf.Subject.String(), "dns", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		log.Warn(msg+": the certificate has expired", attrs...)
	case now.Before(leaf.NotBefore):
		log.Warn(msg+": the certificate is not valid yet", attrs...)
	default:
		log.Info(msg, attrs...)
	}
}

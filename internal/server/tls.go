package server

// Serving TLS: the certificate comes from two PEM files and is swapped
// atomically when they are read again (callgate serve does on SIGHUP), so
// a renewed certificate is taken up without a restart and without dropping
// a connection: open connections keep the session they negotiated, new
// handshakes get the new certificate.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
)

// CertFiles is a certificate and its private key read from PEM files.
type CertFiles struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertFiles reads a certificate chain (the server's certificate first,
// then any intermediates) and its private key (RSA, ECDSA or Ed25519; PKCS
// #1, SEC 1 or PKCS #8), and checks they belong together.
func LoadCertFiles(certFile, keyFile string) (*CertFiles, error) {
	c := &CertFiles{certFile: certFile, keyFile: keyFile}
	if _, err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads both files again. On success new handshakes use the new
// pair and its leaf certificate is returned; on any error the current
// pair stays in use.
func (c *CertFiles) Reload() (*x509.Certificate, error) {
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("TLS certificate %s: %w", c.certFile, err)
		}
		pair.Leaf = leaf
	}
	c.cur.Store(&pair)
	return leaf, nil
}

// Leaf is the certificate in use.
func (c *CertFiles) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

// TLSConfig serves the current certificate: TLS 1.2 or later with Go's
// default cipher suites and curves, and HTTP/2 or HTTP/1.1 by ALPN.
// Browsers open WebSockets over HTTP/1.1 (the server does not offer
// WebSockets over HTTP/2, RFC 8441), so /ws works on the same port.
func (c *CertFiles) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if p := c.cur.Load(); p != nil {
				return p, nil
			}
			return nil, errors.New("no TLS certificate loaded")
		},
	}
}

// httpErrorLog is the http.Server's error log: warnings, except failed TLS
// handshakes, which are debug: port scanners and TCP health checks make
// one a connection, and they say nothing about the server.
func httpErrorLog(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(errorLogWriter{log}, "", 0)
}

type errorLogWriter struct{ log *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

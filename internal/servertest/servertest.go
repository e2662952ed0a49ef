package servertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/nodeid"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/store/postgres"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/sqlstore"
)

// Server is a running test server.
type Server struct {
	URL     string // base URL, e.g. http://127.0.0.1:41234
	AppID   string
	AuthKey string // authOnly
	RESTKey string // fullAccess
	Region  string
	Store   *sqlstore.Store
	API     *server.Server
	Hub     *realtime.Hub // nil with NoRealtime
	DataDir string
	DSN     string // the PostgreSQL DSN, when Postgres
	// Client is an HTTP client for URL: it trusts Certificate with TLS.
	Client *http.Client
	// Certificate is the server's self-signed certificate with TLS, else nil.
	Certificate *x509.Certificate

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// Options adjust the server.
type Options struct {
	Postgres bool                            // use $CALLGATE_TEST_POSTGRES (skips without it)
	Config   server.Config                   // Store and Hub are filled in; zero fields take defaults
	Logger   *slog.Logger                    // default: discard
	Handler  func(http.Handler) http.Handler // wraps the handler (e.g. to slow it down)
	// Realtime tunes the hub (Node and Log are filled in). Realtime is on,
	// as in `callgate serve`, unless NoRealtime is set.
	Realtime   realtime.Config
	NoRealtime bool
	// Join makes this server a second node of a PostgreSQL server: same
	// database, same dev app and keys.
	Join *Server
	// DSN runs the server on this PostgreSQL DSN (say, through a Proxy)
	// instead of a fresh schema.
	DSN string
	// TLS serves HTTPS with this configuration (server.ServeTLS); URL is
	// then https://.
	TLS *tls.Config
	// SelfSignedTLS serves HTTPS with a self-signed certificate made for
	// this server, for clients that insist on https (the CometChat chat
	// SDK). Use Server.Client, and in Chromium
	// browsertest.TrustCertificate(Server.Certificate).
	SelfSignedTLS bool
}

// Start starts a server with rate limits off (tests make many failed calls)
// unless opts.Config.RateLimits says otherwise. It stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var st *sqlstore.Store
	var err error
	var dsn string
	switch {
	case opts.Join != nil:
		if opts.Join.DSN == "" {
			t.Fatal("servertest: Join needs a PostgreSQL server")
		}
		opts.Postgres = true
		dsn = opts.Join.DSN
		st, err = postgres.Open(ctx, dsn, postgres.Options{})
	case opts.DSN != "":
		opts.Postgres = true
		dsn = opts.DSN
		st, err = postgres.Open(ctx, dsn, postgres.Options{})
	case opts.Postgres:
		dsn = pgtest.DSN(t)
		st, err = postgres.Open(ctx, dsn, postgres.Options{})
	default:
		st, err = sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName), sqlite.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	client := http.DefaultClient
	var cert *x509.Certificate
	if opts.SelfSignedTLS {
		var tc tls.Certificate
		tc, cert = selfSigned(t)
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{tc}}
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		t.Cleanup(client.CloseIdleConnections)
	}
	if opts.TLS != nil {
		url = "https://" + ln.Addr().String()
	}
	cfg := opts.Config
	cfg.Store = st
	if cfg.PublicURL == "" {
		cfg.PublicURL = url
	}
	if opts.Logger != nil {
		cfg.Logger = opts.Logger
	}
	var api *server.Server
	var hub *realtime.Hub
	var listening chan struct{} // closed once the PostgreSQL bus listens
	if !opts.NoRealtime {
		rc := opts.Realtime
		rc.Node = nodeid.New("test")
		rc.Log = cfg.Logger
		rc.OnRemote = func(ev realtime.Event) { api.OnRemote(ev) }
		var bus realtime.Bus = realtime.LocalBus{}
		if opts.Postgres {
			pg, err := realtime.NewPGBus(ctx, dsn, st.DB(), rc.Node, cfg.Logger)
			if err != nil {
				t.Fatal(err)
			}
			listening = make(chan struct{})
			bus = &readyBus{Bus: pg, listening: listening}
		}
		hub = realtime.New(st, bus, rc)
		if err := hub.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cfg.Hub = hub
	}
	api = server.New(cfg)
	creds := &provision.DevCredentials{}
	if opts.Join != nil {
		j := opts.Join
		creds.AppID, creds.Region, creds.AuthKey, creds.RESTAPIKey = j.AppID, j.Region, j.AuthKey, j.RESTKey
	} else if creds, _, err = provision.DevBootstrap(ctx, st, dir, url, time.Now()); err != nil {
		t.Fatal(err)
	}
	// As `callgate serve` does: every app has its signing key from the start.
	if _, err := api.EnsureSigningKeys(ctx); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = api
	if opts.Handler != nil {
		h = opts.Handler(api)
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &Server{URL: url, AppID: creds.AppID, AuthKey: creds.AuthKey, RESTKey: creds.RESTAPIKey, Region: creds.Region,
		Store: st, API: api, Hub: hub, DataDir: dir, DSN: dsn, Client: client, Certificate: cert,
		stop: cancel, done: make(chan struct{})}
	go api.Run(sctx)
	go func() {
		defer close(s.done)
		before := func() {
			sd, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			api.Shutdown(sd)
		}
		if opts.TLS != nil {
			server.ServeTLS(sctx, ln, h, slog.New(slog.DiscardHandler), opts.TLS, before)
			return
		}
		server.Serve(sctx, ln, h, slog.New(slog.DiscardHandler), before)
	}()
	t.Cleanup(s.Stop)
	if listening != nil {
		// Return a node that hears the others: events published before its
		// LISTEN are missed (revocations are caught up by the resync that
		// follows, presence changes are not), which tests should not race.
		select {
		case <-listening:
		case <-time.After(10 * time.Second):
			t.Fatal("servertest: the realtime bus did not start listening")
		}
	}
	return s
}

// selfSigned makes a certificate for the loopback names, valid for a day,
// and its key (ECDSA P-256: quick to make and to handshake).
func selfSigned(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "callgate test server"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: it is its own root
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, cert
}

// Stop shuts the server down gracefully and closes the store (idempotent).
// Afterwards connections to URL are refused.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.stop()
		<-s.done
		s.API.Close()
		s.Store.Close()
	})
}

// readyBus closes listening when the bus first delivers KindResync, which
// PGBus does as soon as its LISTEN is in place.
type readyBus struct {
	realtime.Bus
	listening chan struct{}
	once      sync.Once
}

func (b *readyBus) Run(ctx context.Context, handle func(realtime.Event)) {
	b.Bus.Run(ctx, func(ev realtime.Event) {
		if ev.Kind == realtime.KindResync {
			b.once.Do(func() { close(b.listening) })
		}
		handle(ev)
	})
}

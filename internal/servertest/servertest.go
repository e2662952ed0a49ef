// Package servertest starts a real callgate server for tests: the real
// handler on a real loopback socket, over real SQLite in t.TempDir() (or
// PostgreSQL), with a dev app, its two keys and the sample users.
package servertest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/store/postgres"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/sqlstore"
	"github.com/callgate/callgate/internal/tenant"
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
	DataDir string

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// Options adjust the server.
type Options struct {
	Postgres bool                            // use $CALLGATE_TEST_POSTGRES (skips without it)
	Config   server.Config                   // Store is filled in; zero fields take defaults
	Logger   *slog.Logger                    // default: discard
	Handler  func(http.Handler) http.Handler // wraps the handler (e.g. to slow it down)
}

// Start starts a server with rate limits off (tests make many failed calls)
// unless opts.Config.RateLimits says otherwise. It stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var st *sqlstore.Store
	var err error
	if opts.Postgres {
		st, err = postgres.Open(ctx, pgtest.DSN(t), postgres.Options{})
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName), sqlite.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := opts.Config
	cfg.Store = st
	if opts.Logger != nil {
		cfg.Logger = opts.Logger
	}
	api := server.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	creds, _, err := tenant.DevBootstrap(ctx, st, dir, url, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = api
	if opts.Handler != nil {
		h = opts.Handler(api)
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &Server{URL: url, AppID: creds.AppID, AuthKey: creds.AuthKey, RESTKey: creds.RESTAPIKey, Region: creds.Region,
		Store: st, API: api, DataDir: dir, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		server.Serve(sctx, ln, h, slog.New(slog.DiscardHandler), nil)
	}()
	t.Cleanup(s.Stop)
	return s
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

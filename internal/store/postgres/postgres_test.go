package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/postgres"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
	"github.com/callgate/callgate/internal/store/sqlstore"
	"github.com/callgate/callgate/internal/store/storetest"
)

func openDSN(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) store.Store { return openDSN(t, pgtest.DSN(t)) },
		storetest.WithReopen(func(t *testing.T) func(t *testing.T) store.Store {
			dsn := pgtest.DSN(t)
			return func(t *testing.T) store.Store { return openDSN(t, dsn) }
		}),
		storetest.WithMigrations(),
		storetest.WithWriteLock(storetest.WriteLock{
			Place: func(t *testing.T) (func(t *testing.T) store.Store, func(t *testing.T, appID, uid string) func()) {
				dsn := pgtest.DSN(t)
				open := func(t *testing.T) store.Store { return openDSN(t, dsn) }
				return open, func(t *testing.T, appID, uid string) func() { return lockUser(t, dsn, appID, uid) }
			},
		}),
	)
}

// lockUser locks the user's row from another session until release.
func lockUser(t *testing.T, dsn, appID, uid string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE app_id = $1 AND uid = $2 FOR UPDATE`, appID, uid); err != nil {
		t.Fatal(err)
	}
	return func() { tx.Rollback(ctx) }
}

// TestConcurrentMigrations: nodes starting together on an empty schema all
// come up; the advisory lock makes one of them migrate and the others wait.
func TestConcurrentMigrations(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 6
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	ctx := context.Background()
	for _, s := range stores {
		if s != nil {
			defer s.Close()
		}
	}
	if t.Failed() {
		return
	}
	var versions, distinct int
	if err := stores[0].DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&versions, &distinct); err != nil {
		t.Fatal(err)
	}
	v, err := stores[0].SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if versions != v || distinct != v || v == 0 {
		t.Errorf("schema_migrations has %d rows (%d distinct) for schema version %d", versions, distinct, v)
	}
	// Every node works on the same data.
	if err := stores[1].CreateApp(ctx, &store.App{ID: "shared", Name: "s", Region: "us", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, err := s.GetApp(ctx, "shared"); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
}

// silentServer accepts connections and never answers: a database that hangs.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// hangUpServer accepts connections and closes them at once.
func hangUpServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// closedPort is a local port with nothing listening.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestUnavailable needs no server: every way of not reaching the database is
// a quick error wrapping store.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
	}{
		{"refused", "postgres://postgres@" + closedPort(t) + "/postgres?sslmode=disable"},
		{"refused, sslmode prefer", "postgres://postgres@" + closedPort(t) + "/postgres"},
		{"refused, key=value", "host=127.0.0.1 port=1 user=postgres dbname=postgres sslmode=disable"},
		{"unknown host", "postgres://postgres@callgate-no-such-host.invalid:5432/postgres?sslmode=disable"},
		{"server hangs", "postgres://postgres@" + silentServer(t) + "/postgres?sslmode=disable"},
		{"server hangs, sslmode prefer", "postgres://postgres@" + silentServer(t) + "/postgres"},
		{"server hangs, long connect_timeout", "postgres://postgres@" + silentServer(t) + "/postgres?sslmode=disable&connect_timeout=60"},
		{"server hangs up", "postgres://postgres@" + hangUpServer(t) + "/postgres?sslmode=disable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s, err := postgres.Open(context.Background(), tc.dsn, postgres.Options{})
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("err = %v, want one wrapping store.ErrUnavailable", err)
			}
			if took >= 5*time.Second {
				t.Errorf("took %v, want < 5s", took)
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
		})
	}
}

// TestBadDSN: a DSN that cannot be parsed fails at once, naming the problem.
// It is a configuration error, not an outage, so it need not be retryable.
func TestBadDSN(t *testing.T) {
	for _, dsn := range []string{
		"postgres://postgres@127.0.0.1:notaport/db",
		"postgres://%zz",
		"host=127.0.0.1 port=1 sslmode=bogus",
	} {
		start := time.Now()
		s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Open(%q) took %v", dsn, took)
		}
	}
}

// TestOpenHonoursContext: Open gives up when its context does, even before
// the connect timeout.
func TestOpenHonoursContext(t *testing.T) {
	dsn := "postgres://postgres@" + silentServer(t) + "/postgres?sslmode=disable"
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v with a 300ms context", took)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

// proxy forwards TCP to the test server until it is cut.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestServerGoesAway: a store whose database disappears answers quickly
// with ErrUnavailable instead of hanging, so /readyz and requests turn 503.
func TestServerGoesAway(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	proxied := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&search_path=%s",
		cfg.User, p.ln.Addr(), cfg.Database, cfg.RuntimeParams["search_path"])
	s := openDSN(t, proxied)
	defer s.Close()
	ctx := context.Background()
	if err := s.CreateApp(ctx, &store.App{ID: "a", Name: "a", Region: "us", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{AppID: "a", UID: "u", Name: "u", CreatedAt: 1, UpdatedAt: 1}, nil); err != nil {
		t.Fatal(err)
	}
	p.cut()
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"GetApp", func() error { _, err := s.GetApp(ctx, "a"); return err }},
		{"CreateUser", func() error {
			return s.CreateUser(ctx, &store.User{AppID: "a", UID: "v", Name: "v", CreatedAt: 1, UpdatedAt: 1}, nil)
		}},
		{"CreateAuthToken", func() error {
			return s.CreateAuthToken(ctx, &store.AuthToken{Hash: []byte("0123456789abcdef0123456789abcdef"), ID: "t", AppID: "a", UID: "u", CreatedAt: 1})
		}},
		{"ListAuthTokens", func() error { _, err := s.ListAuthTokens(ctx, "a", "u"); return err }},
		{"RevokeAuthTokensBefore", func() error { _, err := s.RevokeAuthTokensBefore(ctx, "a", "u", 2); return err }},
		{"RevokeAuthTokensBefore(app)", func() error { _, err := s.RevokeAuthTokensBefore(ctx, "a", "", 2); return err }},
		{"DeleteIdleAuthTokens", func() error { _, err := s.DeleteIdleAuthTokens(ctx, "a", 2, 2); return err }},
		{"SetLiveTokens", func() error { return s.SetLiveTokens(ctx, "n", [][]byte{[]byte("k")}, nil) }},
		{"RecordAuditEvents", func() error {
			return s.RecordAuditEvents(ctx, []*store.AuditEvent{{ID: "evt_1", Time: 1, AppID: "a", ActorType: "cli", ActorID: "root", Action: "app.update"}})
		}},
		{"ListAuditEvents", func() error { _, _, err := s.ListAuditEvents(ctx, "a", store.AuditQuery{}); return err }},
		{"DeleteAuditEventsBefore", func() error { _, err := s.DeleteAuditEventsBefore(ctx, 2); return err }},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		took := time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the database gone: err = %v, want ErrUnavailable", c.name, err)
		}
		if took >= 5*time.Second {
			t.Errorf("%s took %v", c.name, took)
		}
	}
}

func TestSkipsWithoutServer(t *testing.T) {
	if os.Getenv(pgtest.EnvVar) != "" {
		t.Skip(pgtest.EnvVar + " is set")
	}
	// pgtest.DSN must skip (not fail) without a server.
	ok := t.Run("inner", func(t *testing.T) { pgtest.DSN(t); t.Error("DSN returned without a server") })
	if !ok {
		t.Error("inner test failed instead of skipping")
	}
}

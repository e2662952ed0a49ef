package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/nodeid"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/signing"
)

type serveFlags struct {
	storeFlags
	addr           string
	dev            bool
	devAllowRemote bool
	logFormat      string
	logLevel       string
	rateLimit      string
	rateTokens     int
	rateFailedAuth int
	presenceGrace  time.Duration
	nodeLease      time.Duration
	shutdownDrain  time.Duration
	wsMaxPerUser   int
	pprof          string
	publicURL      string
	callLeeway     time.Duration
	masterKeyFile  string
	auditRetention string
	trustedProxies string
	tlsCert        string
	tlsKey         string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the callgate server",
		Long: `Runs the REST API, the client API and the ops endpoints (/healthz, /readyz, /metrics).

Every flag can also be set in the environment as CALLGATE_ + the flag name in
upper case with - as _ (--addr → CALLGATE_ADDR); a flag on the command line wins.

--dev creates (on first start) an app, an authOnly and a fullAccess key and the
five sample users, prints them, and writes {data}/dev-credentials.json.

--tls-cert and --tls-key serve HTTPS (HTTP/2 and HTTP/1.1; WebSockets over
HTTP/1.1 on the same port). SIGHUP reads both files again: new connections get
the new certificate, open ones keep theirs, and a pair that fails to load is
logged and the current one kept.

On SIGTERM or SIGINT the node drains for --shutdown-drain before it closes
its listener: /readyz fails, realtime connections are closed with 1001 (their
clients reconnect, to another node behind a load balancer), and every request
is answered 503 with Retry-After: 1, so a load balancer moves the traffic
before the port closes. Then in-flight requests finish (up to 30 s) and state
is flushed (docs/operations.md "Several nodes behind nginx").

--trusted-proxies names the reverse proxies whose X-Forwarded-For (else
Forwarded) is believed: the client is the right-most address in it that is not
itself a trusted proxy. Without it those headers are ignored
(docs/operations.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f)
		},
	}
	fs := cmd.Flags()
	f.register(fs)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.BoolVar(&f.dev, "dev", false, "dev mode: create (once) and print an app, keys and sample users")
	fs.BoolVar(&f.devAllowRemote, "dev-allow-remote", false, "allow --dev on a non-loopback address (its keys are printed and world-usable)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.rateLimit, "rate-limit", "on", "rate limits: on or off")
	fs.IntVar(&f.rateTokens, "rate-limit-tokens", server.DefaultRateLimits.TokensPerMinute, "auth tokens each app may create per minute (0 = unlimited)")
	fs.IntVar(&f.rateFailedAuth, "rate-limit-failed-auth", server.DefaultRateLimits.FailedAuthPerMinute, "failed authentications per client IP per minute (0 = unlimited)")
	fs.DurationVar(&f.presenceGrace, "presence-grace", 5*time.Second, "how long a dropped realtime connection may take to come back before its user goes offline")
	fs.DurationVar(&f.nodeLease, "node-lease", 15*time.Second, "presence lease of this node; a crashed node's users go offline within it")
	fs.DurationVar(&f.shutdownDrain, "shutdown-drain", 2*time.Second, "on SIGTERM, answer 503 + Retry-After (and fail /readyz) this long before closing the listener, so a load balancer moves traffic to other nodes first; 0 closes at once")
	fs.IntVar(&f.wsMaxPerUser, "ws-max-per-user", 10, "live realtime connections per user on this node")
	fs.StringVar(&f.pprof, "pprof", "", "serve Go profiling (net/http/pprof) on this address, e.g. 127.0.0.1:6060; keep it private")
	fs.StringVar(&f.publicURL, "public-url", "", "the server's public base URL, the iss of call tokens (default: http:// and the address bound, https:// with --tls-cert)")
	fs.DurationVar(&f.callLeeway, "call-token-leeway", 30*time.Second, "clock skew allowed when verifying call tokens (exp, nbf, iat); 0 allows none")
	fs.StringVar(&f.auditRetention, "audit-retention", "2160h", `how long audit events are kept (2160h = 90 days; 720h, 30d…); 0 or "forever" keeps them`)
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS (HTTP/2 and HTTP/1.1, TLS 1.2+) with this PEM certificate chain; needs --tls-key; SIGHUP reads both files again")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key (RSA, ECDSA or Ed25519) of --tls-cert")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated CIDR ranges of reverse proxies whose X-Forwarded-For (or, without it, Forwarded) names the client, e.g. 127.0.0.1/32,10.0.0.0/8; without it those headers are ignored")
	fs.StringVar(&f.masterKeyFile, "master-key-file", "", "file holding 32 random bytes (hex or base64; mode 0600) that encrypt the call-token signing keys at rest; without it they are stored raw in the (0600) database")
	return cmd
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func (f *serveFlags) rateLimits() (server.RateLimits, error) {
	switch strings.ToLower(f.rateLimit) {
	case "on", "true", "1", "yes":
		return server.RateLimits{Enabled: true, TokensPerMinute: f.rateTokens, FailedAuthPerMinute: f.rateFailedAuth}, nil
	case "off", "false", "0", "no":
		return server.RateLimits{}, nil
	}
	return server.RateLimits{}, fmt.Errorf("--rate-limit %q: want on or off", f.rateLimit)
}

func runServe(ctx context.Context, stdout, stderr io.Writer, f *serveFlags) error {
	start := time.Now()
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	limits, err := f.rateLimits()
	if err != nil {
		return err
	}
	if f.dev && !f.devAllowRemote && !isLoopback(f.addr) {
		return fmt.Errorf("--dev refuses to listen on %s: dev mode prints its keys and allows every origin, so it only binds a loopback address (127.0.0.1, ::1, localhost).\n  Use --addr 127.0.0.1:8080, or add --dev-allow-remote if you really mean to expose it", f.addr)
	}
	var masterKey *signing.Keyring
	if f.masterKeyFile != "" {
		if masterKey, err = signing.LoadMasterKeyFile(f.masterKeyFile); err != nil {
			return err
		}
	}
	publicURL := strings.TrimRight(strings.TrimSpace(f.publicURL), "/")
	if publicURL != "" {
		if u, err := url.Parse(publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--public-url %q: want the URL clients reach the server at, e.g. https://callgate.example.com", f.publicURL)
		}
	}
	trusted, err := server.ParseTrustedProxies(f.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	certs, err := f.loadTLS(log)
	if err != nil {
		return err
	}
	if certs != nil {
		// From now on, so that a SIGHUP during start-up does not end the
		// process (its default).
		defer reloadOnHUP(ctx, certs, log)()
	}
	leeway := f.callLeeway
	if leeway < 0 {
		return fmt.Errorf("--call-token-leeway %s: want a duration of 0 or more, e.g. 30s", leeway)
	}
	if leeway == 0 {
		leeway = -1 // server.Config: negative means none, 0 the default
	}
	if f.shutdownDrain < 0 {
		return fmt.Errorf("--shutdown-drain %s: want a duration of 0 or more, e.g. 2s", f.shutdownDrain)
	}
	retention, err := auditRetention(f.auditRetention)
	if err != nil {
		return err
	}
	keepFilesPrivate()
	if f.db == "" {
		if err := os.MkdirAll(f.data, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	st, desc, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running there? pick another --addr)", f.addr, err)
	}
	scheme := "http://"
	if certs != nil {
		scheme = "https://"
	}
	host := scheme + ln.Addr().String()
	if publicURL == "" {
		publicURL = host
	}

	node := nodeid.New("node")
	var bus realtime.Bus = realtime.LocalBus{}
	if f.db != "" {
		if bus, err = realtime.NewPGBus(ctx, f.db, st.DB(), node, log); err != nil {
			ln.Close()
			return err
		}
	}
	var srv *server.Server
	hub := realtime.New(st, bus, realtime.Config{
		Node: node, Grace: f.presenceGrace, Lease: f.nodeLease, MaxPerUser: f.wsMaxPerUser, Log: log,
		OnRemote: func(ev realtime.Event) { srv.OnRemote(ev) },
	})
	srv = server.New(server.Config{Store: st, Logger: log, RateLimits: limits, Hub: hub,
		PublicURL: publicURL, CallTokenLeeway: leeway, AuditRetention: retention, MasterKey: masterKey, TrustedProxies: trusted})
	defer srv.Close()
	if err := hub.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("register realtime node: %w", err)
	}
	if f.pprof != "" {
		if err := servePprof(f.pprof, log); err != nil {
			ln.Close()
			return err
		}
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go srv.Run(bg)

	if f.dev {
		creds, created, err := provision.DevBootstrap(ctx, st, f.data, host, time.Now())
		if err != nil {
			ln.Close()
			return fmt.Errorf("dev mode set-up: %w", err)
		}
		printDevBanner(stdout, creds, created, filepath.Join(f.data, provision.DevCredentialsFile))
	}
	// A server started without its master key (or with another) would fail
	// at its first call token: refuse now instead.
	if err := signing.Check(ctx, st, masterKey, 100); err != nil {
		ln.Close()
		if errors.Is(err, signing.ErrMasterKeyRequired) || errors.Is(err, signing.ErrWrongMasterKey) {
			return fmt.Errorf("call-token signing keys: %w", err)
		}
		return err
	}
	// Every app gets its call-token signing key now, so the JWKS lists it
	// before the app's first token (apps created later get theirs on first use).
	if n, err := srv.EnsureSigningKeys(ctx); err != nil {
		log.Warn("creating call-token signing keys failed; they are created on first use", "err", err)
	} else if n > 0 {
		log.Info("created call-token signing keys", "apps", n, "encrypted", masterKey.Encrypts())
	}
	log.Info("callgate listening", "addr", ln.Addr().String(), "tls", certs != nil, "store", desc, "dev", f.dev,
		"rate_limit", limits.Enabled, "trusted_proxies", len(trusted), "version", version, "startup", time.Since(start).Round(time.Millisecond))
	beforeShutdown := func() {
		// Refuse first, so that a client reconnecting after the close
		// below is sent elsewhere rather than upgraded here again.
		drainStart := time.Now()
		srv.Drain()
		log.Info("draining: answering 503 until the listener closes", "for", f.shutdownDrain)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		time.Sleep(f.shutdownDrain - time.Since(drainStart))
	}
	if certs != nil {
		err = server.ServeTLS(ctx, ln, srv, log, certs.TLSConfig(), beforeShutdown)
	} else {
		err = server.Serve(ctx, ln, srv, log, beforeShutdown)
	}
	stopBG()
	srv.Close()
	if cerr := st.Close(); cerr != nil && err == nil {
		err = cerr
	}
	log.Info("callgate stopped")
	return err
}

// auditRetention turns --audit-retention into server.Config.AuditRetention,
// whose 0 means the default (90 days) and a negative value for ever: here
// 0 and "forever" keep events for ever.
func auditRetention(s string) (time.Duration, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "forever" || v == "0" {
		return -1, nil
	}
	d, err := parseLongDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--audit-retention %q: want a duration such as 2160h or 90d (days), or 0 or forever to keep audit events for ever", s)
	}
	if d == 0 {
		return -1, nil
	}
	if d < time.Hour {
		return 0, fmt.Errorf("--audit-retention %s: keep audit events an hour at least (or 0 / forever for ever)", s)
	}
	return d, nil
}

// parseLongDuration parses a Go duration (90m, 2160h) or a whole number of
// days (90d).
func parseLongDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok && digits.MatchString(n) {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q: too many days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// isLoopback reports whether addr binds only the loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func printDevBanner(w io.Writer, c *provision.DevCredentials, created bool, path string) {
	what := "reusing the dev app in"
	if created {
		what = "created a dev app; credentials saved to"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\ncallgate dev mode — %s %s (0600)\n\n", what, path)
	fmt.Fprintf(&b, "  App ID        %s\n", c.AppID)
	fmt.Fprintf(&b, "  Region        %s\n", c.Region)
	fmt.Fprintf(&b, "  Host          %s\n", c.Host)
	fmt.Fprintf(&b, "  Auth key      %s   (authOnly: create users and auth tokens — what login(uid, apiKey) needs)\n", c.AuthKey)
	fmt.Fprintf(&b, "  REST API key  %s   (fullAccess: the whole REST API; keep it on servers)\n", c.RESTAPIKey)
	fmt.Fprintf(&b, "  Sample users ")
	for i, u := range provision.SampleUsers {
		sep := ","
		if i == len(provision.SampleUsers)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, " %s (%s)%s", u.UID, u.Name, sep)
	}
	fmt.Fprintf(&b, "\n  Console       %s/console   (sign in with the App ID and the REST API key)", c.Host)
	fmt.Fprintf(&b, "\n\nTry it — create an auth token for a sample user:\n\n")
	fmt.Fprintf(&b, "  curl -s -X POST %s/v3/users/cometchat-uid-1/auth_tokens -H 'appId: %s' -H 'apiKey: %s'\n\n", c.Host, c.AppID, c.AuthKey)
	io.WriteString(w, b.String())
}

// servePprof serves the profiling endpoints on their own listener, never on
// the API's.
func servePprof(addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("profiling enabled", "addr", ln.Addr().String())
	go http.Serve(ln, mux)
	return nil
}

package calls

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultHost is the server the SDK talks to when neither AppSettings.Host
// nor $CALLGATE_HOST is set: where `callgate serve` listens by default.
const DefaultHost = "http://127.0.0.1:8080"

// HostEnv is the environment variable read when AppSettings.Host is empty.
const HostEnv = "CALLGATE_HOST"

// AppSettings configure a client (Init, New).
type AppSettings struct {
	AppID, Region string // lowercase a-z, 0-9 and -; at most 64 and 32 characters
	// Host is the server base URL, e.g. http://127.0.0.1:8080 (a path prefix
	// is kept, for servers behind a proxy). Empty: $CALLGATE_HOST, else
	// DefaultHost.
	Host string
	// AuthKey is an optional default API key for Login(ctx, uid, ""). Use
	// an authOnly key, and only in development: production apps log in with
	// auth tokens their own server creates.
	AuthKey string
	// SessionStore keeps the logged-in user between runs; nil means the
	// default file store, NewFileStore("") (os.UserConfigDir()/callgate/sessions).
	SessionStore SessionStore
	// HTTPClient makes the REST calls; nil means a client with sane
	// timeouts (10 s to connect, 30 s for the answer's headers, 60 s in all).
	HTTPClient *http.Client
	// DisableRealtime turns off the realtime connection (presence and
	// server-side revocation events). The zero value means realtime on: the
	// client connects after a login or a restored session and reconnects
	// with backoff and jitter.
	DisableRealtime bool
	// Presence chooses which users' presence the realtime connection hears:
	// "" or "all" (every user of the app), "none", or "roles:r1,r2" (users
	// with one of those roles). See docs/realtime.md.
	Presence string
	// Logger receives the SDK's warnings (a logout the server did not
	// confirm, a corrupt session, a panicking listener); nil means slog.Default().
	Logger *slog.Logger
	// TokenProvider, if set, is asked for a new auth token of the logged-in
	// user when the session's token is about to expire (when
	// OnAuthTokenWillExpire fires): your backend creates it, POST
	// /v3/users/{uid}/auth_tokens with its REST key. The SDK moves the
	// session to the new token and logs the old one out. ctx ends when the
	// session does or the old token expires. It is called once per
	// refresh, retried with backoff when it fails, and must not call
	// LogoutOtherSessions (which waits for the refresh). Nil: the session
	// ends when its token expires.
	TokenProvider func(ctx context.Context) (string, error)
	// TokenWillExpireBefore is how long before the token's expiry
	// OnAuthTokenWillExpire fires and the TokenProvider is asked; at most a
	// tenth of the token's lifetime. 0 means 60 s; negative is invalid.
	TokenWillExpireBefore time.Duration
}

// defaultWillExpireBefore is AppSettings.TokenWillExpireBefore's default.
const defaultWillExpireBefore = 60 * time.Second

// config is what one successful Init established. It never changes; a new
// Init makes a new one.
type config struct {
	appID, region, host, authKey string
	store                        SessionStore
	http                         *http.Client
	log                          *slog.Logger
	realtime                     bool
	presence                     string
	tokenProvider                func(context.Context) (string, error)
	willExpireBefore             time.Duration
}

var defaultHTTPClient = &http.Client{
	Timeout: 60 * time.Second,
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 10 * time.Second
		t.ResponseHeaderTimeout = 30 * time.Second
		return t
	}(),
}

// newConfig validates s.
func newConfig(s AppSettings) (*config, *Error) {
	bad := func(format string, args ...any) (*config, *Error) {
		return nil, newError(ErrInvalidAppSettings, fmt.Sprintf(format, args...))
	}
	if !validName(s.AppID, 64) {
		return bad("AppID %q is invalid: it must be 1 to 64 characters of lowercase a-z, 0-9 and -", s.AppID)
	}
	if !validName(s.Region, 32) {
		return bad("Region %q is invalid: it must be 1 to 32 characters of lowercase a-z, 0-9 and - (us, eu, in, …)", s.Region)
	}
	host := strings.TrimSpace(s.Host)
	if host == "" {
		host = strings.TrimSpace(os.Getenv(HostEnv))
	}
	if host == "" {
		host = DefaultHost
	}
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return bad("Host %q is invalid: it must be an http:// or https:// URL such as %s", host, DefaultHost)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return bad("Host %q is invalid: it must not carry a query or fragment", host)
	}
	if s.TokenWillExpireBefore < 0 {
		return bad("TokenWillExpireBefore %v is invalid: it must not be negative (0 means %v)", s.TokenWillExpireBefore, defaultWillExpireBefore)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	presence := strings.TrimSpace(s.Presence)
	if !validPresence(presence) {
		return bad("Presence %q is invalid: it must be all, none or roles:r1,r2", s.Presence)
	}
	cfg := &config{
		appID:    s.AppID,
		region:   s.Region,
		host:     u.String(),
		authKey:  strings.TrimSpace(s.AuthKey),
		store:    s.SessionStore,
		http:     s.HTTPClient,
		log:      s.Logger,
		realtime: !s.DisableRealtime,
		presence: presence,

		tokenProvider:    s.TokenProvider,
		willExpireBefore: s.TokenWillExpireBefore,
	}
	if cfg.willExpireBefore == 0 {
		cfg.willExpireBefore = defaultWillExpireBefore
	}
	if cfg.store == nil {
		cfg.store = NewFileStore("")
	}
	if cfg.http == nil {
		cfg.http = defaultHTTPClient
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	return cfg, nil
}

// validName reports whether s is 1..max characters of lowercase [a-z0-9-]
// (app ids and regions).
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validPresence reports whether p is a presence choice the server takes.
func validPresence(p string) bool {
	switch p {
	case "", "all", "none":
		return true
	}
	roles, ok := strings.CutPrefix(p, "roles:")
	if !ok {
		return false
	}
	for _, r := range strings.Split(roles, ",") {
		if r == "" || strings.Trim(strings.ToLower(r), "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
			return false
		}
	}
	return true
}

package calls

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// LogoutMessage is what a successful Logout returns.
const LogoutMessage = "Logout successful"

// Client is one SDK instance: its settings, its logged-in user and its
// listeners. The package-level functions use a default Client that Init
// configures; New gives independent ones (servers, bots, tests).
//
// The zero Client is valid and not initialised: its Login returns
// ERROR_SDK_NOT_INITIALIZED until Init succeeds. Every method is safe for
// concurrent use. A Client must not be copied after first use.
type Client struct {
	// commitMu serialises every change of the session together with its
	// store write, so memory and store change in the same order. It is
	// taken before mu, and never held across a network call or a callback.
	commitMu sync.Mutex

	mu        sync.Mutex // guards the fields below; held only briefly
	cfg       *config    // nil until Init succeeds
	user      *User      // the session; nil when nobody is logged in
	loggingIn bool       // a Login or LoginWithAuthToken is in flight
	// current is the id of the session (GET /me/sessions) of a token, once
	// a listing has said which one is current: LogoutSession needs it.
	current struct{ token, id string }

	lmu            sync.Mutex
	loginListeners map[string]LoginListener

	// refreshGate is held (write) by a token refresh from before it asks
	// the TokenProvider until the new token is the session, and (read) by
	// LogoutOtherSessions, which would otherwise end the new token.
	refreshGate sync.RWMutex

	rt  realtime // the live connection and its listeners (realtime.go)
	exp expiry   // the session's expiry timers and token refresh (expiry.go)
}

// New returns an independent, initialised client. Like Init it validates s
// (ERROR_INVALID_APP_SETTINGS) and restores the session saved in
// s.SessionStore, without a network call.
func New(s AppSettings) (*Client, error) {
	c := &Client{}
	if err := c.Init(s); err != nil {
		return nil, err
	}
	return c, nil
}

// Init (re)initialises c with s: it validates s and restores the session
// saved in the session store, without a network call, so a process that
// restarts is still logged in. A bad s returns ERROR_INVALID_APP_SETTINGS
// and leaves c as it was. Init while a login of c is in flight returns
// ERROR_LOGIN_IN_PROGRESS.
//
// Re-initialising does not log anybody out: the session of the previous
// settings stays in their store, and c takes whatever session the new
// store holds for the new app.
func (c *Client) Init(s AppSettings) error {
	cfg, e := newConfig(s)
	if e != nil {
		return e
	}
	c.commitMu.Lock()
	if c.isLoggingIn() {
		c.commitMu.Unlock()
		return inProgress()
	}
	restored := restore(cfg)
	c.mu.Lock()
	if c.loggingIn { // a login started while the store was read
		c.mu.Unlock()
		c.commitMu.Unlock()
		return inProgress()
	}
	oldCfg, old := c.cfg, c.user
	c.cfg, c.user = cfg, restored
	c.mu.Unlock()
	c.commitMu.Unlock()

	if sameSession(oldCfg, old, cfg, restored) {
		if restored != nil {
			// Same session, new settings: the expiry timers follow them
			// (TokenWillExpireBefore, TokenProvider).
			c.arm(cfg, restored.clone())
		}
		return nil
	}
	if old != nil {
		c.sessionEnded(oldCfg, old, endReinit)
	}
	if restored != nil {
		c.sessionStarted(cfg, restored.clone(), startRestored)
	}
	return nil
}

// restore loads the saved session of cfg's app; any trouble means no session.
func restore(cfg *config) *User {
	u, err := cfg.store.Load(cfg.appID)
	if err != nil {
		cfg.log.Warn("callgate: could not restore the saved session; nobody is logged in",
			"app", cfg.appID, "err", err)
		return nil
	}
	if u != nil && (u.UID == "" || u.AuthToken == "") {
		cfg.log.Warn("callgate: ignoring a saved session without uid or auth token; nobody is logged in",
			"app", cfg.appID)
		return nil
	}
	if u != nil && u.AuthTokenExpiresAt > 0 && time.Now().Unix() >= u.AuthTokenExpiresAt {
		cfg.log.Info("callgate: the saved session's auth token has expired; nobody is logged in",
			"app", cfg.appID, "uid", u.UID, "expiredAt", u.AuthTokenExpiresAt)
		return nil
	}
	return u.clone() // a custom store may keep the pointer it returned
}

func sameSession(c1 *config, u1 *User, c2 *config, u2 *User) bool {
	if u1 == nil || u2 == nil {
		return u1 == nil && u2 == nil
	}
	return c1.appID == c2.appID && c1.host == c2.host && u1.AuthToken == u2.AuthToken
}

// holds reports whether token is the session of c under cfg (the settings
// of the Init that is current).
func (c *Client) holds(cfg *config, token string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg == cfg && c.user != nil && c.user.AuthToken == token
}

func (c *Client) isLoggingIn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loggingIn
}

func inProgress() *Error {
	return newError(ErrLoginInProgress, "Please wait until the previous login request ends.")
}

// Login logs uid in with an API key (apiKey, or AppSettings.AuthKey when
// apiKey is empty) and returns the user, auth token included. It is for
// development: in production use LoginWithAuthToken with a token your
// server created.
//
// Checks, in this order: a login already in flight → ERROR_LOGIN_IN_PROGRESS;
// empty or blank uid → ERROR_INVALID_UID; uid with a space →
// ERROR_UID_WITH_SPACE; no key → ERROR_API_KEY_NOT_FOUND; not initialised →
// ERROR_SDK_NOT_INITIALIZED. If uid (compared case-insensitively) is
// already logged in, Login returns that user without a network call.
// Otherwise it calls POST /users/{uid}/auth_tokens and PUT /me, saves the
// session when both succeed, and only then logs the previous user, if any,
// out (server-side too). A failed login leaves the previous session as it was.
func (c *Client) Login(ctx context.Context, uid, apiKey string) (*User, error) {
	u, e := c.login(ctx, uid, apiKey)
	if e != nil {
		c.fireLoginFailure(e)
		return nil, e
	}
	c.fireLoginSuccess(u)
	return u, nil
}

func (c *Client) login(ctx context.Context, uid, apiKey string) (*User, *Error) {
	c.mu.Lock()
	if c.loggingIn {
		c.mu.Unlock()
		return nil, inProgress()
	}
	cfg := c.cfg
	key := strings.TrimSpace(apiKey)
	if key == "" && cfg != nil {
		key = cfg.authKey
	}
	var e *Error
	switch {
	case strings.TrimSpace(uid) == "":
		e = newError(ErrInvalidUID, "The UID cannot be empty. Please pass the uid of the user to log in.")
	case strings.ContainsFunc(uid, unicode.IsSpace):
		e = newError(ErrUIDWithSpace, "The UID cannot contain spaces. Please check the uid "+quote(uid)+".")
	case key == "":
		e = newError(ErrAPIKeyNotFound, "No API key: pass one to Login or set AppSettings.AuthKey (an authOnly key of your app).")
	case cfg == nil:
		e = notInitialized()
	}
	if e != nil {
		c.mu.Unlock()
		return nil, e
	}
	if cur := c.user; cur != nil && strings.EqualFold(cur.UID, uid) {
		u := cur.clone()
		c.mu.Unlock()
		return u, nil
	}
	c.loggingIn = true
	c.mu.Unlock()
	defer c.endLogin()

	token, e := cfg.createAuthToken(ctx, uid, key)
	if e != nil {
		return nil, e
	}
	u, e := cfg.startSession(ctx, token)
	if e != nil {
		cfg.discardToken(ctx, token, e)
		return nil, e
	}
	return c.commit(ctx, cfg, u), nil
}

// LoginWithAuthToken logs in with an auth token your server created (POST
// /users/{uid}/auth_tokens with a REST key) and returns the user.
//
// Checks, in this order: a login already in flight → ERROR_LOGIN_IN_PROGRESS;
// empty or blank token → ERROR_BLANK_AUTHTOKEN; token with a space →
// ERROR_AUTHTOKEN_WITH_SPACE; not initialised → ERROR_SDK_NOT_INITIALIZED.
// The token of the current session returns its user without a network
// call. Otherwise it calls PUT /me, saves the session, and then logs the
// previous session, if any, out (server-side too). A failed login leaves
// the previous session as it was.
func (c *Client) LoginWithAuthToken(ctx context.Context, token string) (*User, error) {
	u, e := c.loginWithAuthToken(ctx, token)
	if e != nil {
		c.fireLoginFailure(e)
		return nil, e
	}
	c.fireLoginSuccess(u)
	return u, nil
}

func (c *Client) loginWithAuthToken(ctx context.Context, token string) (*User, *Error) {
	c.mu.Lock()
	if c.loggingIn {
		c.mu.Unlock()
		return nil, inProgress()
	}
	cfg := c.cfg
	var e *Error
	switch {
	case strings.TrimSpace(token) == "":
		e = newError(ErrBlankAuthToken, "The auth token cannot be empty. Please pass the token your server created for the user.")
	case strings.ContainsFunc(token, unicode.IsSpace):
		e = newError(ErrAuthTokenWithSpace, "The auth token cannot contain spaces. Please check the token you passed.")
	case cfg == nil:
		e = notInitialized()
	}
	if e != nil {
		c.mu.Unlock()
		return nil, e
	}
	if cur := c.user; cur != nil && cur.AuthToken == token {
		u := cur.clone()
		c.mu.Unlock()
		return u, nil
	}
	c.loggingIn = true
	c.mu.Unlock()
	defer c.endLogin()

	u, e := cfg.startSession(ctx, token)
	if e != nil {
		return nil, e
	}
	return c.commit(ctx, cfg, u), nil
}

func (c *Client) endLogin() {
	c.mu.Lock()
	c.loggingIn = false
	c.mu.Unlock()
}

func notInitialized() *Error {
	return newError(ErrSDKNotInitialized, "The SDK is not initialised: call Init (or New) with your AppSettings first.")
}

// commit makes u the session: store first, then memory, then it tells the
// server to end the session u replaces. It runs while c.loggingIn is set,
// so Init cannot have replaced cfg.
func (c *Client) commit(ctx context.Context, cfg *config, u *User) *User {
	prev, _ := c.install(cfg, u, "")
	c.endReplaced(ctx, cfg, prev, u)
	return u.clone()
}

// install makes u the session — store, then memory, then the hooks
// (realtime, expiry timers) — and returns the session it replaced. With
// onlyIf set it does so only while the session is still onlyIf's under
// cfg, and reports whether it did.
func (c *Client) install(cfg *config, u *User, onlyIf string) (prev *User, ok bool) {
	c.commitMu.Lock()
	if onlyIf != "" && !c.holds(cfg, onlyIf) {
		c.commitMu.Unlock()
		return nil, false
	}
	if err := cfg.store.Save(cfg.appID, u.clone()); err != nil {
		cfg.log.Warn("callgate: could not save the session; you are logged in, but only until this process ends",
			"app", cfg.appID, "uid", u.UID, "err", err)
	}
	c.mu.Lock()
	prev = c.user
	c.user = u
	c.mu.Unlock()
	c.commitMu.Unlock()

	if prev != nil {
		c.sessionEnded(cfg, prev, endReplaced)
	}
	c.sessionStarted(cfg, u.clone(), startLogin)
	return prev, true
}

// endReplaced ends on the server the session prev that u replaced.
func (c *Client) endReplaced(ctx context.Context, cfg *config, prev, u *User) {
	if prev == nil || prev.AuthToken == u.AuthToken {
		return
	}
	// The new session is in place; now end the old one on the server.
	// The caller's cancellation must not leave it live.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctxOrBackground(ctx)), cleanupTimeout)
	defer cancel()
	if e := cfg.endSession(dctx, prev.AuthToken); e != nil && e.Code != codeTokenNotFound {
		cfg.log.Warn("callgate: could not log the previous session out on the server; its auth token may still be live",
			"app", cfg.appID, "uid", prev.UID, "code", e.Code, "err", e.Description)
	}
}

// discardToken revokes a token that was created but could not start a
// session, so it does not linger on the server. Best effort.
func (cfg *config) discardToken(ctx context.Context, token string, cause *Error) {
	if cause.Code == ErrNetwork || cause.Code == "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		return // the server is unreachable, or the token is already gone
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctxOrBackground(ctx)), cleanupTimeout)
	defer cancel()
	if e := cfg.endSession(dctx, token); e != nil {
		cfg.log.Debug("callgate: could not revoke the token of a failed login", "app", cfg.appID, "code", e.Code)
	}
}

func ctxOrBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// Logout ends the session: it clears the local session (memory and store),
// revokes the auth token on the server (DELETE /me), closes the realtime
// connection, and returns
// "Logout successful". The local session is cleared even when the server
// cannot be reached; then a warning is logged that the token may still be
// live on the server. With nobody logged in it returns
// ERROR_NO_USER_LOGGED_IN; before Init, ERROR_SDK_NOT_INITIALIZED.
func (c *Client) Logout(ctx context.Context) (string, error) {
	e := c.logout(ctx)
	if e != nil {
		c.fireLogoutFailure(e)
		return "", e
	}
	c.fireLogoutSuccess()
	return LogoutMessage, nil
}

func (c *Client) logout(ctx context.Context) *Error {
	cfg, u, e := c.dropSession("")
	if e != nil {
		return e
	}
	c.endLocally(ctx, cfg, u)
	return nil
}

// logoutToken is Logout of token's session; it reports false, doing
// nothing, when token is no longer the session.
func (c *Client) logoutToken(ctx context.Context, token string) bool {
	cfg, u, e := c.dropSession(token)
	if e != nil {
		return false
	}
	c.endLocally(ctx, cfg, u)
	return true
}

// endLocally finishes the logout of u, whose local session is dropped.
func (c *Client) endLocally(ctx context.Context, cfg *config, u *User) {
	// Revoke first, then close: the server ends presence at once for a
	// revoked session, but a socket that closes first reads as a dropped
	// connection, and others would hear "offline" only after its grace
	// period. The local session is already gone, so the revocation notice
	// the socket may still receive is not reported as OnSessionRevoked.
	e := cfg.endSession(ctx, u.AuthToken)
	c.sessionEnded(cfg, u, endLogout)
	if e != nil {
		switch e.Code {
		case codeTokenNotFound:
			cfg.log.Info("callgate: logged out; the server already considered the auth token revoked or expired",
				"app", cfg.appID, "uid", u.UID)
		default:
			cfg.log.Warn("callgate: logged out locally, but the server did not confirm; the auth token may still be live on the server",
				"app", cfg.appID, "uid", u.UID, "code", e.Code, "err", e.Description)
		}
	}
}

// dropSession clears the local session (store, then memory) and returns
// what it was. With a non-empty token it only does so while the session
// is still that token's (for revocations the server reports).
func (c *Client) dropSession(token string) (*config, *User, *Error) {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.mu.Lock()
	cfg, u := c.cfg, c.user
	c.mu.Unlock()
	if cfg == nil {
		return nil, nil, notInitialized()
	}
	if u == nil || token != "" && u.AuthToken != token {
		return nil, nil, newError(ErrNoUserLoggedIn, "Nobody is logged in.")
	}
	if err := cfg.store.Clear(cfg.appID); err != nil {
		cfg.log.Error("callgate: could not delete the saved session; the next start may restore a revoked session",
			"app", cfg.appID, "err", err)
	}
	c.mu.Lock()
	c.user = nil
	c.mu.Unlock()
	return cfg, u, nil
}

// GetLoggedInUser returns the logged-in user (a copy), or nil. It never
// makes a network call.
func (c *Client) GetLoggedInUser() *User {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user.clone()
}

// IsUserLoggedIn reports whether a user is logged in. It never makes a
// network call.
func (c *Client) IsUserLoggedIn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user != nil
}

// GetUserAuthToken returns the auth token of the logged-in user, or "".
// It never makes a network call.
func (c *Client) GetUserAuthToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user == nil {
		return ""
	}
	return c.user.AuthToken
}

// logger is the configured logger, or slog.Default() before Init.
func (c *Client) logger() *slog.Logger {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != nil {
		return c.cfg.log
	}
	return slog.Default()
}

// quote quotes s for an error description, cut to 100 characters.
func quote(s string) string {
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100]) + "…"
	}
	return strconv.Quote(s)
}

package calls

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Session is one of the logged-in user's sessions: an auth token, on
// whatever device it was used (ListSessions).
type Session struct {
	ID        string `json:"id"`        // for LogoutSession
	Platform  string `json:"platform"`  // as the client said at login: "go", "web", …
	DeviceID  string `json:"deviceId"`  // likewise
	UserAgent string `json:"userAgent"` // likewise
	CreatedAt int64  `json:"createdAt"` // unix seconds
	// LastUsedAt is when the token was last used (unix seconds; 0 = not
	// yet). The server records it written behind, to the minute.
	LastUsedAt int64 `json:"lastUsedAt"`
	ExpiresAt  int64 `json:"expiresAt"` // unix seconds; 0 = never
	Current    bool  `json:"current"`   // the session of this client
	Connected  bool  `json:"connected"` // a realtime connection of it is live
}

// session returns the settings and the session, or nil ones.
func (c *Client) session() (*config, *User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg, c.user.clone()
}

// needSession is the check of the session calls: initialised, then
// somebody logged in.
func (c *Client) needSession() (*config, *User, *Error) {
	cfg, u := c.session()
	if cfg == nil {
		return nil, nil, notInitialized()
	}
	if u == nil {
		return nil, nil, newError(ErrNoUserLoggedIn, "Nobody is logged in: log in (Login or LoginWithAuthToken) first.")
	}
	return cfg, u, nil
}

// authed makes call with the session's token. A call that finds the token
// gone because the session moved to another token of the same user while
// it was on its way (a token refresh, a login with another token) is made
// once more, with the new token.
func (c *Client) authed(cfg *config, u *User, call func(cfg *config, token string) *Error) *Error {
	e := call(cfg, u.AuthToken)
	if e == nil || e.Code != codeTokenNotFound {
		return e
	}
	cfg2, u2 := c.session()
	if cfg2 != cfg || u2 == nil || u2.AuthToken == u.AuthToken || !strings.EqualFold(u2.UID, u.UID) {
		return e
	}
	return call(cfg2, u2.AuthToken)
}

// codeTokenNotFound is the server's code for an unknown, revoked or
// expired auth token.
const codeTokenNotFound = "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"

// ListSessions returns the logged-in user's sessions (GET /me/sessions),
// this one included (Current). Checks: not initialised →
// ERROR_SDK_NOT_INITIALIZED; nobody logged in → ERROR_NO_USER_LOGGED_IN.
// Server errors pass through with the server's code.
func (c *Client) ListSessions(ctx context.Context) ([]Session, error) {
	cfg, u, e := c.needSession()
	if e != nil {
		return nil, e
	}
	var out []Session
	e = c.authed(cfg, u, func(cfg *config, token string) *Error {
		out = nil
		if e := cfg.do(ctx, http.MethodGet, "/me/sessions", "authToken", token, nil, &out); e != nil {
			return e
		}
		for _, s := range out {
			if s.Current {
				c.learnCurrent(token, s.ID)
			}
		}
		return nil
	})
	if e != nil {
		return nil, e
	}
	if out == nil {
		out = []Session{}
	}
	return out, nil
}

func (c *Client) learnCurrent(token, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current.token, c.current.id = token, id
}

// currentID returns the session id of token, "" when not known yet.
func (c *Client) currentID(token string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current.token != token {
		return ""
	}
	return c.current.id
}

// LogoutSession ends one of the logged-in user's sessions, id from
// ListSessions (DELETE /me/sessions/{id}); a client holding it hears
// OnSessionRevoked(RevokedLoggedOutElsewhere).
//
// The id of this client's own session is a Logout: the local session ends
// (memory, store, realtime), OnLogoutSuccess fires, and it succeeds even
// when the server cannot be reached (a warning is logged). To tell, the
// client must know its session's id: unless a ListSessions of this
// session said it, LogoutSession lists the sessions first (one more
// request).
//
// Checks, in this order: empty or blank id → ERROR_SESSION_ID_MISSING; not
// initialised → ERROR_SDK_NOT_INITIALIZED; nobody logged in →
// ERROR_NO_USER_LOGGED_IN. Server errors pass through with the server's
// code: an id that is not one of the user's sessions (or has ended
// already) is ERR_AUTH_TOKEN_NOT_FOUND.
func (c *Client) LogoutSession(ctx context.Context, id string) error {
	if strings.TrimSpace(id) == "" {
		return newError(ErrSessionIDMissing, "The session id cannot be empty. Please pass the id of one of the sessions ListSessions returns.")
	}
	cfg, u, e := c.needSession()
	if e != nil {
		return e
	}
	cur := c.currentID(u.AuthToken)
	if cur == "" {
		if _, err := c.ListSessions(ctx); err != nil {
			return err
		}
		// The listing may have been made with the token a refresh moved to.
		if cfg, u, e = c.needSession(); e != nil {
			return e
		}
		cur = c.currentID(u.AuthToken)
	}
	if id == cur {
		if !c.logoutToken(ctx, u.AuthToken) {
			return nil // the session moved on meanwhile, which ended it (a login, a refresh, a revocation)
		}
		c.fireLogoutSuccess()
		return nil
	}
	return errOf(c.authed(cfg, u, func(cfg *config, token string) *Error {
		return cfg.do(ctx, http.MethodDelete, "/me/sessions/"+url.PathEscape(id), "authToken", token, nil, nil)
	}))
}

// errOf returns e as an error: nil for a nil *Error.
func errOf(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// LogoutOtherSessions ends every session of the logged-in user but this
// one (DELETE /me/sessions) and returns how many it ended. Clients holding
// them hear OnSessionRevoked(RevokedLoggedOutElsewhere). It waits for a
// token refresh in flight, so it never ends the session the refresh is
// moving to. Checks: not initialised → ERROR_SDK_NOT_INITIALIZED; nobody
// logged in → ERROR_NO_USER_LOGGED_IN. Server errors pass through.
func (c *Client) LogoutOtherSessions(ctx context.Context) (int, error) {
	cfg, _, e := c.needSession()
	if e != nil {
		return 0, e
	}
	// The token the refresh will move to exists on the server before the
	// client knows it: it would count as another session.
	c.refreshGate.RLock()
	defer c.refreshGate.RUnlock()
	cfg, u, e := c.needSession()
	if e != nil {
		return 0, e
	}
	var out struct {
		Revoked *int `json:"revoked"`
	}
	e = c.authed(cfg, u, func(cfg *config, token string) *Error {
		return cfg.do(ctx, http.MethodDelete, "/me/sessions", "authToken", token, nil, &out)
	})
	if e != nil {
		return 0, e
	}
	if out.Revoked == nil {
		return 0, newError(ErrNetwork, fmt.Sprintf("unexpected answer from %s to DELETE %s/me/sessions (no revoked)", redactHost(cfg.host), apiPrefix))
	}
	return *out.Revoked, nil
}

// ListSessions lists the sessions of the default client's user; see
// Client.ListSessions.
func ListSessions(ctx context.Context) ([]Session, error) { return std.ListSessions(ctx) }

// LogoutSession ends one session of the default client's user; see
// Client.LogoutSession.
func LogoutSession(ctx context.Context, id string) error { return std.LogoutSession(ctx, id) }

// LogoutOtherSessions ends the other sessions of the default client's
// user; see Client.LogoutOtherSessions.
func LogoutOtherSessions(ctx context.Context) (int, error) { return std.LogoutOtherSessions(ctx) }

package calls

import (
	"runtime/debug"
	"sort"
)

// LoginListener receives the outcome of every Login, LoginWithAuthToken and
// Logout of a client, failures of local checks included, and of every
// token refresh (OnLoginSuccess with the user and the new token;
// OnLoginFailure with ERROR_TOKEN_REFRESH_FAILED). Nil fields are skipped.
// Callbacks of a call run on the goroutine that made it, before it
// returns; those of expiry and refresh on a goroutine of the SDK. No lock
// of the SDK is held: callbacks may call the SDK. A callback that panics
// is recovered and logged; it does not affect the SDK or the other
// listeners.
type LoginListener struct {
	OnLoginSuccess  func(*User)
	OnLoginFailure  func(*Error)
	OnLogoutSuccess func()
	OnLogoutFailure func(*Error)
	// OnAuthTokenWillExpire fires once per token, AppSettings.
	// TokenWillExpireBefore (at most a tenth of its lifetime) before the
	// session's token expires at expiresAt (unix seconds). With a
	// TokenProvider the SDK refreshes the token then; without one, the
	// session ends at expiresAt (OnSessionRevoked(RevokedTokenExpired))
	// unless the app logs in again.
	OnAuthTokenWillExpire func(expiresAt int64)
}

// AddLoginListener registers l under id; a listener already registered
// under id is replaced.
func (c *Client) AddLoginListener(id string, l LoginListener) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	if c.loginListeners == nil {
		c.loginListeners = map[string]LoginListener{}
	}
	c.loginListeners[id] = l
}

// RemoveLoginListener removes the listener registered under id, if any.
func (c *Client) RemoveLoginListener(id string) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	delete(c.loginListeners, id)
}

type namedListener struct {
	id string
	l  LoginListener
}

// listeners returns the login listeners in id order (a snapshot: the lock is
// released before any callback runs).
func (c *Client) listeners() []namedListener {
	c.lmu.Lock()
	out := make([]namedListener, 0, len(c.loginListeners))
	for id, l := range c.loginListeners {
		out = append(out, namedListener{id, l})
	}
	c.lmu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (c *Client) fireLoginSuccess(u *User) {
	for _, n := range c.listeners() {
		if f := n.l.OnLoginSuccess; f != nil {
			c.safely(n.id, "OnLoginSuccess", func() { f(u.clone()) })
		}
	}
}

func (c *Client) fireLoginFailure(e *Error) {
	for _, n := range c.listeners() {
		if f := n.l.OnLoginFailure; f != nil {
			c.safely(n.id, "OnLoginFailure", func() { f(&Error{Code: e.Code, Description: e.Description}) })
		}
	}
}

func (c *Client) fireWillExpire(expiresAt int64) {
	for _, n := range c.listeners() {
		if f := n.l.OnAuthTokenWillExpire; f != nil {
			c.safely(n.id, "OnAuthTokenWillExpire", func() { f(expiresAt) })
		}
	}
}

func (c *Client) fireLogoutSuccess() {
	for _, n := range c.listeners() {
		if f := n.l.OnLogoutSuccess; f != nil {
			c.safely(n.id, "OnLogoutSuccess", f)
		}
	}
}

func (c *Client) fireLogoutFailure(e *Error) {
	for _, n := range c.listeners() {
		if f := n.l.OnLogoutFailure; f != nil {
			c.safely(n.id, "OnLogoutFailure", func() { f(&Error{Code: e.Code, Description: e.Description}) })
		}
	}
}

// safely runs a listener callback, recovering and logging a panic.
func (c *Client) safely(id, callback string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			c.logger().Error("callgate: a listener panicked; the SDK carries on",
				"listener", id, "callback", callback, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	f()
}

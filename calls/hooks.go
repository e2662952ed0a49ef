package calls

// Hook points for the realtime connection (presence, server-side
// revocation; realtime.go). They are called with no lock held, in the
// order the session changes.

type startReason int

const (
	startLogin    startReason = iota // Login or LoginWithAuthToken established u
	startRestored                    // Init or New restored u from the session store
)

type endReason int

const (
	endLogout   endReason = iota // the client's own Logout; local state is cleared and DELETE /me was sent
	endReplaced                  // another user logged in on this client; DELETE /me with u's token follows
	endReinit                    // Init switched settings; u's session stays in the old settings' store
	endRevoked                   // the server revoked u's session (see revoked)
)

// sessionStarted is called after a session is established or restored.
// The expiry timers are armed and realtime connects here (unless
// cfg.realtime is false).
func (c *Client) sessionStarted(cfg *config, u *User, why startReason) {
	c.arm(cfg, u)
	if cfg.realtime {
		c.rtStart(cfg, u.AuthToken)
	}
}

// sessionEnded is called after the local session u ended; it stops the
// expiry timers and a token refresh in flight, and closes the realtime
// connection. The server's revocation of u is never reported as
// OnSessionRevoked, whichever comes first: the local session is already
// gone, so the connection's revocation notice finds nothing to end.
func (c *Client) sessionEnded(cfg *config, u *User, why endReason) {
	c.disarm(u.AuthToken)
	// A revocation is reported by the connection goroutine itself, which
	// must not wait for itself.
	c.rtStop(u.AuthToken, why != endRevoked)
}

// revoked ends the local session of token after the server revoked it
// (realtime reports this), without calling the server. It reports whether
// token was still the session. The store is cleared too, so a restart does
// not restore a dead session.
func (c *Client) revoked(token string) bool {
	cfg, u, e := c.dropSession(token)
	if e != nil {
		return false
	}
	c.sessionEnded(cfg, u, endRevoked)
	return true
}

// endRevoked ends token's session after the server revoked it (or it
// expired) and reports reason to the connection listeners, unless the
// session had already ended here: each end is reported once, whichever
// path (the connection, the expiry timer) gets there first.
func (c *Client) endRevoked(token, reason string) {
	if !c.revoked(token) {
		return
	}
	c.fireConn(func(l ConnectionListener) func() {
		if l.OnSessionRevoked == nil {
			return nil
		}
		return func() { l.OnSessionRevoked(reason) }
	}, "OnSessionRevoked")
}

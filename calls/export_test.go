package calls

import "time"

// ResetDefault puts the default client back to its state before any Init
// (tests of the package-level functions).
func ResetDefault() {
	std.commitMu.Lock()
	std.mu.Lock()
	std.cfg, std.user, std.loggingIn = nil, nil, false
	std.mu.Unlock()
	std.commitMu.Unlock()
	std.lmu.Lock()
	std.loginListeners = nil
	std.lmu.Unlock()
	std.exp.mu.Lock()
	std.exp.stopLocked()
	std.exp.mu.Unlock()
	std.rtStop("", true)
}

// SetRefreshBackoff shortens the backoff of failed token refreshes; the
// returned function restores it.
func SetRefreshBackoff(lo, hi time.Duration) (restore func()) {
	oldLo, oldHi := refreshBackoffMin.Load(), refreshBackoffMax.Load()
	refreshBackoffMin.Store(int64(lo))
	refreshBackoffMax.Store(int64(hi))
	return func() {
		refreshBackoffMin.Store(oldLo)
		refreshBackoffMax.Store(oldHi)
	}
}

// WillExpireAt exposes when OnAuthTokenWillExpire fires for a token.
func WillExpireAt(token string, exp int64, lead time.Duration, now time.Time) time.Time {
	return willExpireAt(token, exp, lead, now)
}

// Revoked exposes the realtime hook that drops a session the server revoked.
func (c *Client) Revoked(token string) bool { return c.revoked(token) }

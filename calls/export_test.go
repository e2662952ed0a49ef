package calls

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
}

// Revoked exposes the realtime hook that drops a session the server revoked.
func (c *Client) Revoked(token string) bool { return c.revoked(token) }

package calls

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// GenerateToken returns a call token for the call session sessionID: a
// short-lived JWT, signed by the server, that admits the logged-in user to
// that session. Hand it to your media server, which verifies it offline
// (package github.com/callgate/callgate/calltoken). The token dies with
// the session that minted it: after Logout (or any revocation) the
// server's online check reports it revoked.
//
// Checks, in this order: empty or blank sessionID → ERROR_SESSION_ID_MISSING;
// not initialised → ERROR_SDK_NOT_INITIALIZED; nobody logged in →
// ERROR_AUTH_TOKEN_MISSING. Server errors pass through with the server's
// code and message (a sessionID the server refuses, e.g. one with spaces
// or over 255 characters, is ERR_BAD_REQUEST; a revoked session is
// AUTH_ERR_AUTH_TOKEN_NOT_FOUND); transport failures are ERROR_NETWORK.
func (c *Client) GenerateToken(ctx context.Context, sessionID string) (string, error) {
	if strings.TrimSpace(sessionID) == "" {
		return "", newError(ErrSessionIDMissing, "The session ID cannot be empty. Please pass the id of the call session to join.")
	}
	cfg, u := c.session()
	if cfg == nil {
		return "", notInitialized()
	}
	if u == nil || u.AuthToken == "" {
		return "", newError(ErrAuthTokenMissing, "Nobody is logged in: log in (Login or LoginWithAuthToken) before generating a call token.")
	}
	var out struct {
		Token string `json:"token"`
	}
	body := struct {
		SessionID string `json:"sessionId"`
	}{sessionID}
	e := c.authed(cfg, u, func(cfg *config, token string) *Error {
		return cfg.do(ctx, http.MethodPost, "/call_tokens", "authToken", token, body, &out)
	})
	if e != nil {
		return "", e
	}
	if out.Token == "" {
		return "", newError(ErrNetwork, fmt.Sprintf("unexpected answer from %s to POST %s/call_tokens (no token)", redactHost(cfg.host), apiPrefix))
	}
	return out.Token, nil
}

// GenerateToken returns a call token from the default client; see
// Client.GenerateToken.
func GenerateToken(ctx context.Context, sessionID string) (string, error) {
	return std.GenerateToken(ctx, sessionID)
}

package server

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/realtime"
)

// websocket upgrades GET /ws after authenticating like the client API.
// Browsers cannot set headers on a WebSocket, so appId and authToken may
// also come as query parameters of those names.
func (s *Server) websocket(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.hub == nil {
		return apierr.New(apierr.EndpointNotFound)
	}
	q := r.URL.Query()
	if r.Header.Get("appId") == "" && q.Get("appId") != "" {
		r.Header.Set("appId", q.Get("appId"))
	}
	token := r.Header.Get("authToken")
	if token == "" {
		token = q.Get("authToken")
	}
	if err := s.authToken(r, token, c); err != nil {
		return err
	}
	info(r.Context()).appID = c.app.ID
	// An upgrade is an API request like any other: a page of an origin the
	// app does not allow gets no connection (the library's own origin
	// check is off, as the app's list is ours to apply).
	if err := checkOrigin(r, c.app); err != nil {
		return err
	}
	filter, err := realtime.ParsePresence(q.Get("presence"))
	if err != nil {
		return apierr.New(apierr.BadRequest).Field("presence", err.Error())
	}
	if err := checkHandshake(r); err != nil {
		return err
	}
	s.hub.Serve(w, r, realtime.Session{AppID: c.app.ID, UID: c.user.UID, TokenHash: c.tok.Hash,
		CreatedAt: c.tok.CreatedAt, ExpiresAt: c.tok.ExpiresAt, Role: c.user.Role, Presence: filter})
	return nil
}

// checkHandshake checks everything the WebSocket library would refuse, so
// that every refusal is the JSON envelope of docs/realtime.md (left to the
// library, a bad handshake got a text/plain 400 or 426).
func checkHandshake(r *http.Request) error {
	bad := func(field, problem string) *apierr.Error {
		return apierr.New(apierr.BadRequest).Field(field, problem)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		return bad("Upgrade", "must be websocket: GET /ws is a WebSocket endpoint (Connection: Upgrade, Upgrade: websocket)").
			SetHeader("Upgrade", "websocket")
	}
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 {
		return bad("protocol", "the WebSocket handshake needs HTTP/1.1, not "+sanitize(r.Proto))
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return bad("Sec-WebSocket-Version", "must be 13 (RFC 6455), not "+strconv.Quote(sanitize(v))).
			SetHeader("Sec-WebSocket-Version", "13")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return bad("Sec-WebSocket-Key", "must be sent exactly once")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return bad("Sec-WebSocket-Key", "must be 16 bytes in base64")
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

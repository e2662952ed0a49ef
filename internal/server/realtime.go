package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
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
	if !isUpgrade(r) {
		// Left to the WebSocket library, a plain GET would get a text/plain
		// 426; every error of the API is the JSON envelope (DESIGN.md).
		return apierr.New(apierr.BadRequest).
			Field("Upgrade", "must be websocket: GET /ws is a WebSocket endpoint (Connection: Upgrade, Upgrade: websocket)").
			SetHeader("Upgrade", "websocket")
	}
	s.hub.Serve(w, r, realtime.Session{AppID: c.app.ID, UID: c.user.UID, TokenHash: c.tok.Hash, ExpiresAt: c.tok.ExpiresAt})
	return nil
}

// isUpgrade reports whether r asks for a WebSocket upgrade.
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
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

// OnRemote applies another node's event to this node's caches; wire it to
// the hub's Config.OnRemote.
func (s *Server) OnRemote(ev realtime.Event) {
	switch ev.Kind {
	case realtime.KindRevokeTokens:
		for _, h := range ev.Hashes {
			s.sessions.forgetHex(h)
		}
	case realtime.KindRevokeUser, realtime.KindUserChanged:
		s.sessions.forgetUser(ev.AppID, ev.UID)
	case realtime.KindKeysRotated:
		s.ct.forget(ev.AppID, &store.SigningKey{ID: ev.Reason})
	case realtime.KindResync:
		s.sessions.forgetAll()
		s.keys.clear()
		s.apps.clear()
	}
}

// Run runs the server's background work until ctx ends: the realtime hub
// (lease, other nodes' events) and the janitor that removes expired tokens.
func (s *Server) Run(ctx context.Context) {
	if s.hub != nil {
		go s.hub.Run(ctx)
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.reapExpired(ctx)
		}
	}
}

func (s *Server) reapExpired(ctx context.Context) {
	toks, err := s.st.DeleteExpiredAuthTokens(ctx, s.now().Unix())
	if err != nil {
		s.log.Warn("removing expired auth tokens failed", "err", err)
		return
	}
	s.revokeTokens(ctx, toks, ReasonTokenExpired)
}

// Shutdown ends realtime connections and withdraws this node's presence.
// http.Server.Shutdown does not track hijacked connections, so this runs first.
func (s *Server) Shutdown(ctx context.Context) {
	if s.hub != nil {
		s.hub.Shutdown(ctx)
	}
}

// revokeTokens ends the sessions of deleted tokens: cached sessions and
// live connections, on this node and (through the bus) every other.
func (s *Server) revokeTokens(ctx context.Context, toks []*store.AuthToken, reason string) {
	if len(toks) == 0 {
		return
	}
	hashes := make([][]byte, len(toks))
	for i, t := range toks {
		s.sessions.forgetToken(t.Hash)
		hashes[i] = t.Hash
	}
	if s.hub != nil {
		s.hub.RevokeTokens(context.WithoutCancel(ctx), hashes, reason)
	}
}

// forgetTokens drops deleted tokens from this node's cache (a user-wide
// revocation tells other nodes and closes connections).
func (s *Server) forgetTokens(toks []*store.AuthToken) {
	for _, t := range toks {
		s.sessions.forgetToken(t.Hash)
	}
}

// revokeUser ends every session of a user (deleted or deactivated).
func (s *Server) revokeUser(ctx context.Context, appID, uid, reason string) {
	s.sessions.forgetUser(appID, uid)
	if s.hub != nil {
		s.hub.RevokeUser(context.WithoutCancel(ctx), appID, uid, reason)
	}
}

// userChanged drops cached copies of a user here and on other nodes.
func (s *Server) userChanged(ctx context.Context, appID, uid string) {
	s.sessions.forgetUser(appID, uid)
	if s.hub != nil {
		s.hub.UserChanged(context.WithoutCancel(ctx), appID, uid)
	}
}

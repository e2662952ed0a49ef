package server

import (
	"context"
	"time"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
)

// The server's life beside requests: other nodes' events, the janitor, and
// shutdown.

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
	case realtime.KindAppChanged:
		s.apps.del(ev.AppID)
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
	s.revokeTokens(ctx, toks, realtime.ReasonTokenExpired)
}

// Shutdown ends realtime connections and withdraws this node's presence.
// http.Server.Shutdown does not track hijacked connections, so this runs first.
func (s *Server) Shutdown(ctx context.Context) {
	if s.hub != nil {
		s.hub.Shutdown(ctx)
	}
}

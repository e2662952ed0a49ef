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
	case realtime.KindRevokeBefore:
		s.sessions.forgetBefore(ev.AppID, ev.UID, ev.Before)
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
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.reapExpired(ctx)
			if ticks++; ticks%idleSweepEvery == 0 {
				s.reapIdle(ctx, s.now().Unix())
			}
		}
	}
}

func (s *Server) reapExpired(ctx context.Context) {
	now := s.now().Unix()
	toks, err := s.st.DeleteExpiredAuthTokens(ctx, now)
	if err != nil {
		s.log.Warn("removing expired auth tokens failed", "err", err)
	} else {
		s.revokeTokens(ctx, toks, realtime.ReasonTokenExpired)
	}
	s.reapAudit(ctx)
}

// idleSweepEvery is how many janitor minutes pass between idle sweeps. A
// sweep reads the whole token table per app with a timeout (no index by
// app and time: it would cost every login), and requests already refuse
// idle tokens, so the sweep only tidies up.
const idleSweepEvery = 15

// reapIdle removes the tokens of apps with an idle timeout that went unused
// for longer (those with a live connection are in use and stay).
func (s *Server) reapIdle(ctx context.Context, now int64) {
	apps, err := s.st.ListApps(ctx)
	if err != nil {
		s.log.Warn("listing apps for the idle timeout failed", "err", err)
		return
	}
	for _, a := range apps {
		timeout := a.Settings.AuthTokenIdleTimeout
		if timeout <= 0 {
			continue
		}
		toks, err := s.st.DeleteIdleAuthTokens(ctx, a.ID, now-timeout-lastUsedResolution, now)
		if err != nil {
			s.log.Warn("removing idle auth tokens failed", "app", a.ID, "err", err)
			continue
		}
		s.revokeTokens(ctx, toks, realtime.ReasonTokenIdle)
	}
}

// Shutdown ends realtime connections and withdraws this node's presence,
// and ends the admin event streams. http.Server.Shutdown does not track
// hijacked connections, and would wait out the streams, so this runs first.
func (s *Server) Shutdown(ctx context.Context) {
	s.feed.close()
	if s.hub != nil {
		s.hub.Shutdown(ctx)
	}
}

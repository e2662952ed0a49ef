package server

// Revocation (docs/design.md "Revocation"): what ends a session here and,
// through the hub, on every other node.

import (
	"context"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
)

// revokeTokens ends the sessions of deleted tokens: cached sessions and
// live connections, on this node and (through the bus) every other.
func (s *Server) revokeTokens(ctx context.Context, toks []*store.AuthToken, reason realtime.Reason) {
	if len(toks) == 0 {
		return
	}
	// By app: a bus event names its app (the janitor's expired tokens
	// span apps), so that each app's admin event stream hears of its own.
	byApp := map[string][][]byte{}
	var apps []string
	for _, t := range toks {
		s.sessions.forgetToken(t.Hash)
		if byApp[t.AppID] == nil {
			apps = append(apps, t.AppID)
		}
		byApp[t.AppID] = append(byApp[t.AppID], t.Hash)
	}
	if s.hub != nil {
		for _, app := range apps {
			s.hub.RevokeTokens(context.WithoutCancel(ctx), app, byApp[app], reason)
		}
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
func (s *Server) revokeUser(ctx context.Context, appID, uid string, reason realtime.Reason) {
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

package server

// A user's own sessions (docs/sessions.md): GET /me/sessions, DELETE
// /me/sessions/{id}, DELETE /me/sessions. A session is one auth token.

import (
	"errors"
	"net/http"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

func (s *Server) listMySessions(w http.ResponseWriter, r *http.Request, c *call) error {
	toks, err := s.st.ListAuthTokens(r.Context(), c.app.ID, c.tok.UID)
	if err != nil {
		return err
	}
	writeAll(w, toks, func(t *store.AuthToken) wire.Session {
		return wire.Session{
			ID: t.ID, Platform: t.Platform, DeviceID: t.DeviceID, UserAgent: t.UserAgent,
			CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt,
			Current: t.ID == c.tok.ID,
			// This node knows its own sockets now; the store knows every
			// node's, written behind.
			Connected: t.Connected || s.hub != nil && s.hub.TokenConnected(t.Hash),
		}
	})
	return nil
}

func (s *Server) logoutMySession(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("id")
	del, err := s.st.DeleteAuthToken(r.Context(), c.app.ID, c.tok.UID, id)
	if errors.Is(err, store.ErrNotFound) {
		// Another user's session is as unknown as no session.
		return apierr.New(apierr.RESTTokenNotFound).With("uid", c.tok.UID)
	}
	if err != nil {
		return err
	}
	reason := realtime.ReasonLoggedOutElsewhere
	if del.ID == c.tok.ID {
		reason = realtime.ReasonLogout // the current session: a logout
	}
	s.revokeTokens(r.Context(), []*store.AuthToken{del}, reason)
	writeData(w, successJSON{Success: true, Message: "Session " + del.ID + " ended."})
	return nil
}

func (s *Server) logoutMyOtherSessions(w http.ResponseWriter, r *http.Request, c *call) error {
	toks, err := s.st.ListAuthTokens(r.Context(), c.app.ID, c.tok.UID)
	if err != nil {
		return err
	}
	var ended []*store.AuthToken
	for _, t := range toks {
		if t.ID == c.tok.ID {
			continue
		}
		del, err := s.st.DeleteAuthToken(r.Context(), c.app.ID, c.tok.UID, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // ended meanwhile
		}
		if err != nil {
			s.revokeTokens(r.Context(), ended, realtime.ReasonLoggedOutElsewhere)
			return err
		}
		ended = append(ended, del)
	}
	s.revokeTokens(r.Context(), ended, realtime.ReasonLoggedOutElsewhere)
	writeData(w, struct {
		Revoked int `json:"revoked"`
	}{len(ended)})
	return nil
}

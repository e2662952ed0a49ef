package server

// Client API: the session of an auth token, PUT/GET/DELETE /me
// (docs/api.md "Client API").

import (
	"errors"
	"net/http"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
)

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, c *call) error {
	var req tokenReq
	if err := decode(r, &req); err != nil {
		return err
	}
	var v validator
	v.device(&req)
	if err := v.result(); err != nil {
		return err
	}
	now := s.now().Unix()
	// Written behind: the token was just validated, and what PUT /me
	// records is bookkeeping, not a credential.
	s.touch.session(c.tok.Hash, store.SessionUpdate{
		Platform: req.Platform, DeviceID: req.DeviceID, UserAgent: req.UserAgent, Now: now,
	})
	s.metrics.logins.Inc()
	out := s.userView(c.user)
	out.Status = "online" // the session is starting
	out.LastActiveAt = now
	out.AuthToken = c.token
	out.AuthTokenExpiresAt = &c.tok.ExpiresAt
	writeData(w, out)
	return nil
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request, c *call) error {
	out := s.userView(c.user)
	out.AuthTokenExpiresAt = &c.tok.ExpiresAt
	writeData(w, out)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	del, err := s.st.DeleteAuthToken(r.Context(), c.app.ID, c.tok.UID, c.tok.ID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.New(apierr.AuthTokenNotFound)
	}
	if err != nil {
		return err
	}
	s.revokeTokens(r.Context(), []*store.AuthToken{del}, realtime.ReasonLogout)
	writeData(w, struct {
		successJSON
		UID string `json:"uid"`
	}{successJSON{true, "Logout successful"}, del.UID})
	return nil
}

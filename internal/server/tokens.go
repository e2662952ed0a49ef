package server

// REST: a user's auth tokens, POST/GET/DELETE /users/{uid}/auth_tokens and
// GET/DELETE /users/{uid}/auth_tokens/{ref} (docs/api.md "Auth tokens").

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
)

type tokenReq struct {
	Force     bool   `json:"force"` // accepted; a stored hash cannot be handed back
	Platform  string `json:"platform"`
	DeviceID  string `json:"deviceId"`
	UserAgent string `json:"userAgent"`
	AppInfo   struct {
		// Raw, so any JSON type is tolerated; only a string is used.
		UserAgent json.RawMessage `json:"userAgent"`
	} `json:"appInfo"`
}

func (s *Server) createAuthToken(w http.ResponseWriter, r *http.Request, c *call) error {
	uid, err := pathUID(r)
	if err != nil {
		return err
	}
	var req tokenReq
	if err := decode(r, &req); err != nil {
		return err
	}
	var v validator
	v.device(&req)
	if err := v.result(); err != nil {
		return err
	}
	now := s.now()
	if err := s.tokLimit.allow(w, c.app.ID, now); err != nil {
		return s.limited(err)
	}
	secret, tok := provision.NewAuthToken(c.app, uid, now)
	tok.Platform, tok.DeviceID, tok.UserAgent = req.Platform, req.DeviceID, req.UserAgent
	if err := s.st.CreateAuthToken(r.Context(), tok); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.New(apierr.UIDNotFound).With("uid", uid)
		}
		return err
	}
	s.metrics.tokensCreated.Inc()
	out := tokenView(tok)
	out.AuthToken = secret
	writeData(w, out)
	return nil
}

func (s *Server) listAuthTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.activeUser(r, c)
	if err != nil {
		return err
	}
	toks, err := s.st.ListAuthTokens(r.Context(), c.app.ID, u.UID)
	if err != nil {
		return err
	}
	writeAll(w, toks, func(t *store.AuthToken) tokenJSON {
		v := tokenView(t)
		// This node knows its own sockets now; the store knows every
		// node's, written behind (as GET /me/sessions says).
		v.Connected = t.Connected || s.hub != nil && s.hub.TokenConnected(t.Hash)
		return v
	})
	return nil
}

// resolveToken finds one of the path user's tokens by its secret or its id.
func (s *Server) resolveToken(r *http.Request, c *call) (*store.AuthToken, error) {
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	ref := r.PathValue("ref")
	notFound := apierr.New(apierr.RESTTokenNotFound).With("uid", uid)
	if key, ok := credential.TokenKey(ref); ok {
		tok, _, err := s.st.GetSession(r.Context(), key)
		if errors.Is(err, store.ErrNotFound) || err == nil && (tok.AppID != c.app.ID || tok.UID != uid) {
			return nil, notFound
		}
		return tok, err
	}
	tok, err := s.st.GetAuthToken(r.Context(), c.app.ID, uid, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	return tok, err
}

func (s *Server) getAuthToken(w http.ResponseWriter, r *http.Request, c *call) error {
	tok, err := s.resolveToken(r, c)
	if err != nil {
		return err
	}
	writeData(w, tokenView(tok))
	return nil
}

func (s *Server) deleteAuthToken(w http.ResponseWriter, r *http.Request, c *call) error {
	tok, err := s.resolveToken(r, c)
	if err != nil {
		return err
	}
	del, err := s.st.DeleteAuthToken(r.Context(), c.app.ID, tok.UID, tok.ID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.New(apierr.RESTTokenNotFound).With("uid", tok.UID)
	}
	if err != nil {
		return err
	}
	s.revokeTokens(r.Context(), []*store.AuthToken{del}, realtime.ReasonTokenDeleted)
	s.audit(r, c, "token.delete", del.UID, map[string]any{"tokenId": del.ID})
	writeData(w, successJSON{Success: true, Message: "Auth token " + del.ID + " deleted."})
	return nil
}

func (s *Server) flushAuthTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.activeUser(r, c)
	if err != nil {
		return err
	}
	toks, err := s.st.DeleteAuthTokens(r.Context(), c.app.ID, u.UID)
	if err != nil {
		return err
	}
	s.revokeTokens(r.Context(), toks, realtime.ReasonTokensFlushed)
	s.audit(r, c, "token.flush", u.UID, map[string]any{"deleted": len(toks)})
	writeData(w, struct {
		successJSON
		Deleted int `json:"deleted"`
	}{successJSON{true, "Deleted " + strconv.Itoa(len(toks)) + " auth tokens of " + u.UID + "."}, len(toks)})
	return nil
}

// revokeReq is the body of the revoke-issued-before routes.
type revokeReq struct {
	IssuedBefore *int64 `json:"issuedBefore"`
}

// maxIssuedBeforeAhead is how far in the future issuedBefore may be: "now
// plus a little" revokes everything issued so far; anything later is a
// mistake (milliseconds for seconds, say).
const maxIssuedBeforeAhead = 86400

func (s *Server) issuedBefore(req revokeReq) (int64, error) {
	var v validator
	switch now := s.now().Unix(); {
	case req.IssuedBefore == nil:
		v.bad("issuedBefore", "is required: unix seconds; tokens issued before it are revoked")
	case *req.IssuedBefore <= 0 || *req.IssuedBefore > now+maxIssuedBeforeAhead:
		v.bad("issuedBefore", "must be unix seconds, at most a day from now (now is "+strconv.FormatInt(now, 10)+")")
	}
	if err := v.result(); err != nil {
		return 0, err
	}
	return *req.IssuedBefore, nil
}

// revokeUserTokensBefore revokes a user's tokens issued before a time:
// POST /users/{uid}/auth_tokens/revoke {"issuedBefore": unix}.
func (s *Server) revokeUserTokensBefore(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := pathUID(r); err != nil {
		return err
	}
	var req revokeReq
	if err := decode(r, &req); err != nil {
		return err
	}
	before, err := s.issuedBefore(req)
	if err != nil {
		return err
	}
	u, err := s.activeUser(r, c)
	if err != nil {
		return err
	}
	return s.revokeBefore(w, r, c, u.UID, before)
}

// revokeAppTokensBefore revokes every token of the app issued before a
// time: POST /auth_tokens/revoke {"issuedBefore": unix}.
func (s *Server) revokeAppTokensBefore(w http.ResponseWriter, r *http.Request, c *call) error {
	var req revokeReq
	if err := decode(r, &req); err != nil {
		return err
	}
	before, err := s.issuedBefore(req)
	if err != nil {
		return err
	}
	return s.revokeBefore(w, r, c, "", before)
}

func (s *Server) revokeBefore(w http.ResponseWriter, r *http.Request, c *call, uid string, before int64) error {
	n, err := s.st.RevokeAuthTokensBefore(r.Context(), c.app.ID, uid, before)
	if err != nil {
		return err
	}
	s.sessions.forgetBefore(c.app.ID, uid, before)
	if s.hub != nil {
		s.hub.RevokeIssuedBefore(context.WithoutCancel(r.Context()), c.app.ID, uid, before, realtime.ReasonTokensRevoked)
	}
	s.audit(r, c, "token.revoke", uid, map[string]any{"issuedBefore": before, "revoked": n})
	writeData(w, struct {
		Revoked int `json:"revoked"`
	}{n})
	return nil
}

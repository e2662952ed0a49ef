package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/store"
)

type successJSON struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// ---- API keys

type keyReq struct {
	Name  *string `json:"name"`
	Scope *string `json:"scope"`
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var req keyReq
	if err := decode(r, &req); err != nil {
		return err
	}
	var v validator
	v.key(req, true)
	if err := v.result(); err != nil {
		return err
	}
	secret, k, err := provision.CreateAPIKey(r.Context(), s.st, c.app.ID, strings.TrimSpace(*req.Name), *req.Scope, s.now())
	if errors.Is(err, store.ErrLimitReached) {
		return apierr.New(apierr.APIKeyLimit).With("max", strconv.Itoa(provision.MaxAPIKeys))
	}
	if err != nil {
		return err
	}
	out := keyView(k)
	out.APIKey = secret
	writeData(w, out)
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	keys, err := s.st.ListAPIKeys(r.Context(), c.app.ID)
	if err != nil {
		return err
	}
	writeAll(w, keys, keyView)
	return nil
}

// resolveKey finds a key by its secret or its id.
func (s *Server) resolveKey(r *http.Request, c *call) (*store.APIKey, error) {
	ref := r.PathValue("ref")
	var k *store.APIKey
	var err error
	if credential.IsAPIKey(ref) {
		k, err = s.st.GetAPIKeyByHash(r.Context(), c.app.ID, credential.Hash(ref))
	} else {
		k, err = s.st.GetAPIKey(r.Context(), c.app.ID, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.New(apierr.RESTAPIKeyNotFound)
	}
	return k, err
}

func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	k, err := s.resolveKey(r, c)
	if err != nil {
		return err
	}
	writeData(w, keyView(k))
	return nil
}

func (s *Server) updateAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var req keyReq
	if err := decode(r, &req); err != nil {
		return err
	}
	var v validator
	v.key(req, false)
	if err := v.result(); err != nil {
		return err
	}
	k, err := s.resolveKey(r, c)
	if err != nil {
		return err
	}
	upd := *k
	if req.Name != nil {
		upd.Name = strings.TrimSpace(*req.Name)
	}
	if req.Scope != nil {
		upd.Scope = *req.Scope
	}
	if err := s.st.UpdateAPIKey(r.Context(), &upd); err != nil {
		return err
	}
	s.keys.clear()
	writeData(w, keyView(&upd))
	return nil
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	k, err := s.resolveKey(r, c)
	if err != nil {
		return err
	}
	if err := s.st.DeleteAPIKey(r.Context(), c.app.ID, k.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.New(apierr.RESTAPIKeyNotFound)
		}
		return err
	}
	s.keys.clear()
	writeData(w, successJSON{Success: true, Message: "API key " + k.ID + " deleted."})
	return nil
}

// ---- users

type userReq struct {
	UID           *string         `json:"uid"`
	Name          *string         `json:"name"`
	Avatar        *string         `json:"avatar"`
	Link          *string         `json:"link"`
	Role          *string         `json:"role"`
	Metadata      json.RawMessage `json:"metadata"`
	Tags          *[]string       `json:"tags"`
	WithAuthToken bool            `json:"withAuthToken"`
	Deactivated   *bool           `json:"deactivated"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	var req userReq
	if err := decode(r, &req); err != nil {
		return err
	}
	var v validator
	uid := v.uid("uid", deref(req.UID))
	p := v.patch(req, true)
	if err := v.result(); err != nil {
		return err
	}
	now := s.now()
	u := &store.User{AppID: c.app.ID, UID: uid, Role: "default", CreatedAt: now.Unix(), UpdatedAt: now.Unix()}
	set(&u.Name, p.Name)
	set(&u.Avatar, p.Avatar)
	set(&u.Link, p.Link)
	set(&u.Role, p.Role)
	set(&u.Metadata, p.Metadata)
	set(&u.Tags, p.Tags)
	if u.Role == "" {
		u.Role = "default"
	}
	var secret string
	var tok *store.AuthToken
	if req.WithAuthToken {
		if err := s.tokLimit.allow(w, c.app.ID, now); err != nil {
			return s.limited(err)
		}
		secret, tok = provision.NewAuthToken(c.app, uid, now)
	}
	if err := s.st.CreateUser(r.Context(), u, tok); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return apierr.New(apierr.UIDAlreadyExists).With("uid", uid)
		}
		return err
	}
	out := s.userView(u)
	if tok != nil {
		s.metrics.tokensCreated.Inc()
		out.AuthToken = secret
	}
	writeData(w, out)
	return nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	var v validator
	perPage := v.intParam("perPage", q.Get("perPage"), 100, 1, 1000)
	page := v.intParam("page", q.Get("page"), 1, 1, 1_000_000)
	status := q.Get("status")
	if status != "" && status != "online" && status != "offline" {
		v.bad("status", "must be online or offline")
	}
	search := q.Get("searchKey")
	v.text("searchKey", search, maxNameLen)
	if err := v.result(); err != nil {
		return err
	}
	users, total, err := s.st.ListUsers(r.Context(), c.app.ID, store.UserQuery{
		Search: search, Status: status, Limit: perPage, Offset: (page - 1) * perPage,
	})
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = s.userView(u)
	}
	writeList(w, out, total, perPage, page)
	return nil
}

// pathUID validates the {uid} of the path.
func pathUID(r *http.Request) (string, error) {
	var v validator
	uid := v.uid("uid", r.PathValue("uid"))
	return uid, v.result()
}

// activeUser loads the user of the path; deactivated users do not exist
// for the API (docs/design.md "Tenancy and credentials"; docs/errors.md:
// ERR_UID_NOT_FOUND is "unknown or deactivated").
func (s *Server) activeUser(r *http.Request, c *call) (*store.User, error) {
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	u, err := s.st.GetUser(r.Context(), c.app.ID, uid)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.DeactivatedAt != 0 {
		return nil, apierr.New(apierr.UIDNotFound).With("uid", uid)
	}
	return u, err
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.activeUser(r, c)
	if err != nil {
		return err
	}
	writeData(w, s.userView(u))
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, c *call) error {
	uid, err := pathUID(r)
	if err != nil {
		return err
	}
	var req userReq
	if err := decode(r, &req); err != nil {
		return err
	}
	var v validator
	if req.UID != nil && !strings.EqualFold(*req.UID, uid) {
		v.bad("uid", "cannot be changed")
	}
	p := v.patch(req, false)
	if err := v.result(); err != nil {
		return err
	}
	// A deactivated user can only be reactivated; every other change needs
	// an active user.
	if req.Deactivated == nil || *req.Deactivated {
		if _, err := s.activeUser(r, c); err != nil {
			return err
		}
	}
	u, err := s.st.UpdateUser(r.Context(), c.app.ID, uid, p, s.now().Unix())
	if errors.Is(err, store.ErrNotFound) {
		return apierr.New(apierr.UIDNotFound).With("uid", uid)
	}
	if err != nil {
		return err
	}
	s.userChanged(r.Context(), c.app.ID, uid)
	if u.DeactivatedAt != 0 {
		if err := s.revokeDeactivated(r, c.app.ID, uid); err != nil {
			return err
		}
	}
	writeData(w, s.userView(u))
	return nil
}

// revokeDeactivated deletes the tokens of a user just deactivated. A
// deactivation is a revocation (docs/design.md "Revocation"): merely hiding
// the tokens let {"deactivated":false} bring every old session back. It
// runs after the flag is set, when the store no longer mints tokens for the
// user.
func (s *Server) revokeDeactivated(r *http.Request, appID, uid string) error {
	toks, err := s.st.DeleteAuthTokens(r.Context(), appID, uid)
	if err != nil {
		return err
	}
	s.forgetTokens(toks)
	s.revokeUser(r.Context(), appID, uid, ReasonUserDeactivated)
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Permanent *bool `json:"permanent"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := s.activeUser(r, c)
	if err != nil {
		return err
	}
	if req.Permanent != nil && !*req.Permanent {
		// CometChat's soft delete: deactivate, keep the record.
		off := true
		if _, err := s.st.UpdateUser(r.Context(), c.app.ID, u.UID, store.UserPatch{Deactivated: &off}, s.now().Unix()); err != nil {
			return err
		}
		if err := s.revokeDeactivated(r, c.app.ID, u.UID); err != nil {
			return err
		}
		writeData(w, successJSON{Success: true, Message: "The user with UID " + u.UID + " has been deactivated."})
		return nil
	}
	toks, err := s.st.DeleteUser(r.Context(), c.app.ID, u.UID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.New(apierr.UIDNotFound).With("uid", u.UID)
	}
	if err != nil {
		return err
	}
	s.forgetTokens(toks)
	s.revokeUser(r.Context(), c.app.ID, u.UID, ReasonUserDeleted)
	writeData(w, successJSON{Success: true, Message: "The user with UID " + u.UID + " has been deleted."})
	return nil
}

// ---- auth tokens (REST)

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

func (s *Server) limited(e *apierr.Error) error {
	s.metrics.rateLimited.WithLabelValues("auth_tokens").Inc()
	return e
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
	writeAll(w, toks, tokenView)
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
	s.revokeTokens(r.Context(), []*store.AuthToken{del}, ReasonTokenDeleted)
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
	s.revokeTokens(r.Context(), toks, ReasonTokensFlushed)
	writeData(w, struct {
		successJSON
		Deleted int `json:"deleted"`
	}{successJSON{true, "Deleted " + strconv.Itoa(len(toks)) + " auth tokens of " + u.UID + "."}, len(toks)})
	return nil
}

// ---- client API

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
	writeData(w, out)
	return nil
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request, c *call) error {
	writeData(w, s.userView(c.user))
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
	s.revokeTokens(r.Context(), []*store.AuthToken{del}, ReasonLogout)
	writeData(w, struct {
		successJSON
		UID string `json:"uid"`
	}{successJSON{true, "Logout successful"}, del.UID})
	return nil
}

package server

// REST: users, POST/GET /users and GET/PUT/DELETE /users/{uid}
// (docs/api.md "Users").

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
)

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
	p.Apply(u)
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
	s.audit(r, c, "user.create", u.UID, map[string]any{"withAuthToken": req.WithAuthToken})
	writeData(w, out)
	return nil
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
	s.auditUserUpdate(r, c, uid, req)
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
	s.revokeUser(r.Context(), appID, uid, realtime.ReasonUserDeactivated)
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
		s.audit(r, c, "user.deactivate", u.UID, nil)
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
	s.revokeUser(r.Context(), c.app.ID, u.UID, realtime.ReasonUserDeleted)
	s.audit(r, c, "user.delete", u.UID, nil)
	writeData(w, successJSON{Success: true, Message: "The user with UID " + u.UID + " has been deleted."})
	return nil
}

// auditUserUpdate records a PUT /users/{uid}: a (de|re)activation is its
// own action; other changes name the fields changed (not their values:
// metadata may hold what an admin should not copy into a log).
func (s *Server) auditUserUpdate(r *http.Request, c *call, uid string, req userReq) {
	if req.Deactivated != nil {
		action := "user.reactivate"
		if *req.Deactivated {
			action = "user.deactivate"
		}
		s.audit(r, c, action, uid, nil)
	}
	var fields []string
	for name, set := range map[string]bool{"name": req.Name != nil, "avatar": req.Avatar != nil, "link": req.Link != nil,
		"role": req.Role != nil, "metadata": req.Metadata != nil, "tags": req.Tags != nil} {
		if set {
			fields = append(fields, name)
		}
	}
	if len(fields) > 0 || req.Deactivated == nil {
		sort.Strings(fields)
		s.audit(r, c, "user.update", uid, map[string]any{"fields": fields})
	}
}

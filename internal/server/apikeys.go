package server

// REST: an app's API keys, POST/GET /apikeys and GET/PUT/DELETE
// /apikeys/{ref} (docs/api.md).

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/store"
)

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
	s.audit(r, c, "apikey.create", k.ID, map[string]any{"name": k.Name, "scope": k.Scope})
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
	changes := map[string]any{}
	if req.Name != nil {
		changes["name"] = upd.Name
	}
	if req.Scope != nil {
		changes["scope"] = upd.Scope
	}
	s.audit(r, c, "apikey.update", upd.ID, changes)
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
	s.audit(r, c, "apikey.delete", k.ID, map[string]any{"name": k.Name, "scope": k.Scope})
	writeData(w, successJSON{Success: true, Message: "API key " + k.ID + " deleted."})
	return nil
}

package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

// GET and PUT /app: the calling key's app and its settings (docs/api.md
// "App settings").

func appView(a *store.App) wire.App {
	return wire.AppOf(a, int64(signing.TTL(a).Seconds()), signing.Grants(a))
}

func (s *Server) getAppSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	a, err := s.st.GetApp(r.Context(), c.app.ID)
	if err != nil {
		return err
	}
	writeData(w, appView(a))
	return nil
}

type appReq struct {
	Name     *string                    `json:"name"`
	Settings map[string]json.RawMessage `json:"settings"`
}

func (s *Server) updateAppSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	var req appReq
	if err := decode(r, &req); err != nil {
		return err
	}
	a, err := s.st.GetApp(r.Context(), c.app.ID)
	if err != nil {
		return err
	}
	var v validator
	if req.Name != nil {
		if why := provision.ValidAppName(*req.Name); why != "" {
			v.bad("name", why)
		}
		a.Name = strings.TrimSpace(*req.Name)
	}
	if bad := provision.PatchSettings(&a.Settings, req.Settings); bad != nil {
		fields := make([]string, 0, len(bad))
		for f := range bad {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			v.bad(f, bad[f])
		}
	}
	if err := v.result(); err != nil {
		return err
	}
	if err := s.st.UpdateApp(r.Context(), a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.New(apierr.InvalidAppID).With("appId", a.ID)
		}
		return err
	}
	changes := map[string]any{}
	if req.Name != nil {
		changes["name"] = a.Name
	}
	if len(req.Settings) > 0 {
		changes["settings"] = req.Settings
	}
	s.audit(r, c, "app.update", a.ID, changes)
	// At once on every node: they drop their cached copy.
	s.apps.del(a.ID)
	if s.hub != nil {
		s.hub.Publish(r.Context(), realtime.Event{Kind: realtime.KindAppChanged, AppID: a.ID})
	}
	writeData(w, appView(a))
	return nil
}

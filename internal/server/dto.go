package server

import (
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

// userJSON and tokenJSON are the wire shapes with their own methods (the
// hand-written encoders in jsonw.go).
type userJSON wire.User

// userView renders u; status comes from presence, not from the record.
func (s *Server) userView(u *store.User) userJSON {
	return userJSON{
		UID: u.UID, Name: u.Name, Avatar: u.Avatar, Link: u.Link, Role: u.Role,
		Metadata: u.Metadata, Tags: u.Tags, Status: s.status(u),
		LastActiveAt: u.LastActiveAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		DeactivatedAt: u.DeactivatedAt,
	}
}

// status is "online" while the user has a live realtime connection: on this
// node (known now), or on any node (as the record read from storage says).
func (s *Server) status(u *store.User) string {
	if u.Status == "online" || s.hub != nil && s.hub.Online(u.AppID, u.UID) {
		return "online"
	}
	return "offline"
}

type tokenJSON wire.Token

func tokenView(t *store.AuthToken) tokenJSON { return tokenJSON(wire.TokenOf(t)) }

type keyJSON = wire.Key

func keyView(k *store.APIKey) keyJSON { return wire.KeyOf(k, "") }

// successJSON is what deletions and logout answer.
type successJSON struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

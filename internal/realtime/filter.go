package realtime

import (
	"errors"
	"slices"
	"strings"
)

// PresenceFilter is what presence a connection hears (the presence query
// parameter of /ws, docs/realtime.md): every user's (the default, like
// CometChat's subscribePresenceForAllUsers), none, or that of users with
// one of some roles (subscribePresenceForRoles).
type PresenceFilter struct {
	None  bool
	Roles []string // nil: every role
}

// maxFilterRoles bounds the roles one connection may name.
const maxFilterRoles = 25

// ParsePresence reads a presence parameter: "", "all", "none" or
// "roles:r1,r2" (roles as in a user's role: [a-z0-9_-], compared without
// case).
func ParsePresence(s string) (PresenceFilter, error) {
	switch s {
	case "", "all":
		return PresenceFilter{}, nil
	case "none":
		return PresenceFilter{None: true}, nil
	}
	list, ok := strings.CutPrefix(s, "roles:")
	if !ok {
		return PresenceFilter{}, errors.New(`must be all, none or roles:r1,r2`)
	}
	var roles []string
	for _, r := range strings.Split(list, ",") {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" || len(r) > 100 || strings.Trim(r, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
			return PresenceFilter{}, errors.New("roles must be 1–100 characters of a-z, 0-9, _ and -")
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if len(roles) > maxFilterRoles {
		return PresenceFilter{}, errors.New("name at most 25 roles")
	}
	return PresenceFilter{Roles: roles}, nil
}

func (f PresenceFilter) allows(role string) bool {
	if f.None {
		return false
	}
	return f.Roles == nil || slices.Contains(f.Roles, role)
}

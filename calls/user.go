package calls

// User is a logged-in user (or any user the server describes). The JSON
// names are those of the CometChat SDK and of callgate's wire format.
type User struct {
	UID          string         `json:"uid"`
	Name         string         `json:"name"`
	Avatar       string         `json:"avatar"`
	Status       string         `json:"status"`    // "online" or "offline"
	AuthToken    string         `json:"authToken"` // set on the logged-in user only
	Link         string         `json:"link"`
	Role         string         `json:"role"`
	Metadata     map[string]any `json:"metadata"`
	LastActiveAt int64          `json:"lastActiveAt"` // unix seconds
	// AuthTokenExpiresAt is when AuthToken expires (unix seconds; 0 =
	// never), as PUT and GET /me answer it: set on the logged-in user only,
	// and saved with the session.
	AuthTokenExpiresAt int64 `json:"authTokenExpiresAt"`
}

// clone returns a deep copy, so callers can never change the SDK's session.
func (u *User) clone() *User {
	if u == nil {
		return nil
	}
	c := *u
	if u.Metadata != nil {
		c.Metadata = cloneMap(u.Metadata)
	}
	return &c
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

// cloneValue deep-copies the containers JSON decodes into; other values
// are copied as they are.
func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return cloneMap(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cloneValue(x)
		}
		return out
	default:
		return v
	}
}

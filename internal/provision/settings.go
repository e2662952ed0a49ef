package provision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/callgate/callgate/internal/store"
)

// Limits of app settings (docs/api.md "App settings").
const (
	MaxCORSOrigins          = 100
	MaxAuthTokenTTL         = 10 * 365 * 86400 // ten years
	MaxAuthTokenIdleTimeout = 365 * 86400
	MinAuthTokenIdleTimeout = 60 // idleness is tracked to the minute
	MinCallTokenTTL         = 60
	MaxCallTokenTTL         = 86400
)

// MaxAppNameLen is the longest app name, in characters.
const MaxAppNameLen = 100

// ValidAppName says why name cannot be an app's new name ("" when it can).
// The server (PUT /app) and the CLI (apps settings --name) both ask here.
func ValidAppName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "is required"
	case !utf8.ValidString(name):
		return "must be valid UTF-8"
	case strings.IndexByte(name, 0) >= 0:
		return "must not contain NUL characters"
	case utf8.RuneCountInString(name) > MaxAppNameLen:
		return fmt.Sprintf("must be at most %d characters", MaxAppNameLen)
	}
	return ""
}

// SettingNames are the settings an app has, as named in JSON.
var SettingNames = []string{"corsOrigins", "authTokenTTL", "authTokenIdleTimeout", "callTokenTTL", "callGrants"}

// PatchSettings applies a partial settings object to s: the settings it
// names change, the others stay; a setting given as null returns to its
// default. It returns the problems by field ("settings.corsOrigins[1]" →
// "must be …"); s is changed only when there are none. The server (PUT
// /app) and the CLI (apps settings) both go through here.
func PatchSettings(s *store.AppSettings, patch map[string]json.RawMessage) map[string]string {
	bad := map[string]string{}
	out := *s
	for name, raw := range patch {
		field := "settings." + name
		null := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
		switch name {
		case "corsOrigins":
			var v []string
			if null {
				out.CORSOrigins = nil
			} else if err := json.Unmarshal(raw, &v); err != nil {
				bad[field] = "must be an array of origins"
			} else if len(v) > MaxCORSOrigins {
				bad[field] = fmt.Sprintf("must list at most %d origins", MaxCORSOrigins)
			} else {
				for i, o := range v {
					if why := ValidOrigin(o); why != "" {
						bad[fmt.Sprintf("%s[%d]", field, i)] = why
					}
				}
				out.CORSOrigins = normalizeOrigins(v)
			}
		case "authTokenTTL":
			out.AuthTokenTTL = seconds(raw, null, field, 0, 0, MaxAuthTokenTTL, bad)
		case "authTokenIdleTimeout":
			out.AuthTokenIdleTimeout = seconds(raw, null, field, 0, MinAuthTokenIdleTimeout, MaxAuthTokenIdleTimeout, bad)
		case "callTokenTTL":
			out.CallTokenTTL = seconds(raw, null, field, 0, MinCallTokenTTL, MaxCallTokenTTL, bad)
		case "callGrants":
			if null {
				out.CallGrants = nil
				break
			}
			g := store.DefaultCallGrants
			if s.CallGrants != nil {
				g = *s.CallGrants
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil || m == nil {
				bad[field] = "must be an object of booleans (join, publishAudio, publishVideo, screenShare, moderator)"
				break
			}
			for k, v := range m {
				// Literally true or false: json.Unmarshal leaves a bool
				// alone on null, which turned {"join":null} into join false.
				var b bool
				switch string(bytes.TrimSpace(v)) {
				case "true":
					b = true
				case "false":
				default:
					bad[field+"."+k] = "must be true or false"
					continue
				}
				switch k {
				case "join":
					g.Join = b
				case "publishAudio":
					g.PublishAudio = b
				case "publishVideo":
					g.PublishVideo = b
				case "screenShare":
					g.ScreenShare = b
				case "moderator":
					g.Moderator = b
				default:
					bad[field+"."+k] = "is not a grant (join, publishAudio, publishVideo, screenShare, moderator)"
				}
			}
			out.CallGrants = &g
		default:
			bad[field] = "is not a setting (" + strings.Join(SettingNames, ", ") + ")"
		}
	}
	if len(bad) > 0 {
		return bad
	}
	*s = out
	return nil
}

// seconds decodes a whole number of seconds: 0 (also null) for the
// default/none, or from lo to hi.
func seconds(raw json.RawMessage, null bool, field string, def, lo, hi int64, bad map[string]string) int64 {
	if null {
		return def
	}
	// A JSON number: decoding into json.Number also takes a string
	// holding one ("600").
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		bad[field] = "must be a whole number of seconds"
		return def
	}
	if err := d.Decode(&n); err != nil {
		bad[field] = "must be a whole number of seconds"
		return def
	}
	v, err := n.Int64()
	if err != nil {
		bad[field] = "must be a whole number of seconds"
		return def
	}
	if v != 0 && (v < lo || v > hi) {
		bad[field] = fmt.Sprintf("must be 0 (none) or from %d to %d seconds", max(lo, 1), hi)
		return def
	}
	return v
}

// ValidOrigin says why s is not a corsOrigins entry ("" when it is): "*",
// or scheme://host[:port] with nothing after it.
func ValidOrigin(s string) string {
	if s == "*" {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return "must be * or an origin such as https://app.example.com"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an http or https origin"
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(s, "?#"):
		return "must be an origin only (scheme://host[:port]), without a path, query or user"
	}
	return ""
}

// normalizeOrigins lower-cases origins (browsers send them so) and drops
// duplicates, keeping the order given.
func normalizeOrigins(v []string) []string {
	out := []string{}
	for _, o := range v {
		o = strings.ToLower(o)
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

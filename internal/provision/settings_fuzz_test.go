package provision

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

// FuzzPatchSettings: the settings object of PUT /app (and of callgate apps
// settings), decoded as the server decodes it. PatchSettings never panics;
// a refusal names only fields of the patch and changes nothing; an
// acceptance means every value given is null or of its documented JSON type
// and in range (docs/api.md "App settings"), settings not named keep their
// value, and the same patch applied again changes nothing more.
func FuzzPatchSettings(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"corsOrigins":["https://app.example.com","http://localhost:5173"],"authTokenTTL":2592000}`,
		`{"callGrants":null,"authTokenTTL":null}`,
		`{"callTokenTTL":600,"authTokenIdleTimeout":3600}`,
		`{"callTokenTTL":59}`,
		`{"authTokenTTL":-1}`,
		`{"authTokenTTL":1.5}`,
		`{"authTokenTTL":1e3}`,
		`{"authTokenIdleTimeout":99999999999999999999}`,
		`{"corsOrigins":["*","HTTPS://A.example.COM","https://a.example.com"]}`,
		`{"corsOrigins":["https://a.example.com/path","ftp://x","https://u@h","https://h?q","https://h#f",""]}`,
		`{"corsOrigins":"https://a.example.com"}`,
		`{"callGrants":{"join":false,"moderator":true}}`,
		`{"callGrants":{"join":1,"colour":true}}`,
		`{"callGrants":[]}`,
		`{"colour":"blue"}`,
		`{"callTokenTTL":"600"}`,       // was accepted as 600
		`{"callGrants":{"join":null}}`, // was join false
		`{"callGrants":{"moderator":"true"}}`,
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, start uint8) {
		var patch map[string]json.RawMessage
		if json.Unmarshal(body, &patch) != nil {
			return // the server refuses such a body before PatchSettings
		}
		s := startSettings(start)
		before := cloneSettings(s)
		bad := PatchSettings(&s, patch)
		if bad != nil {
			if len(bad) == 0 {
				t.Fatal("a refusal without a field")
			}
			for field, why := range bad {
				if why == "" || !namesPatchField(field, patch) {
					t.Fatalf("refusal %q: %q names no setting of the patch %s", field, why, body)
				}
			}
			if !reflect.DeepEqual(s, before) {
				t.Fatalf("refused %s but changed the settings: %+v, was %+v", body, s, before)
			}
			return
		}
		for name, raw := range patch {
			if !slices.Contains(SettingNames, name) {
				t.Fatalf("accepted %s with an unknown setting %q", body, name)
			}
			if why := wrongType(name, raw); why != "" {
				t.Fatalf("accepted %s: %s %s", body, name, why)
			}
		}
		checkRanges(t, s, body)
		for _, name := range SettingNames {
			if _, named := patch[name]; !named && !reflect.DeepEqual(field(s, name), field(before, name)) {
				t.Fatalf("%s changed, but the patch %s does not name it", name, body)
			}
		}
		again := cloneSettings(s)
		if bad := PatchSettings(&again, patch); bad != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("the patch %s applied twice: %v, %+v then %+v", body, bad, s, again)
		}
	})
}

func startSettings(n uint8) store.AppSettings {
	if n%2 == 0 {
		return store.AppSettings{}
	}
	return store.AppSettings{AuthTokenTTL: 3600, CallTokenTTL: 600, AuthTokenIdleTimeout: 120,
		CORSOrigins: []string{"https://a.example.com"}, CallGrants: &store.CallGrants{Join: true, Moderator: true}}
}

func cloneSettings(s store.AppSettings) store.AppSettings {
	out := s
	out.CORSOrigins = slices.Clone(s.CORSOrigins)
	if s.CallGrants != nil {
		g := *s.CallGrants
		out.CallGrants = &g
	}
	return out
}

func namesPatchField(field string, patch map[string]json.RawMessage) bool {
	for name := range patch {
		p := "settings." + name
		if field == p || strings.HasPrefix(field, p+"[") || strings.HasPrefix(field, p+".") {
			return true
		}
	}
	return false
}

// wrongType says how an accepted value is not of its setting's JSON type.
func wrongType(name string, raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if string(t) == "null" {
		return ""
	}
	switch name {
	case "authTokenTTL", "authTokenIdleTimeout", "callTokenTTL":
		if len(t) == 0 || t[0] != '-' && (t[0] < '0' || t[0] > '9') {
			return "is not a JSON number of seconds: " + string(t)
		}
	case "corsOrigins":
		var v []json.RawMessage
		if json.Unmarshal(t, &v) != nil || v == nil {
			return "is not an array: " + string(t)
		}
		for _, o := range v {
			if len(o) == 0 || o[0] != '"' {
				return "holds a value that is not a string: " + string(o)
			}
		}
	case "callGrants":
		var m map[string]json.RawMessage
		if json.Unmarshal(t, &m) != nil || m == nil {
			return "is not an object: " + string(t)
		}
		for k, v := range m {
			if b := string(bytes.TrimSpace(v)); b != "true" && b != "false" {
				return "grant " + k + " is not true or false: " + b
			}
		}
	}
	return ""
}

func checkRanges(t *testing.T, s store.AppSettings, body []byte) {
	t.Helper()
	in := func(name string, v, lo, hi int64) {
		if v != 0 && (v < lo || v > hi) {
			t.Fatalf("accepted %s: %s = %d, outside 0 or %d–%d", body, name, v, lo, hi)
		}
	}
	in("authTokenTTL", s.AuthTokenTTL, 1, MaxAuthTokenTTL)
	in("authTokenIdleTimeout", s.AuthTokenIdleTimeout, MinAuthTokenIdleTimeout, MaxAuthTokenIdleTimeout)
	in("callTokenTTL", s.CallTokenTTL, MinCallTokenTTL, MaxCallTokenTTL)
	if len(s.CORSOrigins) > MaxCORSOrigins {
		t.Fatalf("accepted %s: %d origins", body, len(s.CORSOrigins))
	}
	seen := map[string]bool{}
	for _, o := range s.CORSOrigins {
		if why := ValidOrigin(o); why != "" || o != strings.ToLower(o) || seen[o] {
			t.Fatalf("accepted %s: origin %q is invalid (%s), not lower case or repeated", body, o, why)
		}
		seen[o] = true
	}
}

func field(s store.AppSettings, name string) any {
	switch name {
	case "corsOrigins":
		return s.CORSOrigins
	case "authTokenTTL":
		return s.AuthTokenTTL
	case "authTokenIdleTimeout":
		return s.AuthTokenIdleTimeout
	case "callTokenTTL":
		return s.CallTokenTTL
	case "callGrants":
		return s.CallGrants
	}
	return nil
}

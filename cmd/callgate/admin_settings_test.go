package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/wire"
)

// getAppJSON is GET /v3/app of s's dev app, decoded loosely (to compare
// shapes, not Go types).
func getAppJSON(t *testing.T, s *servertest.Server) any {
	t.Helper()
	r := s.Do(t, http.MethodGet, "/v3/app", map[string]string{"apiKey": s.RESTKey}, nil)
	if r.Code != "" {
		t.Fatalf("GET /app: %s", r.Body)
	}
	var v any
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// sameAsGetApp fails unless out (apps settings --json) is what GET /app
// answers for the same app, field for field.
func sameAsGetApp(t *testing.T, s *servertest.Server, out string) wire.App {
	t.Helper()
	var got any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if want := getAppJSON(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("apps settings --json differs from GET /app:\n got %v\nwant %v", got, want)
	}
	return decodeJSON[wire.App](t, out)
}

// apps settings shows and changes an app's settings offline, on a running
// server's database; --json is GET /app's answer.
func TestAdminAppSettings(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	// No --app: the dev app of the data dir's dev-credentials.json.
	cmd := func(flags ...string) []string {
		return append([]string{"apps", "settings", "--data", s.DataDir}, flags...)
	}
	grants := func(a wire.App) string { return fmt.Sprintf("%+v", a.Settings.CallGrants) }
	runSteps(t, nil, []step{
		{name: "show", args: cmd(),
			want: []string{"App " + s.AppID + " (region us)", "SETTING", "VALUE", "FLAG",
				"corsOrigins", "* (every origin)", "--cors-origins",
				"authTokenTTL", "0: auth tokens never expire", "--auth-token-ttl",
				"authTokenIdleTimeout", "0: none", "--auth-token-idle-timeout",
				"callTokenTTL", "3600 s (1h), the default", "--call-token-ttl",
				"join=true,publishAudio=true,publishVideo=true,screenShare=true,moderator=false (the default)", "--grant"},
			notWant: []string{"Changed"}},
		{name: "show --json is GET /app", args: cmd("--json"),
			check: func(t *testing.T, out string) {
				a := sameAsGetApp(t, s, out)
				if a.AppID != s.AppID || a.Settings.CallTokenTTL != 3600 || len(a.Settings.CORSOrigins) != 1 {
					t.Errorf("app = %+v", a)
				}
			}},
		{name: "change", args: cmd("--name", "  Renamed  ", "--cors-origins", "https://App.example.com, http://localhost:5173",
			"--auth-token-ttl", "720h", "--auth-token-idle-timeout", "3600", "--call-token-ttl", "15m", "--grant", "moderator=true,screenShare=false"),
			want: []string{"Changed name, corsOrigins, authTokenTTL, authTokenIdleTimeout, callTokenTTL, callGrants of app " + s.AppID,
				"Renamed", "https://app.example.com,http://localhost:5173", "2592000 s (720h)", "3600 s (1h)", "900 s (15m)",
				"join=true,publishAudio=true,publishVideo=true,screenShare=false,moderator=true", "within 2 seconds"},
			notWant: []string{"the default"}},
		{name: "a partial change keeps the rest", args: cmd("--auth-token-ttl", "86400", "--json"),
			check: func(t *testing.T, out string) {
				a := sameAsGetApp(t, s, out)
				st := a.Settings
				if a.Name != "Renamed" || st.AuthTokenTTL != 86400 || st.AuthTokenIdleTimeout != 3600 || st.CallTokenTTL != 900 ||
					strings.Join(st.CORSOrigins, " ") != "https://app.example.com http://localhost:5173" ||
					grants(a) != "{Join:true PublishAudio:true PublishVideo:true ScreenShare:false Moderator:true}" {
					t.Errorf("after a change of authTokenTTL alone: %+v", a)
				}
			}},
		{name: "one grant changes, the others stay", args: cmd("--grant", "join=false", "--json"),
			check: func(t *testing.T, out string) {
				if a := sameAsGetApp(t, s, out); grants(a) != "{Join:false PublishAudio:true PublishVideo:true ScreenShare:false Moderator:true}" {
					t.Errorf("grants = %s", grants(a))
				}
			}},
		{name: "a running server applies an offline change within 2 s", args: cmd("--cors-origins", "https://only.example"),
			check: func(t *testing.T, _ string) {
				users := func(origin string) *servertest.Response {
					return s.Do(t, http.MethodGet, "/v3/users", map[string]string{"apiKey": s.RESTKey, "Origin": origin}, nil)
				}
				start := time.Now()
				for users("https://app.example.com").Code != "ERR_ORIGIN_NOT_ALLOWED" {
					if time.Since(start) > 3*time.Second {
						t.Fatalf("the server still allows an origin removed %v ago", time.Since(start))
					}
					time.Sleep(50 * time.Millisecond)
				}
				if r := users("https://only.example"); r.Code != "" || r.Header.Get("Access-Control-Allow-Origin") != "https://only.example" {
					t.Errorf("the new origin: %s %v", r.Body, r.Header)
				}
			}},
		{name: "empty, 0 and default return to the defaults", args: cmd("--cors-origins", "", "--auth-token-ttl", "0",
			"--auth-token-idle-timeout", "0s", "--call-token-ttl", "0", "--grant", "default", "--json"),
			check: func(t *testing.T, out string) {
				a := sameAsGetApp(t, s, out)
				st := a.Settings
				if len(st.CORSOrigins) != 0 || st.AuthTokenTTL != 0 || st.AuthTokenIdleTimeout != 0 || st.CallTokenTTL != 3600 ||
					grants(a) != "{Join:true PublishAudio:true PublishVideo:true ScreenShare:true Moderator:false}" || a.Name != "Renamed" {
					t.Errorf("after the resets: %+v", a)
				}
			}},
		{name: "no origin allowed", args: cmd(), want: []string{"none: browsers are refused", "3600 s (1h), the default", "(the default)"}},
		{name: "unknown app", args: cmd("--app", "nope", "--cors-origins", "*"), wantErr: []string{`app "nope" does not exist`, "apps list"}},
	})
}

// Every value PUT /app refuses, apps settings refuses: with the same field
// and the same words, naming the flag to fix, and nothing changes.
func TestAdminAppSettingsRefused(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	many := strings.TrimSuffix(strings.Repeat("https://a.example,", 101), ",")
	cases := []struct {
		flags   []string
		body    string // the PUT /app body with the same values
		field   string
		value   string // as the error shows it
		problem string
	}{
		{[]string{"--cors-origins", "ftp://x.example"}, `{"settings":{"corsOrigins":["ftp://x.example"]}}`,
			"settings.corsOrigins[0]", "ftp://x.example", "must be an http or https origin"},
		{[]string{"--cors-origins", "https://ok.example,https://x.example/path"}, `{"settings":{"corsOrigins":["https://ok.example","https://x.example/path"]}}`,
			"settings.corsOrigins[1]", "https://x.example/path", "must be an origin only (scheme://host[:port]), without a path, query or user"},
		{[]string{"--cors-origins", "https://u:p@x.example"}, `{"settings":{"corsOrigins":["https://u:p@x.example"]}}`,
			"settings.corsOrigins[0]", "https://u:p@x.example", "must be an origin only (scheme://host[:port]), without a path, query or user"},
		{[]string{"--cors-origins", "https://ok.example,,https://b.example"}, `{"settings":{"corsOrigins":["https://ok.example","","https://b.example"]}}`,
			"settings.corsOrigins[1]", "", "must be * or an origin such as https://app.example.com"},
		{[]string{"--cors-origins", "x.example"}, `{"settings":{"corsOrigins":["x.example"]}}`,
			"settings.corsOrigins[0]", "x.example", "must be * or an origin such as https://app.example.com"},
		{[]string{"--cors-origins", many}, `{"settings":{"corsOrigins":["` + strings.ReplaceAll(many, ",", `","`) + `"]}}`,
			"settings.corsOrigins", many, "must list at most 100 origins"},
		{[]string{"--auth-token-ttl", "-1"}, `{"settings":{"authTokenTTL":-1}}`,
			"settings.authTokenTTL", "-1", "must be 0 (none) or from 1 to 315360000 seconds"},
		{[]string{"--auth-token-ttl", "87601h"}, `{"settings":{"authTokenTTL":315363600}}`,
			"settings.authTokenTTL", "87601h", "must be 0 (none) or from 1 to 315360000 seconds"},
		{[]string{"--auth-token-ttl", "1.5s"}, `{"settings":{"authTokenTTL":1.5}}`,
			"settings.authTokenTTL", "1.5s", "must be a whole number of seconds"},
		{[]string{"--auth-token-ttl", "soon"}, `{"settings":{"authTokenTTL":"soon"}}`,
			"settings.authTokenTTL", "soon", "must be a whole number of seconds"},
		{[]string{"--auth-token-ttl", "99999999999999999999"}, `{"settings":{"authTokenTTL":99999999999999999999}}`,
			"settings.authTokenTTL", "99999999999999999999", "must be a whole number of seconds"},
		{[]string{"--auth-token-idle-timeout", "59s"}, `{"settings":{"authTokenIdleTimeout":59}}`,
			"settings.authTokenIdleTimeout", "59s", "must be 0 (none) or from 60 to 31536000 seconds"},
		{[]string{"--call-token-ttl", "30"}, `{"settings":{"callTokenTTL":30}}`,
			"settings.callTokenTTL", "30", "must be 0 (none) or from 60 to 86400 seconds"},
		{[]string{"--call-token-ttl", "24h1s"}, `{"settings":{"callTokenTTL":86401}}`,
			"settings.callTokenTTL", "24h1s", "must be 0 (none) or from 60 to 86400 seconds"},
		{[]string{"--grant", "admin=true"}, `{"settings":{"callGrants":{"admin":true}}}`,
			"settings.callGrants.admin", "admin=true", "is not a grant (join, publishAudio, publishVideo, screenShare, moderator)"},
		{[]string{"--grant", "moderator=true,join=yes"}, `{"settings":{"callGrants":{"moderator":true,"join":"yes"}}}`,
			"settings.callGrants.join", "join=yes", "must be true or false"},
		{[]string{"--grant", "moderator"}, `{"settings":{"callGrants":{"moderator":""}}}`,
			"settings.callGrants.moderator", "moderator", "must be true or false"},
		{[]string{"--name", ""}, `{"name":""}`, "name", "", "is required"},
		{[]string{"--name", "   "}, `{"name":"   "}`, "name", "   ", "is required"},
		{[]string{"--name", strings.Repeat("n", 101)}, `{"name":"` + strings.Repeat("n", 101) + `"}`,
			"name", strings.Repeat("n", 101), "must be at most 100 characters"},
		{[]string{"--name", "a\x00b"}, `{"name":"a\u0000b"}`, "name", "a\x00b", "must not contain NUL characters"},
		// One bad value among good ones: nothing is applied.
		{[]string{"--name", "fine", "--auth-token-ttl", "60", "--call-token-ttl", "-5s"}, `{"name":"fine","settings":{"authTokenTTL":60,"callTokenTTL":-5}}`,
			"settings.callTokenTTL", "-5s", "must be 0 (none) or from 60 to 86400 seconds"},
	}
	before := getAppJSON(t, s)
	for _, c := range cases {
		t.Run(strings.Join(c.flags, " ")[:min(60, len(strings.Join(c.flags, " ")))], func(t *testing.T) {
			flag := c.flags[len(c.flags)-2]
			want := fmt.Sprintf("%s %q (%s) %s", flag, c.value, c.field, c.problem)
			out, _, err := cli(t, append([]string{"apps", "settings", "--data", s.DataDir}, c.flags...)...)
			if err == nil {
				t.Fatalf("succeeded, want an error\n%s", out)
			}
			for _, w := range []string{"app " + s.AppID + " was not changed:", want, "run the command again"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(c.problem, "seconds") && !strings.Contains(err.Error(), "Go durations") {
				t.Errorf("error lacks the duration hint:\n%v", err)
			}
			// PUT /app refuses the same values, in the same words.
			r := s.Do(t, http.MethodPut, "/v3/app", map[string]string{"apiKey": s.RESTKey}, json.RawMessage(c.body))
			var env struct {
				Error struct {
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			json.Unmarshal(r.Body, &env)
			if r.Code != "ERR_BAD_REQUEST" || env.Error.Details[c.field] != c.problem {
				t.Errorf("PUT /app %s: %s, want %s: %s", c.body, r.Body, c.field, c.problem)
			}
			if after := getAppJSON(t, s); !reflect.DeepEqual(after, before) {
				t.Fatalf("a refused change changed the app:\n%v\n%v", before, after)
			}
		})
	}
}

func TestSecondsJSON(t *testing.T) {
	for in, want := range map[string]string{
		"3600": "3600", "007": "7", "+5": "5", "-5": "-5", "0": "0", "0s": "0", " 90m ": "5400", "1h30m": "5400",
		"1.5s": "1.5", "-1h": "-3600", "1ms": "0.001", "soon": `"soon"`, "": `""`, "1.5": `"1.5"`,
		"99999999999999999999": "99999999999999999999", "-000099999999999999999999": "-99999999999999999999",
	} {
		if got := string(secondsJSON(in)); got != want {
			t.Errorf("secondsJSON(%q) = %s, want %s", in, got, want)
		}
	}
}

package main

// apps settings: an app's settings, shown and changed offline. The flags
// are turned into the partial settings object of PUT /app and judged by
// the same code (provision.PatchSettings, provision.ValidAppName), so the
// CLI and the API accept and refuse the same values, naming the same
// fields.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

// settingFlags are the flags that change a setting, in the order they are
// shown, with the field of PUT /app each one sets.
var settingFlags = []struct{ flag, field string }{
	{"name", "name"},
	{"cors-origins", "settings.corsOrigins"},
	{"auth-token-ttl", "settings.authTokenTTL"},
	{"auth-token-idle-timeout", "settings.authTokenIdleTimeout"},
	{"call-token-ttl", "settings.callTokenTTL"},
	{"grant", "settings.callGrants"},
}

// appChange is what an apps settings command changes: the fields of a PUT
// /app body.
type appChange struct {
	name     *string
	settings map[string]json.RawMessage
	given    map[string]string // flag → its value as given, for messages
}

func (c appChange) empty() bool { return c.name == nil && len(c.settings) == 0 }

func newAdminAppsSettingsCmd() *cobra.Command {
	var sf storeFlags
	var app, name, origins, grants string
	var ttls [3]string // auth-token-ttl, auth-token-idle-timeout, call-token-ttl
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show or change an app's name and settings (CORS origins, token lifetimes, call grants)",
		Long: `Shows an app's name and effective settings; with any of the flags below, changes
them first. Only the flags given change; the other settings keep their values.

  --cors-origins LIST          the browser origins allowed to call the API, comma-
                               separated: https://app.example.com,http://localhost:5173;
                               * allows every origin; "" allows none
  --auth-token-ttl D           the lifetime of new auth tokens; 0 = never expire
                               (up to 10 years)
  --auth-token-idle-timeout D  ends an auth token unused for longer; 0 = none
                               (1m to 365 days; counted to the minute; a live
                               realtime connection counts as use)
  --call-token-ttl D           the lifetime of call tokens; 0 = the default, 1h
                               (1m to 24h)
  --grant NAME=BOOL,…          the grants of call tokens: join, publishAudio,
                               publishVideo, screenShare, moderator; "default"
                               returns them all to their defaults
  --name NAME                  the app's display name (1–100 characters)

Durations are seconds (3600) or Go durations (90m, 24h, 1h30m), whole seconds.
The values are judged exactly as PUT /app judges them: a bad one is refused with
the field PUT /app would name (settings.callTokenTTL…), and nothing changes.

--json prints what GET /app answers: {appId, name, region, settings}.

This works on the database directly — SQLite in --data or PostgreSQL with --db —
and is safe while the server runs on it. A running server caches an app for at
most 2 seconds, so it applies an offline change within 2 seconds; PUT /app through
the server applies it at once on every node.`,
		Example: `  callgate apps settings                                   # the dev app of ./callgate-data
  callgate apps settings --app my-app --json
  callgate apps settings --app my-app --cors-origins https://app.example.com,http://localhost:5173
  callgate apps settings --app my-app --auth-token-ttl 720h --auth-token-idle-timeout 24h
  callgate apps settings --app my-app --call-token-ttl 15m --grant moderator=true,screenShare=false
  callgate apps settings --app my-app --cors-origins "" --grant default   # no browsers; default grants`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ch := settingsChange(cmd.Flags(), name, origins, ttls, grants)
			b, err := openDBApp(cmd.Context(), &sf, app)
			if err != nil {
				return err
			}
			defer b.Close()
			out, changed, bad, err := b.ChangeApp(cmd.Context(), ch)
			if err != nil && !errors.Is(err, errUnaudited) {
				return err
			}
			if len(bad) > 0 {
				return settingsError(b.app.ID, ch, bad)
			}
			unaudited := err
			w := cmd.OutOrStdout()
			return adminEmitThen(unaudited, w, asJSON, out, func() error {
				if len(changed) > 0 {
					fmt.Fprintf(w, "Changed %s of app %s in %s.\n\n", strings.Join(changed, ", "), out.AppID, b.desc)
				} else {
					fmt.Fprintf(w, "App %s (region %s) in %s:\n\n", out.AppID, out.Region, b.desc)
				}
				showAppSettings(w, out, b.app.Settings)
				if len(changed) > 0 {
					fmt.Fprintln(w, "\nA running server applies the change within 2 seconds (it caches an app that long).")
				}
				return nil
			})
		},
	}
	fs := cmd.Flags()
	sf.register(fs)
	fs.StringVar(&app, "app", "", "app ID (env CALLGATE_APP; default: appId in {data}/dev-credentials.json, else the only app)")
	fs.StringVar(&name, "name", "", "the app's display name")
	fs.StringVar(&origins, "cors-origins", "", `browser origins allowed, comma-separated; * = all; "" = none`)
	fs.StringVar(&ttls[0], "auth-token-ttl", "", "lifetime of new auth tokens (1h, 720h or seconds); 0 = never expire")
	fs.StringVar(&ttls[1], "auth-token-idle-timeout", "", "end auth tokens unused this long (30m, 24h or seconds); 0 = none")
	fs.StringVar(&ttls[2], "call-token-ttl", "", "lifetime of call tokens (15m, 1h or seconds); 0 = the default (1h)")
	fs.StringVar(&grants, "grant", "", `call-token grants: join=true,moderator=false,… or "default"`)
	fs.BoolVar(&asJSON, "json", false, "print JSON: what GET /app answers")
	return cmd
}

// settingsChange builds the PUT /app body of the flags given. Values are
// translated, never judged: a value the API would refuse goes through as
// the API would see it, so that PatchSettings refuses it in the API's
// words.
func settingsChange(fs *pflag.FlagSet, name, origins string, ttls [3]string, grants string) appChange {
	ch := appChange{settings: map[string]json.RawMessage{}, given: map[string]string{}}
	for _, f := range settingFlags {
		if fl := fs.Lookup(f.flag); fl != nil && fl.Changed {
			ch.given[f.flag] = fl.Value.String()
		}
	}
	if _, ok := ch.given["name"]; ok {
		ch.name = &name
	}
	if _, ok := ch.given["cors-origins"]; ok {
		list := []string{}
		if strings.TrimSpace(origins) != "" {
			for _, o := range strings.Split(origins, ",") {
				list = append(list, strings.TrimSpace(o))
			}
		}
		ch.settings["corsOrigins"] = mustJSON(list)
	}
	for i, setting := range []string{"authTokenTTL", "authTokenIdleTimeout", "callTokenTTL"} {
		if _, ok := ch.given[settingFlags[2+i].flag]; ok {
			ch.settings[setting] = secondsJSON(ttls[i])
		}
	}
	if _, ok := ch.given["grant"]; ok {
		ch.settings["callGrants"] = grantsJSON(grants)
	}
	return ch
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, slices and maps of them: cannot happen
	}
	return b
}

var digits = regexp.MustCompile(`^[+-]?[0-9]+$`)

// secondsJSON turns a duration flag into the number of seconds PUT /app
// takes: plain seconds, or a Go duration. What is not a whole number of
// seconds stays what it is (1.5, "soon"), for PatchSettings to refuse.
func secondsJSON(s string) json.RawMessage {
	s = strings.TrimSpace(s)
	if digits.MatchString(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return json.RawMessage(strconv.FormatInt(n, 10))
		}
		// Too large for the API too: a valid JSON number it refuses.
		neg := strings.HasPrefix(s, "-")
		n := strings.TrimLeft(strings.TrimLeft(s, "+-"), "0")
		if neg {
			n = "-" + n
		}
		return json.RawMessage(n)
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d%time.Second == 0 {
			return json.RawMessage(strconv.FormatInt(int64(d/time.Second), 10))
		}
		return json.RawMessage(strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
	}
	return mustJSON(s)
}

// grantsJSON turns --grant join=true,moderator=false into {"join": true,
// "moderator": false}; "default" is null (the default grants). A value
// other than true or false goes through as a string, for PatchSettings to
// refuse.
func grantsJSON(s string) json.RawMessage {
	if strings.TrimSpace(s) == "default" {
		return json.RawMessage("null")
	}
	m := map[string]json.RawMessage{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if v == "true" || v == "false" {
			m[k] = json.RawMessage(v)
		} else {
			m[k] = mustJSON(v)
		}
	}
	return mustJSON(m)
}

// settingsError lists every problem of a change, each with the flag to fix
// and the field PUT /app names.
func settingsError(appID string, ch appChange, bad map[string]string) error {
	fields := make([]string, 0, len(bad))
	for f := range bad {
		fields = append(fields, f)
	}
	// In the order of the flags, then of the fields.
	sort.Slice(fields, func(i, j int) bool {
		fi, fj := flagIndex(fields[i]), flagIndex(fields[j])
		if fi != fj {
			return fi < fj
		}
		return fields[i] < fields[j]
	})
	var sb strings.Builder
	fmt.Fprintf(&sb, "app %s was not changed:", appID)
	durationHint := false
	for _, f := range fields {
		flag := flagOf(f)
		value := ch.given[flag]
		if i := originIndex(f); i >= 0 {
			if list := decodeOrigins(ch.settings["corsOrigins"]); i < len(list) {
				value = list[i]
			}
		} else if grant, ok := strings.CutPrefix(f, "settings.callGrants."); ok {
			value = grantEntry(value, grant)
		}
		fmt.Fprintf(&sb, "\n  --%s %q (%s) %s", flag, value, f, bad[f])
		if strings.Contains(bad[f], "seconds") {
			durationHint = true
		}
	}
	if durationHint {
		sb.WriteString("\n  durations are whole seconds (3600) or Go durations (90s, 15m, 24h)")
	}
	fmt.Fprintf(&sb, "\n  fix the values and run the command again; `callgate apps settings --help` lists what each flag takes, `callgate apps settings --app %s` shows the current settings", appID)
	return fmt.Errorf("%s", sb.String())
}

// flagOf is the flag that sets a field of PUT /app (settings.corsOrigins[2]
// and settings.callGrants.join included).
func flagOf(field string) string {
	if i := flagIndex(field); i < len(settingFlags) {
		return settingFlags[i].flag
	}
	return field
}

// flagIndex is the index in settingFlags of the flag that sets field.
func flagIndex(field string) int {
	for i, f := range settingFlags {
		if field == f.field || strings.HasPrefix(field, f.field+"[") || strings.HasPrefix(field, f.field+".") {
			return i
		}
	}
	return len(settingFlags)
}

// grantEntry is the entry of --grant that names grant ("join=yes").
func grantEntry(value, grant string) string {
	for _, part := range strings.Split(value, ",") {
		if k, _, _ := strings.Cut(part, "="); strings.TrimSpace(k) == grant {
			return strings.TrimSpace(part)
		}
	}
	return value
}

var originField = regexp.MustCompile(`^settings\.corsOrigins\[([0-9]+)\]$`)

// originIndex is i of settings.corsOrigins[i], else -1.
func originIndex(field string) int {
	m := originField.FindStringSubmatch(field)
	if m == nil {
		return -1
	}
	i, _ := strconv.Atoi(m[1])
	return i
}

func decodeOrigins(raw json.RawMessage) []string {
	var list []string
	json.Unmarshal(raw, &list)
	return list
}

// showAppSettings prints an app and its settings for people: each setting,
// what it means, and the flag that changes it. stored are the settings as
// stored, to tell a default from a value set.
func showAppSettings(w io.Writer, a wire.App, stored store.AppSettings) {
	s := a.Settings
	origins := "none: browsers are refused (ERR_ORIGIN_NOT_ALLOWED)"
	if len(s.CORSOrigins) > 0 {
		origins = strings.Join(s.CORSOrigins, ",")
		if len(s.CORSOrigins) == 1 && s.CORSOrigins[0] == "*" {
			origins = "* (every origin)"
		}
	}
	callTTL := seconds(s.CallTokenTTL)
	if stored.CallTokenTTL == 0 {
		callTTL += ", the default"
	}
	authTTL, idle := "0: auth tokens never expire", "0: none"
	if s.AuthTokenTTL != 0 {
		authTTL = seconds(s.AuthTokenTTL)
	}
	if s.AuthTokenIdleTimeout != 0 {
		idle = seconds(s.AuthTokenIdleTimeout)
	}
	g := s.CallGrants
	grants := fmt.Sprintf("join=%t,publishAudio=%t,publishVideo=%t,screenShare=%t,moderator=%t",
		g.Join, g.PublishAudio, g.PublishVideo, g.ScreenShare, g.Moderator)
	if stored.CallGrants == nil {
		grants += " (the default)"
	}
	printTable(w, []string{"SETTING", "VALUE", "FLAG"}, [][]string{
		{"name", a.Name, "--name"},
		{"corsOrigins", origins, "--cors-origins"},
		{"authTokenTTL", authTTL, "--auth-token-ttl"},
		{"authTokenIdleTimeout", idle, "--auth-token-idle-timeout"},
		{"callTokenTTL", callTTL, "--call-token-ttl"},
		{"callGrants", grants, "--grant"},
	})
}

// seconds shows n seconds as the number the API speaks and the duration
// people read: "5400 s (1h30m)".
func seconds(n int64) string {
	d := (time.Duration(n) * time.Second).String()
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return fmt.Sprintf("%d s (%s)", n, d)
}

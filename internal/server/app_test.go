package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/servertest"
)

// GET /app shows the calling key's app with its effective settings.
func TestAppSettingsGet(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	for _, v := range versions {
		d := e.do("GET", v+"/app", e.rest(), nil).data(t)
		if str(d, "appId") != e.srv.AppID || str(d, "region") != "us" || str(d, "name") == "" {
			t.Errorf("GET %s/app: %v", v, d)
		}
		s := d["settings"].(map[string]any)
		want := `map[authTokenIdleTimeout:0 authTokenTTL:0 callGrants:map[join:true moderator:false publishAudio:true publishVideo:true screenShare:true] callTokenTTL:3600 corsOrigins:[*]]`
		if got := fmt.Sprint(s); got != want {
			t.Errorf("settings:\n got %s\nwant %s", got, want)
		}
	}
	wantErr(t, e.do("GET", "/v3/app", e.auth(), nil), 403, "AUTH_ERR_NO_ACCESS")
	wantErr(t, e.do("PUT", "/v3/app", e.auth(), map[string]any{"name": "x"}), 403, "AUTH_ERR_NO_ACCESS")
	wantErr(t, e.do("GET", "/v3/app", H{"appId": e.srv.AppID}, nil), 401, "AUTH_ERR_EMPTY_APIKEY")
}

// PUT /app changes the settings it names and keeps the others; null
// returns one to its default; the changes apply at once.
func TestAppSettingsPut(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	settings := func(d map[string]any) map[string]any { return d["settings"].(map[string]any) }
	d := e.do("PUT", "/v3/app", e.rest(), map[string]any{"name": "  Renamed  ", "settings": map[string]any{
		"authTokenTTL": 120, "callGrants": map[string]any{"moderator": true, "screenShare": false},
	}}).data(t)
	s := settings(d)
	if str(d, "name") != "Renamed" || num(s, "authTokenTTL") != 120 || num(s, "callTokenTTL") != 3600 ||
		fmt.Sprint(s["corsOrigins"]) != "[*]" || fmt.Sprint(s["callGrants"]) != "map[join:true moderator:true publishAudio:true publishVideo:true screenShare:false]" {
		t.Errorf("after the first PUT: %v", d)
	}
	// Only what is named changes.
	d = e.do("PUT", "/v3.0/app", e.rest(), map[string]any{"settings": map[string]any{"callTokenTTL": 600, "corsOrigins": []string{"https://A.example.com", "https://a.example.com", "http://localhost:8080"}}}).data(t)
	s = settings(d)
	if str(d, "name") != "Renamed" || num(s, "authTokenTTL") != 120 || num(s, "callTokenTTL") != 600 ||
		fmt.Sprint(s["corsOrigins"]) != "[https://a.example.com http://localhost:8080]" || s["callGrants"].(map[string]any)["moderator"] != true {
		t.Errorf("after the second PUT: %v", d)
	}
	if g := e.do("GET", "/v3/app", e.rest(), nil).data(t); fmt.Sprint(g) != fmt.Sprint(d) {
		t.Errorf("GET after PUT:\n%v\n%v", g, d)
	}
	// At once: new tokens expire with the new TTL, call tokens carry the
	// new grants and lifetime (no wait for the app cache).
	tk := e.do("POST", "/v3/users/cometchat-uid-1/auth_tokens", e.auth(), nil).data(t)
	if exp := num(tk, "expiresAt"); exp < float64(time.Now().Unix()+110) || exp > float64(time.Now().Unix()+130) {
		t.Errorf("a token minted after authTokenTTL=120 expires at %v", exp)
	}
	ct := e.do("POST", "/v3/call_tokens", e.tok(str(tk, "authToken")), map[string]any{"sessionId": "s"}).data(t)
	claims := e.do("GET", "/v3/call_tokens", H{"callToken": str(ct, "token")}, nil).data(t)
	// (A call token never outlives the auth token that minted it.)
	wantTTL := min(600, num(tk, "expiresAt")-num(claims, "iat"))
	if g := claims["grants"].(map[string]any); g["moderator"] != true || g["screenShare"] != false || num(claims, "exp")-num(claims, "iat") != wantTTL {
		t.Errorf("call token after the change: %v", claims)
	}
	// The new corsOrigins apply at once.
	wantErr(t, e.do("GET", "/v3/users", e.rest().with("Origin", "https://other.example.com"), nil), 403, "ERR_ORIGIN_NOT_ALLOWED")
	e.do("GET", "/v3/users", e.rest().with("Origin", "https://a.example.com"), nil).list(t)
	// null returns a setting to its default.
	s = settings(e.do("PUT", "/v3/app", e.rest(), map[string]any{"settings": map[string]any{"callGrants": nil, "corsOrigins": nil, "authTokenTTL": nil}}).data(t))
	if num(s, "authTokenTTL") != 0 || fmt.Sprint(s["corsOrigins"]) != "[]" || s["callGrants"].(map[string]any)["moderator"] != false || num(s, "callTokenTTL") != 600 {
		t.Errorf("after nulls: %v", s)
	}
	// An empty body changes nothing.
	if d2 := e.do("PUT", "/v3/app", e.rest(), nil).data(t); str(d2, "name") != "Renamed" {
		t.Errorf("empty PUT: %v", d2)
	}
}

// Bad settings are refused naming the field, and nothing changes.
func TestAppSettingsBadInput(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	before := string(e.do("GET", "/v3/app", e.rest(), nil).Raw)
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": strings.Repeat("n", 101)}, "name"},
		{map[string]any{"name": 5}, "name"},
		{map[string]any{"settings": "x"}, "settings"},
		{map[string]any{"settings": map[string]any{"colour": "red"}}, "settings.colour"},
		{map[string]any{"settings": map[string]any{"authTokenTTL": -1}}, "settings.authTokenTTL"},
		{map[string]any{"settings": map[string]any{"authTokenTTL": 1.5}}, "settings.authTokenTTL"},
		{map[string]any{"settings": map[string]any{"authTokenTTL": "1h"}}, "settings.authTokenTTL"},
		{map[string]any{"settings": map[string]any{"authTokenTTL": 1e12}}, "settings.authTokenTTL"},
		{map[string]any{"settings": map[string]any{"authTokenTTL": json.RawMessage("99999999999999999999")}}, "settings.authTokenTTL"},
		{map[string]any{"settings": map[string]any{"callTokenTTL": 30}}, "settings.callTokenTTL"},
		{map[string]any{"settings": map[string]any{"callTokenTTL": 86401}}, "settings.callTokenTTL"},
		{map[string]any{"settings": map[string]any{"authTokenIdleTimeout": 59}}, "settings.authTokenIdleTimeout"},
		{map[string]any{"settings": map[string]any{"corsOrigins": "https://a.example"}}, "settings.corsOrigins"},
		{map[string]any{"settings": map[string]any{"corsOrigins": []any{"https://a.example", 3}}}, "settings.corsOrigins"},
		{map[string]any{"settings": map[string]any{"corsOrigins": []string{"https://ok.example", "https://x.example/path"}}}, "settings.corsOrigins[1]"},
		{map[string]any{"settings": map[string]any{"corsOrigins": []string{"ftp://x.example"}}}, "settings.corsOrigins[0]"},
		{map[string]any{"settings": map[string]any{"corsOrigins": []string{"x.example"}}}, "settings.corsOrigins[0]"},
		{map[string]any{"settings": map[string]any{"corsOrigins": []string{"https://x.example?q"}}}, "settings.corsOrigins[0]"},
		{map[string]any{"settings": map[string]any{"corsOrigins": []string{"https://u:p@x.example"}}}, "settings.corsOrigins[0]"},
		{map[string]any{"settings": map[string]any{"corsOrigins": make([]string, 101)}}, "settings.corsOrigins"},
		{map[string]any{"settings": map[string]any{"callGrants": true}}, "settings.callGrants"},
		{map[string]any{"settings": map[string]any{"callGrants": map[string]any{"join": "yes"}}}, "settings.callGrants.join"},
		{map[string]any{"settings": map[string]any{"callGrants": map[string]any{"admin": true}}}, "settings.callGrants.admin"},
		// One bad field among good ones: nothing is applied.
		{map[string]any{"name": "ok", "settings": map[string]any{"authTokenTTL": 60, "callTokenTTL": -5}}, "settings.callTokenTTL"},
	} {
		r := e.do("PUT", "/v3/app", e.rest(), c.body)
		name, _ := json.Marshal(c.body)
		t.Run(string(name[:min(len(name), 70)]), func(t *testing.T) { wantBadField(t, r, c.field) })
	}
	if after := string(e.do("GET", "/v3/app", e.rest(), nil).Raw); after != before {
		t.Errorf("bad input changed the app:\n%s\n%s", before, after)
	}
}

// A change made on one node applies on the other at once (the bus), not
// when its app cache expires.
func TestAppSettingsCrossNodes(t *testing.T) {
	t.Parallel()
	a := start(t, servertest.Options{Postgres: true})
	b := start(t, servertest.Options{Join: a.srv})
	b.do("GET", "/v3/users", b.rest().with("Origin", "https://late.example"), nil).list(t) // cached on B: allowed
	a.do("PUT", "/v3/app", a.rest(), map[string]any{"settings": map[string]any{"corsOrigins": []string{"https://only.example"}}}).data(t)
	start := time.Now()
	for {
		r := b.do("GET", "/v3/users", b.rest().with("Origin", "https://late.example"), nil)
		if r.Status == http.StatusForbidden {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("node B still allows the old origin %v after the change on A", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the change reached the other node in %v", time.Since(start).Round(time.Millisecond))
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store/sqlite"
)

// mustCLI runs the CLI and fails the test on an error.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := cli(t, args...)
	if err != nil {
		t.Fatalf("callgate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// The audit log through the CLI, on SQLite and PostgreSQL: the offline
// CLI's writes are recorded at once with the local user as the actor, the
// server's with its key; `callgate audit` shows both, online and offline
// alike, filters them, and no event holds a secret.
func TestAuditCLI(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) { testAuditCLI(t, pg) })
	}
}

func testAuditCLI(t *testing.T, pg bool) {
	s := servertest.Start(t, servertest.Options{Postgres: pg}) // before isolateEnv: it reads CALLGATE_TEST_POSTGRES
	isolateEnv(t)
	db := []string{"--data", s.DataDir} // the database, for any app
	if pg {
		db = append(db, "--db", s.DSN)
	}
	offline := append([]string{"--app", s.AppID}, db...)
	online := restConn(t, s, s.RESTKey)
	with := func(conn []string, args ...string) []string { return append(args, conn...) }
	restKey, err := s.Store.GetAPIKeyByHash(context.Background(), s.AppID, credential.Hash(s.RESTKey))
	if err != nil {
		t.Fatal(err)
	}
	me := cliUser()

	// Offline writes, straight on the database.
	k1 := decodeJSON[adminKey](t, mustCLI(t, with(offline, "keys", "create", "--scope", "authOnly", "--name", "audit key", "--json")...))
	mustCLI(t, with(offline, "keys", "delete", k1.APIKey)...) // named by its secret
	rot := decodeJSON[adminRotation](t, mustCLI(t, with(offline, "signing-keys", "rotate", "--json")...))
	if rot.Retired == nil {
		t.Fatal("the rotation retired no key")
	}
	mustCLI(t, with(offline, "apps", "settings", "--name", "Audited app", "--auth-token-idle-timeout", "1h")...)
	other := decodeJSON[adminNewApp](t, mustCLI(t, with(db, "apps", "create", "--id", "audit-other", "--json")...))
	// Through the server.
	u := decodeJSON[adminUser](t, mustCLI(t, with(online, "users", "create", "auditee", "--name", "A", "--with-auth-token", "--json")...))
	mustCLI(t, with(online, "tokens", "flush", "auditee")...)
	k2 := decodeJSON[adminKey](t, mustCLI(t, with(online, "keys", "create", "--scope", "fullAccess", "--json")...))
	secrets := []string{k1.APIKey, k2.APIKey, u.AuthToken, s.AuthKey, s.RESTKey, other.AuthKey, other.RESTAPIKey}
	for i, sec := range secrets {
		if sec == "" {
			t.Fatalf("secret %d is empty: the test would prove nothing", i)
		}
	}

	type want struct {
		actor, action, target, details string
	}
	byCLI := func(action, target, details string) want { return want{"cli:" + me, action, target, details} }
	byKey := func(action, target, details string) want {
		return want{"apiKey:" + restKey.ID, action, target, details}
	}
	wantAll := []want{ // newest first
		byKey("apikey.create", k2.ID, `{"name":"fullAccess key","scope":"fullAccess"}`),
		byKey("token.flush", "auditee", `{"deleted":1}`),
		byKey("user.create", "auditee", `{"withAuthToken":true}`),
		byCLI("app.update", s.AppID, `{"name":"Audited app","settings":{"authTokenIdleTimeout":3600}}`),
		byCLI("signingkey.rotate", rot.Active.KID, `{"retired":"`+rot.Retired.KID+`"}`),
		byCLI("apikey.delete", k1.ID, `{"name":"audit key","scope":"authOnly"}`),
		byCLI("apikey.create", k1.ID, `{"name":"audit key","scope":"authOnly"}`),
	}
	check := func(t *testing.T, out string, wants []want) []adminAuditEvent {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("the audit log shows a secret: %.12s…", sec)
			}
		}
		evs := decodeJSON[[]adminAuditEvent](t, out)
		if len(evs) != len(wants) {
			t.Fatalf("%d events, want %d:\n%s", len(evs), len(wants), out)
		}
		for i, e := range evs {
			w := wants[i]
			got := want{e.Actor.Type + ":" + e.Actor.ID, e.Action, e.Target, string(e.Details)}
			var compact bytes.Buffer
			json.Compact(&compact, e.Details)
			got.details = compact.String()
			if got != w {
				t.Errorf("event %d = %+v, want %+v", i, got, w)
			}
			if e.AppID != s.AppID || !strings.HasPrefix(e.ID, "evt_") || time.Since(time.Unix(e.Time, 0)) > time.Minute {
				t.Errorf("event %d: app %q, id %q, time %d", i, e.AppID, e.ID, e.Time)
			}
			if e.Actor.Type == "cli" && (e.IP != "" || e.RequestID != "") {
				t.Errorf("an offline event has an IP (%q) or a request id (%q)", e.IP, e.RequestID)
			}
			if e.Actor.Type == "apiKey" && (e.IP != "127.0.0.1" || e.RequestID == "") {
				t.Errorf("a REST event: IP %q, request id %q", e.IP, e.RequestID)
			}
		}
		return evs
	}

	// Online first: GET /audit_events writes what the server holds behind.
	viaREST := check(t, mustCLI(t, with(online, "audit", "--json")...), wantAll)
	viaDB := check(t, mustCLI(t, with(offline, "audit", "--json")...), wantAll)
	for i := range viaREST {
		if viaREST[i].ID != viaDB[i].ID || viaREST[i].Time != viaDB[i].Time {
			t.Errorf("event %d online %+v, offline %+v", i, viaREST[i], viaDB[i])
		}
	}
	// The other app's log holds its own two keys' creation, and only that.
	otherConn := append([]string{"--app", "audit-other"}, db...)
	otherOut := mustCLI(t, with(otherConn, "audit", "--json")...)
	otherEvs := decodeJSON[[]adminAuditEvent](t, otherOut)
	if len(otherEvs) != 2 || otherEvs[0].Action != "apikey.create" || otherEvs[1].Action != "apikey.create" ||
		otherEvs[0].Actor.ID != me || otherEvs[0].AppID != "audit-other" {
		t.Errorf("the other app's log: %s", otherOut)
	}
	for _, sec := range secrets {
		if strings.Contains(otherOut, sec) {
			t.Errorf("the other app's log shows a secret: %.12s…", sec)
		}
	}

	// Filters, both ways.
	hourAgo := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	for _, c := range []struct {
		args []string
		want []want
	}{
		{[]string{"--action", "apikey.create"}, []want{wantAll[0], wantAll[6]}},
		{[]string{"--actor", "cli"}, wantAll[3:]},
		{[]string{"--actor", restKey.ID}, wantAll[:3]},
		{[]string{"--actor", "nobody"}, nil},
		{[]string{"--target", "auditee"}, wantAll[1:3]},
		{[]string{"--target", k1.ID, "--action", "apikey.delete"}, wantAll[5:6]},
		{[]string{"--since", "1h"}, wantAll},
		{[]string{"--since", hourAgo, "--until", "1m"}, nil}, // all are younger than a minute
		{[]string{"--until", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, nil},
		{[]string{"--since", time.Now().Add(-time.Hour).Format(time.DateOnly), "--until", time.Now().Add(24 * time.Hour).Format(time.DateOnly)}, wantAll},
		{[]string{"--limit", "2", "--page", "2"}, wantAll[2:4]},
		{[]string{"--limit", "5", "--page", "3"}, nil},
	} {
		for name, conn := range map[string][]string{"online": online, "offline": offline} {
			t.Run(name+" "+strings.Join(c.args, " "), func(t *testing.T) {
				args := append(append([]string{"audit", "--json"}, c.args...), conn...)
				if c.want == nil {
					if out := mustCLI(t, args...); strings.TrimSpace(out) != "[]" {
						t.Errorf("want no events, got %s", out)
					}
					return
				}
				check(t, mustCLI(t, args...), c.want)
			})
		}
	}

	// The table for people: who, what, on what, from where, never a secret.
	for name, conn := range map[string][]string{"online": online, "offline": offline} {
		table := mustCLI(t, with(conn, "audit")...)
		for _, w := range []string{"TIME", "ACTOR", "ACTION", "TARGET", "IP", "DETAILS",
			"cli:" + me, "apiKey:" + restKey.ID, "127.0.0.1", "signingkey.rotate", rot.Active.KID, `{"deleted":1}`} {
			if !strings.Contains(table, w) {
				t.Errorf("%s table lacks %q:\n%s", name, w, table)
			}
		}
		for _, sec := range secrets {
			if strings.Contains(table, sec) {
				t.Errorf("%s table shows a secret", name)
			}
		}
		paged := mustCLI(t, with(conn, "audit", "--limit", "3", "--page", "2")...)
		if !strings.Contains(paged, "page 2 of 3 (7 events in all); next: --page 3") {
			t.Errorf("%s paged table:\n%s", name, paged)
		}
		if out := mustCLI(t, with(conn, "audit", "--actor", "nobody")...); !strings.Contains(out, "No audit events of app "+s.AppID+" match.") {
			t.Errorf("%s empty table: %s", name, out)
		}
	}

	// Bad flags are refused before anything is asked.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--action", "user.rename"}, "--action \"user.rename\": want one of app.update, apikey.create"},
		{[]string{"--since", "soon"}, "--since \"soon\": want an RFC 3339 time"},
		{[]string{"--until", "-5"}, "--until \"-5\""},
		{[]string{"--limit", "0"}, "--limit 0: want 1 to 1000"},
		{[]string{"--limit", "1001"}, "--limit 1001"},
		{[]string{"--page", "0"}, "--page 0: pages count from 1"},
		{[]string{"--since", "1h", "--until", "2h"}, "is after --until"},
	} {
		for name, conn := range map[string][]string{"online": online, "offline": offline} {
			_, _, err := cli(t, append(append([]string{"audit"}, c.args...), conn...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s audit %s: %v, want %q", name, strings.Join(c.args, " "), err, c.want)
			}
		}
	}
	// An authOnly key may not read the log.
	_, _, err = cli(t, with(restConn(t, s, s.AuthKey), "audit")...)
	if err == nil || !strings.Contains(err.Error(), "AUTH_ERR_NO_ACCESS") {
		t.Errorf("audit with an authOnly key: %v", err)
	}
}

// A write whose audit event cannot be recorded is made and shown — the
// secret of a new key is not lost — and then the command fails, saying so.
func TestAuditUnrecordedWriteFails(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	mustCLI(t, "apps", "create", "--id", "unaudited", "--data", dir)
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, sqlite.FileName), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`DROP TABLE audit_events`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, _, err := cli(t, "keys", "create", "--scope", "authOnly", "--data", dir, "--json")
	if err == nil || !strings.Contains(err.Error(), "the change was made (apikey.create key_") || !strings.Contains(err.Error(), "recording it in the audit log failed") {
		t.Fatalf("keys create without an audit table: %v", err)
	}
	if k := decodeJSON[adminKey](t, out); k.APIKey == "" {
		t.Errorf("the new key's secret was not shown: %s", out)
	}
	out, _, err = cli(t, "apps", "settings", "--data", dir, "--name", "Still renamed")
	if err == nil || !strings.Contains(err.Error(), "app.update unaudited") || !strings.Contains(out, "Changed name of app unaudited") {
		t.Errorf("apps settings without an audit table: %v\n%s", err, out)
	}
	out = mustCLI(t, "apps", "settings", "--data", dir, "--json")
	if !strings.Contains(out, `"name": "Still renamed"`) {
		t.Errorf("the change did not stand: %s", out)
	}
}

func TestCLIUser(t *testing.T) {
	if u := cliUser(); u == "" || strings.ContainsAny(u, "\n\t") {
		t.Errorf("cliUser() = %q", u)
	}
}

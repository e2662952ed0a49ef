package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/servertest"
)

// cli runs the callgate CLI in-process, as the binary would.
func cli(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

// isolateEnv hides every CALLGATE_* variable of the environment from the
// CLI (the root command reads them for any flag) and restores them after.
func isolateEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CALLGATE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// step is one CLI invocation of a table test and what it must print.
type step struct {
	name    string
	args    []string
	want    []string // substrings of stdout
	notWant []string // substrings stdout must not hold
	wantErr []string // substrings of the error; empty means success
	check   func(t *testing.T, stdout string)
}

func runSteps(t *testing.T, conn []string, steps []step) {
	t.Helper()
	runStepsRef(t, conn, nil, steps)
}

// runStepsRef runs steps in order; ref (if not nil) rewrites each argument
// and each wanted output when its step runs, so a step can name what an
// earlier step created.
func runStepsRef(t *testing.T, conn []string, ref func(string) string, steps []step) {
	t.Helper()
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			// The step's own flags come last, so they win over conn's.
			args := append([]string{}, conn...)
			for _, a := range st.args {
				if ref != nil {
					a = ref(a)
				}
				args = append(args, a)
			}
			out, _, err := cli(t, args...)
			if len(st.wantErr) == 0 && err != nil {
				t.Fatalf("callgate %s: %v\nstdout:\n%s", strings.Join(st.args, " "), err, out)
			}
			if len(st.wantErr) > 0 {
				if err == nil {
					t.Fatalf("callgate %s succeeded, want an error with %q\nstdout:\n%s", strings.Join(st.args, " "), st.wantErr, out)
				}
				for _, w := range st.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
			}
			for _, w := range st.want {
				if ref != nil {
					w = ref(w)
				}
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range st.notWant {
				if strings.Contains(out, w) {
					t.Errorf("stdout holds %q:\n%s", w, out)
				}
			}
			if st.check != nil {
				st.check(t, out)
			}
		})
		if !ok {
			t.FailNow() // later steps depend on earlier ones
		}
	}
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, s)
	}
	return v
}

// restConn are the connection flags for s; --data points at an empty
// directory so no dev-credentials.json supplies anything.
func restConn(t *testing.T, s *servertest.Server, key string) []string {
	return []string{"--server", s.URL, "--app", s.AppID, "--key", key, "--data", t.TempDir()}
}

// getMe calls GET /v3/me with an auth token and returns the error code ("" on success).
func getMe(t *testing.T, s *servertest.Server, token string) string {
	t.Helper()
	return s.Do(t, http.MethodGet, "/v3/me", map[string]string{"authToken": token}, nil).Code
}

func TestAdminUsers(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	runSteps(t, restConn(t, s, s.RESTKey), []step{
		{name: "create", args: []string{"users", "create", "Alice", "--name", "Alice Liddell", "--avatar", "https://example.com/a.png", "--tags", "beta,staff", "--metadata", `{"team":"red"}`},
			want: []string{"Created user alice", "Alice Liddell", "https://example.com/a.png", "beta, staff", `{"team":"red"}`}},
		{name: "create with --uid and --json", args: []string{"users", "create", "--uid", "bob", "--name", "Bob", "--with-auth-token", "--json"},
			check: func(t *testing.T, out string) {
				u := decodeJSON[adminUser](t, out)
				if u.UID != "bob" || u.Name != "Bob" || u.AuthToken == "" {
					t.Errorf("user = %+v, want bob with an auth token", u)
				}
				if getMe(t, s, u.AuthToken) != "" {
					t.Error("the auth token of --with-auth-token does not work")
				}
			}},
		{name: "create duplicate", args: []string{"users", "create", "alice", "--name", "Again"},
			wantErr: []string{"ERR_UID_ALREADY_EXISTS", "HTTP 409", "hint:"}},
		{name: "create without name", args: []string{"users", "create", "carol"}, wantErr: []string{"--name"}},
		{name: "create bad avatar", args: []string{"users", "create", "carol", "--name", "Carol", "--avatar", "not a url"},
			wantErr: []string{"ERR_BAD_REQUEST", "avatar: must be an http(s) URL", "hint: Fix the fields"}},
		{name: "create bad metadata", args: []string{"users", "create", "carol", "--name", "Carol", "--metadata", "[1]"},
			wantErr: []string{"--metadata", "JSON object"}},
		{name: "get", args: []string{"users", "get", "alice"},
			want: []string{"UID", "alice", "Alice Liddell", "offline", "Created"}},
		{name: "get --json", args: []string{"users", "get", "ALICE", "--json"},
			check: func(t *testing.T, out string) {
				u := decodeJSON[adminUser](t, out)
				if u.UID != "alice" || u.Avatar != "https://example.com/a.png" || len(u.Tags) != 2 || u.CreatedAt == 0 {
					t.Errorf("user = %+v", u)
				}
			}},
		{name: "get missing uid argument", args: []string{"users", "get"}, wantErr: []string{"missing UID", "usage: callgate users get UID"}},
		{name: "list", args: []string{"users", "list"},
			want: []string{"UID", "NAME", "STATUS", "CREATED", "alice", "bob", "cometchat-uid-1", "Andrew Joseph"}},
		{name: "list --search", args: []string{"users", "list", "--search", "liddell"},
			want: []string{"alice"}, notWant: []string{"bob", "cometchat-uid-1"}},
		{name: "list --status", args: []string{"users", "list", "--status", "online"}, notWant: []string{"alice"}},
		{name: "list --status bad", args: []string{"users", "list", "--status", "away"}, wantErr: []string{"--status", "online or offline"}},
		{name: "list paged", args: []string{"users", "list", "--per-page", "2", "--page", "2"},
			want: []string{"page 2 of 4 (7 users in all); next: --page 3"}},
		{name: "list --json", args: []string{"users", "list", "--per-page", "3", "--json"},
			check: func(t *testing.T, out string) {
				us := decodeJSON[[]adminUser](t, out)
				if len(us) != 3 || us[0].UID == "" {
					t.Errorf("users = %+v, want 3", us)
				}
			}},
		{name: "delete", args: []string{"users", "delete", "alice"}, want: []string{"alice has been deleted"}},
		{name: "get deleted", args: []string{"users", "get", "alice"}, wantErr: []string{"ERR_UID_NOT_FOUND", "HTTP 404"}},
		{name: "delete --json", args: []string{"users", "delete", "bob", "--json"},
			check: func(t *testing.T, out string) {
				if r := decodeJSON[adminResult](t, out); !r.Success {
					t.Errorf("result = %+v", r)
				}
			}},
	})
}

func TestAdminTokens(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	const uid = "cometchat-uid-1"
	var first, second adminToken
	// Later steps name what earlier ones created.
	ref := func(a string) string {
		switch a {
		case "{id1}":
			return first.ID
		case "{token2}":
			return second.AuthToken
		}
		return a
	}
	runStepsRef(t, restConn(t, s, s.RESTKey), ref, []step{
		{name: "create", args: []string{"tokens", "create", uid, "--platform", "web", "--device-id", "laptop-1"},
			want: []string{"Created auth token tok_", uid + "_", "shown only this once"}},
		{name: "create --json", args: []string{"tokens", "create", uid, "--json"},
			check: func(t *testing.T, out string) {
				first = decodeJSON[adminToken](t, out)
				if first.ID == "" || !strings.HasPrefix(first.AuthToken, uid+"_") || first.UID != uid {
					t.Fatalf("token = %+v", first)
				}
				if code := getMe(t, s, first.AuthToken); code != "" {
					t.Fatalf("new token: GET /me = %s", code)
				}
			}},
		{name: "create another", args: []string{"tokens", "create", uid, "--json"},
			check: func(t *testing.T, out string) { second = decodeJSON[adminToken](t, out) }},
		{name: "create for unknown user", args: []string{"tokens", "create", "nobody"}, wantErr: []string{"ERR_UID_NOT_FOUND"}},
		{name: "list", args: []string{"tokens", "list", uid},
			want: []string{"ID", "PLATFORM", "LAST USED", "EXPIRES", "web", "laptop-1", "never"}, notWant: []string{uid + "_"}},
		{name: "list --json", args: []string{"tokens", "list", uid, "--json"},
			check: func(t *testing.T, out string) {
				toks := decodeJSON[[]adminToken](t, out)
				if len(toks) != 3 {
					t.Fatalf("tokens = %+v, want 3", toks)
				}
				for _, tk := range toks {
					if tk.AuthToken != "" {
						t.Error("list shows a token's secret")
					}
				}
			}},
		{name: "revoke by id", args: []string{"tokens", "revoke", uid, "{id1}"}},
		{name: "revoked token fails GET /me", args: []string{"tokens", "list", uid},
			check: func(t *testing.T, out string) {
				if code := getMe(t, s, first.AuthToken); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
					t.Errorf("revoked token: GET /me = %q, want AUTH_ERR_AUTH_TOKEN_NOT_FOUND", code)
				}
				if strings.Contains(out, first.ID) {
					t.Errorf("revoked token still listed:\n%s", out)
				}
				if code := getMe(t, s, second.AuthToken); code != "" {
					t.Errorf("another token of the user: GET /me = %q, want it still valid", code)
				}
			}},
		{name: "revoke again", args: []string{"tokens", "revoke", uid, "{id1}"}, wantErr: []string{"ERR_AUTH_TOKEN_NOT_FOUND", "HTTP 404"}},
		{name: "revoke by token", args: []string{"tokens", "revoke", uid, "{token2}", "--json"},
			check: func(t *testing.T, out string) {
				if r := decodeJSON[adminResult](t, out); !r.Success {
					t.Errorf("result = %+v", r)
				}
				if code := getMe(t, s, second.AuthToken); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
					t.Errorf("revoked token: GET /me = %q", code)
				}
			}},
		{name: "flush", args: []string{"tokens", "flush", uid}, want: []string{"Deleted 1 auth tokens"}},
		{name: "list after flush", args: []string{"tokens", "list", uid}, want: []string{"has no auth tokens"}},
		{name: "flush --json", args: []string{"tokens", "flush", uid, "--json"},
			check: func(t *testing.T, out string) {
				if r := decodeJSON[adminResult](t, out); !r.Success || r.Deleted == nil || *r.Deleted != 0 {
					t.Errorf("result = %+v", r)
				}
			}},
		{name: "revoke missing argument", args: []string{"tokens", "revoke", uid}, wantErr: []string{"missing TOKEN_ID"}},
	})
}

func TestAdminKeysREST(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	var created adminKey
	ref := func(a string) string {
		switch a {
		case "{id}":
			return created.ID
		case "{key}":
			return created.APIKey
		}
		return a
	}
	runStepsRef(t, restConn(t, s, s.RESTKey), ref, []step{
		{name: "list", args: []string{"keys", "list"},
			want: []string{"ID", "NAME", "SCOPE", "CREATED", "dev auth key", "authOnly", "dev REST API key", "fullAccess"}},
		{name: "create", args: []string{"keys", "create", "--scope", "authOnly", "--name", "iOS app"},
			want: []string{"Created authOnly API key key_", `"iOS app"`, "shown only this once"}},
		{name: "create --json", args: []string{"keys", "create", "--scope", "fullAccess", "--name", "backend", "--json"},
			check: func(t *testing.T, out string) {
				created = decodeJSON[adminKey](t, out)
				if created.ID == "" || len(created.APIKey) != 40 || created.Scope != "fullAccess" || created.Name != "backend" {
					t.Fatalf("key = %+v", created)
				}
			}},
		{name: "new key works", args: []string{"users", "list", "--key", "{key}"}, want: []string{"cometchat-uid-1"}},
		{name: "create without scope", args: []string{"keys", "create", "--name", "x"}, wantErr: []string{"missing --scope", "authOnly", "fullAccess"}},
		{name: "create bad scope", args: []string{"keys", "create", "--scope", "admin"}, wantErr: []string{`--scope "admin"`}},
		{name: "list --json", args: []string{"keys", "list", "--json"},
			check: func(t *testing.T, out string) {
				keys := decodeJSON[[]adminKey](t, out)
				if len(keys) != 4 {
					t.Fatalf("keys = %+v, want 4", keys)
				}
				for _, k := range keys {
					if k.APIKey != "" {
						t.Error("list shows a key's secret")
					}
				}
			}},
		{name: "delete", args: []string{"keys", "delete", "{id}"}, want: []string{"deleted"}},
		{name: "deleted key fails", args: []string{"users", "list", "--key", "{key}"},
			wantErr: []string{"AUTH_ERR_APIKEY_NOT_FOUND", "--key"}},
		{name: "delete again", args: []string{"keys", "delete", "{id}"}, wantErr: []string{"ERR_APIKEY_NOT_FOUND", "HTTP 404"}},
		{name: "--db with --server", args: []string{"keys", "list", "--db", "postgres://x@localhost/y"}, wantErr: []string{"--db", "--server"}},
	})
	// An authOnly key cannot manage keys.
	_, _, err := cli(t, append([]string{"keys", "list"}, restConn(t, s, s.AuthKey)...)...)
	if err == nil || !strings.Contains(err.Error(), "AUTH_ERR_NO_ACCESS") || !strings.Contains(err.Error(), "fullAccess key with --key") {
		t.Errorf("keys list with an authOnly key: %v", err)
	}
}

func TestAdminAppsAndKeysOffline(t *testing.T) {
	isolateEnv(t)
	data := filepath.Join(t.TempDir(), "data")
	off := []string{"--data", data}
	var app adminNewApp
	var created adminKey
	ref := func(a string) string {
		switch a {
		case "{id}":
			return created.ID
		case "{key}":
			return created.APIKey
		}
		return a
	}
	runStepsRef(t, off, ref, []step{
		{name: "list before any app", args: []string{"apps", "list"}, wantErr: []string{"no callgate database", "apps create"}},
		{name: "keys before any app", args: []string{"keys", "create", "--scope", "authOnly"}, wantErr: []string{"no callgate database"}},
		{name: "create", args: []string{"apps", "create", "--id", "Demo", "--name", "Demo app", "--region", "eu"},
			want: []string{"Created app demo", "Demo app", "eu", "Auth key", "REST API key", "shown only this once"}},
		{name: "create --json", args: []string{"apps", "create", "--json"},
			check: func(t *testing.T, out string) {
				app = decodeJSON[adminNewApp](t, out)
				if len(app.AppID) != 16 || app.Region != "us" || len(app.AuthKey) != 40 || len(app.RESTAPIKey) != 40 || len(app.Keys) != 2 {
					t.Fatalf("app = %+v", app)
				}
				scopes := map[string]string{}
				for _, k := range app.Keys {
					scopes[k.Scope] = k.APIKey
				}
				if scopes["authOnly"] != app.AuthKey || scopes["fullAccess"] != app.RESTAPIKey {
					t.Errorf("keys = %+v", app.Keys)
				}
			}},
		{name: "create duplicate", args: []string{"apps", "create", "--id", "demo"}, wantErr: []string{`app "demo" already exists`, "--id"}},
		{name: "create bad id", args: []string{"apps", "create", "--id", "no spaces"}, wantErr: []string{"a-z, 0-9 and -"}},
		{name: "list", args: []string{"apps", "list"},
			want: []string{"APP ID", "REGION", "KEYS", "demo", "Demo app", "eu"}},
		{name: "list --json", args: []string{"apps", "list", "--json"},
			check: func(t *testing.T, out string) {
				apps := decodeJSON[[]adminAppRow](t, out)
				found := false
				for _, a := range apps {
					found = found || a.AppID == "demo" && a.Name == "Demo app" && a.Region == "eu" && a.Keys == 2
				}
				if len(apps) != 2 || !found {
					t.Errorf("apps = %+v", apps)
				}
			}},
		{name: "keys: two apps need --app", args: []string{"keys", "list"}, wantErr: []string{"holds 2 apps", "--app"}},
		{name: "keys: unknown app", args: []string{"keys", "list", "--app", "nope"}, wantErr: []string{`app "nope" does not exist`}},
		{name: "keys create", args: []string{"keys", "create", "--app", "demo", "--scope", "fullAccess", "--name", "backend", "--json"},
			check: func(t *testing.T, out string) {
				created = decodeJSON[adminKey](t, out)
				if created.ID == "" || len(created.APIKey) != 40 || created.Scope != "fullAccess" || created.Name != "backend" {
					t.Fatalf("key = %+v", created)
				}
			}},
		{name: "keys list", args: []string{"keys", "list", "--app", "demo"},
			want: []string{"auth key", "REST API key", "backend", "{id}"}},
		{name: "keys delete by secret", args: []string{"keys", "delete", "{key}", "--app", "demo"}, want: []string{"deleted"}},
		{name: "keys list after delete", args: []string{"keys", "list", "--app", "demo", "--json"},
			check: func(t *testing.T, out string) {
				if keys := decodeJSON[[]adminKey](t, out); len(keys) != 2 {
					t.Errorf("keys = %+v, want 2", keys)
				}
			}},
		{name: "keys delete unknown", args: []string{"keys", "delete", "key_000000000000", "--app", "demo"}, wantErr: []string{"has no API key"}},
	})
	if fi, err := os.Stat(data); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", fi.Mode().Perm())
	}
}

// A key made offline on a running server's database works over REST at once.
func TestAdminOfflineKeyOnServerData(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	out, _, err := cli(t, "keys", "create", "--data", s.DataDir, "--scope", "fullAccess", "--name", "bootstrap", "--json")
	if err != nil {
		t.Fatal(err)
	}
	k := decodeJSON[adminKey](t, out)
	if out, _, err = cli(t, append([]string{"users", "get", "cometchat-uid-2"}, restConn(t, s, k.APIKey)...)...); err != nil || !strings.Contains(out, "George Alan") {
		t.Fatalf("users get with the offline key: %v\n%s", err, out)
	}
}

// Without connection flags, {data}/dev-credentials.json supplies them.
func TestAdminDevCredentialDefaults(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	if _, err := os.Stat(filepath.Join(s.DataDir, provision.DevCredentialsFile)); err != nil {
		t.Fatal(err)
	}
	out, _, err := cli(t, "users", "get", "cometchat-uid-3", "--data", s.DataDir)
	if err != nil || !strings.Contains(out, "Nancy Grace") {
		t.Fatalf("users get with dev credentials: %v\n%s", err, out)
	}
	// CALLGATE_DATA works the same, and a flag still wins over the file.
	t.Setenv("CALLGATE_DATA", s.DataDir)
	out, _, err = cli(t, "tokens", "create", "cometchat-uid-3", "--json")
	if err != nil {
		t.Fatalf("tokens create with CALLGATE_DATA: %v", err)
	}
	if tok := decodeJSON[adminToken](t, out); getMe(t, s, tok.AuthToken) != "" {
		t.Error("the token does not work")
	}
	if _, _, err = cli(t, "users", "list", "--key", strings.Repeat("0", 40)); err == nil || !strings.Contains(err.Error(), "AUTH_ERR_APIKEY_NOT_FOUND") {
		t.Fatalf("--key over dev credentials: %v", err)
	}
}

func TestAdminConnectionFromEnv(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	t.Setenv("CALLGATE_SERVER", s.URL)
	t.Setenv("CALLGATE_APP", s.AppID)
	t.Setenv("CALLGATE_KEY", s.RESTKey)
	t.Setenv("CALLGATE_DATA", t.TempDir())
	out, _, err := cli(t, "users", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if us := decodeJSON[[]adminUser](t, out); len(us) != 5 {
		t.Errorf("users = %d, want the 5 sample users", len(us))
	}
	// The REST path of keys is taken when CALLGATE_SERVER is set.
	if out, _, err = cli(t, "keys", "list"); err != nil || !strings.Contains(out, "dev REST API key") {
		t.Fatalf("keys list via env: %v\n%s", err, out)
	}
}

func TestAdminErrors(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	down := servertest.Start(t, servertest.Options{})
	down.Stop()
	empty := t.TempDir()
	notCallgate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "<html>hello</html>")
	}))
	defer notCallgate.Close()
	cases := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"bad key", []string{"users", "list", "--server", s.URL, "--app", s.AppID, "--key", "wrong", "--data", empty},
			[]string{"AUTH_ERR_APIKEY_NOT_FOUND", "HTTP 401", "hint:", "--key", "CALLGATE_KEY"}},
		{"authOnly key", []string{"users", "list", "--server", s.URL, "--app", s.AppID, "--key", s.AuthKey, "--data", empty},
			[]string{"AUTH_ERR_NO_ACCESS", "HTTP 403", "fullAccess key with --key"}},
		{"unknown app", []string{"tokens", "list", "x", "--server", s.URL, "--app", "no-such-app", "--key", s.RESTKey, "--data", empty},
			[]string{"AUTH_ERR_INVALID_APPID", `"no-such-app"`, "--app"}},
		{"down server", []string{"users", "list", "--server", down.URL, "--app", s.AppID, "--key", s.RESTKey, "--data", empty},
			[]string{"cannot reach callgate at " + down.URL, "is `callgate serve` running at " + down.URL + "?", "--server"}},
		{"down server from dev credentials", []string{"users", "list", "--data", down.DataDir},
			[]string{"cannot reach callgate at " + down.URL, "dev-credentials.json", "--server"}},
		{"not a callgate server", []string{"users", "list", "--server", notCallgate.URL, "--app", s.AppID, "--key", s.RESTKey, "--data", empty},
			[]string{"not a callgate response", "--server"}},
		{"bad server URL", []string{"users", "list", "--server", "ftp://x", "--app", "a", "--key", "k", "--data", empty},
			[]string{"--server", "http://127.0.0.1:8080"}},
		{"missing credentials", []string{"users", "list", "--data", empty},
			[]string{"missing connection settings", "--server URL", "CALLGATE_SERVER", "--app", "CALLGATE_APP", "--key", "CALLGATE_KEY", "callgate serve --dev"}},
		{"missing key only", []string{"tokens", "flush", "x", "--server", s.URL, "--app", s.AppID, "--data", empty},
			[]string{"--key API_KEY", "CALLGATE_KEY"}},
		{"dev key is not used for another app", []string{"users", "list", "--app", "other", "--data", s.DataDir},
			[]string{"--key API_KEY", "is for app " + s.AppID}},
		{"missing credentials for keys over REST", []string{"keys", "list", "--server", s.URL, "--data", empty},
			[]string{"--app APP_ID", "--key API_KEY"}},
		{"bad --per-page", []string{"users", "list", "--per-page", "0", "--server", s.URL, "--app", s.AppID, "--key", s.RESTKey, "--data", empty},
			[]string{"--per-page 0"}},
		{"unknown subcommand", []string{"users", "frobnicate"}, []string{`unknown command "frobnicate"`, "callgate users --help"}},
		{"offline keys on an empty data dir", []string{"keys", "list", "--data", empty},
			[]string{"no callgate database", "--data", "apps create"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := cli(t, tc.args...)
			if err == nil {
				t.Fatalf("succeeded, want an error\n%s", out)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

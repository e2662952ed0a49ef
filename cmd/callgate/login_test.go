package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/servertest"
)

// sessionIsolateEnv is isolateEnv, and hides the user's config dir (where
// the SDK keeps sessions) for the test.
func sessionIsolateEnv(t *testing.T) {
	isolateEnv(t)
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", cfg)
}

type sessionOut struct {
	LoggedIn    bool   `json:"loggedIn"`
	AppID       string `json:"appId"`
	SessionFile string `json:"sessionFile"`
	Message     string `json:"message"`
	User        *struct {
		UID       string `json:"uid"`
		Name      string `json:"name"`
		AuthToken string `json:"authToken"`
	} `json:"user"`
}

func sessionDecode(t *testing.T, s string) sessionOut {
	t.Helper()
	var o sessionOut
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return o
}

func TestSessionCommands(t *testing.T) {
	sessionIsolateEnv(t)
	srv := servertest.Start(t, servertest.Options{})
	sessions := filepath.Join(t.TempDir(), "sessions")
	conn := []string{"--data", srv.DataDir, "--sessions", sessions}
	run := func(args ...string) (string, string, error) {
		return cli(t, append(args, conn...)...)
	}

	var token1 string
	steps := []struct {
		name    string
		args    []string
		want    []string // in stdout
		wantErr []string // in the error; empty: success
		check   func(t *testing.T, out string)
	}{
		{name: "whoami before login", args: []string{"whoami"},
			wantErr: []string{"not logged in to app " + srv.AppID, "callgate login --uid"}},
		{name: "logout before login", args: []string{"logout"},
			wantErr: []string{"nobody is logged in"}},
		{name: "login without uid", args: []string{"login"},
			wantErr: []string{"pass --uid UID"}},
		{name: "login", args: []string{"login", "--uid", "cometchat-uid-1"},
			want: []string{"Logged in as cometchat-uid-1 (Andrew Joseph) on app " + srv.AppID, filepath.Join(sessions, srv.AppID+".json")}},
		{name: "whoami", args: []string{"whoami"},
			want: []string{"cometchat-uid-1 (Andrew Joseph)", srv.URL, "region us"}},
		{name: "whoami --json", args: []string{"whoami", "--json"}, check: func(t *testing.T, out string) {
			o := sessionDecode(t, out)
			if !o.LoggedIn || o.User == nil || o.User.UID != "cometchat-uid-1" || o.User.AuthToken == "" || o.AppID != srv.AppID {
				t.Fatalf("whoami --json = %s", out)
			}
			token1 = o.User.AuthToken
			if getMe(t, srv, token1) != "" {
				t.Fatal("the CLI's session is not live on the server")
			}
		}},
		{name: "login again", args: []string{"login", "--uid", "CometChat-UID-1"},
			want: []string{"Already logged in as cometchat-uid-1"}},
		{name: "unknown user", args: []string{"login", "--uid", "nobody"},
			wantErr: []string{"ERR_UID_NOT_FOUND", "callgate users create", "cometchat-uid-1 … cometchat-uid-5"}},
		{name: "bad key", args: []string{"login", "--uid", "cometchat-uid-2", "--key", "bad"},
			wantErr: []string{"AUTH_ERR_APIKEY_NOT_FOUND", "--key"}},
		{name: "bad app", args: []string{"login", "--uid", "cometchat-uid-2", "--app", "no-such-app", "--key", srv.AuthKey},
			wantErr: []string{"AUTH_ERR_INVALID_APPID", "check --app"}},
		{name: "other app, no key", args: []string{"login", "--uid", "cometchat-uid-2", "--app", "no-such-app"},
			wantErr: []string{"ERROR_API_KEY_NOT_FOUND", "pass --key"}},
		{name: "invalid app id", args: []string{"login", "--uid", "cometchat-uid-2", "--app", "No Such App"},
			wantErr: []string{"ERROR_INVALID_APP_SETTINGS"}},
		{name: "still the first user", args: []string{"whoami"}, want: []string{"cometchat-uid-1"}},
		{name: "switch user", args: []string{"login", "--uid", "cometchat-uid-2"},
			want: []string{"Logged out cometchat-uid-1", "Logged in as cometchat-uid-2 (George Alan)"},
			check: func(t *testing.T, _ string) {
				if code := getMe(t, srv, token1); code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
					t.Fatalf("the first user's token survived the switch: %q", code)
				}
			}},
		{name: "logout --json", args: []string{"logout", "--json"}, check: func(t *testing.T, out string) {
			o := sessionDecode(t, out)
			if o.LoggedIn || o.Message != "Logout successful" || o.User == nil || o.User.UID != "cometchat-uid-2" {
				t.Fatalf("logout --json = %s", out)
			}
		}},
		{name: "whoami --json after logout", args: []string{"whoami", "--json"},
			wantErr: []string{"not logged in"},
			check: func(t *testing.T, out string) {
				if o := sessionDecode(t, out); o.LoggedIn || o.User != nil {
					t.Fatalf("whoami --json = %s", out)
				}
			}},
		{name: "login with a token", args: []string{"login", "--token", "cometchat-uid-3_1700000000" + strings.Repeat("0", 64)},
			wantErr: []string{"AUTH_ERR_AUTH_TOKEN_NOT_FOUND", "callgate tokens create"}},
		{name: "uid and token", args: []string{"login", "--uid", "a", "--token", "b"},
			wantErr: []string{"--uid UID", "--token"}},
		{name: "uid with a space", args: []string{"login", "--uid", "a b"},
			wantErr: []string{"ERROR_UID_WITH_SPACE"}},
	}
	for _, st := range steps {
		out, _, err := run(st.args...)
		if len(st.wantErr) == 0 && err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if len(st.wantErr) > 0 {
			if err == nil {
				t.Fatalf("%s: no error; stdout:\n%s", st.name, out)
			}
			for _, w := range st.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%s: error %q does not say %q", st.name, err, w)
				}
			}
		}
		for _, w := range st.want {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: stdout does not say %q:\n%s", st.name, w, out)
			}
		}
		if st.check != nil {
			st.check(t, out)
		}
	}

	// A session file is 0600 in a 0700 directory.
	if _, _, err := run("login", "--uid", "cometchat-uid-4"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(sessions, srv.AppID+".json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", fi, err)
	}
	if di, _ := os.Stat(sessions); di.Mode().Perm() != 0o700 {
		t.Fatalf("session directory mode %o", di.Mode().Perm())
	}

	// With the server gone: login fails with a hint, whoami still answers
	// from the file, logout still clears it.
	srv.Stop()
	if _, _, err := run("login", "--uid", "cometchat-uid-5"); err == nil || !strings.Contains(err.Error(), "ERROR_NETWORK") || !strings.Contains(err.Error(), "callgate serve --dev") {
		t.Fatalf("login with the server down: %v", err)
	}
	if out, _, err := run("whoami"); err != nil || !strings.Contains(out, "cometchat-uid-4") {
		t.Fatalf("whoami with the server down: %q %v", out, err)
	}
	out, stderr, err := run("logout")
	if err != nil || !strings.Contains(out, "Logout successful") || !strings.Contains(stderr, "may still be live") {
		t.Fatalf("logout with the server down: %q %q %v", out, stderr, err)
	}
	if _, _, err := run("whoami"); err == nil {
		t.Fatal("still logged in after logout")
	}
}

// TestSessionCommandsFromEnv: everything from CALLGATE_* variables, no
// dev-credentials file.
func TestSessionCommandsFromEnv(t *testing.T) {
	sessionIsolateEnv(t)
	srv := servertest.Start(t, servertest.Options{})
	t.Setenv("CALLGATE_DATA", t.TempDir()) // no dev-credentials.json there
	t.Setenv("CALLGATE_SESSIONS", t.TempDir())

	_, _, err := cli(t, "whoami")
	if err == nil || !strings.Contains(err.Error(), "--app") {
		t.Fatalf("whoami without an app: %v", err)
	}

	t.Setenv("CALLGATE_APP", srv.AppID)
	t.Setenv("CALLGATE_REGION", srv.Region)
	t.Setenv("CALLGATE_HOST", strings.TrimPrefix(srv.URL, "http://")) // a bare address works too
	t.Setenv("CALLGATE_KEY", srv.AuthKey)
	out, _, err := cli(t, "login", "--uid", "cometchat-uid-5", "--json")
	if err != nil {
		t.Fatal(err)
	}
	o := sessionDecode(t, out)
	if o.User == nil || o.User.Name != "John Paul" || !strings.HasPrefix(o.SessionFile, os.Getenv("CALLGATE_SESSIONS")) {
		t.Fatalf("login --json = %s", out)
	}
	// A flag wins over the environment.
	if _, _, err := cli(t, "login", "--uid", "cometchat-uid-1", "--key", "bad"); err == nil || !strings.Contains(err.Error(), "AUTH_ERR_APIKEY_NOT_FOUND") {
		t.Fatalf("--key did not override CALLGATE_KEY: %v", err)
	}
	if out, _, err := cli(t, "logout"); err != nil || !strings.Contains(out, "John Paul") {
		t.Fatalf("logout: %q %v", out, err)
	}
}

func TestSessionCommandsBadCredentialsFile(t *testing.T) {
	sessionIsolateEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dev-credentials.json"), []byte("{oops"), 0o600)
	_, _, err := cli(t, "whoami", "--data", dir, "--sessions", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("whoami with a broken credentials file: %v", err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/signing"
)

func TestSigningKeysOnline(t *testing.T) {
	isolateEnv(t)
	s := servertest.Start(t, servertest.Options{})
	var firstKID, secondKID string
	runSteps(t, restConn(t, s, s.RESTKey), []step{
		{name: "list", args: []string{"signing-keys", "list"}, want: []string{"KID", "STATUS", "PUBLISHED UNTIL", "active"}, notWant: []string{"retired"}},
		{name: "list --json", args: []string{"signing-keys", "list", "--json"}, check: func(t *testing.T, out string) {
			keys := decodeJSON[[]adminSigningKey](t, out)
			if len(keys) != 1 || !keys[0].Active || keys[0].KID == "" || keys[0].Algorithm != "EdDSA" {
				t.Fatalf("keys %+v", keys)
			}
			firstKID = keys[0].KID
		}},
		{name: "rotate", args: []string{"signing-keys", "rotate"}, want: []string{"Rotated the signing key of app " + s.AppID, "active key", "retired key", "verify until"}},
		{name: "list after rotate", args: []string{"signing-keys", "list", "--json"}, check: func(t *testing.T, out string) {
			keys := decodeJSON[[]adminSigningKey](t, out)
			if len(keys) != 2 || keys[0].KID != firstKID || keys[0].Active || !keys[0].Published || keys[0].PublishedUntil == 0 || !keys[1].Active {
				t.Fatalf("keys %+v", keys)
			}
			secondKID = keys[1].KID
		}},
		{name: "rotate --json", args: []string{"signing-keys", "rotate", "--json"}, check: func(t *testing.T, out string) {
			r := decodeJSON[adminRotation](t, out)
			if r.Retired == nil || r.Retired.KID != secondKID || r.Active.KID == secondKID || !r.Active.Active {
				t.Fatalf("rotation %+v", r)
			}
		}},
		{name: "table shows both states", args: []string{"signing-keys", "list"}, want: []string{firstKID, "retired", "active"}},
		{name: "master key over REST", args: []string{"signing-keys", "rotate", "--master-key-file", "x"}, wantErr: []string{"offline"}},
	})
	runSteps(t, restConn(t, s, s.AuthKey), []step{
		{name: "authOnly key", args: []string{"signing-keys", "list"}, wantErr: []string{"AUTH_ERR_NO_ACCESS", "fullAccess"}},
	})
	runSteps(t, restConn(t, s, "0000000000000000000000000000000000000000"), []step{
		{name: "bad key", args: []string{"signing-keys", "rotate"}, wantErr: []string{"AUTH_ERR_APIKEY_NOT_FOUND", "--key"}},
	})
}

func TestSigningKeysOffline(t *testing.T) {
	isolateEnv(t)
	kr, _ := signing.NewKeyring(bytes.Repeat([]byte{7}, 32))
	s := servertest.Start(t, servertest.Options{Config: server.Config{MasterKey: kr}})
	dir := t.TempDir()
	good := filepath.Join(dir, "master.key")
	os.WriteFile(good, []byte(hex.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600)
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, []byte(hex.EncodeToString(bytes.Repeat([]byte{7}, 32))), 0o644)
	os.Chmod(open, 0o644)
	conn := []string{"--data", s.DataDir, "--app", s.AppID}
	runSteps(t, conn, []step{
		{name: "list", args: []string{"signing-keys", "list"}, want: []string{"active"}},
		{name: "rotate without the master key", args: []string{"signing-keys", "rotate"}, wantErr: []string{"encrypted", "--master-key-file"}},
		{name: "rotate with a world-readable key file", args: []string{"signing-keys", "rotate", "--master-key-file", open}, wantErr: []string{"mode", "chmod 600"}},
		{name: "rotate", args: []string{"signing-keys", "rotate", "--master-key-file", good, "--json"}, check: func(t *testing.T, out string) {
			r := decodeJSON[adminRotation](t, out)
			if r.Retired == nil || !r.Active.Active {
				t.Fatalf("rotation %+v", r)
			}
			act, err := s.Store.ActiveSigningKey(context.Background(), s.AppID)
			if err != nil || act.ID != r.Active.KID || !signing.Encrypted(act.Private) {
				t.Fatalf("stored active key %v (encrypted %v), %v", act, act != nil && signing.Encrypted(act.Private), err)
			}
			if _, err := signing.Open(act, kr); err != nil {
				t.Fatalf("the server's master key does not open the new key: %v", err)
			}
		}},
		{name: "list shows the rotation", args: []string{"signing-keys", "list"}, want: []string{"active", "retired"}},
		{name: "--db and --server", args: []string{"signing-keys", "list", "--db", "postgres://x", "--server", s.URL}, wantErr: []string{"--db"}},
	})
	runSteps(t, []string{"--data", t.TempDir()}, []step{
		{name: "no database", args: []string{"signing-keys", "list"}, wantErr: []string{"no callgate database"}},
	})
}

func TestCallTokenCommands(t *testing.T) {
	sessionIsolateEnv(t)
	srv := servertest.Start(t, servertest.Options{})
	sessions := filepath.Join(t.TempDir(), "sessions")
	conn := []string{"--data", srv.DataDir, "--sessions", sessions}
	run := func(args ...string) (string, string, error) {
		if len(args) > 1 && args[1] == "verify" {
			return cli(t, append(args, "--data", srv.DataDir)...) // no session store needed
		}
		return cli(t, append(args, conn...)...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, _, err := run(args...)
		if err != nil {
			t.Fatalf("callgate %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	wantErr := func(args []string, want ...string) {
		t.Helper()
		_, _, err := run(args...)
		if err == nil {
			t.Fatalf("callgate %s succeeded", strings.Join(args, " "))
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("callgate %s: error lacks %q:\n%v", strings.Join(args, " "), w, err)
			}
		}
	}

	wantErr([]string{"calltoken", "create", "--session", "standup"}, "ERROR_AUTH_TOKEN_MISSING", "callgate login")
	mustRun("login", "--uid", "cometchat-uid-1")
	wantErr([]string{"calltoken", "create"}, "ERROR_SESSION_ID_MISSING", "--session")
	wantErr([]string{"calltoken", "create", "--session", "a b"}, "ERR_BAD_REQUEST", "whitespace")

	out, stderr, err := run("calltoken", "create", "--session", "standup")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out)
	if strings.Count(token, ".") != 2 || strings.Contains(token, "\n") {
		t.Fatalf("create printed %q, want just the token", out)
	}
	if !strings.Contains(stderr, "cometchat-uid-1") || !strings.Contains(stderr, "standup") {
		t.Errorf("stderr %q does not describe the token", stderr)
	}
	j := decodeJSON[callTokenJSON](t, mustRun("calltoken", "create", "--session", "standup", "--json"))
	if j.Token == "" || j.SessionID != "standup" || j.UID != "cometchat-uid-1" || j.AppID != srv.AppID || j.ExpiresAt == 0 {
		t.Errorf("create --json = %+v", j)
	}

	out = mustRun("calltoken", "verify", token)
	for _, w := range []string{"Valid call token", srv.URL + "/.well-known/jwks.json", "cometchat-uid-1 (Andrew Joseph)", "standup", srv.AppID, "join, publishAudio, publishVideo, screenShare"} {
		if !strings.Contains(out, w) {
			t.Errorf("verify output lacks %q:\n%s", w, out)
		}
	}
	v := decodeJSON[verifyJSON](t, mustRun("calltoken", "verify", token, "--json", "--online", "--app", srv.AppID))
	if !v.Valid || v.Online != "live" || v.Claims == nil || v.Claims.SessionID != "standup" || v.KeyID == "" {
		t.Errorf("verify --json --online = %+v", v)
	}
	// --jwks alone (no dev credentials needed).
	out, _, err = cli(t, "calltoken", "verify", token, "--jwks", srv.URL+"/.well-known/jwks.json", "--data", t.TempDir())
	if err != nil || !strings.Contains(out, "Valid call token") {
		t.Errorf("verify --jwks: %v\n%s", err, out)
	}
	// From stdin.
	root := newRootCmd()
	var stdout bytes.Buffer
	root.SetIn(strings.NewReader(token + "\n"))
	root.SetOut(&stdout)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs([]string{"calltoken", "verify", "-", "--data", srv.DataDir})
	if err := root.ExecuteContext(context.Background()); err != nil || !strings.Contains(stdout.String(), "Valid call token") {
		t.Errorf("verify -: %v\n%s", err, stdout.String())
	}

	parts := strings.Split(token, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	wantErr([]string{"calltoken", "verify", tampered}, "invalid call token")
	wantErr([]string{"calltoken", "verify", token, "--app", "another-app"}, "invalid call token", "another-app")
	wantErr([]string{"calltoken", "verify", "garbage"}, "invalid call token")
	wantErr([]string{"calltoken", "verify"}, "missing TOKEN")
	if _, _, err := cli(t, "calltoken", "verify", token, "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "--host") {
		t.Errorf("verify without a server: %v", err)
	}
	if _, _, err := cli(t, "calltoken", "verify", token, "--online", "--jwks", srv.URL+"/.well-known/jwks.json", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "--online needs") {
		t.Errorf("verify --online with only --jwks: %v", err)
	}

	// After logout the token still verifies offline; the online check says revoked.
	mustRun("logout")
	out, _, err = run("calltoken", "verify", token, "--online")
	if err == nil || !strings.Contains(err.Error(), "ERR_CALL_TOKEN_REVOKED") || !strings.Contains(out, "ERR_CALL_TOKEN_REVOKED") {
		t.Errorf("verify --online after logout: %v\n%s", err, out)
	}
	if _, _, err := run("calltoken", "verify", token); err != nil {
		t.Errorf("offline verify after logout: %v (offline checks see only exp)", err)
	}

	srv.Stop()
	wantErr([]string{"calltoken", "verify", token}, "could not be fetched", "is a callgate server running")
}

// TestServeCallTokenFlags: --master-key-file (checked, used, required
// afterwards), --public-url (the iss) and --call-token-leeway.
func TestServeCallTokenFlags(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyHex := hex.EncodeToString(bytes.Repeat([]byte{9}, 32))
	good := filepath.Join(dir, "master.key")
	os.WriteFile(good, []byte(keyHex+"\n"), 0o600)
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, []byte(keyHex), 0o600)
	os.Chmod(open, 0o644)
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("password"), 0o600)
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, []byte(hex.EncodeToString(bytes.Repeat([]byte{1}, 32))), 0o600)
	base := []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "error"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"key file readable by others", []string{"--master-key-file", open}, "chmod 600"},
		{"key file not a key", []string{"--master-key-file", bad}, "hex"},
		{"key file missing", []string{"--master-key-file", filepath.Join(dir, "none")}, "no such file"},
		{"bad public URL", []string{"--public-url", "callgate.example.com"}, "--public-url"},
		{"negative leeway", []string{"--call-token-leeway", "-1s"}, "--call-token-leeway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := cli(t, append(base, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("serve %v: %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}

	// A real start with a master key and a public URL.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(append(base, "--dev", "--master-key-file", good, "--public-url", "https://calls.example.com/"))
		done <- root.ExecuteContext(ctx)
	}()
	var creds *struct{ Host, AppID, AuthKey string }
	for i := 0; i < 200 && creds == nil; i++ {
		if b, err := os.ReadFile(filepath.Join(data, "dev-credentials.json")); err == nil {
			var c struct {
				Host    string `json:"host"`
				AppID   string `json:"appId"`
				AuthKey string `json:"authKey"`
			}
			if json.Unmarshal(b, &c) == nil && c.Host != "" {
				creds = &struct{ Host, AppID, AuthKey string }{c.Host, c.AppID, c.AuthKey}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if creds == nil {
		cancel()
		t.Fatalf("the server did not start: %v", <-done)
	}
	post := func(path string, h map[string]string, body any) map[string]any {
		r := servertest.Do(t, creds.Host, "POST", path, h, body)
		var d map[string]any
		r.Decode(t, &d)
		if d == nil {
			t.Fatalf("POST %s: HTTP %d", path, r.Status)
		}
		return d
	}
	d := post("/v3/users/cometchat-uid-1/auth_tokens", map[string]string{"appId": creds.AppID, "apiKey": creds.AuthKey}, map[string]any{})
	d = post("/v3/call_tokens", map[string]string{"authToken": d["authToken"].(string)}, map[string]string{"sessionId": "s"})
	c, err := unverifiedClaims(d["token"].(string))
	if err != nil || c.Issuer != "https://calls.example.com" {
		t.Errorf("iss = %v (%v), want https://calls.example.com", c, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	// The keys are encrypted: a start without the master key, or with
	// another, is refused.
	for _, args := range [][]string{nil, {"--master-key-file", other}} {
		_, _, err := cli(t, append(base, args...)...)
		if err == nil || !strings.Contains(err.Error(), "master-key-file") {
			t.Errorf("serve %v on encrypted keys: %v, want a refusal naming --master-key-file", args, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(data, "callgate.db"))
	if len(raw) == 0 {
		t.Fatal("no database")
	}
}

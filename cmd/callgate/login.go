package main

// callgate login / whoami / logout: the seed's flow from a terminal, through
// the Go SDK (package calls) and its file session store, so a login
// survives between invocations exactly as it does for an app.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/callgate/callgate/calls"
)

// sessionDevCredsFile is the file `callgate serve --dev` writes in its data dir.
const sessionDevCredsFile = "dev-credentials.json"

// sessionFlags are the flags shared by login, whoami and logout.
type sessionFlags struct {
	app, region, host, key string
	data, sessions         string
	json                   bool
}

func (f *sessionFlags) register(fs *pflag.FlagSet, withKey bool) {
	fs.StringVar(&f.app, "app", "", "app ID (env CALLGATE_APP; default: appId in {data}/dev-credentials.json)")
	fs.StringVar(&f.region, "region", "", "app region (env CALLGATE_REGION; default: region in {data}/dev-credentials.json, else us)")
	fs.StringVar(&f.host, "host", "", "callgate server URL (env CALLGATE_HOST; default: host in {data}/dev-credentials.json, else "+calls.DefaultHost+")")
	if withKey {
		fs.StringVar(&f.key, "key", "", "API key for the login, the app's authKey (env CALLGATE_KEY; default: authKey in {data}/dev-credentials.json)")
	}
	fs.StringVar(&f.data, "data", "./callgate-data", "data `directory` of the dev server (callgate serve --dev) whose dev-credentials.json supplies defaults (env CALLGATE_DATA)")
	fs.StringVar(&f.sessions, "sessions", "", "`directory` of the session files (env CALLGATE_SESSIONS; default: the SDK's, {user config dir}/callgate/sessions)")
	fs.BoolVar(&f.json, "json", false, "print JSON (for scripts)")
}

// sessionTarget is what the flags and the dev credentials resolved to, with
// where each value came from (for error hints).
type sessionTarget struct {
	settings                   calls.AppSettings
	appFrom, hostFrom, keyFrom string
	credsPath                  string
	credsFound                 bool
	sessionFile                string
}

type sessionDevCreds struct {
	AppID   string `json:"appId"`
	Region  string `json:"region"`
	AuthKey string `json:"authKey"`
	Host    string `json:"host"`
}

// resolve builds the SDK settings: flags (and so CALLGATE_* variables)
// first, then the dev credentials file, then the SDK's defaults.
func (f *sessionFlags) resolve(stderr io.Writer) (*sessionTarget, error) {
	t := &sessionTarget{credsPath: filepath.Join(f.data, sessionDevCredsFile)}
	var creds sessionDevCreds
	b, err := os.ReadFile(t.credsPath)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &creds); err != nil {
			return nil, fmt.Errorf("%s is not valid JSON (%v)\n  fix or delete it, point --data at another data directory, or pass --app, --region, --host and --key", t.credsPath, err)
		}
		t.credsFound = true
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("read %s: %w\n  point --data at a readable data directory, or pass --app, --region, --host and --key", t.credsPath, err)
	}

	s := calls.AppSettings{
		AppID:           strings.TrimSpace(f.app),
		Region:          strings.TrimSpace(f.region),
		Host:            strings.TrimSpace(f.host),
		AuthKey:         strings.TrimSpace(f.key),
		DisableRealtime: true, // one-shot commands
		Logger:          slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	t.appFrom, t.hostFrom, t.keyFrom = "--app/CALLGATE_APP", "--host/CALLGATE_HOST", "--key/CALLGATE_KEY"
	// The file's app-specific values only apply to the file's app.
	sameApp := s.AppID == "" || s.AppID == creds.AppID
	if s.AppID == "" && creds.AppID != "" {
		s.AppID, t.appFrom = creds.AppID, t.credsPath
	}
	if s.Region == "" && sameApp {
		s.Region = creds.Region
	}
	if s.Region == "" {
		s.Region = "us"
	}
	if s.Host == "" && creds.Host != "" {
		s.Host, t.hostFrom = creds.Host, t.credsPath
	}
	if s.Host == "" {
		t.hostFrom = "the default"
	} else if !strings.Contains(s.Host, "://") {
		s.Host = "http://" + s.Host // 127.0.0.1:8080, as the admin commands accept
	}
	if s.AuthKey == "" && sameApp && creds.AuthKey != "" {
		s.AuthKey, t.keyFrom = creds.AuthKey, t.credsPath
	}
	if s.AppID == "" {
		return nil, fmt.Errorf("which app? pass --app APP_ID (or set CALLGATE_APP)\n  with `callgate serve --dev`, --data pointing at its data directory supplies the app, region, host and key; there is no %s", t.credsPath)
	}

	dir := f.sessions
	if dir == "" {
		d, err := calls.DefaultSessionDir()
		if err != nil {
			return nil, fmt.Errorf("%w\n  pass --sessions DIR (or set CALLGATE_SESSIONS)", err)
		}
		dir = d
	}
	s.SessionStore = calls.NewFileStore(dir)
	t.sessionFile = filepath.Join(dir, s.AppID+".json")
	t.settings = s
	return t, nil
}

// client resolves the settings and starts the SDK (which restores the
// saved session; no network call).
func (f *sessionFlags) client(cmd *cobra.Command) (*calls.Client, *sessionTarget, error) {
	t, err := f.resolve(cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, err
	}
	c, err := calls.New(t.settings)
	if err != nil {
		return nil, nil, t.explain("", err)
	}
	return c, t, nil
}

// host is the server URL the SDK uses, for messages.
func (t *sessionTarget) host() string {
	if t.settings.Host != "" {
		return t.settings.Host
	}
	return calls.DefaultHost
}

// explain turns an SDK error into what to do next.
func (t *sessionTarget) explain(action string, err error) error {
	var e *calls.Error
	if !errors.As(err, &e) {
		return err
	}
	prefix := e.Code + ": " + e.Description
	if action != "" {
		prefix = action + " failed: " + prefix
	}
	app := t.settings.AppID
	var hint string
	switch e.Code {
	case calls.ErrNetwork:
		hint = fmt.Sprintf("is the server running at %s (from %s)? Start one with `callgate serve --dev`, or pass --host URL (or set CALLGATE_HOST)", t.host(), t.hostFrom)
	case calls.ErrInvalidAppSettings:
		hint = "check --app, --region and --host (or CALLGATE_APP, CALLGATE_REGION, CALLGATE_HOST)"
	case calls.ErrAPIKeyNotFound:
		hint = fmt.Sprintf("pass --key with the authKey of app %s (or set CALLGATE_KEY), or --data pointing at the data directory of `callgate serve --dev`", app)
	case calls.ErrInvalidUID, calls.ErrUIDWithSpace:
		hint = "pass --uid with the user's uid, e.g. --uid cometchat-uid-1"
	case calls.ErrBlankAuthToken, calls.ErrAuthTokenWithSpace:
		hint = "pass --token with the auth token your backend created (`callgate tokens create UID`)"
	case "AUTH_ERR_INVALID_APPID", "AUTH_ERR_EMPTY_APPID":
		hint = fmt.Sprintf("there is no app %s (from %s) on %s; check --app (`callgate apps list` shows the apps of a data directory)", app, t.appFrom, t.host())
	case "AUTH_ERR_APIKEY_NOT_FOUND", "AUTH_ERR_EMPTY_APIKEY":
		hint = fmt.Sprintf("the key (from %s) is not a key of app %s; pass --key with the app's authKey (`callgate keys list` shows its keys)", t.keyFrom, app)
	case "ERR_UID_NOT_FOUND":
		hint = "create the user first (`callgate users create UID --name NAME`), or use a sample user of the dev app: cometchat-uid-1 … cometchat-uid-5"
	case "AUTH_ERR_AUTH_TOKEN_NOT_FOUND":
		hint = "the token is unknown, revoked or expired; create a new one (`callgate tokens create UID`), or log in with --uid"
	case "ERR_TOO_MANY_REQUESTS":
		hint = "the server is rate limiting; wait a little and retry"
	case "ERR_SERVICE_UNAVAILABLE", "ERR_INTERNAL":
		hint = "the server failed; retry, and check its log if it persists"
	}
	if hint == "" {
		return errors.New(prefix)
	}
	return errors.New(prefix + "\n  " + hint)
}

// sessionJSON is the --json output of all three commands.
type sessionJSON struct {
	LoggedIn    bool        `json:"loggedIn"`
	AppID       string      `json:"appId"`
	Region      string      `json:"region"`
	Host        string      `json:"host"`
	SessionFile string      `json:"sessionFile"`
	User        *calls.User `json:"user"`
	Message     string      `json:"message,omitempty"`
}

func (t *sessionTarget) json(u *calls.User, msg string) sessionJSON {
	return sessionJSON{LoggedIn: u != nil, AppID: t.settings.AppID, Region: t.settings.Region, Host: t.host(),
		SessionFile: t.sessionFile, User: u, Message: msg}
}

func describeUser(u *calls.User) string {
	if u.Name == "" {
		return u.UID
	}
	return u.UID + " (" + u.Name + ")"
}

func newLoginCmd() *cobra.Command {
	var f sessionFlags
	var uid, token string
	cmd := &cobra.Command{
		Use:   "login --uid UID | --token AUTH_TOKEN",
		Short: "Log a user in through the Go SDK and keep the session (like an app would)",
		Long: `Logs a user in with the Go SDK (package calls) and saves the session in the
SDK's session store, so later commands (and apps using the same store) are
logged in: the seed's flow from a terminal.

--uid logs in with an API key (development): --key, else the authKey of
{data}/dev-credentials.json. --token logs in with an auth token your backend
created (production).

The app, region, host and key come from the flags (or CALLGATE_APP,
CALLGATE_REGION, CALLGATE_HOST, CALLGATE_KEY), else from
{data}/dev-credentials.json, written by ` + "`callgate serve --dev`" + `.

Logging in as the user already logged in changes nothing; logging in as
someone else logs the previous user out (on the server too).`,
		Example: `  callgate serve --dev &
  callgate login --uid cometchat-uid-1
  callgate whoami
  callgate logout`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			uid, token = strings.TrimSpace(uid), strings.TrimSpace(token)
			if (uid == "") == (token == "") {
				return errors.New("pass --uid UID (e.g. --uid cometchat-uid-1) to log in with an API key, or --token AUTH_TOKEN to log in with an auth token")
			}
			c, t, err := f.client(cmd)
			if err != nil {
				return err
			}
			prev := c.GetLoggedInUser()
			var u *calls.User
			if uid != "" {
				u, err = c.Login(cmd.Context(), uid, "")
			} else {
				u, err = c.LoginWithAuthToken(cmd.Context(), token)
			}
			if err != nil {
				return t.explain("login", err)
			}
			out := cmd.OutOrStdout()
			if f.json {
				return printJSON(out, t.json(u, ""))
			}
			switch {
			case prev != nil && prev.AuthToken == u.AuthToken:
				fmt.Fprintf(out, "Already logged in as %s on app %s at %s.\n", describeUser(u), t.settings.AppID, t.host())
			default:
				if prev != nil {
					fmt.Fprintf(out, "Logged out %s.\n", describeUser(prev))
				}
				fmt.Fprintf(out, "Logged in as %s on app %s at %s.\n", describeUser(u), t.settings.AppID, t.host())
			}
			fmt.Fprintf(out, "Session saved in %s (`callgate whoami` shows it, `callgate logout` ends it; --json prints the auth token).\n", t.sessionFile)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&uid, "uid", "", "uid of the user to log in, e.g. cometchat-uid-1 (env CALLGATE_UID)")
	fs.StringVar(&token, "token", "", "log in with this auth token instead of --uid and a key (env CALLGATE_TOKEN)")
	f.register(fs, true)
	return cmd
}

func newWhoamiCmd() *cobra.Command {
	var f sessionFlags
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the user logged in by `callgate login` (from the saved session; no network call)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := f.client(cmd)
			if err != nil {
				return err
			}
			u := c.GetLoggedInUser()
			out := cmd.OutOrStdout()
			if f.json {
				if err := printJSON(out, t.json(u, "")); err != nil {
					return err
				}
			}
			if u == nil {
				return fmt.Errorf("not logged in to app %s (no session in %s)\n  log in with `callgate login --uid UID`, e.g. --uid cometchat-uid-1", t.settings.AppID, t.sessionFile)
			}
			if f.json {
				return nil
			}
			fmt.Fprintf(out, "%s\n", describeUser(u))
			adminFields(out,
				[2]string{"  app", t.settings.AppID + " (region " + t.settings.Region + ")"},
				[2]string{"  host", t.host()},
				[2]string{"  role", orDash(u.Role)},
				[2]string{"  session", t.sessionFile},
			)
			return nil
		},
	}
	f.register(cmd.Flags(), false)
	return cmd
}

func newLogoutCmd() *cobra.Command {
	var f sessionFlags
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Log out the user of `callgate login`: revoke the token on the server and delete the saved session",
		Long: `Logs out the user logged in by ` + "`callgate login`" + `: the auth token is revoked on
the server (DELETE /v3.0/me) and the saved session is deleted. The local
session is deleted even when the server cannot be reached; a warning then
says the token may still be live on the server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := f.client(cmd)
			if err != nil {
				return err
			}
			u := c.GetLoggedInUser()
			msg, err := c.Logout(cmd.Context())
			if err != nil {
				var e *calls.Error
				if errors.As(err, &e) && e.Code == calls.ErrNoUserLoggedIn {
					return fmt.Errorf("nobody is logged in to app %s (no session in %s); nothing to log out", t.settings.AppID, t.sessionFile)
				}
				return t.explain("logout", err)
			}
			out := cmd.OutOrStdout()
			if f.json {
				j := t.json(nil, msg)
				j.User = u
				return printJSON(out, j)
			}
			fmt.Fprintf(out, "%s: %s is logged out of app %s.\n", msg, describeUser(u), t.settings.AppID)
			return nil
		},
	}
	f.register(cmd.Flags(), false)
	return cmd
}

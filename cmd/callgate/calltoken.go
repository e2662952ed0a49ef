package main

// callgate calltoken create|verify: call tokens by hand. create mints one as
// the user logged in with `callgate login` (through the Go SDK's
// GenerateToken and the same session store); verify checks one offline
// against the server's JWKS (package calltoken), as a media server would.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/calltoken"
)

func newCallTokenCmd() *cobra.Command {
	return adminGroup("calltoken", "Mint and verify call tokens by hand",
		`Call tokens admit a user to one call session: short-lived JWTs signed with
the app's Ed25519 key, which a media server verifies offline against the
server's /.well-known/jwks.json.

  callgate login --uid cometchat-uid-1
  TOKEN=$(callgate calltoken create --session standup)
  callgate calltoken verify "$TOKEN"`,
		newCallTokenCreateCmd(), newCallTokenVerifyCmd())
}

// callTokenJSON is the --json output of calltoken create.
type callTokenJSON struct {
	Token     string `json:"token"`
	SessionID string `json:"sessionId"`
	AppID     string `json:"appId"`
	UID       string `json:"uid"`
	ExpiresAt int64  `json:"expiresAt"`
	Host      string `json:"host"`
}

func newCallTokenCreateCmd() *cobra.Command {
	var f sessionFlags
	var session string
	cmd := &cobra.Command{
		Use:   "create --session SESSION_ID",
		Short: "Mint a call token as the user of `callgate login` (prints the token)",
		Long: `Mints a call token for one call session as the user logged in with
` + "`callgate login`" + ` (the Go SDK's GenerateToken, on the saved session). Only the
token goes to stdout, so TOKEN=$(callgate calltoken create --session S) works;
--json prints it with its session, user and expiry.`,
		Example: `  callgate login --uid cometchat-uid-1
  callgate calltoken create --session standup-42
  callgate calltoken create --session standup-42 --json | jq -r .token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := f.client(cmd)
			if err != nil {
				return err
			}
			token, err := c.GenerateToken(cmd.Context(), session)
			if err != nil {
				return callTokenExplain(t, err)
			}
			out := cmd.OutOrStdout()
			u := c.GetLoggedInUser()
			claims, _ := unverifiedClaims(token)
			if f.json {
				j := callTokenJSON{Token: token, SessionID: session, AppID: t.settings.AppID, Host: t.host()}
				if u != nil {
					j.UID = u.UID
				}
				if claims != nil {
					j.ExpiresAt = claims.ExpiresAt.Unix()
				}
				return printJSON(out, j)
			}
			fmt.Fprintln(out, token)
			if claims != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "call token for %s in session %s of app %s; expires %s (`callgate calltoken verify TOKEN` checks it)\n",
					claims.UID, claims.SessionID, claims.AppID, claims.ExpiresAt.Local().Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&session, "session", "", "the call session the token admits to: 1–255 characters, no whitespace (env CALLGATE_SESSION)")
	f.register(cmd.Flags(), false)
	return cmd
}

// callTokenExplain says what to do about a failed GenerateToken.
func callTokenExplain(t *sessionTarget, err error) error {
	var e *calls.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case calls.ErrSessionIDMissing:
		return fmt.Errorf("%s: %s\n  pass --session SESSION_ID, e.g. --session standup-42", e.Code, e.Description)
	case calls.ErrAuthTokenMissing:
		return fmt.Errorf("%s: nobody is logged in to app %s (no session in %s)\n  log in first: `callgate login --uid cometchat-uid-1`", e.Code, t.settings.AppID, t.sessionFile)
	case "ERR_BAD_REQUEST":
		return fmt.Errorf("%s: %s\n  --session must be 1–255 characters without whitespace", e.Code, e.Description)
	case "AUTH_ERR_AUTH_TOKEN_NOT_FOUND":
		return fmt.Errorf("%s: %s\n  the session of `callgate login` was revoked or has expired; log in again", e.Code, e.Description)
	}
	return t.explain("calltoken create", err)
}

// unverifiedClaims reads a token's claims without checking anything (for
// display only).
func unverifiedClaims(token string) (*calltoken.Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c calltoken.Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// verifyJSON is the --json output of calltoken verify.
type verifyJSON struct {
	Valid  bool              `json:"valid"`
	JWKS   string            `json:"jwks"`
	KeyID  string            `json:"kid"`
	Claims *calltoken.Claims `json:"claims"`
	Online string            `json:"online,omitempty"` // "live", or the server's error code
}

func newCallTokenVerifyCmd() *cobra.Command {
	var jwks, host, data, app string
	var leeway time.Duration
	var online, asJSON bool
	cmd := &cobra.Command{
		Use:   "verify TOKEN",
		Short: "Verify a call token offline against the server's JWKS, as a media server would",
		Long: `Verifies a call token offline: its EdDSA signature by a key of the server's
/.well-known/jwks.json, its audience and its expiry (with --leeway), and its
app when --app is given — what a media server does with package calltoken.

Offline verification cannot see revocations; --online also asks the server
(GET /v3.0/call_tokens), which reports a token whose session was logged out,
deleted or deactivated as ERR_CALL_TOKEN_REVOKED.

The key set is --jwks, else {--host}/.well-known/jwks.json, with the host from
--host (CALLGATE_HOST) or {--data}/dev-credentials.json. TOKEN may be - to
read it from stdin.`,
		Example: `  callgate calltoken verify "$TOKEN"
  callgate calltoken verify "$TOKEN" --jwks https://callgate.example.com/.well-known/jwks.json --app my-app
  callgate calltoken create --session s | callgate calltoken verify - --online --json`,
		Args: adminArgs("TOKEN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			token := strings.TrimSpace(args[0])
			if token == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), calltoken.MaxTokenSize+1))
				if err != nil {
					return err
				}
				token = strings.TrimSpace(string(b))
			}
			base, jwksURL, err := verifyTarget(jwks, host, data)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			opts := []calltoken.Option{calltoken.WithLeeway(leeway)}
			if app != "" {
				opts = append(opts, calltoken.WithAppID(strings.ToLower(strings.TrimSpace(app))))
			}
			claims, err := calltoken.NewVerifier(jwksURL, opts...).Verify(ctx, token)
			if err != nil {
				hint := ""
				switch {
				case errors.Is(err, calltoken.ErrKeysUnavailable):
					hint = "\n  is a callgate server running at " + jwksURL + "? pass --jwks URL or --host URL"
				case errors.Is(err, calltoken.ErrExpired):
					hint = "\n  mint a fresh one: `callgate calltoken create --session S`"
				case errors.Is(err, calltoken.ErrUnknownKey):
					hint = "\n  the token was not signed by a key of " + jwksURL + ": is it from this server?"
				}
				return fmt.Errorf("%w%s", err, hint)
			}
			res := verifyJSON{Valid: true, JWKS: jwksURL, KeyID: claims.KeyID, Claims: claims}
			if online {
				if base == "" {
					return errors.New("--online needs the server: pass --host URL (the JWKS URL alone does not say where its API is)")
				}
				code, err := onlineCheck(ctx, base, token)
				if err != nil {
					return err
				}
				res.Online = code
				if code != "" && code != "live" {
					res.Valid = false
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, res); err != nil {
					return err
				}
			} else {
				printClaims(out, jwksURL, claims, res.Online)
			}
			if !res.Valid {
				return fmt.Errorf("the server refuses the token: %s", res.Online)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&jwks, "jwks", "", "URL of the key set (default: {host}/.well-known/jwks.json)")
	fs.StringVar(&host, "host", "", "callgate server URL (env CALLGATE_HOST; default: host in {data}/dev-credentials.json)")
	fs.StringVar(&data, "data", "./callgate-data", "data `directory` of the dev server whose dev-credentials.json supplies the host (env CALLGATE_DATA)")
	fs.StringVar(&app, "app", "", "accept only tokens of this app (env CALLGATE_APP; default: any app of the server)")
	fs.DurationVar(&leeway, "leeway", calltoken.DefaultLeeway, "clock skew allowed on exp and nbf")
	fs.BoolVar(&online, "online", false, "also ask the server whether the token was revoked (GET /v3.0/call_tokens)")
	fs.BoolVar(&asJSON, "json", false, "print JSON (for scripts)")
	return cmd
}

// verifyTarget resolves the server base URL (may be "" with --jwks only)
// and the JWKS URL.
func verifyTarget(jwks, host, data string) (base, jwksURL string, err error) {
	host = strings.TrimSpace(host)
	if host == "" {
		if b, err := os.ReadFile(filepath.Join(data, sessionDevCredsFile)); err == nil {
			var c sessionDevCreds
			if json.Unmarshal(b, &c) == nil {
				host = c.Host
			}
		}
	}
	if host != "" {
		if base, err = adminBaseURL(host); err != nil {
			return "", "", fmt.Errorf("--host %q: want a URL such as http://127.0.0.1:8080", host)
		}
	}
	jwks = strings.TrimSpace(jwks)
	switch {
	case jwks != "":
		u, err := url.Parse(jwks)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", "", fmt.Errorf("--jwks %q: want a URL such as https://callgate.example.com/.well-known/jwks.json", jwks)
		}
		return base, jwks, nil
	case base != "":
		return base, base + "/.well-known/jwks.json", nil
	}
	return "", "", fmt.Errorf("where is the server? pass --jwks URL or --host URL (or set CALLGATE_HOST)\n  with `callgate serve --dev`, --data pointing at its data directory supplies the host; there is no %s", filepath.Join(data, sessionDevCredsFile))
}

// onlineCheck asks the server about token: "live", or its error code.
func onlineCheck(ctx context.Context, base, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v3.0/call_tokens", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("callToken", token)
	req.Header.Set("User-Agent", "callgate-cli/"+version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("online check: cannot reach %s: %w", base, err)
	}
	defer resp.Body.Close()
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&env); err != nil {
		return "", fmt.Errorf("online check: %s answered HTTP %d, not a callgate response", base, resp.StatusCode)
	}
	if env.Error != nil {
		return env.Error.Code, nil
	}
	return "live", nil
}

func printClaims(w io.Writer, jwksURL string, c *calltoken.Claims, online string) {
	fmt.Fprintf(w, "Valid call token (verified offline against %s)\n\n", jwksURL)
	user := c.UID
	if c.Name != "" {
		user += " (" + c.Name + ")"
	}
	var grants []string
	for name, on := range map[string]bool{"join": c.Grants.Join, "publishAudio": c.Grants.PublishAudio, "publishVideo": c.Grants.PublishVideo,
		"screenShare": c.Grants.ScreenShare, "moderator": c.Grants.Moderator} {
		if on {
			grants = append(grants, name)
		}
	}
	sort.Strings(grants)
	left := time.Until(c.ExpiresAt).Round(time.Second)
	pairs := [][2]string{
		{"  user", user},
		{"  app", c.AppID},
		{"  session", c.SessionID},
		{"  grants", orDash(strings.Join(grants, ", "))},
		{"  issued", c.IssuedAt.Local().Format(time.RFC3339)},
		{"  expires", c.ExpiresAt.Local().Format(time.RFC3339) + " (in " + left.String() + ")"},
		{"  issuer", c.Issuer},
		{"  key", c.KeyID},
		{"  auth token", c.TokenID},
	}
	if online != "" {
		pairs = append(pairs, [2]string{"  online check", online})
	}
	adminFields(w, pairs...)
}

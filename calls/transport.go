package calls

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"
)

// sdkVersion is sent in the sdk header and the User-Agent.
const sdkVersion = "0.1.0"

// apiPrefix is the version prefix of every call.
const apiPrefix = "/v3.0"

// maxResponse bounds how much of an answer is read.
const maxResponse = 4 << 20

// cleanupTimeout bounds best-effort calls made on the caller's behalf after
// the answer is already known (revoking a replaced session's token).
const cleanupTimeout = 10 * time.Second

var (
	// deviceID names this process to the server (token metadata). It is
	// random per process: the SDK stores nothing but the session.
	deviceID  = "go-" + randomHex(8)
	userAgent = fmt.Sprintf("callgate-go/%s (%s; %s) %s", sdkVersion, runtime.GOOS, runtime.GOARCH, runtime.Version())
)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// deviceBody is the body of POST /users/{uid}/auth_tokens and PUT /me.
type deviceBody struct {
	Platform  string `json:"platform"`
	DeviceID  string `json:"deviceId"`
	UserAgent string `json:"userAgent"`
}

var device = deviceBody{Platform: "go", DeviceID: deviceID, UserAgent: userAgent}

// createAuthToken is POST /users/{uid}/auth_tokens with an API key.
func (cfg *config) createAuthToken(ctx context.Context, uid, apiKey string) (string, *Error) {
	var out struct {
		AuthToken string `json:"authToken"`
	}
	path := "/users/" + url.PathEscape(uid) + "/auth_tokens"
	if e := cfg.do(ctx, http.MethodPost, path, "apiKey", apiKey, device, &out); e != nil {
		return "", e
	}
	if out.AuthToken == "" {
		return "", newError(ErrNetwork, fmt.Sprintf("unexpected answer from %s to POST %s%s (no authToken)", redactHost(cfg.host), apiPrefix, path))
	}
	return out.AuthToken, nil
}

// startSession is PUT /me: it starts a session with token and returns its user.
func (cfg *config) startSession(ctx context.Context, token string) (*User, *Error) {
	var u User
	if e := cfg.do(ctx, http.MethodPut, "/me", "authToken", token, device, &u); e != nil {
		return nil, e
	}
	if u.UID == "" {
		return nil, newError(ErrNetwork, fmt.Sprintf("unexpected answer from %s to PUT %s/me (no uid)", redactHost(cfg.host), apiPrefix))
	}
	u.AuthToken = token // the server echoes it; the one we sent is the truth
	return &u, nil
}

// endSession is DELETE /me: it revokes token on the server.
func (cfg *config) endSession(ctx context.Context, token string) *Error {
	return cfg.do(ctx, http.MethodDelete, "/me", "authToken", token, nil, nil)
}

// do makes one call and decodes the data of its answer into out (if not
// nil). credHeader/cred name the credential header (apiKey or authToken).
func (cfg *config) do(ctx context.Context, method, path, credHeader, cred string, body, out any) *Error {
	if ctx == nil {
		ctx = context.Background()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return newError(ErrNetwork, "encode request: "+err.Error())
		}
		rd = bytes.NewReader(b)
	}
	what := method + " " + apiPrefix + path
	req, err := http.NewRequestWithContext(ctx, method, cfg.host+apiPrefix+path, rd)
	if err != nil {
		return newError(ErrNetwork, fmt.Sprintf("%s: cannot build the request: %v", what, err))
	}
	h := req.Header
	h.Set("appId", cfg.appID)
	h.Set(credHeader, cred)
	h.Set("sdk", "callgate-go@"+sdkVersion)
	h.Set("resource", "go")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", userAgent)
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	resp, err := cfg.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error repeats method and URL
		}
		return newError(ErrNetwork, fmt.Sprintf("the request to the callgate server at %s (%s) failed: %v", redactHost(cfg.host), what, err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return newError(ErrNetwork, fmt.Sprintf("reading the answer of %s to %s failed: %v", redactHost(cfg.host), what, err))
	}
	if len(b) > maxResponse {
		return newError(ErrNetwork, fmt.Sprintf("the answer of %s to %s is larger than %d bytes; is Host a callgate server?", redactHost(cfg.host), what, maxResponse))
	}
	return decodeAnswer(resp.StatusCode, b, out, func() string {
		return fmt.Sprintf("unexpected answer from %s to %s (HTTP %d", redactHost(cfg.host), what, resp.StatusCode)
	})
}

// decodeAnswer reads the v3 envelope: {"data": …} or {"error": {code,
// message, …}}. Like the CometChat SDKs it trusts the body over the HTTP
// status. Anything else is ERROR_NETWORK: Host is probably not a callgate
// server (a proxy's error page, say).
func decodeAnswer(status int, b []byte, out any, prefix func() string) *Error {
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return newError(ErrNetwork, prefix()+", not JSON: "+snippet(b)+"); is Host a callgate server?")
	}
	if env.Error != nil && env.Error.Code != "" {
		msg := env.Error.Message
		if msg == "" {
			msg = fmt.Sprintf("The server answered %s (HTTP %d).", env.Error.Code, status)
		}
		return &Error{Code: env.Error.Code, Description: msg}
	}
	if status < 200 || status > 299 {
		return newError(ErrNetwork, prefix()+" without an error code: "+snippet(b)+")")
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return newError(ErrNetwork, prefix()+" without data: "+snippet(b)+")")
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return newError(ErrNetwork, prefix()+", data not understood: "+snippet(env.Data)+")")
		}
	}
	return nil
}

// snippet quotes the start of a body for an error description.
func snippet(b []byte) string {
	const max = 120
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return fmt.Sprintf("%q", s)
}

// redactHost hides a password in the host URL.
func redactHost(host string) string {
	u, err := url.Parse(host)
	if err != nil {
		return host
	}
	return u.Redacted()
}

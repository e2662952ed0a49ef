package main

// The one REST client of the admin CLI (keys, users, tokens). Every command
// that talks to a running server resolves its connection with adminConn and
// calls it through adminCall (adminRESTDo, restBackend); nothing else in
// the admin CLI speaks HTTP.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/callgate/callgate/internal/provision"
)

// adminTimeout bounds one REST call.
const adminTimeout = 30 * time.Second

// adminConn holds the connection flags of a REST command. Missing values
// fall back to {data}/dev-credentials.json (written by `callgate serve --dev`).
type adminConn struct {
	server, app, key string
	data             *string // data directory holding dev-credentials.json
}

// register adds --server, --app and --key; data is the --data flag's value
// (registered by the caller, shared with storeFlags where a command has both).
func (c *adminConn) register(fs *pflag.FlagSet, data *string) {
	c.data = data
	fs.StringVar(&c.server, "server", "", "callgate server URL, e.g. http://127.0.0.1:8080 (env CALLGATE_SERVER; default: host in {data}/dev-credentials.json)")
	fs.StringVar(&c.app, "app", "", "app ID (env CALLGATE_APP; default: appId in {data}/dev-credentials.json)")
	fs.StringVar(&c.key, "key", "", "fullAccess API key of the app (env CALLGATE_KEY; default: restApiKey in {data}/dev-credentials.json)")
}

// registerData adds a --data flag used only to find dev-credentials.json.
func registerAdminData(fs *pflag.FlagSet, data *string) {
	fs.StringVar(data, "data", "./callgate-data", "data directory whose dev-credentials.json supplies defaults for --server, --app and --key (env CALLGATE_DATA)")
}

// adminClient calls the v3 REST API of one app with one key.
type adminClient struct {
	base, appID, apiKey string
	// Where each value came from, for error hints: a flag or a file path.
	serverFrom, appFrom, keyFrom string
	hc                           *http.Client
}

// devCredsPath is the dev-credentials.json the defaults come from.
func (c *adminConn) devCredsPath() string {
	dir := "./callgate-data"
	if c.data != nil && *c.data != "" {
		dir = *c.data
	}
	return filepath.Join(dir, provision.DevCredentialsFile)
}

// client resolves the connection, or says which flag or variable to set.
func (c *adminConn) client() (*adminClient, error) {
	cl := &adminClient{
		base: c.server, appID: strings.ToLower(strings.TrimSpace(c.app)), apiKey: strings.TrimSpace(c.key),
		serverFrom: "--server", appFrom: "--app", keyFrom: "--key",
		hc: &http.Client{Timeout: adminTimeout},
	}
	path := c.devCredsPath()
	note := fmt.Sprintf("with `callgate serve --dev`, --data pointing at its data directory supplies all three from its %s; there is none at %s", provision.DevCredentialsFile, path)
	if cl.base == "" || cl.appID == "" || cl.apiKey == "" {
		creds, err := provision.ReadDevCredentials(path)
		switch {
		case err == nil:
			note = "defaults were read from " + path
			if cl.base == "" && creds.Host != "" {
				cl.base, cl.serverFrom = creds.Host, path
			}
			sameApp := cl.appID == "" || cl.appID == creds.AppID
			if cl.appID == "" && creds.AppID != "" {
				cl.appID, cl.appFrom = creds.AppID, path
			}
			// The dev key only belongs to the dev app.
			if cl.apiKey == "" && sameApp && creds.RESTAPIKey != "" {
				cl.apiKey, cl.keyFrom = creds.RESTAPIKey, path
			}
			if !sameApp {
				note = fmt.Sprintf("%s is for app %s; its key is not used for app %s", path, creds.AppID, cl.appID)
			}
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("read %s: %w\n  pass --server, --app and --key (or CALLGATE_SERVER, CALLGATE_APP, CALLGATE_KEY), or point --data at a valid data directory", path, err)
		}
	}
	var missing []string
	if cl.base == "" {
		missing = append(missing, "  --server URL   (or CALLGATE_SERVER): the address of `callgate serve`, e.g. http://127.0.0.1:8080")
	}
	if cl.appID == "" {
		missing = append(missing, "  --app APP_ID   (or CALLGATE_APP): the app to manage (`callgate apps list` shows the apps of a data dir)")
	}
	if cl.apiKey == "" {
		missing = append(missing, "  --key API_KEY  (or CALLGATE_KEY): a fullAccess key of that app (`callgate apps create` prints one)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing connection settings; set:\n%s\n  (%s)", strings.Join(missing, "\n"), note)
	}
	base, err := adminBaseURL(cl.base)
	if err != nil {
		return nil, err
	}
	cl.base = base
	return cl, nil
}

// adminBaseURL accepts http(s)://host[:port][/prefix] or a bare host:port.
func adminBaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080", s)
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(strings.TrimSuffix(p, "/v3.0"), "/v3") // tolerate a pasted API base
	return u.Scheme + "://" + u.Host + p, nil
}

// adminPage is the pagination of a list answer.
type adminPage struct {
	Total       int `json:"total"`
	Count       int `json:"count"`
	PerPage     int `json:"per_page"`
	CurrentPage int `json:"current_page"`
	TotalPages  int `json:"total_pages"`
}

// adminAPIError is an error answered by the server, with the CLI's advice.
type adminAPIError struct {
	Status     int
	Code       string
	Message    string
	DevMessage string
	Details    map[string]any
	RetryAfter string
	Hint       string // what to do next, in CLI terms
}

func (e *adminAPIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s: %v", k, e.Details[k])
	}
	if e.DevMessage != "" {
		fmt.Fprintf(&b, "\n  hint: %s", e.DevMessage)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "\n  %s", e.Hint)
	}
	return b.String()
}

// call sends one request to /v3{path} and returns the data of the answer
// (and its pagination, for lists). body, when not nil, is sent as JSON.
func (c *adminClient) call(ctx context.Context, method, path string, query url.Values, body any) (json.RawMessage, *adminPage, error) {
	u := c.base + "/v3" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("--server %q: %w", c.base, err)
	}
	req.Header.Set("appId", c.appID)
	req.Header.Set("apiKey", c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "callgate-cli/"+version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.connError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, c.connError(err)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
		Meta *struct {
			Pagination *adminPage `json:"pagination"`
		} `json:"meta"`
		Error *struct {
			Code       string         `json:"code"`
			Message    string         `json:"message"`
			DevMessage string         `json:"devMessage"`
			Details    map[string]any `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || (env.Error == nil && env.Data == nil) {
		return nil, nil, fmt.Errorf("%s answered HTTP %d with something that is not a callgate response\n  is --server (from %s) the address of a callgate server?", c.base, resp.StatusCode, c.serverFrom)
	}
	if env.Error != nil {
		e := &adminAPIError{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message,
			DevMessage: env.Error.DevMessage, Details: env.Error.Details, RetryAfter: resp.Header.Get("Retry-After")}
		e.Hint = c.hint(e)
		return nil, nil, e
	}
	if resp.StatusCode >= 300 {
		return nil, nil, fmt.Errorf("%s answered HTTP %d without an error body\n  is --server (from %s) the address of a callgate server?", c.base, resp.StatusCode, c.serverFrom)
	}
	var page *adminPage
	if env.Meta != nil {
		page = env.Meta.Pagination
	}
	return env.Data, page, nil
}

// connError explains a transport failure.
func (c *adminClient) connError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	what := err.Error()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		what = "no answer within " + adminTimeout.String()
	}
	from := ""
	if c.serverFrom != "--server" {
		from = " (from " + c.serverFrom + ")"
	}
	return fmt.Errorf("cannot reach callgate at %s%s: %s\n  is `callgate serve` running at %s? pass --server URL (or set CALLGATE_SERVER)", c.base, from, what, c.base)
}

// hint turns an error code into the flag or command to fix it.
func (c *adminClient) hint(e *adminAPIError) string {
	switch e.Code {
	case "AUTH_ERR_EMPTY_APPID", "AUTH_ERR_INVALID_APPID":
		return fmt.Sprintf("check the app ID %q (from %s): pass --app (or CALLGATE_APP); `callgate apps list --data DIR` lists the apps of a data dir", c.appID, c.appFrom)
	case "AUTH_ERR_EMPTY_APIKEY", "AUTH_ERR_APIKEY_NOT_FOUND":
		return fmt.Sprintf("check the API key (from %s): pass --key (or CALLGATE_KEY) with a fullAccess key of app %s; `callgate keys create --app %s --scope fullAccess --data DIR` makes one offline", c.keyFrom, c.appID, c.appID)
	case "AUTH_ERR_NO_ACCESS":
		return fmt.Sprintf("the key (from %s) is authOnly: pass a fullAccess key with --key (or CALLGATE_KEY)", c.keyFrom)
	case "ERR_TOO_MANY_REQUESTS":
		if e.RetryAfter != "" {
			return "retry in " + e.RetryAfter + " seconds"
		}
	case "ERR_ENDPOINT_NOT_FOUND":
		return fmt.Sprintf("is %s (from %s) a callgate server of this version (%s)?", c.base, c.serverFrom, version)
	}
	return ""
}

// adminRESTFlags are the flags of a command that only talks REST.
type adminRESTFlags struct {
	data   string
	conn   adminConn
	asJSON bool
}

func (f *adminRESTFlags) register(fs *pflag.FlagSet) {
	registerAdminData(fs, &f.data)
	f.conn.register(fs, &f.data)
	fs.BoolVar(&f.asJSON, "json", false, "print the data of the answer as JSON, for scripts")
}

// adminRESTDo is the flow of a REST-only command: resolve the connection,
// make one call, print the answer (show, or --json).
func adminRESTDo[T any](cmd *cobra.Command, f *adminRESTFlags, method, path string, query url.Values, body any, show func(io.Writer, adminReply[T])) error {
	c, err := f.conn.client()
	if err != nil {
		return err
	}
	r, err := adminCall[T](cmd.Context(), c, method, path, query, body)
	if err != nil {
		return err
	}
	return adminPrint(cmd, f.asJSON, r, show)
}

// adminPathCmd completes a REST-only command with no flags of its own: it
// calls method on the path its arguments name and shows the answer.
func adminPathCmd[T any](cmd *cobra.Command, method string, path func(args []string) string, show func(w io.Writer, args []string, r adminReply[T])) *cobra.Command {
	var f adminRESTFlags
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return adminRESTDo(cmd, &f, method, path(args), nil, nil, func(w io.Writer, r adminReply[T]) { show(w, args, r) })
	}
	f.register(cmd.Flags())
	return cmd
}

// adminDeleteCmd is an adminPathCmd that deletes and shows the
// {success, message} answer.
func adminDeleteCmd(cmd *cobra.Command, path func(args []string) string) *cobra.Command {
	return adminPathCmd(cmd, http.MethodDelete, path, func(w io.Writer, _ []string, r adminReply[adminResult]) { adminShowMessage(w, r) })
}

// adminCall makes one REST call and decodes the data of its answer as T.
func adminCall[T any](ctx context.Context, c *adminClient, method, path string, query url.Values, body any) (adminReply[T], error) {
	data, page, err := c.call(ctx, method, path, query, body)
	if err != nil {
		return adminReply[T]{}, err
	}
	v, err := adminDecode[T](data)
	if err != nil {
		return adminReply[T]{}, err
	}
	return adminReply[T]{v: v, out: data, app: c.appID, page: page}, nil
}

// adminDecode unmarshals the data of an answer.
func adminDecode[T any](raw json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("unexpected answer from the server: %w", err)
	}
	return v, nil
}

// adminPath joins escaped path segments: adminPath("users", uid) = /users/{uid}.
func adminPath(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

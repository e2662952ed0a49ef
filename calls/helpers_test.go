package calls_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/servertest"
)

const (
	uid1 = "cometchat-uid-1"
	uid2 = "cometchat-uid-2"
)

// settings are the AppSettings of srv's dev app with store (memory if nil).
func settings(srv *servertest.Server, store calls.SessionStore) calls.AppSettings {
	if store == nil {
		store = calls.NewMemoryStore()
	}
	return calls.AppSettings{
		AppID: srv.AppID, Region: srv.Region, Host: srv.URL,
		SessionStore: store, Logger: quietLogger(),
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newClient returns a client of srv's dev app with a memory store.
func newClient(t *testing.T, srv *servertest.Server) *calls.Client {
	t.Helper()
	c, err := calls.New(settings(srv, nil))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// codeOf returns the code of a *calls.Error, "" for nil, and fails the test
// for any other error type.
func codeOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *calls.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *calls.Error", err, err)
	}
	return e.Code
}

func wantCode(t *testing.T, err error, code string) *calls.Error {
	t.Helper()
	if got := codeOf(t, err); got != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	var e *calls.Error
	errors.As(err, &e)
	return e
}

func login(t *testing.T, c *calls.Client, srv *servertest.Server, uid string) *calls.User {
	t.Helper()
	u, err := c.Login(context.Background(), uid, srv.AuthKey)
	if err != nil {
		t.Fatalf("Login(%s): %v", uid, err)
	}
	return u
}

// api calls the server directly (not through the SDK) and returns the
// error code of the answer ("" on success) and its data.
func api(t *testing.T, srv *servertest.Server, method, path string, hdr map[string]string, body any) (string, json.RawMessage) {
	t.Helper()
	r := srv.Do(t, method, path, hdr, body)
	return r.Code, r.Data
}

// meCode is the error code of GET /v3.0/me with token ("" when it is live).
func meCode(t *testing.T, srv *servertest.Server, token string) string {
	t.Helper()
	code, _ := api(t, srv, "GET", "/v3.0/me", map[string]string{"authToken": token}, nil)
	return code
}

// restToken creates an auth token for uid with the REST key, as an app's
// own server would.
func restToken(t *testing.T, srv *servertest.Server, uid string) string {
	t.Helper()
	code, data := api(t, srv, "POST", "/v3.0/users/"+uid+"/auth_tokens", map[string]string{"apiKey": srv.RESTKey}, map[string]any{})
	if code != "" {
		t.Fatalf("create token: %s", code)
	}
	var out struct {
		AuthToken string `json:"authToken"`
	}
	json.Unmarshal(data, &out)
	return out.AuthToken
}

// counter counts the API requests a server receives.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v3") {
			c.n.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// gate holds requests matching a predicate until opened: a deliberately
// slow server, without sleeps.
type gate struct {
	match   func(*http.Request) bool
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate(match func(*http.Request) bool) *gate {
	return &gate{match: match, entered: make(chan struct{}, 16), open: make(chan struct{})}
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.match(r) {
			g.entered <- struct{}{}
			select {
			case <-g.open:
			case <-time.After(10 * time.Second):
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the server")
	}
}

// logBuffer is a concurrency-safe log sink for assertions on slog output.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

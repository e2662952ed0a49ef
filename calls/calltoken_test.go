package calls_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/calltoken"
	"github.com/callgate/callgate/internal/servertest"
)

func TestGenerateToken(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			srv := servertest.Start(t, servertest.Options{Postgres: pg})
			c := newClient(t, srv)
			login(t, c, srv, uid1)
			ctx := context.Background()
			tok, err := c.GenerateToken(ctx, "room-1")
			if err != nil {
				t.Fatal(err)
			}
			v := calltoken.NewVerifier(srv.URL+"/.well-known/jwks.json", calltoken.WithAppID(srv.AppID))
			claims, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("the token does not verify: %v", err)
			}
			if claims.UID != uid1 || claims.SessionID != "room-1" || claims.Name != "Andrew Joseph" {
				t.Errorf("claims %+v", claims)
			}
			// The online check agrees, until the session ends.
			if code, _ := api(t, srv, "GET", "/v3.0/call_tokens", map[string]string{"callToken": tok}, nil); code != "" {
				t.Errorf("online check: %s", code)
			}
			if _, err := c.Logout(ctx); err != nil {
				t.Fatal(err)
			}
			if code, _ := api(t, srv, "GET", "/v3.0/call_tokens", map[string]string{"callToken": tok}, nil); code != "ERR_CALL_TOKEN_REVOKED" {
				t.Errorf("online check after Logout: %q, want ERR_CALL_TOKEN_REVOKED", code)
			}
		})
	}
}

// TestGenerateTokenCheckOrder: ERROR_SESSION_ID_MISSING, then
// ERROR_SDK_NOT_INITIALIZED, then ERROR_AUTH_TOKEN_MISSING, all without
// a request.
func TestGenerateTokenCheckOrder(t *testing.T) {
	var n callTokenCounter
	srv := servertest.Start(t, servertest.Options{Handler: n.wrap})
	ready := newClient(t, srv)
	loggedIn := newClient(t, srv)
	login(t, loggedIn, srv, uid1)
	tests := []struct {
		name string
		c    *calls.Client
		sid  string
		want string
	}{
		{"uninitialised, empty", &calls.Client{}, "", calls.ErrSessionIDMissing},
		{"uninitialised, blank", &calls.Client{}, " \t\n", calls.ErrSessionIDMissing},
		{"uninitialised", &calls.Client{}, "room", calls.ErrSDKNotInitialized},
		{"nobody logged in, empty", ready, "", calls.ErrSessionIDMissing},
		{"nobody logged in", ready, "room", calls.ErrAuthTokenMissing},
		{"logged in, blank", loggedIn, "   ", calls.ErrSessionIDMissing},
	}
	before := n.n.Load()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.c.GenerateToken(context.Background(), tc.sid)
			e := wantCode(t, err, tc.want)
			if tok != "" || e.Description == "" {
				t.Errorf("GenerateToken = %q, %+v", tok, e)
			}
			if !errors.Is(err, &calls.Error{Code: tc.want}) {
				t.Error("errors.Is does not match the code")
			}
		})
	}
	if got := n.n.Load() - before; got != 0 {
		t.Errorf("local checks made %d requests", got)
	}

	t.Run("package level", func(t *testing.T) {
		calls.ResetDefault()
		t.Cleanup(calls.ResetDefault)
		ctx := context.Background()
		_, err := calls.GenerateToken(ctx, "")
		wantCode(t, err, calls.ErrSessionIDMissing)
		_, err = calls.GenerateToken(ctx, "room")
		wantCode(t, err, calls.ErrSDKNotInitialized)
		if err := calls.Init(settings(srv, nil)); err != nil {
			t.Fatal(err)
		}
		_, err = calls.GenerateToken(ctx, "room")
		wantCode(t, err, calls.ErrAuthTokenMissing)
		if _, err := calls.Login(ctx, uid2, srv.AuthKey); err != nil {
			t.Fatal(err)
		}
		tok, err := calls.GenerateToken(ctx, "room")
		if err != nil || strings.Count(tok, ".") != 2 {
			t.Fatalf("GenerateToken = %q, %v", tok, err)
		}
		calls.Logout(ctx)
		_, err = calls.GenerateToken(ctx, "room")
		wantCode(t, err, calls.ErrAuthTokenMissing)
	})
}

// callTokenCounter counts the requests to /call_tokens.
type callTokenCounter struct{ n atomic.Int64 }

func (c *callTokenCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/call_tokens") {
			c.n.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// TestGenerateTokenServerErrors: the server's code and message pass through.
func TestGenerateTokenServerErrors(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	// Without realtime, so a revocation reaches the client only through
	// the answer to its own request.
	s := settings(srv, nil)
	s.DisableRealtime = true
	c, err := calls.New(s)
	if err != nil {
		t.Fatal(err)
	}
	login(t, c, srv, uid1)
	for _, tc := range []struct {
		sid, want, inMessage string
	}{
		{"room 1", "ERR_BAD_REQUEST", "sessionId"},
		{strings.Repeat("x", 256), "ERR_BAD_REQUEST", "255"},
		{"tab\there", "ERR_BAD_REQUEST", "whitespace"},
	} {
		_, err := c.GenerateToken(ctx, tc.sid)
		e := wantCode(t, err, tc.want)
		if !strings.Contains(e.Description, tc.inMessage) {
			t.Errorf("GenerateToken(%.20q): description %q does not carry the server's message", tc.sid, e.Description)
		}
	}
	// A session revoked on the server (here: its tokens flushed by the
	// app's backend).
	if code, _ := api(t, srv, "DELETE", "/v3/users/"+uid1+"/auth_tokens", map[string]string{"apiKey": srv.RESTKey}, nil); code != "" {
		t.Fatal(code)
	}
	_, err = c.GenerateToken(ctx, "room")
	e := wantCode(t, err, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
	if e.Description != "The auth token is invalid or has expired." {
		t.Errorf("description %q, want the server's message", e.Description)
	}
	// Transport failures.
	c2 := newClient(t, srv)
	login(t, c2, srv, uid2)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c2.GenerateToken(cctx, "room")
	wantCode(t, err, calls.ErrNetwork)
	srv.Stop()
	_, err = c2.GenerateToken(ctx, "room")
	wantCode(t, err, calls.ErrNetwork)
}

// TestGenerateTokenConcurrent: safe beside logins and logouts (-race).
func TestGenerateTokenConcurrent(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	c := newClient(t, srv)
	login(t, c, srv, uid1)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			_, err := c.GenerateToken(ctx, "room")
			switch codeOf(t, err) {
			case "", calls.ErrAuthTokenMissing, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND":
			default:
				t.Errorf("GenerateToken: %v", err)
			}
			if i == 8 {
				c.Logout(ctx)
			}
		})
	}
	wg.Wait()
}

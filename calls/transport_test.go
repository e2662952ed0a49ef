package calls_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/calls"
)

// TestBadAnswers: whatever a server (or something that is not one) answers,
// the SDK returns an error and never panics.
func TestBadAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		code    string
		inDescr string
	}{
		{"html error page", 502, "<html><body>Bad Gateway</body></html>", calls.ErrNetwork, "not JSON"},
		{"empty body", 200, "", calls.ErrNetwork, "not JSON"},
		{"null data", 200, `{"data":null}`, calls.ErrNetwork, "without data"},
		{"no envelope", 200, `{"uid":"x"}`, calls.ErrNetwork, "without data"},
		{"array", 200, `[1,2,3]`, calls.ErrNetwork, "not JSON"},
		{"wrong data type", 200, `{"data":"a string"}`, calls.ErrNetwork, "not understood"},
		{"error status without code", 500, `{"oops":true}`, calls.ErrNetwork, "HTTP 500"},
		{"server error", 429, `{"error":{"code":"ERR_TOO_MANY_REQUESTS","message":"Too many requests, please retry after 3 seconds.","devMessage":"","source":"callgate","details":{}}}`, "ERR_TOO_MANY_REQUESTS", "retry after 3"},
		{"error with 200", 200, `{"error":{"code":"ERR_INTERNAL","message":"Something went wrong on the server."}}`, "ERR_INTERNAL", "went wrong"},
		{"error without message", 503, `{"error":{"code":"ERR_SERVICE_UNAVAILABLE"}}`, "ERR_SERVICE_UNAVAILABLE", "503"},
		{"token without authToken", 200, `{"data":{"uid":"x"}}`, calls.ErrNetwork, "no authToken"},
		{"huge", 200, `{"data":"` + strings.Repeat("a", 5<<20) + `"}`, calls.ErrNetwork, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer ts.Close()
			c, err := calls.New(calls.AppSettings{AppID: "app", Region: "us", Host: ts.URL, SessionStore: calls.NewMemoryStore(), Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Login(context.Background(), uid1, "key")
			e := wantCode(t, err, tt.code)
			t.Log(e)
			if !strings.Contains(e.Description, tt.inDescr) {
				t.Fatalf("description %q does not contain %q", e.Description, tt.inDescr)
			}
			if c.IsUserLoggedIn() {
				t.Fatal("logged in from a bad answer")
			}
		})
	}
}

func TestPutMeWithoutUID(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":{"name":"no uid"}}`))
	}))
	defer ts.Close()
	c, _ := calls.New(calls.AppSettings{AppID: "app", Region: "us", Host: ts.URL, SessionStore: calls.NewMemoryStore()})
	_, err := c.LoginWithAuthToken(context.Background(), "tok")
	wantCode(t, err, calls.ErrNetwork)
}

func TestTransportFailures(t *testing.T) {
	unblock := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-unblock:
		}
	}))
	defer slow.Close()
	defer close(unblock) // before Close, which waits for the handlers
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	tlsSrv.Config.ErrorLog = nil
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		host    string
		client  *http.Client
		ctx     context.Context
		inDescr string
	}{
		{"refused", closedURL, nil, context.Background(), "refused"},
		{"client timeout", slow.URL, &http.Client{Timeout: 100 * time.Millisecond}, context.Background(), "Timeout"},
		{"context deadline", slow.URL, nil, nil, "deadline"},
		{"cancelled", slow.URL, nil, cancelled, "canceled"},
		{"bad TLS", tlsSrv.URL, nil, context.Background(), "certificate"},
		{"http to a TLS server", strings.Replace(tlsSrv.URL, "https:", "http:", 1), nil, context.Background(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ctx == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				tt.ctx = ctx
			}
			c, err := calls.New(calls.AppSettings{AppID: "app", Region: "us", Host: tt.host, HTTPClient: tt.client, SessionStore: calls.NewMemoryStore(), Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Login(tt.ctx, uid1, "key")
			e := wantCode(t, err, calls.ErrNetwork)
			t.Log(e)
			if !strings.Contains(e.Description, tt.inDescr) {
				t.Fatalf("description %q does not give the cause %q", e.Description, tt.inDescr)
			}
			_, err = c.LoginWithAuthToken(tt.ctx, "tok")
			wantCode(t, err, calls.ErrNetwork)
		})
	}
}

func TestErrorType(t *testing.T) {
	e := &calls.Error{Code: calls.ErrNetwork, Description: "down"}
	if e.Error() != "ERROR_NETWORK: down" {
		t.Fatalf("Error() = %q", e.Error())
	}
	var err error = e
	if !errors.Is(err, &calls.Error{Code: calls.ErrNetwork}) || errors.Is(err, &calls.Error{Code: calls.ErrInvalidUID}) {
		t.Fatal("errors.Is does not match on the code")
	}
	codes := map[string]string{
		calls.ErrInvalidUID:         "ERROR_INVALID_UID",
		calls.ErrUIDWithSpace:       "ERROR_UID_WITH_SPACE",
		calls.ErrAPIKeyNotFound:     "ERROR_API_KEY_NOT_FOUND",
		calls.ErrBlankAuthToken:     "ERROR_BLANK_AUTHTOKEN",
		calls.ErrAuthTokenWithSpace: "ERROR_AUTHTOKEN_WITH_SPACE",
		calls.ErrLoginInProgress:    "ERROR_LOGIN_IN_PROGRESS",
		calls.ErrSDKNotInitialized:  "ERROR_SDK_NOT_INITIALIZED",
		calls.ErrNoUserLoggedIn:     "ERROR_NO_USER_LOGGED_IN",
		calls.ErrNetwork:            "ERROR_NETWORK",
		calls.ErrInvalidAppSettings: "ERROR_INVALID_APP_SETTINGS",
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("constant %q, want %q", got, want)
		}
	}
}

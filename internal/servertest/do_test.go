package servertest_test

import (
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/servertest"
)

func TestDo(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{NoRealtime: true})
	if r := srv.Do(t, "GET", "/v3/me", map[string]string{"authToken": "nope"}, nil); r.Code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" || r.Data != nil || r.Status != 401 {
		t.Fatalf("unknown token: %d %q %s", r.Status, r.Code, r.Body)
	}
	r := srv.Do(t, "POST", "/v3/users/cometchat-uid-1/auth_tokens", map[string]string{"apiKey": srv.AuthKey}, map[string]any{})
	var tok struct{ AuthToken string }
	r.Decode(t, &tok)
	if r.Code != "" || tok.AuthToken == "" {
		t.Fatalf("create token: %q %s", r.Code, r.Body)
	}
	// Do as the dev app, unless the headers name another (in any case).
	var me struct{ UID string }
	srv.Do(t, "GET", "/v3/me", map[string]string{"authToken": tok.AuthToken}, nil).Decode(t, &me)
	if me.UID != "cometchat-uid-1" {
		t.Errorf("me = %+v", me)
	}
	if r := srv.Do(t, "GET", "/v3/me", map[string]string{"authToken": tok.AuthToken, "APPID": "another-app"}, nil); r.Code == "" {
		t.Errorf("another app's header was not sent: %s", r.Body)
	}
	// The free function, against any base URL.
	if r := servertest.Do(t, srv.URL, "GET", "/v3/me", map[string]string{"appId": srv.AppID, "authToken": tok.AuthToken}, nil); r.Code != "" || r.Status != 200 {
		t.Errorf("Do: %d %q", r.Status, r.Code)
	}
}

// TLS: the server answers https with its own certificate, which Client
// (and so Do) trusts and a default client does not.
func TestTLS(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{NoRealtime: true, SelfSignedTLS: true})
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") || srv.Certificate == nil {
		t.Fatalf("URL %s, certificate %v", srv.URL, srv.Certificate)
	}
	if r := srv.Do(t, "GET", "/v3/me", map[string]string{"authToken": "nope"}, nil); r.Code != "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" {
		t.Errorf("over TLS: %d %q %s", r.Status, r.Code, r.Body)
	}
	res, err := http.Get(srv.URL + "/healthz")
	if err == nil {
		res.Body.Close()
		t.Fatal("a client that does not trust the test certificate got an answer")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("an untrusting client: %v, want an unknown authority", err)
	}
	// Without TLS nothing changes.
	plain := servertest.Start(t, servertest.Options{NoRealtime: true})
	if !strings.HasPrefix(plain.URL, "http://") || plain.Certificate != nil || plain.Client != http.DefaultClient {
		t.Errorf("plain server: %s %v", plain.URL, plain.Certificate)
	}
}

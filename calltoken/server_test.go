package calltoken_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callgate/callgate/calltoken"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

func serverConfig(now func() time.Time) server.Config { return server.Config{Now: now} }

// call makes one request to a real server and returns the data of the
// answer, or the error code.
func call(t testing.TB, srv *servertest.Server, method, path string, h map[string]string, body any) (map[string]any, string) {
	t.Helper()
	r := srv.Do(t, method, path, h, body)
	if r.Code != "" {
		return nil, r.Code
	}
	var d map[string]any
	r.Decode(t, &d)
	return d, ""
}

// callOK is call for requests that must succeed.
func callOK(t testing.TB, srv *servertest.Server, method, path string, h map[string]string, body any) map[string]any {
	t.Helper()
	d, code := call(t, srv, method, path, h, body)
	if code != "" {
		t.Fatalf("%s %s: error %s", method, path, code)
	}
	return d
}

// mintFor logs uid in (REST) and mints a call token for sid.
func mintFor(t testing.TB, srv *servertest.Server, uid, sid string) (callToken, authToken string) {
	t.Helper()
	d := callOK(t, srv, "POST", "/v3.0/users/"+uid+"/auth_tokens", map[string]string{"apiKey": srv.AuthKey}, map[string]any{})
	authToken = d["authToken"].(string)
	d = callOK(t, srv, "POST", "/v3.0/call_tokens", map[string]string{"authToken": authToken}, map[string]any{"sessionId": sid})
	return d["token"].(string), authToken
}

// TestAgainstServer verifies tokens of a real callgate server offline,
// through its JWKS, across a key rotation.
func TestAgainstServer(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srvClock := newClock()
			srvClock.t = time.Now()
			srv := servertest.Start(t, servertest.Options{Postgres: pg, Config: serverConfig(srvClock.Now)})
			clk := newClock()
			clk.t = srvClock.Now()
			jwks := srv.URL + "/.well-known/jwks.json"
			v := calltoken.NewVerifier(jwks, calltoken.WithAppID(srv.AppID), calltoken.WithClock(clk.Now), calltoken.WithIssuer(srv.URL))
			ctx := context.Background()

			oldTok, auth := mintFor(t, srv, "cometchat-uid-2", "room-7")
			c, err := v.Verify(ctx, oldTok)
			if err != nil {
				t.Fatal(err)
			}
			if c.UID != "cometchat-uid-2" || c.Name != "George Alan" || c.SessionID != "room-7" || c.AppID != srv.AppID ||
				c.Issuer != srv.URL || !c.Grants.Join || c.Grants.Moderator || c.TokenID == "" || c.ExpiresAt.Sub(c.IssuedAt) != time.Hour {
				t.Errorf("claims %+v", c)
			}
			// Tokens of this app only.
			if _, err := calltoken.NewVerifier(jwks, calltoken.WithAppID("another-app")).Verify(ctx, oldTok); !errors.Is(err, calltoken.ErrInvalid) {
				t.Errorf("WithAppID(another-app): %v", err)
			}

			// Rotation: the new kid is fetched; the old tokens still verify.
			rot := callOK(t, srv, "POST", "/v3.0/signing_keys/rotate", map[string]string{"apiKey": srv.RESTKey}, nil)
			newKID := rot["active"].(map[string]any)["kid"].(string)
			newTok, _ := mintFor(t, srv, "cometchat-uid-3", "room-7")
			if _, err := v.Verify(ctx, newTok); !errors.Is(err, calltoken.ErrUnknownKey) {
				t.Errorf("new kid within the refetch floor: %v, want ErrUnknownKey", err)
			}
			clk.Add(31 * time.Second)
			c2, err := v.Verify(ctx, newTok)
			if err != nil {
				t.Fatalf("new kid after the floor: %v", err)
			}
			if c2.KeyID != newKID || c2.KeyID == c.KeyID {
				t.Errorf("new token's kid %s, want %s (old %s)", c2.KeyID, newKID, c.KeyID)
			}
			if _, err := v.Verify(ctx, oldTok); err != nil {
				t.Errorf("old token after rotation: %v", err)
			}

			// Offline verification does not see a logout; the online check does.
			callOK(t, srv, "DELETE", "/v3.0/me", map[string]string{"authToken": auth}, nil)
			if _, err := v.Verify(ctx, oldTok); err != nil {
				t.Errorf("offline after logout: %v (offline checks see only exp)", err)
			}
			if _, code := call(t, srv, "GET", "/v3.0/call_tokens", map[string]string{"callToken": oldTok}, nil); code != "ERR_CALL_TOKEN_REVOKED" {
				t.Errorf("online after logout: %q, want ERR_CALL_TOKEN_REVOKED", code)
			}

			// Expiry, on the verifier's clock.
			clk.Add(time.Hour)
			if _, err := v.Verify(ctx, newTok); !errors.Is(err, calltoken.ErrExpired) {
				t.Errorf("an hour later: %v, want ErrExpired", err)
			}
			srvClock.Add(time.Hour + 31*time.Second)
			if _, code := call(t, srv, "GET", "/v3.0/call_tokens", map[string]string{"callToken": newTok}, nil); code != "ERR_CALL_TOKEN_EXPIRED" {
				t.Errorf("online an hour later: %q, want ERR_CALL_TOKEN_EXPIRED", code)
			}
		})
	}
}

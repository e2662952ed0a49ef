package server_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callgate/callgate/calltoken"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
)

// Call tokens (docs/call-tokens.md): minting, online and offline
// verification, revocation, rotation, the JWKS and key hygiene, on SQLite
// and PostgreSQL.

func TestCallTokens(t *testing.T) {
	t.Parallel()
	callTokens(t, servertest.Options{})
}

func TestCallTokensPostgres(t *testing.T) {
	t.Parallel()
	callTokens(t, servertest.Options{Postgres: true})
}

const uid1 = "cometchat-uid-1"

// ctEnv is a server on a fake clock.
type ctEnv struct {
	*env
	clock *fakeClock
}

func startCT(t *testing.T, opts servertest.Options) *ctEnv {
	t.Helper()
	clock := newClock()
	opts.Config.Now = clock.Now
	return &ctEnv{env: start(t, opts), clock: clock}
}

func (e *ctEnv) mint(v, authToken, sid string) *resp {
	e.t.Helper()
	return e.do("POST", v+"/call_tokens", H{"authToken": authToken}, map[string]any{"sessionId": sid})
}

// mintOK mints a call token and returns it.
func (e *ctEnv) mintOK(v, authToken, sid string) string {
	e.t.Helper()
	d := e.mint(v, authToken, sid).data(e.t)
	tok := str(d, "token")
	if tok == "" || str(d, "sessionId") != sid || num(d, "expiresAt") == 0 {
		e.t.Fatalf("mint answered %v", d)
	}
	return tok
}

func (e *ctEnv) check(v, callToken string, h H) *resp {
	e.t.Helper()
	hh := H{"callToken": callToken}
	for k, val := range h {
		hh[k] = val
	}
	return e.do("GET", v+"/call_tokens", hh, nil)
}

// wantCT asserts the online check of a call token answers code ("" = valid).
func (e *ctEnv) wantCT(t *testing.T, callToken, code string) {
	t.Helper()
	r := e.check("/v3.0", callToken, nil)
	if code == "" {
		r.data(t)
		return
	}
	wantErr(t, r, http.StatusUnauthorized, code)
}

// tokenID is the display id of an auth token.
func (e *ctEnv) tokenID(uid, authToken string) string {
	e.t.Helper()
	return str(e.do("GET", "/v3/users/"+uid+"/auth_tokens/"+authToken, e.rest(), nil).data(e.t), "id")
}

func (e *ctEnv) signer(appID string, kr *signing.Keyring) *signing.Signer {
	e.t.Helper()
	sg, err := signing.Active(context.Background(), e.srv.Store, kr, appID, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return sg
}

// segments decodes a JWT's header and claims without verifying it.
func segments(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact token: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	return header, claims
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func callTokens(t *testing.T, opts servertest.Options) {
	e := startCT(t, opts)
	t.Run("mint", func(t *testing.T) { ctMint(t, e) })
	t.Run("bad sessionId", func(t *testing.T) { ctBadSessionID(t, e) })
	t.Run("bad auth", func(t *testing.T) { ctBadAuth(t, e) })
	t.Run("bad call tokens", func(t *testing.T) { ctBadTokens(t, e) })
	t.Run("forged", func(t *testing.T) { ctForged(t, e) })
	t.Run("settings", func(t *testing.T) { ctSettings(t, e) })
	t.Run("revocation", func(t *testing.T) { ctRevocation(t, e) })
	t.Run("isolation", func(t *testing.T) { ctIsolation(t, e) })
	t.Run("jwks", func(t *testing.T) { ctJWKS(t, e) })
	t.Run("lazy keys", func(t *testing.T) { ctLazyKeys(t, e) })
	// These move the clock: last.
	t.Run("expiry", func(t *testing.T) { ctExpiry(t, e) })
	t.Run("rotation", func(t *testing.T) { ctRotation(t, e) })
}

func ctMint(t *testing.T, e *ctEnv) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			auth := e.newToken(v, uid1)
			before := e.clock.Now().Unix()
			r := e.mint(v, auth, "room-42")
			d := r.data(t)
			tok := str(d, "token")
			if str(d, "sessionId") != "room-42" || int64(num(d, "expiresAt")) != before+3600 {
				t.Errorf("mint answered %v; want sessionId room-42, expiresAt %d", d, before+3600)
			}
			header, claims := segments(t, tok)
			if header["alg"] != "EdDSA" || str(header, "kid") == "" || header["typ"] != "JWT" {
				t.Errorf("header %v; want alg EdDSA, a kid, typ JWT", header)
			}
			grants := map[string]any{"join": true, "publishAudio": true, "publishVideo": true, "screenShare": true, "moderator": false}
			want := map[string]any{
				"iss": e.srv.URL, "aud": "callgate:call", "sub": uid1, "app": e.srv.AppID, "sid": "room-42",
				"name": "Andrew Joseph", "tid": e.tokenID(uid1, auth),
			}
			for k, w := range want {
				if claims[k] != w {
					t.Errorf("claim %s = %v, want %v", k, claims[k], w)
				}
			}
			if g, _ := json.Marshal(claims["grants"]); string(g) != mustJSON(grants) {
				t.Errorf("grants %s, want %s", g, mustJSON(grants))
			}
			iat, nbf, exp := int64(num(claims, "iat")), int64(num(claims, "nbf")), int64(num(claims, "exp"))
			if iat != before || nbf != iat || exp != iat+3600 {
				t.Errorf("iat %d nbf %d exp %d; want %d, %d, %d", iat, nbf, exp, before, before, before+3600)
			}
			if len(str(claims, "jti")) < 16 {
				t.Errorf("jti %q is too short to be random", claims["jti"])
			}

			// Online check: the claims, flat.
			got := e.check(v, tok, nil).data(t)
			for k, w := range claims {
				if mustJSON(got[k]) != mustJSON(w) {
					t.Errorf("GET /call_tokens %s = %v, want %v", k, got[k], w)
				}
			}
			if len(got) != len(claims) {
				t.Errorf("GET /call_tokens data %v, want exactly the claims %v", got, claims)
			}
			// appId is optional; the token's own app is fine.
			e.check(v, tok, H{"appId": strings.ToUpper(e.srv.AppID)}).data(t)

			// Offline check against the JWKS, as a media server would.
			ver := calltoken.NewVerifier(e.srv.URL+"/.well-known/jwks.json", calltoken.WithAppID(e.srv.AppID), calltoken.WithClock(e.clock.Now))
			c, err := ver.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("offline Verify: %v", err)
			}
			if c.UID != uid1 || c.SessionID != "room-42" || c.KeyID != header["kid"] || !c.Grants.Join || c.Grants.Moderator {
				t.Errorf("offline claims %+v", c)
			}
			// Every mint is a new token.
			if tok2 := e.mintOK(v, auth, "room-42"); tok2 == tok {
				t.Error("two mints gave the same token")
			}
		})
	}
	t.Run("sessionId limits", func(t *testing.T) {
		auth := e.newToken("/v3", uid1)
		for _, sid := range []string{"x", strings.Repeat("a", 255), strings.Repeat("é", 255), "room/42?x=1&y=ü", "🎥-call"} {
			tok := e.mintOK("/v3", auth, sid)
			if c := e.check("/v3", tok, nil).data(t); str(c, "sid") != sid {
				t.Errorf("sid %q came back as %q", sid, c["sid"])
			}
		}
	})
	t.Run("no appId header", func(t *testing.T) {
		// The Calls SDK sends only authToken: the token names its app.
		auth := e.newToken("/v3", uid1)
		r := e.do("POST", "/v3.0/call_tokens", H{"authToken": auth}, `{"sessionId":"s","extra":[1,2]}`)
		r.data(t)
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func ctBadSessionID(t *testing.T, e *ctEnv) {
	auth := e.newToken("/v3", uid1)
	h := H{"authToken": auth}
	tests := []struct {
		name string
		body any
	}{
		{"no body", nil},
		{"empty object", map[string]any{}},
		{"null", map[string]any{"sessionId": nil}},
		{"empty", map[string]any{"sessionId": ""}},
		{"blank", map[string]any{"sessionId": "   "}},
		{"space inside", map[string]any{"sessionId": "room 42"}},
		{"tab", map[string]any{"sessionId": "room\t42"}},
		{"newline", map[string]any{"sessionId": "room\n"}},
		{"NUL", map[string]any{"sessionId": "room\x00"}},
		{"no-break space", map[string]any{"sessionId": "room\u00a042"}},
		{"256 characters", map[string]any{"sessionId": strings.Repeat("a", 256)}},
		{"number", map[string]any{"sessionId": 42}},
		{"object", map[string]any{"sessionId": map[string]any{"id": "x"}}},
		{"array", map[string]any{"sessionId": []string{"x"}}},
		{"bool", map[string]any{"sessionId": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantBadField(t, e.do("POST", "/v3.0/call_tokens", h, tc.body), "sessionId")
		})
	}
	for _, body := range []string{`[]`, `"room"`, `{"sessionId":`, `not json`} {
		t.Run("body "+body, func(t *testing.T) {
			wantErr(t, e.do("POST", "/v3.0/call_tokens", h, body), http.StatusBadRequest, "ERR_BAD_REQUEST")
		})
	}
	t.Run("too large", func(t *testing.T) {
		big := `{"sessionId":"` + strings.Repeat("a", server.MaxBodyBytes) + `"}`
		wantErr(t, e.do("POST", "/v3.0/call_tokens", h, big), http.StatusRequestEntityTooLarge, "ERR_PAYLOAD_TOO_LARGE")
	})
}

func ctBadAuth(t *testing.T, e *ctEnv) {
	body := map[string]any{"sessionId": "room"}
	otherApp, _, _ := secondApp(t, e.srv.Store, "ct-auth-b")
	auth := e.newToken("/v3", uid1)
	dead := e.newToken("/v3", uid1)
	wantOK(t, e.do("DELETE", "/v3.0/me", H{"authToken": dead}, nil))
	tests := []struct {
		name   string
		h      H
		status int
		code   string
	}{
		{"no authToken", H{}, 401, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"blank authToken", H{"authToken": "  "}, 401, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"garbage", H{"authToken": "nope"}, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"well-formed unknown", H{"authToken": uid1 + "_1700000000" + strings.Repeat("ab", 32)}, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"logged out", H{"authToken": dead}, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"another app's appId", H{"authToken": auth, "appId": otherApp}, 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"unknown appId", H{"authToken": auth, "appId": "no-such-app"}, 401, "AUTH_ERR_INVALID_APPID"},
		{"an API key is not enough", H{"apiKey": e.srv.RESTKey, "appId": e.srv.AppID}, 401, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, e.do("POST", "/v3.0/call_tokens", tc.h, body), tc.status, tc.code)
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		r := e.do("PUT", "/v3.0/call_tokens", H{"authToken": auth}, body)
		wantErr(t, r, 404, "ERR_ENDPOINT_NOT_FOUND")
		if r.Header.Get("Allow") != "GET, POST" {
			t.Errorf("Allow %q", r.Header.Get("Allow"))
		}
	})
}

func ctBadTokens(t *testing.T, e *ctEnv) {
	auth := e.newToken("/v3", uid1)
	good := e.mintOK("/v3", auth, "room")
	parts := strings.Split(good, ".")
	header, claims := segments(t, good)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	evil := map[string]any{}
	for k, v := range claims {
		evil[k] = v
	}
	evil["sub"] = "cometchat-uid-2"
	moderator := map[string]any{}
	for k, v := range claims {
		moderator[k] = v
	}
	moderator["grants"] = map[string]any{"join": true, "moderator": true}
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"blank", "   "},
		{"garbage", "not-a-token"},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", good + ".x"},
		{"empty segments", ".."},
		{"bad base64", "!!!." + parts[1] + "." + parts[2]},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2]},
		{"claims not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1")) + "." + parts[2]},
		{"tampered sub", parts[0] + "." + b64(evil) + "." + parts[2]},
		{"tampered grants", parts[0] + "." + b64(moderator) + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2], 10)},
		{"signature's last character", parts[0] + "." + parts[1] + "." + flip(parts[2], len(parts[2])-1)},
		{"padded signature", good + "=="},
		{"no signature", parts[0] + "." + parts[1] + "."},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(e.mintOK("/v3", auth, "other"), ".")[2]},
		{"unknown kid", b64(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "no-such-kid"}) + "." + parts[1] + "." + parts[2]},
		{"no kid", b64(map[string]any{"alg": "EdDSA", "typ": "JWT"}) + "." + parts[1] + "." + parts[2]},
		{"kid not a string", b64(map[string]any{"alg": "EdDSA", "kid": 7}) + "." + parts[1] + "." + parts[2]},
		{"alg none", b64(map[string]any{"alg": "none", "typ": "JWT", "kid": header["kid"]}) + "." + parts[1] + "."},
		{"alg unknown", b64(map[string]any{"alg": "XS999", "kid": header["kid"]}) + "." + parts[1] + "." + parts[2]},
		{"kid with NUL", b64(map[string]any{"alg": "EdDSA", "kid": "a\x00b"}) + "." + parts[1] + "." + parts[2]},
		{"kid not UTF-8", b64(map[string]any{"alg": "EdDSA", "kid": "caf\xe9"}) + "." + parts[1] + "." + parts[2]},
		{"huge", strings.Repeat("a", 10_000) + "." + parts[1] + "." + parts[2]},
		{"an auth token", auth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range versions {
				r := e.check(v, tc.token, nil)
				wantErr(t, r, http.StatusUnauthorized, "ERR_CALL_TOKEN_INVALID")
			}
		})
	}
	t.Run("no header", func(t *testing.T) {
		r := e.do("GET", "/v3.0/call_tokens", H{"appId": e.srv.AppID}, nil)
		er := wantErr(t, r, http.StatusUnauthorized, "ERR_CALL_TOKEN_INVALID")
		if d, _ := er["details"].(map[string]any); !strings.Contains(str(d, "reason"), "callToken") {
			t.Errorf("details %v do not say the header is missing", d)
		}
	})
	t.Run("the good one still verifies", func(t *testing.T) { e.wantCT(t, good, "") })
	t.Run("POST with a callToken only", func(t *testing.T) {
		wantErr(t, e.do("POST", "/v3.0/call_tokens", H{"callToken": good}, map[string]any{"sessionId": "x"}), 401, "AUTH_ERR_EMPTY_AUTH_TOKEN")
	})
}

// ctForged signs tokens with the app's real key (as only callgate could)
// but with something wrong in them, plus the classic algorithm confusions.
func ctForged(t *testing.T, e *ctEnv) {
	auth := e.newToken("/v3", uid1)
	tid := e.tokenID(uid1, auth)
	sg := e.signer(e.srv.AppID, nil)
	now := e.clock.Now().Truncate(time.Second)
	base := func() *calltoken.Claims {
		return &calltoken.Claims{Issuer: e.srv.URL, Subject: uid1, AppID: e.srv.AppID, SessionID: "room", Name: "x",
			IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Hour), ID: "jti", TokenID: tid, Grants: calltoken.Grants{Join: true}}
	}
	sign := func(c *calltoken.Claims) string {
		tok, err := calltoken.Sign(sg.Key, sg.KID, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	t.Run("control", func(t *testing.T) { e.wantCT(t, sign(base()), "") })

	otherApp, _, _ := secondApp(t, e.srv.Store, "ct-forged-b")
	otherSigner := e.signer(otherApp, nil)
	tests := []struct {
		name  string
		token func() string
		code  string
	}{
		{"wrong audience", func() string { c := base(); c.Audience = "someone:else"; return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"app claim of another app", func() string { c := base(); c.AppID = otherApp; return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"other app's key, this app's claim", func() string {
			tok, _ := calltoken.Sign(otherSigner.Key, otherSigner.KID, base())
			return tok
		}, "ERR_CALL_TOKEN_INVALID"},
		{"no sub", func() string { c := base(); c.Subject = ""; return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"no sid", func() string { c := base(); c.SessionID = ""; return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"no tid", func() string { c := base(); c.TokenID = ""; return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"no exp", func() string { c := base(); c.ExpiresAt = time.Time{}; return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"not yet valid", func() string { c := base(); c.NotBefore = now.Add(10 * time.Minute); return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"issued in the future", func() string { c := base(); c.IssuedAt = now.Add(10 * time.Minute); return sign(c) }, "ERR_CALL_TOKEN_INVALID"},
		{"expired", func() string {
			c := base()
			c.IssuedAt, c.NotBefore, c.ExpiresAt = now.Add(-2*time.Hour), now.Add(-2*time.Hour), now.Add(-time.Hour)
			return sign(c)
		}, "ERR_CALL_TOKEN_EXPIRED"},
		{"expired and wrong audience", func() string {
			c := base()
			c.Audience = "x"
			c.ExpiresAt = now.Add(-time.Hour)
			return sign(c)
		}, "ERR_CALL_TOKEN_INVALID"},
		{"within the leeway", func() string { c := base(); c.ExpiresAt = now.Add(-10 * time.Second); return sign(c) }, ""},
		{"tid of another token of the user", func() string { c := base(); c.TokenID = e.tokenID(uid1, e.newToken("/v3", uid1)); return sign(c) }, ""},
		{"tid of an unknown token", func() string { c := base(); c.TokenID = "tok_000000000000"; return sign(c) }, "ERR_CALL_TOKEN_REVOKED"},
		{"sub of another user, this tid", func() string { c := base(); c.Subject = "cometchat-uid-2"; return sign(c) }, "ERR_CALL_TOKEN_REVOKED"},
		{"sub not a uid", func() string { c := base(); c.Subject = "Not A UID \x00"; return sign(c) }, "ERR_CALL_TOKEN_REVOKED"},
		{"alg none", func() string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"aud": "callgate:call", "sub": uid1, "app": e.srv.AppID,
				"sid": "room", "exp": now.Add(time.Hour).Unix(), "tid": tid}).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, "ERR_CALL_TOKEN_INVALID"},
		{"HS256 keyed with the public key", func() string {
			// The confusion attack: the public key (from the JWKS) used as an HMAC secret.
			tk := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": "callgate:call", "sub": uid1, "app": e.srv.AppID,
				"sid": "room", "exp": now.Add(time.Hour).Unix(), "tid": tid})
			tk.Header["kid"] = sg.KID
			tok, err := tk.SignedString([]byte(sg.Key.Public().(ed25519.PublicKey)))
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, "ERR_CALL_TOKEN_INVALID"},
		{"a key that is not callgate's", func() string {
			_, priv, _ := ed25519.GenerateKey(nil)
			tok, _ := calltoken.Sign(priv, sg.KID, base())
			return tok
		}, "ERR_CALL_TOKEN_INVALID"},
		{"aud as a list", func() string {
			tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"aud": []string{"x", "callgate:call"}, "sub": uid1, "app": e.srv.AppID,
				"sid": "room", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "tid": tid})
			tk.Header["kid"] = sg.KID
			tok, _ := tk.SignedString(sg.Key)
			return tok
		}, ""},
		{"sub of the wrong type", func() string {
			tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"aud": "callgate:call", "sub": 12, "app": e.srv.AppID,
				"sid": "room", "exp": now.Add(time.Hour).Unix(), "tid": tid})
			tk.Header["kid"] = sg.KID
			tok, _ := tk.SignedString(sg.Key)
			return tok
		}, "ERR_CALL_TOKEN_INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { e.wantCT(t, tc.token(), tc.code) })
	}
	t.Run("appId naming another app", func(t *testing.T) {
		tok := sign(base())
		wantErr(t, e.check("/v3", tok, H{"appId": otherApp}), 401, "ERR_CALL_TOKEN_INVALID")
		wantErr(t, e.check("/v3", tok, H{"appId": "no-such-app"}), 401, "ERR_CALL_TOKEN_INVALID")
		e.check("/v3", tok, H{"appId": e.srv.AppID}).data(t)
	})
}

func ctSettings(t *testing.T, e *ctEnv) {
	ctx := context.Background()
	mk := func(id string, set store.AppSettings) (appID, auth string) {
		appID, full, _ := secondApp(t, e.srv.Store, id)
		a, err := e.srv.Store.GetApp(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		a.Settings = set
		if err := e.srv.Store.UpdateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		d := e.do("POST", "/v3/users", H{"appId": appID, "apiKey": full}, map[string]any{"uid": "u1", "name": "U One", "withAuthToken": true}).data(t)
		return appID, str(d, "authToken")
	}
	tests := []struct {
		name   string
		set    store.AppSettings
		ttl    int64
		grants calltoken.Grants
	}{
		{"defaults", store.AppSettings{}, 3600, calltoken.Grants{Join: true, PublishAudio: true, PublishVideo: true, ScreenShare: true}},
		{"short ttl", store.AppSettings{CallTokenTTL: 300}, 300, calltoken.Grants{Join: true, PublishAudio: true, PublishVideo: true, ScreenShare: true}},
		{"ttl capped at 24h", store.AppSettings{CallTokenTTL: 90 * 86400}, 86400, calltoken.Grants{Join: true, PublishAudio: true, PublishVideo: true, ScreenShare: true}},
		{"grants", store.AppSettings{CallGrants: &store.CallGrants{Join: true, PublishAudio: true, Moderator: true}}, 3600,
			calltoken.Grants{Join: true, PublishAudio: true, Moderator: true}},
		{"capped by the auth token's expiry", store.AppSettings{AuthTokenTTL: 600, CallTokenTTL: 3600}, 600, calltoken.Grants{Join: true, PublishAudio: true, PublishVideo: true, ScreenShare: true}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			appID, auth := mk(fmt.Sprintf("ct-settings-%d", i), tc.set)
			tok := e.mintOK("/v3", auth, "room")
			c := e.check("/v3", tok, H{"appId": appID}).data(t)
			if got := int64(num(c, "exp") - num(c, "iat")); got != tc.ttl {
				t.Errorf("exp - iat = %d, want %d", got, tc.ttl)
			}
			var g calltoken.Grants
			json.Unmarshal([]byte(mustJSON(c["grants"])), &g)
			if g != tc.grants {
				t.Errorf("grants %v, want %+v", c["grants"], tc.grants)
			}
			if str(c, "app") != appID || str(c, "name") != "U One" {
				t.Errorf("claims %v", c)
			}
		})
	}
}

func ctRevocation(t *testing.T, e *ctEnv) {
	rest := e.rest()
	tests := []struct {
		name   string
		revoke func(t *testing.T, uid, auth string)
	}{
		{"logout", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("DELETE", "/v3.0/me", H{"authToken": auth}, nil))
		}},
		{"token deleted by id", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("DELETE", "/v3/users/"+uid+"/auth_tokens/"+e.tokenID(uid, auth), rest, nil))
		}},
		{"token deleted by secret", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("DELETE", "/v3/users/"+uid+"/auth_tokens/"+auth, rest, nil))
		}},
		{"tokens flushed", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("DELETE", "/v3/users/"+uid+"/auth_tokens", rest, nil))
		}},
		{"user deleted", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("DELETE", "/v3/users/"+uid, rest, nil))
		}},
		{"user soft-deleted", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("DELETE", "/v3/users/"+uid, rest, map[string]any{"permanent": false}))
		}},
		{"user deactivated", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"deactivated": true}))
		}},
		{"user deactivated, then reactivated", func(t *testing.T, uid, auth string) {
			wantOK(t, e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"deactivated": true}))
			wantOK(t, e.do("PUT", "/v3/users/"+uid, rest, map[string]any{"deactivated": false}))
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uid := fmt.Sprintf("revoke-%d", i)
			e.newUser("/v3", uid)
			auth := e.newToken("/v3", uid)
			other := e.newToken("/v3", uid1) // someone else's: unaffected
			tok := e.mintOK("/v3", auth, "room")
			otherTok := e.mintOK("/v3", other, "room")
			e.wantCT(t, tok, "")
			tc.revoke(t, uid, auth)
			e.wantCT(t, tok, "ERR_CALL_TOKEN_REVOKED")
			e.wantCT(t, otherTok, "")
			// And it cannot mint any more.
			wantErr(t, e.mint("/v3", auth, "room"), 401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
		})
	}
	t.Run("one session of several", func(t *testing.T) {
		e.newUser("/v3", "revoke-multi")
		a1, a2 := e.newToken("/v3", "revoke-multi"), e.newToken("/v3", "revoke-multi")
		t1, t2 := e.mintOK("/v3", a1, "r"), e.mintOK("/v3", a2, "r")
		wantOK(t, e.do("DELETE", "/v3.0/me", H{"authToken": a1}, nil))
		e.wantCT(t, t1, "ERR_CALL_TOKEN_REVOKED")
		e.wantCT(t, t2, "")
	})
}

func ctIsolation(t *testing.T, e *ctEnv) {
	b, bFull, bAuthKey := secondApp(t, e.srv.Store, "ct-iso-b")
	_ = bAuthKey
	bRest := H{"appId": b, "apiKey": bFull}
	aKeys, _ := e.do("GET", "/v3/signing_keys", e.rest(), nil).list(t)
	// B's first mint creates its key lazily.
	d := e.do("POST", "/v3/users", bRest, map[string]any{"uid": "bob", "name": "Bob", "withAuthToken": true}).data(t)
	bTok := e.mintOK("/v3", str(d, "authToken"), "room")
	bKeys, _ := e.do("GET", "/v3/signing_keys", bRest, nil).list(t)
	if len(bKeys) != 1 {
		t.Fatalf("app b has %d keys, want 1", len(bKeys))
	}
	for _, k := range aKeys {
		if str(k, "kid") == str(bKeys[0], "kid") {
			t.Fatal("two apps share a kid")
		}
	}
	// Rotating b leaves a alone.
	e.do("POST", "/v3/signing_keys/rotate", bRest, nil).data(t)
	aAfter, _ := e.do("GET", "/v3/signing_keys", e.rest(), nil).list(t)
	if mustJSON(aAfter) != mustJSON(aKeys) {
		t.Errorf("a's keys changed when b rotated:\n%v\n%v", aKeys, aAfter)
	}
	bAfter, _ := e.do("GET", "/v3/signing_keys", bRest, nil).list(t)
	if len(bAfter) != 2 {
		t.Errorf("b has %d keys after a rotation, want 2", len(bAfter))
	}
	// b's token verifies, but not as a's.
	e.check("/v3", bTok, nil).data(t)
	wantErr(t, e.check("/v3", bTok, H{"appId": e.srv.AppID}), 401, "ERR_CALL_TOKEN_INVALID")
	// Keys need a fullAccess key of the app.
	wantErr(t, e.do("GET", "/v3/signing_keys", e.auth(), nil), 403, "AUTH_ERR_NO_ACCESS")
	wantErr(t, e.do("POST", "/v3/signing_keys/rotate", e.auth(), nil), 403, "AUTH_ERR_NO_ACCESS")
	wantErr(t, e.do("GET", "/v3/signing_keys", H{"appId": e.srv.AppID, "apiKey": bFull}, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("POST", "/v3/signing_keys/rotate", H{"appId": e.srv.AppID, "apiKey": bFull}, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/signing_keys", H{"appId": e.srv.AppID}, nil), 401, "AUTH_ERR_EMPTY_APIKEY")
	wantErr(t, e.do("POST", "/v3/signing_keys/rotate", e.rest(), "[1]"), 400, "ERR_BAD_REQUEST")
	wantErr(t, e.do("GET", "/v3/signing_keys/rotate", e.rest(), nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	// The JWKS lists both apps' keys.
	set := jwksOf(t, e.srv.URL)
	for _, k := range append(aAfter, bAfter...) {
		if _, ok := set[str(k, "kid")]; !ok && k["published"] == true {
			t.Errorf("published key %s missing from the JWKS", k["kid"])
		}
	}
}

// jwksOf fetches the JWKS and checks its shape; it returns the keys by kid.
func jwksOf(t *testing.T, base string) map[string]map[string]any {
	t.Helper()
	r := do(t, base, "GET", "/.well-known/jwks.json", nil, nil)
	if r.Status != 200 {
		t.Fatalf("JWKS: %d %s", r.Status, r)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Raw, &set); err != nil || set.Keys == nil {
		t.Fatalf("JWKS is not a key set: %s", r)
	}
	out := map[string]map[string]any{}
	for _, k := range set.Keys {
		kid := str(k, "kid")
		if _, dup := out[kid]; dup {
			t.Errorf("kid %s twice in the JWKS", kid)
		}
		out[kid] = k
		if len(k) != 6 || k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["use"] != "sig" || k["alg"] != "EdDSA" {
			t.Errorf("JWK %v: want exactly kty OKP, crv Ed25519, x, kid, use sig, alg EdDSA", k)
		}
		x, err := base64.RawURLEncoding.DecodeString(str(k, "x"))
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Errorf("JWK %s: x is not a base64url Ed25519 key", kid)
		} else if signing.KeyID(x) != kid {
			t.Errorf("JWK %s: kid is not the RFC 7638 thumbprint of x", kid)
		}
	}
	return out
}

func ctJWKS(t *testing.T, e *ctEnv) {
	r := do(t, e.srv.URL, "GET", "/.well-known/jwks.json", nil, nil)
	if r.Status != 200 {
		t.Fatalf("JWKS: %d", r.Status)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=300") || !strings.Contains(cc, "public") {
		t.Errorf("Cache-Control %q, want public with a max-age", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if strings.Contains(string(r.Raw), `"d"`) || strings.Contains(string(r.Raw), "private") {
		t.Errorf("the JWKS mentions a private part: %s", r)
	}
	set := jwksOf(t, e.srv.URL)
	active := e.signer(e.srv.AppID, nil)
	if _, ok := set[active.KID]; !ok {
		t.Errorf("the dev app's active key %s is not in the JWKS", active.KID)
	}
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	nm := do(t, e.srv.URL, "GET", "/.well-known/jwks.json", H{"If-None-Match": etag}, nil)
	if nm.Status != http.StatusNotModified || len(nm.Raw) != 0 || nm.Header.Get("Cache-Control") == "" {
		t.Errorf("If-None-Match: %d %q, want 304 with Cache-Control and no body", nm.Status, nm.Raw)
	}
	stale := do(t, e.srv.URL, "GET", "/.well-known/jwks.json", H{"If-None-Match": `"other"`}, nil)
	if stale.Status != 200 {
		t.Errorf("stale If-None-Match: %d", stale.Status)
	}
	// Not an API route.
	for _, v := range versions {
		wantErr(t, e.do("GET", v+"/.well-known/jwks.json", nil, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	}
	wantErr(t, e.do("POST", "/.well-known/jwks.json", nil, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
}

func ctLazyKeys(t *testing.T, e *ctEnv) {
	// An app created after the server started has no key until it needs
	// one; concurrent first mints create exactly one.
	appID, full, _ := secondApp(t, e.srv.Store, "ct-lazy")
	h := H{"appId": appID, "apiKey": full}
	if keys, _ := e.do("GET", "/v3/signing_keys", h, nil).list(t); len(keys) != 0 {
		t.Fatalf("a new app has %d keys", len(keys))
	}
	const n = 8
	auths := make([]string, n)
	for i := range auths {
		d := e.do("POST", "/v3/users", h, map[string]any{"uid": fmt.Sprintf("lazy-%d", i), "name": "L", "withAuthToken": true}).data(t)
		auths[i] = str(d, "authToken")
	}
	toks := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { toks[i] = str(e.mint("/v3", auths[i], "room").data(t), "token") })
	}
	wg.Wait()
	keys, _ := e.do("GET", "/v3/signing_keys", h, nil).list(t)
	if len(keys) != 1 || keys[0]["active"] != true {
		t.Fatalf("after concurrent first mints: %v, want one active key", keys)
	}
	for _, tok := range toks {
		if hd, _ := segments(t, tok); hd["kid"] != keys[0]["kid"] {
			t.Errorf("token signed by %v, want %v", hd["kid"], keys[0]["kid"])
		}
		e.check("/v3", tok, nil).data(t)
	}
	if _, ok := jwksOf(t, e.srv.URL)[str(keys[0], "kid")]; !ok {
		t.Error("the new key is not in the JWKS")
	}
}

func ctExpiry(t *testing.T, e *ctEnv) {
	auth := e.newToken("/v3", uid1)
	tok := e.mintOK("/v3", auth, "room")
	ver := calltoken.NewVerifier(e.srv.URL+"/.well-known/jwks.json", calltoken.WithClock(e.clock.Now))
	steps := []struct {
		advance time.Duration
		code    string
	}{
		{59 * time.Minute, ""},
		{time.Minute + 20*time.Second, ""}, // 20 s past exp: within the 30 s leeway
		{11 * time.Second, "ERR_CALL_TOKEN_EXPIRED"},
		{48 * time.Hour, "ERR_CALL_TOKEN_EXPIRED"},
	}
	for _, st := range steps {
		e.clock.Add(st.advance)
		e.wantCT(t, tok, st.code)
		_, err := ver.Verify(context.Background(), tok)
		if (st.code == "") != (err == nil) || st.code != "" && !errors.Is(err, calltoken.ErrExpired) {
			t.Errorf("offline after +%v: %v, want %s", st.advance, err, st.code)
		}
	}
	// The auth token is still live: a fresh token works.
	e.wantCT(t, e.mintOK("/v3", auth, "room"), "")

	t.Run("auth token expired", func(t *testing.T) {
		// The call token's exp is capped at the auth token's; within the
		// leeway after it, the online check sees the auth token gone.
		ctx := context.Background()
		appID, full, _ := secondApp(t, e.srv.Store, "ct-expiry-ttl")
		a, _ := e.srv.Store.GetApp(ctx, appID)
		a.Settings.AuthTokenTTL = 600
		if err := e.srv.Store.UpdateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		d := e.do("POST", "/v3/users", H{"appId": appID, "apiKey": full}, map[string]any{"uid": "u", "name": "U", "withAuthToken": true}).data(t)
		tok := e.mintOK("/v3", str(d, "authToken"), "room")
		e.clock.Add(599 * time.Second)
		e.wantCT(t, tok, "")
		e.clock.Add(6 * time.Second)
		e.wantCT(t, tok, "ERR_CALL_TOKEN_REVOKED")
		e.clock.Add(30 * time.Second)
		e.wantCT(t, tok, "ERR_CALL_TOKEN_EXPIRED")
	})
}

func ctRotation(t *testing.T, e *ctEnv) {
	rest := e.rest()
	auth := e.newToken("/v3", uid1)
	before, _ := e.do("GET", "/v3/signing_keys", rest, nil).list(t)
	var active map[string]any
	for _, k := range before {
		if k["active"] == true {
			if active != nil {
				t.Fatal("two active keys")
			}
			active = k
		}
	}
	if active == nil || active["published"] != true || num(active, "createdAt") == 0 {
		t.Fatalf("keys before rotation: %v", before)
	}
	oldKID := str(active, "kid")
	oldTok := e.mintOK("/v3", auth, "room")
	if h, _ := segments(t, oldTok); h["kid"] != oldKID {
		t.Fatalf("token signed by %v, want the active key %s", h["kid"], oldKID)
	}
	// A verifier that cached the key set before the rotation (its
	// refetch floor is tested in package calltoken).
	ver := calltoken.NewVerifier(e.srv.URL+"/.well-known/jwks.json", calltoken.WithClock(e.clock.Now),
		calltoken.WithAppID(e.srv.AppID), calltoken.WithMinRefetchInterval(0))
	if _, err := ver.Verify(context.Background(), oldTok); err != nil {
		t.Fatal(err)
	}

	now := e.clock.Now().Unix()
	rot := e.do("POST", "/v3.0/signing_keys/rotate", rest, map[string]any{}).data(t)
	newKey, _ := rot["active"].(map[string]any)
	retired, _ := rot["retired"].(map[string]any)
	newKID := str(newKey, "kid")
	wantUntil := float64(now + 3600 + 30 + 30) // TTL + leeway + propagation margin
	if newKID == "" || newKID == oldKID || newKey["active"] != true || str(retired, "kid") != oldKID ||
		retired["active"] != false || num(retired, "retiredAt") != float64(now) || num(retired, "publishedUntil") != wantUntil {
		t.Fatalf("rotation answered %v; want the old key retired now and published until %v", rot, wantUntil)
	}
	for _, k := range []map[string]any{newKey, retired} {
		for f := range k {
			if f == "privateKey" || f == "d" || f == "seed" {
				t.Errorf("key view has %s", f)
			}
		}
	}

	// New tokens carry the new kid; old ones keep verifying, online and offline.
	newTok := e.mintOK("/v3", auth, "room")
	if h, _ := segments(t, newTok); h["kid"] != newKID {
		t.Errorf("token after rotation signed by %v, want %s", h["kid"], newKID)
	}
	e.wantCT(t, oldTok, "")
	e.wantCT(t, newTok, "")
	fetches := ver.Fetches()
	for _, tok := range []string{oldTok, newTok} {
		if _, err := ver.Verify(context.Background(), tok); err != nil {
			t.Errorf("offline after rotation: %v", err)
		}
	}
	if ver.Fetches() != fetches+1 {
		t.Errorf("the verifier fetched %d times for the new kid, want once", ver.Fetches()-fetches)
	}
	set := jwksOf(t, e.srv.URL)
	if _, ok := set[oldKID]; !ok {
		t.Error("the retired key left the JWKS at once")
	}
	if _, ok := set[newKID]; !ok {
		t.Error("the new key is not in the JWKS")
	}
	after, _ := e.do("GET", "/v3/signing_keys", rest, nil).list(t)
	if len(after) != len(before)+1 {
		t.Errorf("%d keys after rotation, want %d", len(after), len(before)+1)
	}

	// Until the old key's last token expired (plus leeway) it stays; then it goes.
	e.clock.Add(time.Hour + 29*time.Second)
	if _, ok := jwksOf(t, e.srv.URL)[oldKID]; !ok {
		t.Error("the retired key left the JWKS while its tokens were live")
	}
	e.wantCT(t, oldTok, "") // 29 s past exp: within the leeway
	e.clock.Add(32 * time.Second)
	set = jwksOf(t, e.srv.URL)
	if _, ok := set[oldKID]; ok {
		t.Error("the retired key is still published after publishedUntil")
	}
	if _, ok := set[newKID]; !ok {
		t.Error("the active key left the JWKS")
	}
	e.wantCT(t, oldTok, "ERR_CALL_TOKEN_INVALID") // its key is gone
	keys, _ := e.do("GET", "/v3/signing_keys", rest, nil).list(t)
	for _, k := range keys {
		if str(k, "kid") == oldKID && k["published"] != false {
			t.Errorf("retired key listed as published: %v", k)
		}
	}
	// A second rotation removes keys whose publication ended.
	e.do("POST", "/v3/signing_keys/rotate", rest, nil).data(t)
	keys, _ = e.do("GET", "/v3/signing_keys", rest, nil).list(t)
	for _, k := range keys {
		if str(k, "kid") == oldKID {
			t.Error("a key whose publication ended survived the next rotation")
		}
	}
}

// ---- secrets

// TestCallTokenSecretsNeverLeak: no response and no log line ever carries
// a private key, in any encoding.
func TestCallTokenSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := startCT(t, servertest.Options{Logger: log})
	var bodies []string
	keep := func(r *resp) *resp { bodies = append(bodies, string(r.Raw)+fmt.Sprint(r.Header)); return r }
	auth := e.newToken("/v3", uid1)
	tok := str(keep(e.mint("/v3", auth, "room")).data(t), "token")
	keep(e.check("/v3", tok, nil))
	keep(e.check("/v3", tok+"x", nil))
	keep(e.do("GET", "/v3/signing_keys", e.rest(), nil))
	first := e.signer(e.srv.AppID, nil).Key
	keep(e.do("POST", "/v3/signing_keys/rotate", e.rest(), nil))
	keep(e.do("GET", "/v3/signing_keys", e.rest(), nil))
	keep(do(t, e.srv.URL, "GET", "/.well-known/jwks.json", nil, nil))
	keep(e.mint("/v3", auth, "room"))
	keep(do(t, e.srv.URL, "GET", "/metrics", nil, nil))

	keys, err := e.srv.Store.ListSigningKeys(context.Background(), e.srv.AppID)
	if err != nil || len(keys) < 2 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	var secrets []string
	for _, k := range []ed25519.PrivateKey{first, e.signer(e.srv.AppID, nil).Key} {
		seed := k.Seed()
		secrets = append(secrets, hex.EncodeToString(seed), base64.StdEncoding.EncodeToString(seed),
			base64.RawURLEncoding.EncodeToString(seed), base64.StdEncoding.EncodeToString(k),
			base64.RawURLEncoding.EncodeToString(k), hex.EncodeToString(k), string(seed))
	}
	e.srv.Stop()
	all := logs.String() + strings.Join(bodies, "\n")
	if !strings.Contains(logs.String(), "signing key rotated") {
		t.Errorf("the rotation was not logged: %s", logs.String())
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Fatalf("a private key (%s…) appears in a response or the log", s[:8])
		}
	}
}

// TestCallTokenMasterKey: with a master key the private keys are
// encrypted at rest — their bytes appear nowhere in the database files —
// and without one they are stored raw (the control that proves the
// search works).
func TestCallTokenMasterKey(t *testing.T) {
	t.Parallel()
	kr, err := signing.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		kr      *signing.Keyring
		inFiles bool
	}{
		{"encrypted", kr, false},
		{"raw", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startCT(t, servertest.Options{Config: server.Config{MasterKey: tc.kr}})
			auth := e.newToken("/v3", uid1)
			tok := e.mintOK("/v3", auth, "room")
			e.wantCT(t, tok, "")
			seeds := [][]byte{e.signer(e.srv.AppID, tc.kr).Key.Seed()}
			e.do("POST", "/v3/signing_keys/rotate", e.rest(), nil).data(t)
			e.wantCT(t, e.mintOK("/v3", auth, "room"), "")
			e.wantCT(t, tok, "")

			ctx := context.Background()
			keys, _ := e.srv.Store.ListSigningKeys(ctx, e.srv.AppID)
			act, err := e.srv.Store.ActiveSigningKey(ctx, e.srv.AppID)
			if err != nil {
				t.Fatal(err)
			}
			if signing.Encrypted(act.Private) != (tc.kr != nil) {
				t.Errorf("stored key encrypted = %v, want %v", signing.Encrypted(act.Private), tc.kr != nil)
			}
			if _, err := signing.Open(act, nil); tc.kr != nil && err == nil {
				t.Error("an encrypted key opened without the master key")
			}
			wrong, _ := signing.NewKeyring([]byte("fedcba9876543210fedcba9876543210"))
			if _, err := signing.Open(act, wrong); tc.kr != nil && err == nil {
				t.Error("an encrypted key opened with the wrong master key")
			}
			sg, err := signing.Open(act, tc.kr)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, sg.Key.Seed())
			if len(keys) < 2 {
				t.Fatalf("%d keys", len(keys))
			}
			e.srv.Stop() // flush and close the database
			var files []byte
			for _, sfx := range []string{"", "-wal", "-shm"} {
				p := filepath.Join(e.srv.DataDir, sqlite.FileName+sfx)
				b, err := os.ReadFile(p)
				if err == nil {
					files = append(files, b...)
					if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
						t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
					}
				}
			}
			for _, seed := range seeds {
				if got := strings.Contains(string(files), string(seed)); got != tc.inFiles {
					t.Errorf("private key bytes in the database files: %v, want %v", got, tc.inFiles)
				}
			}
		})
	}
}

func TestCallTokenMasterKeyPostgres(t *testing.T) {
	t.Parallel()
	kr, _ := signing.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	e := startCT(t, servertest.Options{Postgres: true, Config: server.Config{MasterKey: kr}})
	auth := e.newToken("/v3", uid1)
	e.wantCT(t, e.mintOK("/v3", auth, "room"), "")
	act, err := e.srv.Store.ActiveSigningKey(context.Background(), e.srv.AppID)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signing.Open(act, kr)
	if err != nil {
		t.Fatal(err)
	}
	if !signing.Encrypted(act.Private) || strings.Contains(string(act.Private), string(sg.Key.Seed())) {
		t.Error("the stored private key is not encrypted")
	}
}

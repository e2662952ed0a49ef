package calltoken_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callgate/callgate/calltoken"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// key is a signing key with its kid.
type key struct {
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newKey(t testing.TB) key {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(pub)
	return key{kid: hex.EncodeToString(h[:8]), priv: priv, pub: pub}
}

// jwksServer serves a key set and counts the fetches.
type jwksServer struct {
	*httptest.Server
	mu           sync.Mutex
	keys         []calltoken.JWK
	extra        []any // raw entries (other kinds of keys)
	cacheControl string
	status       int
	body         string // served as is when set
	etag         string
	fetches      int
	notModified  int
}

func newJWKSServer(t testing.TB, keys ...key) *jwksServer {
	s := &jwksServer{cacheControl: "public, max-age=300", status: 200}
	for _, k := range keys {
		s.keys = append(s.keys, calltoken.PublicJWK(k.kid, k.pub))
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fetches++
		if s.cacheControl != "" {
			w.Header().Set("Cache-Control", s.cacheControl)
		}
		if s.etag != "" {
			w.Header().Set("ETag", s.etag)
			if r.Header.Get("If-None-Match") == s.etag {
				s.notModified++
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		if s.body != "" {
			fmt.Fprint(w, s.body)
			return
		}
		entries := []any{}
		for _, k := range s.keys {
			entries = append(entries, k)
		}
		entries = append(entries, s.extra...)
		json.NewEncoder(w).Encode(map[string]any{"keys": entries})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) url() string { return s.URL + "/.well-known/jwks.json" }

func (s *jwksServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func claimsAt(now time.Time) *calltoken.Claims {
	return &calltoken.Claims{
		Issuer: "https://callgate.example", Subject: "alice", AppID: "app1", SessionID: "room-1", Name: "Alice",
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Hour), ID: "jti-1", TokenID: "tok_1",
		Grants: calltoken.Grants{Join: true, PublishAudio: true, PublishVideo: true, ScreenShare: true},
	}
}

func sign(t testing.TB, k key, c *calltoken.Claims) string {
	t.Helper()
	tok, err := calltoken.Sign(k.priv, k.kid, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signMap signs arbitrary claims with any method (for the attacks).
func signMap(t testing.TB, m jwt.SigningMethod, kid string, claims jwt.MapClaims, keyArg any) string {
	t.Helper()
	tk := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tk.Header["kid"] = kid
	}
	s, err := tk.SignedString(keyArg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k, other := newKey(t), newKey(t)
	srv := newJWKSServer(t, k)
	good := sign(t, k, claimsAt(now))
	parts := strings.Split(good, ".")
	mapClaims := func() jwt.MapClaims {
		return jwt.MapClaims{"aud": calltoken.Audience, "sub": "alice", "app": "app1", "sid": "room-1",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "tid": "tok_1"}
	}
	mod := func(f func(c *calltoken.Claims)) string {
		c := claimsAt(now)
		f(c)
		return sign(t, k, c)
	}
	flipLast := func(s string) string {
		b := []byte(s)
		if b[len(b)-1] == 'A' {
			b[len(b)-1] = 'Q'
		} else {
			b[len(b)-1] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		opts  []calltoken.Option
		want  error // nil: valid
	}{
		{"good", good, nil, nil},
		{"good, its app", good, []calltoken.Option{calltoken.WithAppID("app1")}, nil},
		{"good, its issuer", good, []calltoken.Option{calltoken.WithIssuer("https://callgate.example")}, nil},
		{"another app", good, []calltoken.Option{calltoken.WithAppID("app2")}, calltoken.ErrInvalid},
		{"another issuer", good, []calltoken.Option{calltoken.WithIssuer("https://evil.example")}, calltoken.ErrInvalid},
		{"tampered claims", parts[0] + "." + b64(map[string]any{"aud": calltoken.Audience, "sub": "mallory", "app": "app1", "sid": "room-1", "exp": now.Add(time.Hour).Unix()}) + "." + parts[2], nil, calltoken.ErrInvalid},
		{"tampered header", b64(map[string]any{"alg": "EdDSA", "kid": k.kid, "x": 1}) + "." + parts[1] + "." + parts[2], nil, calltoken.ErrInvalid},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2][:40]) + parts[2][40:], nil, calltoken.ErrInvalid},
		{"signature's unused bits", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), nil, calltoken.ErrInvalid},
		{"signed by another key under this kid", sign(t, key{kid: k.kid, priv: other.priv}, claimsAt(now)), nil, calltoken.ErrInvalid},
		{"unknown kid", sign(t, other, claimsAt(now)), nil, calltoken.ErrUnknownKey},
		{"no kid", signMap(t, jwt.SigningMethodEdDSA, "", mapClaims(), k.priv), nil, calltoken.ErrInvalid},
		{"expired", mod(func(c *calltoken.Claims) { c.IssuedAt, c.ExpiresAt = now.Add(-2*time.Hour), now.Add(-time.Hour) }), nil, calltoken.ErrExpired},
		{"expired within the leeway", mod(func(c *calltoken.Claims) { c.ExpiresAt = now.Add(-20 * time.Second) }), nil, nil},
		{"expired beyond a smaller leeway", mod(func(c *calltoken.Claims) { c.ExpiresAt = now.Add(-20 * time.Second) }), []calltoken.Option{calltoken.WithLeeway(5 * time.Second)}, calltoken.ErrExpired},
		{"expired and another app", mod(func(c *calltoken.Claims) { c.ExpiresAt = now.Add(-time.Hour) }), []calltoken.Option{calltoken.WithAppID("app2")}, calltoken.ErrInvalid},
		{"not yet valid", mod(func(c *calltoken.Claims) { c.NotBefore = now.Add(5 * time.Minute) }), nil, calltoken.ErrInvalid},
		{"issued in the future", mod(func(c *calltoken.Claims) { c.IssuedAt = now.Add(5 * time.Minute) }), nil, calltoken.ErrInvalid},
		{"wrong audience", mod(func(c *calltoken.Claims) { c.Audience = "callgate:other" }), nil, calltoken.ErrInvalid},
		{"audience list with ours", signMap(t, jwt.SigningMethodEdDSA, k.kid, func() jwt.MapClaims { m := mapClaims(); m["aud"] = []string{"x", calltoken.Audience}; return m }(), k.priv), nil, nil},
		{"no audience", signMap(t, jwt.SigningMethodEdDSA, k.kid, func() jwt.MapClaims { m := mapClaims(); delete(m, "aud"); return m }(), k.priv), nil, calltoken.ErrInvalid},
		{"no exp", signMap(t, jwt.SigningMethodEdDSA, k.kid, func() jwt.MapClaims { m := mapClaims(); delete(m, "exp"); return m }(), k.priv), nil, calltoken.ErrInvalid},
		{"exp not a number", signMap(t, jwt.SigningMethodEdDSA, k.kid, func() jwt.MapClaims { m := mapClaims(); m["exp"] = "tomorrow"; return m }(), k.priv), nil, calltoken.ErrInvalid},
		{"no sub", signMap(t, jwt.SigningMethodEdDSA, k.kid, func() jwt.MapClaims { m := mapClaims(); delete(m, "sub"); return m }(), k.priv), nil, calltoken.ErrInvalid},
		{"no app", signMap(t, jwt.SigningMethodEdDSA, k.kid, func() jwt.MapClaims { m := mapClaims(); delete(m, "app"); return m }(), k.priv), nil, calltoken.ErrInvalid},
		{"no sid", signMap(t, jwt.SigningMethodEdDSA, k.kid, func() jwt.MapClaims { m := mapClaims(); delete(m, "sid"); return m }(), k.priv), nil, calltoken.ErrInvalid},
		{"alg none", signMap(t, jwt.SigningMethodNone, k.kid, mapClaims(), jwt.UnsafeAllowNoneSignatureType), nil, calltoken.ErrInvalid},
		{"alg none, no signature at all", b64(map[string]any{"alg": "none", "kid": k.kid}) + "." + parts[1] + ".", nil, calltoken.ErrInvalid},
		{"HS256 keyed with the public key", signMap(t, jwt.SigningMethodHS256, k.kid, mapClaims(), []byte(k.pub)), nil, calltoken.ErrInvalid},
		{"HS256 keyed with the JWK's x", signMap(t, jwt.SigningMethodHS256, k.kid, mapClaims(), []byte(base64.RawURLEncoding.EncodeToString(k.pub))), nil, calltoken.ErrInvalid},
		{"alg EdDSA in lower case", b64(map[string]any{"alg": "eddsa", "kid": k.kid}) + "." + parts[1] + "." + parts[2], nil, calltoken.ErrInvalid},
		{"empty", "", nil, calltoken.ErrInvalid},
		{"garbage", "garbage", nil, calltoken.ErrInvalid},
		{"two segments", parts[0] + "." + parts[1], nil, calltoken.ErrInvalid},
		{"padding", good + "=", nil, calltoken.ErrInvalid},
		{"too long", good + strings.Repeat("A", calltoken.MaxTokenSize), nil, calltoken.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]calltoken.Option{calltoken.WithClock(clk.Now)}, tc.opts...)
			v := calltoken.NewVerifier(srv.url(), opts...)
			c, err := v.Verify(context.Background(), tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.UID != "alice" || c.Subject != "alice" || c.AppID != "app1" || c.SessionID != "room-1" || c.KeyID != k.kid {
					t.Errorf("claims %+v", c)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			var ce *calltoken.Error
			if !errors.As(err, &ce) || ce.Error() == "" {
				t.Errorf("error %T is not a *calltoken.Error", err)
			}
			// The kinds do not overlap, but an unknown key is invalid.
			if errors.Is(err, calltoken.ErrExpired) == errors.Is(err, calltoken.ErrInvalid) {
				t.Errorf("%v is both or neither of ErrExpired and ErrInvalid", err)
			}
			if errors.Is(err, calltoken.ErrKeysUnavailable) {
				t.Errorf("%v blames the key set", err)
			}
		})
	}
}

func TestClaims(t *testing.T) {
	clk := newClock()
	k := newKey(t)
	srv := newJWKSServer(t, k)
	in := claimsAt(clk.Now())
	in.Grants.Moderator = true
	tok := sign(t, k, in)
	c, err := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now)).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := *in
	want.Audience, want.UID, want.KeyID = calltoken.Audience, "alice", k.kid
	if !c.IssuedAt.Equal(want.IssuedAt) || !c.NotBefore.Equal(want.NotBefore) || !c.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("times %v %v %v, want %v %v %v", c.IssuedAt, c.NotBefore, c.ExpiresAt, want.IssuedAt, want.NotBefore, want.ExpiresAt)
	}
	c.IssuedAt, c.NotBefore, c.ExpiresAt = want.IssuedAt, want.NotBefore, want.ExpiresAt
	if *c != want {
		t.Errorf("claims\n got %+v\nwant %+v", *c, want)
	}
	// The JSON form is the token's claims.
	b, _ := json.Marshal(c)
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, f := range []string{"iss", "aud", "sub", "app", "sid", "name", "iat", "nbf", "exp", "jti", "grants", "tid"} {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON lacks %s: %s", f, b)
		}
	}
	if len(m) != 12 || m["aud"] != calltoken.Audience || m["exp"] != float64(clk.Now().Add(time.Hour).Unix()) {
		t.Errorf("JSON %s", b)
	}
	var back calltoken.Claims
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.KeyID = c.KeyID
	if !back.ExpiresAt.Equal(c.ExpiresAt) || back.UID != c.UID || back.Grants != c.Grants || back.TokenID != c.TokenID {
		t.Errorf("round trip %+v, want %+v", back, c)
	}
	if _, err := calltoken.Sign(ed25519.PrivateKey("short"), "k", in); err == nil {
		t.Error("Sign took a bad key")
	}
}

// TestRefetch: a token with an unknown kid makes the Verifier refetch, but
// never sooner than the floor after the previous fetch.
func TestRefetch(t *testing.T) {
	clk := newClock()
	k1, k2 := newKey(t), newKey(t)
	srv := newJWKSServer(t, k1)
	v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now), calltoken.WithMinRefetchInterval(30*time.Second))
	ctx := context.Background()
	verify := func(k key) error {
		_, err := v.Verify(ctx, sign(t, k, claimsAt(clk.Now())))
		return err
	}
	if srv.count() != 0 {
		t.Fatal("fetched before first use")
	}
	if err := verify(k1); err != nil {
		t.Fatal(err)
	}
	if srv.count() != 1 {
		t.Fatalf("%d fetches after first use, want 1", srv.count())
	}
	// The server gains k2 (a rotation). Right after the last fetch, the
	// floor forbids a refetch: k2's tokens are unknown for now.
	srv.set(func(s *jwksServer) { s.keys = append(s.keys, calltoken.PublicJWK(k2.kid, k2.pub)) })
	clk.Add(10 * time.Second)
	if err := verify(k2); !errors.Is(err, calltoken.ErrUnknownKey) || !errors.Is(err, calltoken.ErrInvalid) {
		t.Fatalf("within the floor: %v, want ErrUnknownKey", err)
	}
	if srv.count() != 1 {
		t.Fatalf("refetched within the floor (%d fetches)", srv.count())
	}
	// Known keys are served from the cache meanwhile.
	for range 10 {
		if err := verify(k1); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(21 * time.Second)
	if err := verify(k2); err != nil {
		t.Fatalf("after the floor: %v", err)
	}
	if srv.count() != 2 {
		t.Fatalf("%d fetches, want 2", srv.count())
	}
	// Kid spraying: made-up kids cost at most one fetch per floor.
	for i := range 200 {
		bogus := newKey(t)
		bogus.kid = fmt.Sprintf("spray-%d", i)
		if err := verify(bogus); !errors.Is(err, calltoken.ErrUnknownKey) {
			t.Fatalf("spray %d: %v", i, err)
		}
		if i == 100 {
			clk.Add(31 * time.Second)
		}
	}
	if srv.count() != 3 {
		t.Errorf("200 made-up kids over two floors made %d fetches, want 3", srv.count())
	}
	if v.Fetches() != srv.count() {
		t.Errorf("Fetches() = %d, server saw %d", v.Fetches(), srv.count())
	}
}

// TestCacheControl: the key set is refetched when its max-age runs out.
func TestCacheControl(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		name  string
		cc    string
		steps []struct {
			advance time.Duration
			fetches int
		}
	}{
		{"max-age=60", "public, max-age=60", []struct {
			advance time.Duration
			fetches int
		}{{0, 1}, {59 * time.Second, 1}, {2 * time.Second, 2}, {59 * time.Second, 2}, {2 * time.Second, 3}}},
		{"no header: 5 minutes", "", []struct {
			advance time.Duration
			fetches int
		}{{0, 1}, {4 * time.Minute, 1}, {61 * time.Second, 2}}},
		{"no-store: the floor still holds", "no-store", []struct {
			advance time.Duration
			fetches int
		}{{0, 1}, {10 * time.Second, 1}, {21 * time.Second, 2}, {time.Second, 2}}},
		{"max-age=0", "max-age=0", []struct {
			advance time.Duration
			fetches int
		}{{0, 1}, {29 * time.Second, 1}, {time.Second, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			srv := newJWKSServer(t, k)
			srv.cacheControl = tc.cc
			v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
			for i, st := range tc.steps {
				clk.Add(st.advance)
				if _, err := v.Verify(context.Background(), sign(t, k, claimsAt(clk.Now()))); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if srv.count() != st.fetches {
					t.Fatalf("step %d (+%v): %d fetches, want %d", i, st.advance, srv.count(), st.fetches)
				}
			}
		})
	}
}

func TestETag(t *testing.T) {
	clk := newClock()
	k := newKey(t)
	srv := newJWKSServer(t, k)
	srv.etag, srv.cacheControl = `"v1"`, "max-age=60"
	v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
	tok := sign(t, k, claimsAt(clk.Now()))
	for range 3 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		clk.Add(61 * time.Second)
	}
	if srv.count() != 3 || srv.notModified != 2 {
		t.Errorf("%d fetches, %d not modified; want 3 and 2", srv.count(), srv.notModified)
	}
}

// TestFetchFailures: a key set that cannot be fetched is ErrKeysUnavailable
// (not the token's fault); once fetched, keys outlive a failing server.
func TestFetchFailures(t *testing.T) {
	k := newKey(t)
	ctx := context.Background()
	t.Run("server errors", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			edit func(s *jwksServer)
		}{
			{"500", func(s *jwksServer) { s.status = 500 }},
			{"not JSON", func(s *jwksServer) { s.body = "<html>" }},
			{"no keys member", func(s *jwksServer) { s.body = `{"other":[]}` }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clk := newClock()
				srv := newJWKSServer(t, k)
				tc.edit(srv)
				v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
				_, err := v.Verify(ctx, sign(t, k, claimsAt(clk.Now())))
				if !errors.Is(err, calltoken.ErrKeysUnavailable) || errors.Is(err, calltoken.ErrInvalid) {
					t.Fatalf("Verify = %v, want ErrKeysUnavailable only", err)
				}
				// Failures count against the floor too: no hammering.
				v.Verify(ctx, sign(t, k, claimsAt(clk.Now())))
				if srv.count() != 1 {
					t.Errorf("%d fetches after two failing verifications, want 1", srv.count())
				}
				srv.set(func(s *jwksServer) { s.status, s.body = 200, "" })
				clk.Add(31 * time.Second)
				if _, err := v.Verify(ctx, sign(t, k, claimsAt(clk.Now()))); err != nil {
					t.Errorf("after the server recovered: %v", err)
				}
			})
		}
	})
	t.Run("stale keys outlive an outage", func(t *testing.T) {
		clk := newClock()
		srv := newJWKSServer(t, k)
		srv.cacheControl = "max-age=60"
		v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
		if _, err := v.Verify(ctx, sign(t, k, claimsAt(clk.Now()))); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		clk.Add(10 * time.Minute)
		if _, err := v.Verify(ctx, sign(t, k, claimsAt(clk.Now()))); err != nil {
			t.Errorf("known key while the server is down: %v", err)
		}
		_, err := v.Verify(ctx, sign(t, newKey(t), claimsAt(clk.Now())))
		if !errors.Is(err, calltoken.ErrKeysUnavailable) && !errors.Is(err, calltoken.ErrUnknownKey) {
			t.Errorf("unknown key while the server is down: %v", err)
		}
	})
	t.Run("bad URL", func(t *testing.T) {
		for _, u := range []string{"", "not a url", "ftp://x/jwks", "/relative"} {
			_, err := calltoken.NewVerifier(u).Verify(ctx, sign(t, k, claimsAt(time.Now())))
			if !errors.Is(err, calltoken.ErrKeysUnavailable) {
				t.Errorf("NewVerifier(%q).Verify = %v, want ErrKeysUnavailable", u, err)
			}
		}
	})
	t.Run("canceled context does not count", func(t *testing.T) {
		clk := newClock()
		srv := newJWKSServer(t, k)
		v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := v.Verify(cctx, sign(t, k, claimsAt(clk.Now()))); !errors.Is(err, calltoken.ErrKeysUnavailable) {
			t.Fatalf("canceled: %v", err)
		}
		if _, err := v.Verify(ctx, sign(t, k, claimsAt(clk.Now()))); err != nil {
			t.Errorf("right after a canceled fetch: %v", err)
		}
	})
}

func TestKeySetParsing(t *testing.T) {
	clk := newClock()
	k, dup := newKey(t), newKey(t)
	srv := newJWKSServer(t, k, dup)
	// Keys we do not use are skipped, not fatal; two different keys under
	// one kid are both dropped.
	clash := newKey(t)
	clash.kid = dup.kid
	srv.keys = append(srv.keys, calltoken.PublicJWK(clash.kid, clash.pub))
	srv.extra = []any{
		map[string]any{"kty": "RSA", "kid": "rsa", "n": "xx", "e": "AQAB"},
		map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x", "x": base64.RawURLEncoding.EncodeToString(k.pub)},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": base64.RawURLEncoding.EncodeToString(k.pub)},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "short", "x": "AAAA"},
		"not an object",
	}
	v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
	if _, err := v.Verify(context.Background(), sign(t, k, claimsAt(clk.Now()))); err != nil {
		t.Fatalf("good key among others: %v", err)
	}
	for _, bad := range []key{dup, clash, {kid: "enc", priv: k.priv}, {kid: "x", priv: k.priv}} {
		if _, err := v.Verify(context.Background(), sign(t, bad, claimsAt(clk.Now()))); !errors.Is(err, calltoken.ErrInvalid) {
			t.Errorf("kid %s: %v, want invalid", bad.kid, err)
		}
	}
	if j := calltoken.PublicJWK("kid", k.pub); j.Kty != "OKP" || j.Crv != "Ed25519" || j.Use != "sig" || j.Alg != "EdDSA" {
		t.Errorf("PublicJWK %+v", j)
	}
}

// TestRotationOverlap: during a rotation the key set holds both keys and
// tokens of both verify; once the old key leaves the set its tokens do not.
func TestRotationOverlap(t *testing.T) {
	clk := newClock()
	oldK, newK := newKey(t), newKey(t)
	srv := newJWKSServer(t, oldK)
	srv.cacheControl = "max-age=60"
	v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
	ctx := context.Background()
	oldTok := sign(t, oldK, claimsAt(clk.Now()))
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatal(err)
	}
	srv.set(func(s *jwksServer) { s.keys = append(s.keys, calltoken.PublicJWK(newK.kid, newK.pub)) })
	clk.Add(40 * time.Second)
	newTok := sign(t, newK, claimsAt(clk.Now()))
	for _, tok := range []string{newTok, oldTok} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("during the overlap: %v", err)
		}
	}
	srv.set(func(s *jwksServer) { s.keys = s.keys[1:] })
	clk.Add(61 * time.Second) // the cache expires
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("new token after the overlap: %v", err)
	}
	if _, err := v.Verify(ctx, oldTok); !errors.Is(err, calltoken.ErrUnknownKey) {
		t.Errorf("old token after its key left: %v, want ErrUnknownKey", err)
	}
}

// TestConcurrentFirstUse: many verifications racing on a cold Verifier
// fetch the key set once.
func TestConcurrentFirstUse(t *testing.T) {
	clk := newClock()
	k := newKey(t)
	srv := newJWKSServer(t, k)
	v := calltoken.NewVerifier(srv.url(), calltoken.WithClock(clk.Now))
	tok := sign(t, k, claimsAt(clk.Now()))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if srv.count() != 1 {
		t.Errorf("%d fetches, want 1", srv.count())
	}
}

func TestParseWithOwnKeys(t *testing.T) {
	k := newKey(t)
	now := time.Now()
	tok := sign(t, k, claimsAt(now))
	keys := func(kid string) (ed25519.PublicKey, error) {
		if kid == k.kid {
			return k.pub, nil
		}
		return nil, &calltoken.Error{Kind: calltoken.ErrUnknownKey}
	}
	if c, err := calltoken.Parse(tok, keys, calltoken.WithAppID("app1")); err != nil || c.SessionID != "room-1" {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
	if _, err := calltoken.Parse(sign(t, newKey(t), claimsAt(now)), keys); !errors.Is(err, calltoken.ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	later := func() time.Time { return now.Add(2 * time.Hour) }
	if _, err := calltoken.Parse(tok, keys, calltoken.WithClock(later)); !errors.Is(err, calltoken.ErrExpired) {
		t.Errorf("later: %v", err)
	}
}

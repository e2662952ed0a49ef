package calltoken

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Fuzz targets of what a verifier reads from outside: call tokens and the
// key set it fetches. docs/fuzzing.md says how to run them.

var (
	fuzzPriv = ed25519.NewKeyFromSeed(func() []byte { s := sha256.Sum256([]byte("calltoken fuzz key")); return s[:] }())
	fuzzPub  = fuzzPriv.Public().(ed25519.PublicKey)
	fuzzNow  = time.Unix(1_800_000_000, 0)
)

const fuzzKID = "k1"

func fuzzKeys(kid string) (ed25519.PublicKey, error) {
	if kid == fuzzKID {
		return fuzzPub, nil
	}
	return nil, &Error{Kind: ErrUnknownKey, Reason: "no key " + quote(kid)}
}

// rawToken signs header.payload (JSON, encoded here) with the fuzz key.
func rawToken(header, payload string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	return in + "." + enc.EncodeToString(ed25519.Sign(fuzzPriv, []byte(in)))
}

// FuzzParse: Parse with a fixed key never panics; it fails with an *Error
// of a known kind, or returns claims of a token that is exactly what was
// signed: three segments of unpadded base64url in the one encoding of
// their bytes (no other spelling of the same signature passes), an EdDSA
// signature of the first two by the key its kid names, aud callgate:call,
// sub, app and sid set, the app asked for, and an exp not past (with the
// leeway).
func FuzzParse(f *testing.F) {
	claims := func(mod func(*Claims)) *Claims {
		c := &Claims{Issuer: "https://cg.example.com", Subject: "u1", AppID: "app1", SessionID: "s1", Name: "U",
			IssuedAt: fuzzNow.Add(-time.Minute), NotBefore: fuzzNow.Add(-time.Minute), ExpiresAt: fuzzNow.Add(time.Hour),
			ID: "j1", Grants: Grants{Join: true}, TokenID: "tok_1"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(kid string, c *Claims) string {
		tok, err := Sign(fuzzPriv, kid, c)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	valid := sign(fuzzKID, claims(nil))
	for _, s := range []string{
		valid,
		sign(fuzzKID, claims(func(c *Claims) { c.AppID = "app2" })),
		sign(fuzzKID, claims(func(c *Claims) { c.ExpiresAt = fuzzNow.Add(-time.Hour) })),
		sign(fuzzKID, claims(func(c *Claims) { c.NotBefore = fuzzNow.Add(time.Hour) })),
		sign(fuzzKID, claims(func(c *Claims) { c.SessionID = "" })),
		sign("k2", claims(nil)),
		sign("", claims(nil)),
		rawToken(`{"alg":"EdDSA","kid":"k1"}`, `{"aud":["x","callgate:call"],"sub":"u","app":"app1","sid":"s","exp":1800003600.5}`),
		rawToken(`{"alg":"EdDSA","kid":"k1"}`, `{"aud":"callgate:call","sub":"u","app":"app1","sid":"s"}`),
		rawToken(`{"alg":"none","kid":"k1"}`, `{"aud":"callgate:call","sub":"u","app":"app1","sid":"s","exp":1900000000}`),
		rawToken(`{"alg":"EdDSA","kid":5}`, `{}`),
		rawToken(`{"alg":"EdDSA","kid":"k1","crit":["x"]}`, `{"aud":"callgate:call","sub":"u","app":"app1","sid":"s","exp":1900000000}`),
		strings.TrimRight(valid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") + "==",
		valid + "=",
		valid + ".",
		valid[:len(valid)-20] + "\n" + valid[len(valid)-20:], // verified: base64 skips CR and LF
		valid[:len(valid)-20] + "\r" + valid[len(valid)-20:],
		valid + "\n",
		strings.Replace(valid, ".", "..", 1),
		"a.b.c", "", ".", "..", "e30.e30.", strings.Repeat("A", MaxTokenSize+1),
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, token string, wantApp bool) {
		opts := []Option{WithClock(func() time.Time { return fuzzNow })}
		if wantApp {
			opts = append(opts, WithAppID("app1"))
		}
		c, err := Parse(token, fuzzKeys, opts...)
		if err != nil {
			var e *Error
			if c != nil || !errors.As(err, &e) || !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) {
				t.Fatalf("Parse(%q) = %v, %T %v", token, c, err, err)
			}
			return
		}
		seg := strings.Split(token, ".")
		if len(seg) != 3 {
			t.Fatalf("accepted %q: %d segments", token, len(seg))
		}
		var raw [3][]byte
		for i, s := range seg {
			b, err := base64.RawURLEncoding.Strict().DecodeString(s)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != s {
				t.Fatalf("accepted %q: segment %d %q is not the base64url encoding of its bytes", token, i, s)
			}
			raw[i] = b
		}
		if !ed25519.Verify(fuzzPub, []byte(seg[0]+"."+seg[1]), raw[2]) {
			t.Fatalf("accepted %q: not signed by the key", token)
		}
		var h struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
		}
		if json.Unmarshal(raw[0], &h) != nil || h.Alg != Algorithm || h.Kid != fuzzKID || c.KeyID != fuzzKID {
			t.Fatalf("accepted %q: header %s, kid %q", token, raw[0], c.KeyID)
		}
		if c.Subject == "" || c.UID != c.Subject || c.AppID == "" || c.SessionID == "" || c.Audience != Audience ||
			wantApp && c.AppID != "app1" || c.ExpiresAt.IsZero() || !c.ExpiresAt.Add(DefaultLeeway).After(fuzzNow) {
			t.Fatalf("accepted %q with claims %+v", token, c)
		}
		if !bytes.Contains(raw[1], []byte(Audience)) {
			t.Fatalf("accepted %q without its audience: %s", token, raw[1])
		}
	})
}

// FuzzKeySet: a key set as a Verifier fetches it, and the Cache-Control
// that says how long to use it. Every key read is an Ed25519 public key
// that an OKP/Ed25519 signing entry of the set gave under its kid, no kid
// that two different keys claim survives, and the cache time is between 0
// and 24 hours.
func FuzzKeySet(f *testing.F) {
	jwk := func(kid string, pub ed25519.PublicKey) string {
		b, _ := json.Marshal(PublicJWK(kid, pub))
		return string(b)
	}
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	for _, s := range [][2]string{
		{`{"keys":[` + jwk("k1", fuzzPub) + `]}`, "public, max-age=300"},
		{`{"keys":[` + jwk("k1", fuzzPub) + `,` + jwk("k1", other) + `,` + jwk("k2", other) + `]}`, "max-age=\"60\""},
		{`{"keys":[` + jwk("k1", fuzzPub) + `,` + jwk("k1", fuzzPub) + `]}`, "no-store"},
		{`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"short"},{"kty":"RSA","kid":"r","n":"x","e":"AQAB"}]}`, "max-age=-1"},
		{`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"p","x":"` + base64.URLEncoding.EncodeToString(fuzzPub) + `","use":"enc"}]}`, "max-age=99999999999999999999"},
		{`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","alg":"ES256","x":"` + base64.RawURLEncoding.EncodeToString(fuzzPub) + `"}]}`, "max-age=100000"},
		{`{"keys":null}`, ""}, {`{"keys":{}}`, "MAX-AGE=5, no-cache"}, {`[]`, ","}, {``, "max-age"},
	} {
		f.Add([]byte(s[0]), s[1])
	}
	f.Fuzz(func(t *testing.T, body []byte, cacheControl string) {
		if ttl := cacheTTL(cacheControl); ttl < 0 || ttl > maxKeySetTTL {
			t.Fatalf("cacheTTL(%q) = %v", cacheControl, ttl)
		}
		keys, ok := decodeKeySet(body)
		if !ok {
			if keys != nil {
				t.Fatalf("not a key set, yet keys %v", keys)
			}
			return
		}
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(body, &set); err != nil || set.Keys == nil {
			t.Fatalf("read %s as a key set", body)
		}
		given := map[string][]ed25519.PublicKey{} // by kid: the Ed25519 signing keys of the set
		for _, raw := range set.Keys {
			var k JWK
			if json.Unmarshal(raw, &k) != nil || k.Kid == "" || k.Kty != "OKP" || k.Crv != "Ed25519" || k.Use != "" && k.Use != "sig" || k.Alg != "" && k.Alg != Algorithm {
				continue
			}
			x, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.X, "="))
			if err == nil && len(x) == ed25519.PublicKeySize {
				given[k.Kid] = append(given[k.Kid], x)
			}
		}
		for kid, pub := range keys {
			if len(pub) != ed25519.PublicKeySize || len(given[kid]) == 0 {
				t.Fatalf("key %q = %x: not given by %s", kid, pub, body)
			}
			for _, g := range given[kid] {
				if !pub.Equal(g) {
					t.Fatalf("kid %q names two keys in %s, yet %x is trusted", kid, body, pub)
				}
			}
		}
		for kid := range given {
			if _, ok := keys[kid]; !ok && agree(given[kid]) {
				t.Fatalf("kid %q of %s was dropped", kid, body)
			}
		}
	})
}

func agree(keys []ed25519.PublicKey) bool {
	for _, k := range keys[1:] {
		if !k.Equal(keys[0]) {
			return false
		}
	}
	return true
}

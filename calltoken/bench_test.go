package calltoken_test

import (
	"context"
	"testing"
	"time"

	"github.com/callgate/callgate/calltoken"
)

// BenchmarkMint is the signing work of one call token (what POST
// /call_tokens adds to an authenticated request): claims to JSON, Ed25519
// signature, encoding.
func BenchmarkMint(b *testing.B) {
	k := newKey(b)
	c := claimsAt(time.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := calltoken.Sign(k.priv, k.kid, c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkVerify is an offline verification by a media server: a
// Verifier with its key set cached (fetched once from a JWKS server).
func BenchmarkVerify(b *testing.B) {
	k := newKey(b)
	srv := newJWKSServer(b, k)
	v := calltoken.NewVerifier(srv.url(), calltoken.WithAppID("app1"))
	tok := sign(b, k, claimsAt(time.Now()))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	if srv.count() != 1 {
		b.Fatalf("%d fetches", srv.count())
	}
}

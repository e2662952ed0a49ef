package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
)

// BenchCreateAuthToken measures token inserts into s from 64 concurrent
// callers (32 × GOMAXPROCS on two cores: the group-commit path), spread
// over 1000 users, with keys and times as the server makes them. Each
// backend's BenchmarkCreateAuthToken runs it on its own store.
func BenchCreateAuthToken(b *testing.B, s store.Store) {
	ctx := context.Background()
	app := &store.App{ID: "bench", Name: "bench", Region: "us"}
	if err := s.CreateApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	const users = 1000
	for i := range users {
		u := &store.User{AppID: app.ID, UID: fmt.Sprintf("user-%d", i), Name: "u", Role: "default"}
		if err := s.CreateUser(ctx, u, nil); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.SetParallelism(32) // ×GOMAXPROCS callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			uid := fmt.Sprintf("user-%d", n.Add(1)%users)
			now := time.Now()
			_, key := credential.NewToken(uid, now)
			t := &store.AuthToken{Hash: key, ID: credential.NewID("tok"), AppID: app.ID, UID: uid, CreatedAt: now.Unix()}
			if err := s.CreateAuthToken(ctx, t); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

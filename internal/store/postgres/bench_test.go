package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
	"github.com/callgate/callgate/internal/store/storetest"
)

// BenchmarkCreateAuthToken measures token inserts from 64 concurrent
// callers (the group-commit path, a batch per statement), spread over 1000
// users, as the SQLite benchmark of the same name does.
func BenchmarkCreateAuthToken(b *testing.B) {
	ctx := context.Background()
	s := openDSN(b, pgtest.DSN(b))
	defer s.Close()
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
			i := n.Add(1)
			uid := fmt.Sprintf("user-%d", i%users)
			now := time.Now()
			_, key := credential.NewToken(uid, now) // keys and times as the server makes them
			t := &store.AuthToken{Hash: key, ID: credential.NewID("tok"), AppID: app.ID, UID: uid, CreatedAt: now.Unix()}
			if err := s.CreateAuthToken(ctx, t); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestRevokeTiming measures RevokeAuthTokensBefore (storetest.RevokeTiming;
// skipped unless $CALLGATE_BENCH_REVOKE is set), after ANALYZE, as
// autovacuum would have run it on tables of that size.
func TestRevokeTiming(t *testing.T) {
	storetest.RevokeTiming(t, func(t *testing.T) store.Store { return openDSN(t, pgtest.DSN(t)) }, true)
}

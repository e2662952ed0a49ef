package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/storetest"
)

// BenchmarkCreateAuthToken measures durable token inserts from 64
// concurrent callers (the group-commit path), spread over 1000 users.
func BenchmarkCreateAuthToken(b *testing.B) {
	for _, d := range []string{sqlite.DurabilityNormal, sqlite.DurabilityFull} {
		b.Run(d, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "b.db"), sqlite.Options{Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchCreateAuthToken(b, s)
		})
	}
}

// TestRevokeTiming measures RevokeAuthTokensBefore (storetest.RevokeTiming;
// skipped unless $CALLGATE_BENCH_REVOKE is set). Nothing runs ANALYZE on a
// SQLite database, so neither does the measurement.
func TestRevokeTiming(t *testing.T) {
	storetest.RevokeTiming(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), sqlite.FileName), sqlite.Options{})
	}, false)
}

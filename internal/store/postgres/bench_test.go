package postgres_test

import (
	"testing"

	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
	"github.com/callgate/callgate/internal/store/storetest"
)

// BenchmarkCreateAuthToken measures token inserts from 64 concurrent
// callers (the group-commit path, a batch per statement), spread over 1000
// users, as the SQLite benchmark of the same name does.
func BenchmarkCreateAuthToken(b *testing.B) {
	s := openDSN(b, pgtest.DSN(b))
	defer s.Close()
	storetest.BenchCreateAuthToken(b, s)
}

// TestRevokeTiming measures RevokeAuthTokensBefore (storetest.RevokeTiming;
// skipped unless $CALLGATE_BENCH_REVOKE is set), after ANALYZE, as
// autovacuum would have run it on tables of that size.
func TestRevokeTiming(t *testing.T) {
	storetest.RevokeTiming(t, func(t *testing.T) store.Store { return openDSN(t, pgtest.DSN(t)) }, true)
}

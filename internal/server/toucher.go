package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// toucher writes session bookkeeping behind, in batches, instead of once
// per request: lastUsedAt stamps and what PUT /me records (device fields,
// lastActiveAt). None of it is a credential, so losing the last batch to a
// crash costs only freshness; a graceful shutdown flushes it.
type toucher struct {
	st       store.Store
	log      *slog.Logger
	mu       sync.Mutex
	pending  map[string]int64
	stamped  map[string]int64 // what this process last stamped, per token
	sessions map[string]store.SessionUpdate
	stop     chan struct{}
	done     chan struct{}
}

func newToucher(st store.Store, log *slog.Logger, every time.Duration) *toucher {
	t := &toucher{st: st, log: log, pending: map[string]int64{}, stamped: map[string]int64{}, sessions: map[string]store.SessionUpdate{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				t.flush()
			case <-t.stop:
				t.flush()
				return
			}
		}
	}()
	return t
}

// lastUsedResolution is how stale a token's lastUsedAt may be: stamping it
// on every request would turn every read into a write.
const lastUsedResolution = 60

func (t *toucher) mark(tok *store.AuthToken, now int64) {
	if now-tok.LastUsedAt < lastUsedResolution {
		return
	}
	h := string(tok.Hash)
	t.mu.Lock()
	if now-t.stamped[h] >= lastUsedResolution {
		t.pending[h] = now
		t.stamped[h] = now
	}
	t.mu.Unlock()
}

// stampedAt is when this process last stamped the token as used, or 0.
func (t *toucher) stampedAt(hash []byte) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stamped[string(hash)]
}

// session queues what PUT /me records.
func (t *toucher) session(hash []byte, su store.SessionUpdate) {
	t.mu.Lock()
	t.sessions[string(hash)] = su
	t.mu.Unlock()
}

func (t *toucher) flush() {
	t.mu.Lock()
	touches, sessions := t.pending, t.sessions
	if len(touches) == 0 && len(sessions) == 0 {
		t.mu.Unlock()
		return
	}
	t.pending, t.sessions = map[string]int64{}, map[string]store.SessionUpdate{}
	if len(t.stamped) > 200_000 {
		clear(t.stamped) // bounded; forgetting only means one extra stamp
	}
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := t.st.StartSessions(ctx, sessions); err != nil {
		t.log.Warn("recording session starts failed", "sessions", len(sessions), "err", err)
	}
	if err := t.st.TouchAuthTokens(ctx, touches); err != nil {
		t.log.Warn("recording token use failed", "tokens", len(touches), "err", err)
	}
}

func (t *toucher) close() {
	close(t.stop)
	<-t.done
}

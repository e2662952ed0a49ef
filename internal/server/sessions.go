package server

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// sessionCache is a bounded cache of validated tokens keyed by token hash, so
// GET /me and every client API call skip the database. Entries are dropped
// on every revocation this node performs and age out after ttl, which bounds
// how long a revocation made on another node can go unseen.
type sessionCache struct {
	st  store.Store
	max int
	ttl time.Duration
	now func() time.Time

	mu     sync.RWMutex
	gen    uint64 // bumped by every invalidation
	m      map[string]sessEntry
	byUser map[string]map[string]struct{} // appID/uid → hashes
}

type sessEntry struct {
	tok  store.AuthToken
	user store.User
	at   time.Time
}

func newSessionCache(st store.Store, max int, ttl time.Duration, now func() time.Time) *sessionCache {
	return &sessionCache{st: st, max: max, ttl: ttl, now: now, m: map[string]sessEntry{}, byUser: map[string]map[string]struct{}{}}
}

func userKey(appID, uid string) string { return appID + "/" + uid }

// get returns copies, so callers may not disturb the cache.
func (c *sessionCache) get(ctx context.Context, hash []byte) (*store.AuthToken, *store.User, error) {
	if c.max > 0 {
		c.mu.RLock()
		e, ok := c.m[string(hash)]
		c.mu.RUnlock()
		if ok && c.now().Sub(e.at) < c.ttl {
			tok, user := e.tok, e.user
			return &tok, &user, nil
		}
	}
	c.mu.RLock()
	gen := c.gen
	c.mu.RUnlock()
	tok, user, err := c.st.GetSession(ctx, hash)
	if err != nil || c.max <= 0 {
		return tok, user, err
	}
	c.mu.Lock()
	if c.gen != gen {
		// A revocation ran while we read: what we read may already be
		// dead, so answer it this once but do not cache it.
		c.mu.Unlock()
		return tok, user, nil
	}
	if len(c.m) >= c.max {
		// Drop an arbitrary tenth: map order is random, which is as good as
		// LRU for a cache whose misses cost one indexed read.
		n := c.max / 10
		for h, e := range c.m {
			c.dropLocked(h, e)
			if n--; n <= 0 {
				break
			}
		}
	}
	cached := *user
	cached.Status = "" // presence changes faster than the cache; the hub answers it
	c.m[string(hash)] = sessEntry{tok: *tok, user: cached, at: c.now()}
	k := userKey(tok.AppID, tok.UID)
	if c.byUser[k] == nil {
		c.byUser[k] = map[string]struct{}{}
	}
	c.byUser[k][string(hash)] = struct{}{}
	c.mu.Unlock()
	t, u := *tok, *user
	return &t, &u, nil
}

func (c *sessionCache) dropLocked(h string, e sessEntry) {
	c.gen++
	delete(c.m, h)
	k := userKey(e.tok.AppID, e.tok.UID)
	if set := c.byUser[k]; set != nil {
		delete(set, h)
		if len(set) == 0 {
			delete(c.byUser, k)
		}
	}
}

// forgetToken drops one token.
func (c *sessionCache) forgetToken(hash []byte) {
	c.mu.Lock()
	c.gen++
	if e, ok := c.m[string(hash)]; ok {
		c.dropLocked(string(hash), e)
	}
	c.mu.Unlock()
}

// forgetUser drops every cached token of a user (user changed, deleted,
// deactivated, tokens flushed).
func (c *sessionCache) forgetUser(appID, uid string) {
	c.mu.Lock()
	c.gen++
	for h := range c.byUser[userKey(appID, uid)] {
		c.dropLocked(h, c.m[h])
	}
	c.mu.Unlock()
}

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

// forgetHex drops one token given as a hex hash (from another node).
func (c *sessionCache) forgetHex(h string) {
	b, err := hex.DecodeString(h)
	if err == nil {
		c.forgetToken(b)
	}
}

// forgetAll empties the cache (events may have been missed).
func (c *sessionCache) forgetAll() {
	c.mu.Lock()
	c.gen++
	clear(c.m)
	clear(c.byUser)
	c.mu.Unlock()
}

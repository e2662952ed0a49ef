package server

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// ttlCache is a small map cache whose entries expire; it bounds its size by
// dropping everything when full (its entries are cheap to refetch).
type ttlCache[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time
	mu  sync.RWMutex
	m   map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

func newTTLCache[V any](ttl time.Duration, max int, now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, now: now, m: map[string]ttlEntry[V]{}}
}

func (c *ttlCache[V]) get(k string) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || c.now().Sub(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(k string, v V) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, at: c.now()}
	c.mu.Unlock()
}

func (c *ttlCache[V]) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// del drops one entry.
func (c *ttlCache[V]) del(k string) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

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
	k := store.UserKey(tok.AppID, tok.UID)
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
	k := store.UserKey(e.tok.AppID, e.tok.UID)
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
	for h := range c.byUser[store.UserKey(appID, uid)] {
		c.dropLocked(h, c.m[h])
	}
	c.mu.Unlock()
}

// forgetBefore drops the cached tokens of an app (only uid's when uid is
// not "") issued before the second before.
func (c *sessionCache) forgetBefore(appID, uid string, before int64) {
	c.mu.Lock()
	c.gen++
	if uid != "" {
		for h := range c.byUser[store.UserKey(appID, uid)] {
			if e := c.m[h]; e.tok.CreatedAt < before {
				c.dropLocked(h, e)
			}
		}
	} else {
		for h, e := range c.m {
			if e.tok.AppID == appID && e.tok.CreatedAt < before {
				c.dropLocked(h, e)
			}
		}
	}
	c.mu.Unlock()
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

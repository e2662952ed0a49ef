package realtime

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// Config tunes a Hub. Zero values take the defaults in brackets.
type Config struct {
	Node         string        // this node's id (random)
	Grace        time.Duration // offline delay after a dropped connection [5s]
	PingInterval time.Duration // [20s]
	WriteTimeout time.Duration // per message and per ping [10s]
	QueueSize    int           // messages buffered per connection [64]
	MaxPerUser   int           // live connections per user on this node [10]
	ReadLimit    int64         // largest client message [4096]
	// SendBuffer is the kernel send buffer of each connection's socket, in
	// bytes [64 KiB; Linux doubles it]; negative keeps the OS default. A
	// client that stops reading pins at most this much kernel memory
	// (autotuning would let it grow to megabytes).
	SendBuffer int
	Lease      time.Duration // node lease; a crashed node's users go offline within it [15s]
	Now        func() time.Time
	Log        *slog.Logger
	// OnRemote is called for every event from another node, before the hub
	// applies it, so the server drops cached sessions before their sockets
	// close.
	OnRemote func(Event)
}

// Hub holds this node's live connections.
type Hub struct {
	cfg  Config
	st   store.Store
	bus  Bus
	log  *slog.Logger
	seed maphash.Seed

	mu      sync.Mutex
	byToken map[string]map[*conn]struct{}
	byUser  map[string]map[*conn]struct{}
	byApp   map[string]map[*conn]struct{}
	feeds   map[string]*feed       // app → presence feed
	marked  map[string]bool        // users this node has recorded online
	grace   map[string]*graceEntry // user key → pending offline after a drop
	// drops are the tokens of a user's connections that dropped within the
	// grace period, by user key; heldBy indexes them by token hash. A
	// dropped token holds the user's presence through the grace period, and
	// revoking it ends that at once (a logout that closes its socket before
	// DELETE /me must not leave the user online for 5 s).
	drops  map[string]map[string]drop // user key → token hash → the drop
	heldBy map[string]string          // token hash → user key
	// liveDirty are the tokens whose "connected on this node" changed since
	// the last flush to the store (livetokens.go): true up, false down.
	liveDirty map[string]bool
	closed    bool
	// hbMu keeps a heartbeat and Shutdown apart: a lease renewal after
	// Shutdown removed the node would register it again and re-mark its
	// users online (serve keeps Run going until the HTTP server is done).
	hbMu sync.Mutex
	// recent remembers revocations for a minute, so a connection that
	// authenticated just before its token died, and registers just after,
	// is still told.
	recent map[string]revoked // token hash or user key → why

	listening atomic.Bool // the bus has delivered its first resync

	watchMu  sync.Mutex
	watchers atomic.Pointer[[]func(Event)] // Watch; read without a lock on every event
	// presenceWritten is ObservePresence's, set before the hub serves.
	presenceWritten func(time.Duration)

	// userLocks serialise presence changes of one user on this node
	// (striped, so users do not wait on each other).
	userLocks [4096]sync.Mutex
}

// New makes a hub. Call Run to keep its lease and hear other nodes.
func New(st store.Store, bus Bus, cfg Config) *Hub {
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 64
	}
	if cfg.MaxPerUser == 0 {
		cfg.MaxPerUser = 10
	}
	if cfg.ReadLimit == 0 {
		cfg.ReadLimit = 4096
	}
	if cfg.SendBuffer == 0 {
		cfg.SendBuffer = 64 << 10
	}
	if cfg.Lease == 0 {
		cfg.Lease = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if bus == nil {
		bus = LocalBus{}
	}
	return &Hub{
		cfg: cfg, st: st, bus: bus, log: cfg.Log, seed: maphash.MakeSeed(),
		byToken: map[string]map[*conn]struct{}{},
		byUser:  map[string]map[*conn]struct{}{},
		byApp:   map[string]map[*conn]struct{}{},
		feeds:   map[string]*feed{},
		marked:  map[string]bool{},
		grace:   map[string]*graceEntry{},
		drops:   map[string]map[string]drop{},
		heldBy:  map[string]string{},
		recent:  map[string]revoked{},

		liveDirty: map[string]bool{},
	}
}

// Why register refuses a connection; Serve picks the close code by them.
var (
	errClosed  = errors.New("hub closed") // Shutdown has begun
	errTooMany = errors.New("too many connections")
)

// errRevoked: the session died between authentication and registration.
type errRevoked Reason

func (e errRevoked) Error() string { return "session revoked: " + string(e) }

func add(m map[string]map[*conn]struct{}, k string, c *conn) {
	if m[k] == nil {
		m[k] = map[*conn]struct{}{}
	}
	m[k][c] = struct{}{}
}

func del(m map[string]map[*conn]struct{}, k string, c *conn) bool {
	set, ok := m[k]
	if !ok {
		return false
	}
	if _, ok := set[c]; !ok {
		return false
	}
	delete(set, c)
	if len(set) == 0 {
		delete(m, k)
	}
	return true
}

func (h *Hub) register(ctx context.Context, c *conn) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errClosed
	}
	if reason := h.recentlyRevokedLocked(c.hash); reason != "" {
		h.mu.Unlock()
		return errRevoked(reason)
	}
	if len(h.byUser[c.key]) >= h.cfg.MaxPerUser {
		h.mu.Unlock()
		return errTooMany
	}
	if len(h.byToken[c.hash]) == 0 {
		h.liveChangedLocked(c.hash, true)
	}
	add(h.byToken, c.hash, c)
	add(h.byUser, c.key, c)
	add(h.byApp, c.sess.AppID, c)
	// It hears the app's presence from now on.
	c.feed = h.feedOfLocked(c.sess.AppID)
	c.cursor.Store(c.feed.seq.Load())
	if g := h.grace[c.key]; g != nil {
		g.timer.Stop() // a reconnect inside the grace period: no flap
		delete(h.grace, c.key)
	}
	h.mu.Unlock()
	// The session was checked before the upgrade; check it once more now
	// that the connection is registered. A revocation either deleted the
	// token before this read (we see it) or will find the connection.
	if reason := h.sessionDead(ctx, c.sess.TokenHash); reason != "" {
		h.unregister(c)
		return errRevoked(reason)
	}
	h.markOnline(ctx, c.sess.AppID, c.sess.UID, c.sess.Role)
	return nil
}

// unregister removes c; it reports true when c was already gone (a
// revocation removed it).
func (h *Hub) unregister(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unregisterLocked(c)
}

func (h *Hub) unregisterLocked(c *conn) bool {
	if !del(h.byUser, c.key, c) {
		return true
	}
	del(h.byToken, c.hash, c)
	if len(h.byToken[c.hash]) == 0 {
		h.liveChangedLocked(c.hash, false)
	}
	del(h.byApp, c.sess.AppID, c)
	return false
}

// Online reports whether this node holds a live connection of the user.
func (h *Hub) Online(appID, uid string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byUser[store.UserKey(appID, uid)]) > 0
}

// Count is the number of live connections on this node.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.byUser {
		n += len(set)
	}
	return n
}

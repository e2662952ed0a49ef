package realtime

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/store"
)

// Close codes sent to clients.
const (
	// CloseRevoked follows a session_revoked message.
	CloseRevoked websocket.StatusCode = 4001
	// CloseSlowConsumer: the client did not read fast enough.
	CloseSlowConsumer websocket.StatusCode = 4008
	// CloseTooManyConnections: the user is at the per-user connection cap.
	CloseTooManyConnections websocket.StatusCode = 4029
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
	// OnRemote is called for every event from another node (after the hub
	// applied it), so the server can drop cached sessions.
	OnRemote func(Event)
}

// Session is the authenticated session a connection belongs to.
type Session struct {
	AppID, UID string
	TokenHash  []byte
	ExpiresAt  int64 // unix seconds; 0 = never
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
	marked  map[string]bool        // users this node has recorded online
	grace   map[string]*graceEntry // user key → pending offline after a drop
	// drops are the tokens of a user's connections that dropped within the
	// grace period, by user key; heldBy indexes them by token hash. A
	// dropped token holds the user's presence through the grace period, and
	// revoking it ends that at once (a logout that closes its socket before
	// DELETE /me must not leave the user online for 5 s).
	drops  map[string]map[string]time.Time // user key → token hash → when it dropped
	heldBy map[string]string               // token hash → user key
	closed bool
	// hbMu keeps a heartbeat and Shutdown apart: a lease renewal after
	// Shutdown removed the node would register it again and re-mark its
	// users online (serve keeps Run going until the HTTP server is done).
	hbMu sync.Mutex
	// recent remembers revocations for a minute, so a connection that
	// authenticated just before its token died, and registers just after,
	// is still told.
	recent map[string]revoked // token hash or user key → why

	listening atomic.Bool // the bus has delivered its first resync

	// userLocks serialise presence changes of one user on this node
	// (striped, so users do not wait on each other).
	userLocks [64]sync.Mutex
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
		marked:  map[string]bool{},
		grace:   map[string]*graceEntry{},
		drops:   map[string]map[string]time.Time{},
		heldBy:  map[string]string{},
		recent:  map[string]revoked{},
	}
}

type revoked struct {
	reason string
	at     time.Time
}

const recentFor = time.Minute

// remember records revocations (h.mu held).
func (h *Hub) rememberLocked(reason string, keys ...string) {
	now := time.Now()
	if len(h.recent) > 10_000 {
		for k, r := range h.recent {
			if now.Sub(r.at) > recentFor {
				delete(h.recent, k)
			}
		}
	}
	for _, k := range keys {
		h.recent[k] = revoked{reason, now}
	}
}

func (h *Hub) recentlyRevokedLocked(hash string) string {
	if r, ok := h.recent[hash]; ok && time.Since(r.at) < recentFor {
		return r.reason
	}
	return ""
}

// Node is this hub's node id.
func (h *Hub) Node() string { return h.cfg.Node }

func userKey(appID, uid string) string { return appID + "/" + uid }

func (h *Hub) userLock(key string) *sync.Mutex {
	return &h.userLocks[maphash.String(h.seed, key)%uint64(len(h.userLocks))]
}

// Start registers this node's lease; call it before serving connections.
func (h *Hub) Start(ctx context.Context) error {
	_, err := h.st.RenewNode(ctx, h.cfg.Node, h.cfg.Now().Add(h.cfg.Lease).Unix())
	return err
}

// Run renews the node lease, reaps the presence of nodes whose lease
// lapsed (crashed), and applies other nodes' events, until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	go h.bus.Run(ctx, h.applyRemote)
	tick := time.NewTicker(h.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			h.heartbeat(ctx)
		}
	}
}

func (h *Hub) heartbeat(ctx context.Context) {
	h.hbMu.Lock()
	defer h.hbMu.Unlock()
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return
	}
	now := h.cfg.Now()
	existed, err := h.st.RenewNode(ctx, h.cfg.Node, now.Add(h.cfg.Lease).Unix())
	if err != nil {
		h.log.Warn("realtime: renewing node lease failed", "err", err)
	} else if !existed {
		// Our lease lapsed (a long stall or database outage) and another
		// node reaped our presence: record our users again.
		h.log.Warn("realtime: node lease had lapsed; re-registering presence")
		h.remarkAll(ctx)
	}
	users, err := h.st.ReapNodes(ctx, now.Unix())
	if err != nil {
		h.log.Warn("realtime: reaping lapsed nodes failed", "err", err)
		return
	}
	for _, u := range users {
		h.announceIfOffline(ctx, u.AppID, u.UID, now.Unix())
	}
}

// ---- connections

type conn struct {
	h       *Hub
	ws      *websocket.Conn
	sess    Session
	key     string
	hash    string
	send    chan []byte
	closing chan closeReq
	once    sync.Once
	expiry  *time.Timer
	// abort ends the connection's context: a write blocked on a full socket
	// fails at once and the library closes the socket.
	abort      context.CancelFunc
	writeStart atomic.Int64 // unix nanoseconds the frame being written began; 0 when idle

	// Presence is state, not a log: only a user's latest status matters, so
	// pending presence is coalesced per user instead of queued. A burst (a
	// reconnect storm after a node restart) then costs one message per user,
	// and a healthy client is never dropped for being briefly behind.
	pmu     sync.Mutex
	pending map[string][]byte // uid → latest unsent presence message
	porder  []string          // those uids, oldest first
	pbytes  int               // bytes of the pending messages
	pwatch  bool              // a stall check is scheduled
	pwakeup chan struct{}     // cap 1: tells the writer presence is pending
}

// Pending presence is one entry per user at most (the messages themselves
// are shared by the app's connections), so a burst is bounded by the app's
// size. Past the soft bound (maxPendingPresence users or maxPendingBytes)
// a connection whose socket has taken nothing for stallAfter is a slow
// consumer; past the hard bound (hardFactor times that) it is one at once.
// A healthy client behind a burst keeps writing and is never dropped:
// 6,000 events in 31 ms put a reading client ~2,000 users behind.
const (
	maxPendingPresence = 4096
	maxPendingBytes    = 256 << 10
	hardFactor         = 16
	stallAfter         = time.Second
)

const slowReason = "slow consumer: messages were not read in time"

type closeReq struct {
	msg    []byte
	code   websocket.StatusCode
	reason string
	// discard drops what is queued instead of flushing it first (a slow
	// consumer gets its close frame now, not after what it could not read).
	discard bool
}

// Serve upgrades an authenticated request and runs the connection until
// it ends. Authentication happened before: a dead token never upgrades.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, sess Session) {
	ws, err := websocket.Accept(sendBuffer{w, h.cfg.SendBuffer}, r, &websocket.AcceptOptions{
		// The token is the credential (no cookies), so a cross-origin page
		// gains nothing it did not already hold; browsers need this.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept wrote the HTTP error
	}
	ws.SetReadLimit(h.cfg.ReadLimit)
	c := &conn{
		h: h, ws: ws, sess: sess, key: userKey(sess.AppID, sess.UID), hash: string(sess.TokenHash),
		send: make(chan []byte, h.cfg.QueueSize), closing: make(chan closeReq, 1), pwakeup: make(chan struct{}, 1),
	}
	ctx, abort := context.WithCancel(context.WithoutCancel(r.Context()))
	defer abort()
	c.abort = abort
	// "connected" must be the first message (DESIGN.md; the SDK reports
	// OnConnected on it). Queue it before registering: once registered, the
	// connection receives other users' presence events, and queued later it
	// could follow one of them. Nothing is written until the writer starts,
	// after a successful registration, so a refused connection never sees it.
	c.send <- mustJSON(struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}{"connected", sess.UID})
	if err := h.register(ctx, c); err != nil {
		code, reason := websocket.StatusTryAgainLater, "server shutting down"
		var rv errRevoked
		switch {
		case errors.Is(err, errTooMany):
			code, reason = CloseTooManyConnections, "too many connections for this user (limit "+strconv.Itoa(h.cfg.MaxPerUser)+")"
		case errors.As(err, &rv):
			c.write(ctx, revokedMsg(string(rv)))
			code, reason = CloseRevoked, string(rv)
		}
		ws.Close(code, reason)
		return
	}
	if sess.ExpiresAt > 0 {
		d := time.Until(time.Unix(sess.ExpiresAt, 0))
		c.expiry = time.AfterFunc(max(d, 0), func() {
			h.revokeWhere(func(x *conn) bool { return x == c }, "token_expired")
		})
	}
	// Registered before the first message is written, so a revocation that
	// races the client's OnConnected still reaches this connection.
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx)
	}()
	c.readLoop(ctx)
	h.dropped(c)
	c.shutdown(closeReq{code: websocket.StatusNormalClosure})
	<-writerDone
	ws.CloseNow()
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

func (c *conn) readLoop(ctx context.Context) {
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		// Clients may ping at the application level (browsers cannot send
		// WebSocket pings); everything else is ignored.
		var m struct{ Type string }
		if json.Unmarshal(data, &m) == nil && m.Type == "ping" {
			c.enqueue([]byte(`{"type":"pong"}`))
		}
	}
}

func (c *conn) writeLoop(ctx context.Context) {
	ping := time.NewTicker(c.h.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case msg := <-c.send:
			if c.write(ctx, msg) != nil {
				c.ws.CloseNow()
				return
			}
		case <-c.pwakeup:
			// Queued messages first: "connected" precedes any presence.
			if !c.drainSend(ctx) || !c.flushPresence(ctx) {
				c.ws.CloseNow()
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, c.h.cfg.WriteTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				c.ws.CloseNow()
				return
			}
		case cr := <-c.closing:
			// Flush what was queued before the close (presence, the
			// revocation notice), then close.
			for !cr.discard {
				select {
				case msg := <-c.send:
					c.write(ctx, msg)
					continue
				default:
				}
				break
			}
			if cr.msg != nil {
				c.write(ctx, cr.msg)
			}
			if cr.code != 0 {
				c.ws.Close(cr.code, cr.reason)
			}
			c.ws.CloseNow()
			return
		}
	}
}

func (c *conn) drainSend(ctx context.Context) bool {
	for {
		select {
		case msg := <-c.send:
			if c.write(ctx, msg) != nil {
				return false
			}
		default:
			return true
		}
	}
}

func (c *conn) flushPresence(ctx context.Context) bool {
	c.pmu.Lock()
	order, pending := c.porder, c.pending
	c.porder, c.pending, c.pbytes = nil, nil, 0
	c.pmu.Unlock()
	for _, uid := range order {
		if c.write(ctx, pending[uid]) != nil {
			return false
		}
	}
	return true
}

// enqueuePresence records uid's latest presence for this connection; it
// never blocks.
func (c *conn) enqueuePresence(uid string, msg []byte) {
	c.pmu.Lock()
	old, ok := c.pending[uid]
	users, bytes := len(c.porder), c.pbytes-len(old)+len(msg)
	if !ok {
		users++
	}
	if users > hardFactor*maxPendingPresence || bytes > hardFactor*maxPendingBytes {
		c.porder, c.pending, c.pbytes = nil, nil, 0 // free it now
		c.pmu.Unlock()
		c.slow()
		return
	}
	if (users > maxPendingPresence || bytes > maxPendingBytes) && !c.pwatch {
		c.pwatch = true
		time.AfterFunc(stallAfter, c.checkStall)
	}
	if !ok {
		if c.pending == nil {
			c.pending = map[string][]byte{}
		}
		c.porder = append(c.porder, uid)
	}
	c.pending[uid] = msg
	c.pbytes += len(msg) - len(old)
	c.pmu.Unlock()
	select {
	case c.pwakeup <- struct{}{}:
	default:
	}
}

func (c *conn) write(ctx context.Context, msg []byte) error {
	wctx, cancel := context.WithTimeout(ctx, c.h.cfg.WriteTimeout)
	defer cancel()
	c.writeStart.Store(time.Now().UnixNano())
	defer c.writeStart.Store(0)
	return c.ws.Write(wctx, websocket.MessageText, msg)
}

// stalled reports whether the frame being written has made no progress
// for stallAfter (frames are small: one that takes a second is not moving).
func (c *conn) stalled() bool {
	ws := c.writeStart.Load()
	return ws != 0 && time.Since(time.Unix(0, ws)) >= stallAfter
}

// checkStall runs stallAfter after the connection went past the soft bound:
// still past it with its socket stalled, it is a slow consumer.
func (c *conn) checkStall() {
	c.pmu.Lock()
	over := len(c.porder) > maxPendingPresence || c.pbytes > maxPendingBytes
	if over && c.stalled() {
		c.porder, c.pending, c.pbytes = nil, nil, 0
		c.pmu.Unlock()
		c.slow()
		return
	}
	if over {
		time.AfterFunc(stallAfter/4, c.checkStall)
	} else {
		c.pwatch = false
	}
	c.pmu.Unlock()
}

// enqueue never blocks: a client that cannot keep up is disconnected
// rather than allowed to stall the sender.
func (c *conn) enqueue(msg []byte) {
	select {
	case c.send <- msg:
	default:
		c.slow()
	}
}

// slow disconnects a slow consumer. If the writer is idle, the 4008 close
// frame goes out ahead of everything queued. If it is blocked on a write,
// the socket is full and no close frame can reach the client: the
// connection is dropped now rather than when the write times out, which
// held it (and what was queued for it) for WriteTimeout after the client
// had already fallen behind.
func (c *conn) slow() {
	c.shutdown(closeReq{code: CloseSlowConsumer, reason: slowReason, discard: true})
	if c.writeStart.Load() != 0 {
		c.abort()
	}
}

// sendBuffer sizes the kernel send buffer of the connection the WebSocket
// library hijacks.
type sendBuffer struct {
	http.ResponseWriter
	size int
}

func (s sendBuffer) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s sendBuffer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil || s.size < 0 {
		return nc, brw, err
	}
	raw := nc
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
		raw = tc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetWriteBuffer(s.size)
	}
	return nc, brw, nil
}

func (c *conn) shutdown(cr closeReq) {
	c.once.Do(func() { c.closing <- cr })
}

var errTooMany = errors.New("too many connections")

// errRevoked: the session died between authentication and registration.
type errRevoked string

func (e errRevoked) Error() string { return "session revoked: " + string(e) }

func revokedMsg(reason string) []byte {
	return mustJSON(struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}{"session_revoked", reason})
}

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
		return errors.New("hub closed")
	}
	if reason := h.recentlyRevokedLocked(c.hash); reason != "" {
		h.mu.Unlock()
		return errRevoked(reason)
	}
	if len(h.byUser[c.key]) >= h.cfg.MaxPerUser {
		h.mu.Unlock()
		return errTooMany
	}
	add(h.byToken, c.hash, c)
	add(h.byUser, c.key, c)
	add(h.byApp, c.sess.AppID, c)
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
	h.markOnline(ctx, c.sess.AppID, c.sess.UID)
	return nil
}

// sessionDead says why a session is no longer valid, or "" if it is (or
// the database cannot tell).
func (h *Hub) sessionDead(ctx context.Context, hash []byte) string {
	tok, user, err := h.st.GetSession(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.mu.Lock()
		reason := h.recentlyRevokedLocked(string(hash))
		h.mu.Unlock()
		if reason == "" {
			reason = "token_deleted"
		}
		return reason
	case err != nil:
		return ""
	case user.DeactivatedAt != 0:
		return "user_deactivated"
	case tok.ExpiresAt > 0 && h.cfg.Now().Unix() >= tok.ExpiresAt:
		return "token_expired"
	}
	return ""
}

// unregister removes c; it reports false when a revocation already did.
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
	del(h.byApp, c.sess.AppID, c)
	return false
}

// graceEntry is a user's pending offline after their last connection on
// this node dropped; it lasts while a dropped token of theirs is unrevoked.
type graceEntry struct {
	timer *time.Timer
}

// endGraceLocked forgets key's grace entry and dropped tokens (h.mu held);
// the caller stops or has fired the timer.
func (h *Hub) endGraceLocked(key string) {
	for t := range h.drops[key] {
		delete(h.heldBy, t)
	}
	delete(h.drops, key)
	delete(h.grace, key)
}

// noteDropLocked records that a connection of token hash dropped (h.mu
// held), forgetting drops older than the grace period.
func (h *Hub) noteDropLocked(key, hash string, now time.Time) {
	d := h.drops[key]
	if d == nil {
		d = map[string]time.Time{}
		h.drops[key] = d
	}
	for t, at := range d {
		if now.Sub(at) > h.cfg.Grace {
			delete(d, t)
			delete(h.heldBy, t)
		}
	}
	d[hash] = now
	h.heldBy[hash] = key
}

// dropped handles a connection that ended by itself: the user goes offline
// only if no connection of theirs comes back within the grace period. It
// unregisters c and records the drop in one step: between the two, a
// revocation of the user's other dropped token would have found the user
// neither live nor in a grace period, and taken them offline.
func (h *Hub) dropped(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unregisterLocked(c) || h.closed {
		return // a revocation removed it (its presence is already ended), or shutdown
	}
	// A token revoked while its connection was closing holds nothing: the
	// revocation found no connection, so it is applied here.
	if h.recentlyRevokedLocked(c.hash) == "" {
		h.noteDropLocked(c.key, c.hash, time.Now())
	}
	if len(h.byUser[c.key]) > 0 {
		return // still live; the drop is remembered for the grace period
	}
	if len(h.drops[c.key]) == 0 {
		go h.markOffline(context.Background(), c.sess.AppID, c.sess.UID)
		return
	}
	g := h.grace[c.key]
	if g == nil {
		g = &graceEntry{}
		h.grace[c.key] = g
	} else {
		g.timer.Stop()
	}
	appID, uid, key := c.sess.AppID, c.sess.UID, c.key
	var t *time.Timer
	t = time.AfterFunc(h.cfg.Grace, func() {
		h.mu.Lock()
		// A timer that fired just as a reconnect stopped it is superseded:
		// it must neither remove the timer of a later drop nor end the
		// user's presence before that one's grace period (t is read under
		// h.mu, after dropped assigned it).
		cur := h.grace[key]
		mine := cur != nil && cur.timer == t
		if mine {
			h.endGraceLocked(key)
		}
		h.mu.Unlock()
		if mine {
			h.markOffline(context.Background(), appID, uid)
		}
	})
	g.timer = t
}

// revokeGraceLocked forgets revoked tokens' drops (h.mu held) and returns
// the users whose grace period they alone held, to take offline now. A user
// whose other dropped connection used a live token keeps its grace.
func (h *Hub) revokeGraceLocked(hashes map[string]bool) []Session {
	var out []Session
	for hs := range hashes {
		key, ok := h.heldBy[hs]
		if !ok {
			continue
		}
		delete(h.heldBy, hs)
		delete(h.drops[key], hs)
		if g := h.grace[key]; g != nil && len(h.drops[key]) == 0 {
			g.timer.Stop()
			h.endGraceLocked(key)
			out = append(out, sessionOfKey(key))
		}
	}
	return out
}

// sessionOfKey splits a user key (appID "/" uid; app ids hold no "/").
func sessionOfKey(key string) Session {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return Session{AppID: key[:i], UID: key[i+1:]}
		}
	}
	return Session{}
}

// ---- presence

func (h *Hub) markOnline(ctx context.Context, appID, uid string) {
	key := userKey(appID, uid)
	l := h.userLock(key)
	l.Lock()
	defer l.Unlock()
	h.mu.Lock()
	// live: a revocation can unregister the connection after register's
	// session check and run its markOffline before we get the user lock;
	// marking the user online then would leave them online with no
	// connection, for good (no connection is left to end it). Nor is
	// anyone marked once Shutdown has withdrawn the node.
	already, live := h.marked[key], len(h.byUser[key]) > 0 && !h.closed
	h.mu.Unlock()
	if already || !live {
		return
	}
	now := h.cfg.Now().Unix()
	was, err := h.st.Online(ctx, appID, uid, now)
	if err != nil {
		h.log.Warn("realtime: presence read failed", "err", err)
	}
	if err := h.st.SetPresence(ctx, h.cfg.Node, appID, uid, true, now); err != nil {
		h.log.Warn("realtime: presence write failed", "err", err)
		return
	}
	h.mu.Lock()
	h.marked[key] = true
	h.mu.Unlock()
	if !was {
		h.announce(ctx, Event{Kind: KindPresence, AppID: appID, UID: uid, Status: "online", LastActiveAt: now})
	}
}

func (h *Hub) remarkAll(ctx context.Context) {
	h.mu.Lock()
	clear(h.marked)
	var users []Session
	for _, set := range h.byUser {
		for c := range set {
			users = append(users, c.sess)
			break
		}
	}
	h.mu.Unlock()
	for _, u := range users {
		h.markOnline(ctx, u.AppID, u.UID)
	}
}

// markOffline records that this node no longer holds the user and, if no
// other node does, tells everyone.
func (h *Hub) markOffline(ctx context.Context, appID, uid string) {
	key := userKey(appID, uid)
	l := h.userLock(key)
	l.Lock()
	defer l.Unlock()
	h.mu.Lock()
	live, marked := len(h.byUser[key]) > 0, h.marked[key]
	if !live {
		delete(h.marked, key)
	}
	h.mu.Unlock()
	if live || !marked {
		return
	}
	now := h.cfg.Now().Unix()
	if err := h.st.SetPresence(ctx, h.cfg.Node, appID, uid, false, now); err != nil {
		h.log.Warn("realtime: presence write failed", "err", err)
	}
	h.announceIfOffline(ctx, appID, uid, now)
}

func (h *Hub) announceIfOffline(ctx context.Context, appID, uid string, now int64) {
	online, err := h.st.Online(ctx, appID, uid, now)
	if err != nil || online {
		return
	}
	h.announce(ctx, Event{Kind: KindPresence, AppID: appID, UID: uid, Status: "offline", LastActiveAt: now})
}

// announce delivers a presence event here and on every other node.
func (h *Hub) announce(ctx context.Context, ev Event) {
	h.broadcastPresence(ev)
	h.publish(ctx, ev)
}

func (h *Hub) publish(ctx context.Context, ev Event) {
	ev.Origin = h.cfg.Node
	if err := h.bus.Publish(ctx, ev); err != nil {
		h.log.Warn("realtime: publishing event failed", "kind", ev.Kind, "err", err)
	}
}

func (h *Hub) broadcastPresence(ev Event) {
	msg := mustJSON(struct {
		Type         string `json:"type"`
		UID          string `json:"uid"`
		Status       string `json:"status"`
		LastActiveAt int64  `json:"lastActiveAt"`
	}{"presence", ev.UID, ev.Status, ev.LastActiveAt})
	h.mu.Lock()
	targets := make([]*conn, 0, len(h.byApp[ev.AppID]))
	for c := range h.byApp[ev.AppID] {
		if c.sess.UID != ev.UID {
			targets = append(targets, c)
		}
	}
	h.mu.Unlock()
	for _, c := range targets {
		c.enqueuePresence(ev.UID, msg)
	}
}

// Online reports whether this node holds a live connection of the user.
func (h *Hub) Online(appID, uid string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byUser[userKey(appID, uid)]) > 0
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

// ---- revocation

// RevokeTokens closes every connection of the given tokens, here and on
// every other node.
func (h *Hub) RevokeTokens(ctx context.Context, hashes [][]byte, reason string) {
	set := make(map[string]bool, len(hashes))
	hexes := make([]string, len(hashes))
	for i, hs := range hashes {
		set[string(hs)] = true
		hexes[i] = HexHash(hs)
	}
	h.revokeTokenSet(set, reason)
	// NOTIFY payloads are limited to 8000 bytes and keys vary in length
	// (they begin with the uid): send them in chunks that fit.
	for len(hexes) > 0 {
		n, size := 0, 0
		for n < len(hexes) && (n == 0 || size+len(hexes[n])+3 <= maxEventKeys) {
			size += len(hexes[n]) + 3 // quotes and comma
			n++
		}
		h.publish(ctx, Event{Kind: KindRevokeTokens, Hashes: hexes[:n], Reason: reason})
		hexes = hexes[n:]
	}
}

// maxEventKeys is the room for keys in one event, leaving the rest of
// NOTIFY's 8000 bytes for the other fields.
const maxEventKeys = 7000

// RevokeUser closes every connection of a user, here and on every other node.
func (h *Hub) RevokeUser(ctx context.Context, appID, uid, reason string) {
	h.revokeUserLocal(appID, uid, reason)
	h.publish(ctx, Event{Kind: KindRevokeUser, AppID: appID, UID: uid, Reason: reason})
}

func (h *Hub) revokeUserLocal(appID, uid, reason string) {
	key := userKey(appID, uid)
	h.mu.Lock()
	victims := make([]*conn, 0, len(h.byUser[key]))
	for c := range h.byUser[key] {
		victims = append(victims, c)
	}
	inGrace := h.grace[key] != nil
	if inGrace {
		h.grace[key].timer.Stop()
	}
	h.endGraceLocked(key)
	h.mu.Unlock()
	h.revoke(victims, reason)
	if inGrace {
		h.markOffline(context.Background(), appID, uid)
	}
}

// Ready reports whether the hub hears other nodes: always with the local
// bus; with PostgreSQL once its LISTEN is in place (/readyz waits for it,
// so a node takes traffic only when revocations can reach it).
func (h *Hub) Ready() bool {
	if _, local := h.bus.(LocalBus); local {
		return true
	}
	return h.listening.Load()
}

// Publish sends an event to the other nodes (for callers outside the hub:
// signing-key rotations).
func (h *Hub) Publish(ctx context.Context, ev Event) { h.publish(ctx, ev) }

// UserChanged tells other nodes to drop their cached sessions of a user.
func (h *Hub) UserChanged(ctx context.Context, appID, uid string) {
	h.publish(ctx, Event{Kind: KindUserChanged, AppID: appID, UID: uid})
}

func (h *Hub) revokeTokenSet(set map[string]bool, reason string) {
	h.mu.Lock()
	var victims []*conn
	for hs := range set {
		h.rememberLocked(reason, hs)
		for c := range h.byToken[hs] {
			victims = append(victims, c)
		}
	}
	ended := h.revokeGraceLocked(set)
	h.mu.Unlock()
	h.revoke(victims, reason)
	for _, u := range ended {
		h.markOffline(context.Background(), u.AppID, u.UID)
	}
}

func (h *Hub) revokeWhere(match func(*conn) bool, reason string) {
	h.mu.Lock()
	var victims []*conn
	for _, set := range h.byUser {
		for c := range set {
			if match(c) {
				victims = append(victims, c)
			}
		}
	}
	h.mu.Unlock()
	h.revoke(victims, reason)
}

// revoke tells each connection why, closes it with 4001, and ends presence
// at once (no grace period: the session is over, not dropped).
func (h *Hub) revoke(victims []*conn, reason string) {
	users := map[string]Session{}
	for _, c := range victims {
		if h.unregister(c) {
			continue // already gone
		}
		c.shutdown(closeReq{msg: revokedMsg(reason), code: CloseRevoked, reason: reason})
		users[c.key] = c.sess
	}
	for _, s := range users {
		h.markOffline(context.Background(), s.AppID, s.UID)
	}
}

func (h *Hub) applyRemote(ev Event) {
	if ev.Kind == KindResync {
		h.listening.Store(true) // the bus delivers one after every LISTEN
	}
	if ev.Origin == h.cfg.Node {
		return
	}
	switch ev.Kind {
	case KindRevokeTokens:
		set := make(map[string]bool, len(ev.Hashes))
		for _, x := range ev.Hashes {
			if b, err := hex.DecodeString(x); err == nil {
				set[string(b)] = true
			}
		}
		h.revokeTokenSet(set, ev.Reason)
	case KindRevokeUser:
		h.revokeUserLocal(ev.AppID, ev.UID, ev.Reason)
	case KindPresence:
		h.broadcastPresence(ev)
	case KindResync:
		h.resync()
	}
	if h.cfg.OnRemote != nil {
		h.cfg.OnRemote(ev)
	}
}

// resync re-checks every live connection against the database after the
// bus may have missed revocations.
func (h *Hub) resync() {
	h.mu.Lock()
	var all []*conn
	for _, set := range h.byUser {
		for c := range set {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range all {
		if reason := h.sessionDead(ctx, c.sess.TokenHash); reason != "" {
			h.revoke([]*conn{c}, reason)
		}
	}
}

// Shutdown closes every connection ("going away") and withdraws this
// node's presence, so its users go offline now rather than at lease end.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closed = true
	var all []*conn
	for _, set := range h.byUser {
		for c := range set {
			all = append(all, c)
		}
	}
	for _, g := range h.grace {
		g.timer.Stop()
	}
	h.mu.Unlock()
	for _, c := range all {
		c.shutdown(closeReq{code: websocket.StatusGoingAway, reason: "server shutting down"})
	}
	h.hbMu.Lock() // wait out a heartbeat in flight; later ones see closed
	defer h.hbMu.Unlock()
	users, err := h.st.RemoveNode(ctx, h.cfg.Node)
	if err != nil {
		h.log.Warn("realtime: withdrawing node presence failed", "err", err)
		return
	}
	now := h.cfg.Now().Unix()
	for _, u := range users {
		h.announceIfOffline(ctx, u.AppID, u.UID, now)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

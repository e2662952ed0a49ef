package realtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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

// Session is the authenticated session a connection belongs to.
type Session struct {
	AppID, UID string
	TokenHash  []byte // the token's key (credential.TokenKey), not a bare hash
	CreatedAt  int64  // when the token was issued, unix seconds
	ExpiresAt  int64  // unix seconds; 0 = never
	Role       string // the user's role, for other sessions' presence filters
	Presence   PresenceFilter
}

// A connection costs as little as it can while idle, which is nearly all
// the time (docs/benchmarks.md "Realtime"): one goroutine, parked in Read
// with the small stack it started with (the HTTP handler that upgraded it
// returns, taking its deeper stack along), small socket buffers, and no
// queue. A writer goroutine exists only while there is something to write;
// pings come from the hub's sweep, not from a ticker per connection.
type conn struct {
	h    *Hub
	ws   *websocket.Conn
	sess Session
	key  string
	hash string
	// ctx is the connection's; abort ends it, and the library closes the
	// socket (a write blocked on a full socket fails at once).
	ctx    context.Context
	abort  context.CancelFunc
	expiry *time.Timer

	mu      sync.Mutex
	queue   [][]byte  // messages other than presence, in order (nil when empty)
	closeRq *closeReq // set once: the writer closes the connection
	writing bool      // a writer goroutine runs
	dirty   bool      // the feed moved since the writer last looked
	closed  chan struct{}
	// kick interrupts a writer lingering before a presence flush: a queued
	// message (a revocation notice, a pong) or a close must not wait.
	kick      chan struct{}
	lastFlush time.Time     // when the writer last sent presence
	window    time.Duration // the presence window now (presenceMin to presenceMax)

	writeStart atomic.Int64 // unix nanoseconds the frame being written began; 0 when idle
	lastSeen   atomic.Int64 // unix nanoseconds the client last sent anything (a pong included)
	pinging    atomic.Bool

	// Presence comes from the app's feed (feed.go): the connection holds
	// only its cursor, so a burst costs it no memory however far behind it
	// is; what it has not sent yet is the feed's entries past the cursor.
	feed   *feed
	cursor atomic.Uint64 // the feed's seq this connection has sent up to
	parked atomic.Bool   // no writer runs and presence is up to date
}

// A connection whose socket has accepted nothing for stallAfter while
// presence waits for it is a slow consumer (the hub's sweep checks once a
// second). A healthy client behind a burst keeps writing and is never
// dropped; a second was too short on a starved machine, where a write can
// wait that long for the CPU (3 of 10,000 healthy sessions were dropped).
const stallAfter = 5 * time.Second

// How often, at most, a connection sends presence while it keeps
// changing (a connect storm, a crashed node's users going offline). A
// change after a quiet spell goes out at once; one that follows a flush
// within the connection's window waits out the rest of it, and everything
// that arrived meanwhile goes in the same frame. The window starts at
// presenceMin, doubles with every flush that had to wait (the storm goes
// on) up to presenceMax, and starts over after a flush that did not.
//
// At 19,000 sessions of 1,900 users, writing each change as it came meant
// about one write per change per socket: 36 million. A fixed 200 ms still
// cost every socket five frames a second for as long as a storm lasted: on
// five nodes of 18,000 sessions the 380 users of a killed node took
// minutes to reach everyone. A fixed second kept a single change up to a
// second late after another (a logout must be heard at once).
const (
	presenceMin = 200 * time.Millisecond
	presenceMax = 800 * time.Millisecond
)

// A presence_batch frame holds at most maxBatch events and maxBatchBytes:
// under the 32 KiB message limit common WebSocket clients keep by default.
const (
	maxBatch      = 1000
	maxBatchBytes = 16 << 10
)

// Socket buffers of an upgraded connection. net/http's are 4 KiB each;
// a realtime connection reads small client messages and writes frames
// the library flushes whole, so it keeps small ones.
const (
	readBufferSize  = 256
	writeBufferSize = 512
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

// Serve upgrades an authenticated request, registers the connection and
// returns; the connection runs on in goroutines of its own until it ends.
// Authentication happened before: a dead token never upgrades.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, sess Session) {
	var c *conn
	ws, err := websocket.Accept(socket{w, h.cfg.SendBuffer}, r, &websocket.AcceptOptions{
		// The caller checked the Origin against the app's corsOrigins
		// (the library only knows same-origin or a fixed pattern list).
		InsecureSkipVerify: true,
		OnPongReceived:     func(context.Context, []byte) { c.seen() },
	})
	if err != nil {
		return // Accept wrote the HTTP error
	}
	ws.SetReadLimit(h.cfg.ReadLimit)
	// Not derived from the request's context: that would keep the
	// request's whole context chain (its values, cancel funcs and Done
	// channels, ~1 KB) alive as long as the socket. At 19,000 sessions the
	// heap profile showed it among the largest per-connection costs.
	ctx, abort := context.WithCancel(context.Background())
	c = &conn{
		h: h, ws: ws, sess: sess, key: store.UserKey(sess.AppID, sess.UID), hash: string(sess.TokenHash),
		ctx: ctx, abort: abort, closed: make(chan struct{}), kick: make(chan struct{}, 1),
	}
	c.seen()
	// "connected" must be the first message (docs/realtime.md; the SDK reports
	// OnConnected on it). Queue it before registering: once registered, the
	// connection receives other users' presence events, and queued later it
	// could follow one of them. Nothing is written until a writer starts,
	// after a successful registration, so a refused connection never sees it.
	c.queue = append(c.queue, mustJSON(struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}{"connected", sess.UID}))
	if err := h.register(r.Context(), c); err != nil {
		// errClosed, and anything unforeseen: the client should try again.
		code, reason := websocket.StatusTryAgainLater, "server shutting down"
		var rv errRevoked
		switch {
		case errors.Is(err, errTooMany):
			code, reason = CloseTooManyConnections, "too many connections for this user (limit "+strconv.Itoa(h.cfg.MaxPerUser)+")"
		case errors.As(err, &rv):
			c.write(revokedMsg(Reason(rv)))
			code, reason = CloseRevoked, string(rv)
		}
		ws.Close(code, reason)
		abort()
		return
	}
	if sess.ExpiresAt > 0 {
		d := time.Until(time.Unix(sess.ExpiresAt, 0))
		c.expiry = time.AfterFunc(max(d, 0), func() {
			h.revokeWhere(func(x *conn) bool { return x == c }, ReasonTokenExpired)
		})
	}
	// Registered before the first message is written, so a revocation that
	// races the client's OnConnected still reaches this connection.
	c.feed.join(c)
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
	go c.readLoop()
}

// readLoop reads the client until the connection ends, then cleans up.
func (c *conn) readLoop() {
	for {
		_, data, err := c.ws.Read(c.ctx)
		if err != nil {
			break
		}
		c.seen()
		if reply := clientReply(data); reply != nil {
			c.enqueue(reply)
		}
	}
	c.h.dropped(c)
	c.shutdown(closeReq{code: websocket.StatusNormalClosure})
	// Let the writer finish what it is sending (a revocation notice and its
	// close frame); a writer that cannot is dropped with the socket.
	select {
	case <-c.closed:
	case <-time.After(c.h.cfg.WriteTimeout):
	}
	c.ws.CloseNow()
	c.abort()
	c.feed.leave(c)
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// clientReply is the answer to one message of a client, or nil. Clients
// may ping at the application level (browsers cannot send WebSocket
// pings); everything else is ignored.
func clientReply(data []byte) []byte {
	var m struct{ Type string }
	if json.Unmarshal(data, &m) == nil && m.Type == "ping" {
		return []byte(`{"type":"pong"}`)
	}
	return nil
}

func (c *conn) seen() {
	if c != nil {
		c.lastSeen.Store(time.Now().UnixNano())
	}
}

// kickLocked starts a writer unless one runs (c.mu held).
func (c *conn) kickLocked() {
	if !c.writing {
		c.writing = true
		c.parked.Store(false)
		go c.writeLoop()
	}
}

// urgeLocked starts a writer, or cuts short the running one's wait before
// a presence flush (c.mu held): for what must not wait behind presence.
func (c *conn) urgeLocked() {
	if c.writing {
		select {
		case c.kick <- struct{}{}:
		default:
		}
		return
	}
	c.kickLocked()
}

// writeLoop sends what is queued, then presence, until there is nothing
// left; then it parks the connection and ends. A close request ends the
// connection.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		queue, cr := c.queue, c.closeRq
		c.queue, c.dirty = nil, false
		c.mu.Unlock()
		if cr != nil {
			c.close(queue, cr)
			return
		}
		// Queued messages first: "connected" precedes any presence.
		for _, msg := range queue {
			if c.write(msg) != nil {
				c.fail()
				return
			}
		}
		if c.behind() {
			if c.window == 0 {
				c.window = presenceMin
			}
			if wait := time.Until(c.lastFlush.Add(c.window)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-c.kick:
					t.Stop()
					continue // what interrupted goes first
				}
				c.window = min(2*c.window, presenceMax)
			} else {
				c.window = presenceMin
			}
			c.lastFlush = time.Now()
			if !c.flushPresence() {
				c.fail()
				return
			}
		}
		c.mu.Lock()
		if len(c.queue) > 0 || c.closeRq != nil || c.dirty {
			c.mu.Unlock()
			continue
		}
		// Idle: park, so the next feed update starts a writer. The seq is
		// read after the flag is set, and an update stores the seq before
		// it reads the flag: one of the two sees the other.
		c.parked.Store(true)
		if c.cursor.Load() != c.feed.seq.Load() && c.parked.CompareAndSwap(true, false) {
			c.mu.Unlock()
			continue
		}
		c.writing = false
		c.mu.Unlock()
		return
	}
}

// close flushes what was queued before the close (presence, the
// revocation notice), unless told to discard it, then closes.
func (c *conn) close(queue [][]byte, cr *closeReq) {
	defer close(c.closed)
	if !cr.discard {
		for _, msg := range queue {
			if c.write(msg) != nil {
				break
			}
		}
	}
	if cr.msg != nil {
		c.write(cr.msg)
	}
	if cr.code != 0 {
		c.ws.Close(cr.code, cr.reason)
	}
	c.ws.CloseNow()
}

// fail ends a connection whose socket failed; the reader sees it and
// cleans up.
func (c *conn) fail() {
	c.ws.CloseNow()
	c.mu.Lock()
	if c.closeRq == nil {
		c.closeRq = &closeReq{}
	}
	c.mu.Unlock()
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
}

// flushPresence sends the feed's entries past the cursor: one "presence"
// message for a single event, else "presence_batch" frames of at most
// maxBatch events. The frame exists only while it is written.
func (c *conn) flushPresence() bool {
	var batch [][]byte
	// A few frames per pass, then back to the queue: a close must not wait
	// for a storm to end (the writer comes back for the rest).
	for range 8 {
		var seq uint64
		batch, seq = c.feed.since(c.cursor.Load(), c, maxBatch, batch[:0])
		c.cursor.Store(seq)
		if len(batch) > 0 && c.write(presenceFrame(batch)) != nil {
			return false
		}
		if seq == c.feed.seq.Load() {
			return true
		}
	}
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	return true
}

func presenceFrame(batch [][]byte) []byte {
	if len(batch) == 1 {
		j := batch[0]
		b := make([]byte, 0, len(j)+18)
		b = append(b, `{"type":"presence",`...)
		return append(b, j[1:]...)
	}
	n := 40
	for _, j := range batch {
		n += len(j) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":"presence_batch","events":[`...)
	for i, j := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j...)
	}
	return append(b, ']', '}')
}

// hears reports whether this connection is told about e: never about its
// own user, and only what its presence filter asks for.
func (c *conn) hears(e *feedEntry) bool {
	return e.uid != c.sess.UID && c.sess.Presence.allows(e.role)
}

// wake tells the connection the feed moved; it never blocks.
func (c *conn) wake() {
	c.mu.Lock()
	c.dirty = true
	if c.closeRq == nil {
		c.kickLocked()
	}
	c.mu.Unlock()
}

// write sends one message. Its deadline is the hub's sweep: a write that
// has made no progress for WriteTimeout is aborted there.
func (c *conn) write(msg []byte) error {
	c.writeStart.Store(time.Now().UnixNano())
	defer c.writeStart.Store(0)
	return c.ws.Write(c.ctx, websocket.MessageText, msg)
}

// stalled reports whether the frame being written has made no progress
// for d (frames are small: one that takes a second is not moving).
func (c *conn) stalled(d time.Duration) bool {
	ws := c.writeStart.Load()
	return ws != 0 && time.Since(time.Unix(0, ws)) >= d
}

// behind reports whether presence waits for this connection.
func (c *conn) behind() bool {
	return c.feed != nil && c.cursor.Load() < c.feed.seq.Load()
}

// enqueue queues a message; it never blocks: a client that cannot keep up
// is disconnected rather than allowed to stall the sender.
func (c *conn) enqueue(msg []byte) {
	c.mu.Lock()
	if c.closeRq != nil {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.h.cfg.QueueSize {
		c.mu.Unlock()
		c.slow()
		return
	}
	c.queue = append(c.queue, msg)
	c.urgeLocked()
	c.mu.Unlock()
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

// shutdown asks the writer to close the connection (the first request wins).
func (c *conn) shutdown(cr closeReq) {
	c.mu.Lock()
	if c.closeRq == nil {
		c.closeRq = &cr
		c.urgeLocked()
	}
	c.mu.Unlock()
}

// ping checks the client is there when it has been silent for the ping
// interval: a WebSocket ping, answered by any client that reads. It runs
// in a goroutine of its own only while the ping is out.
func (c *conn) ping() {
	if !c.pinging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.pinging.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, c.h.cfg.WriteTimeout)
		defer cancel()
		if err := c.ws.Ping(ctx); err != nil {
			c.ws.CloseNow() // the reader sees it and cleans up
			return
		}
		c.seen()
	}()
}

// socket sizes the kernel send buffer and the bufio buffers of the
// connection the WebSocket library hijacks.
type socket struct {
	http.ResponseWriter
	sendBuffer int
}

func (s socket) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s socket) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nc, brw, err
	}
	if s.sendBuffer >= 0 {
		raw := nc
		if tc, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
			raw = tc.NetConn()
		}
		if tc, ok := raw.(*net.TCPConn); ok {
			tc.SetWriteBuffer(s.sendBuffer)
		}
	}
	// net/http's 4 KiB buffers go back to the garbage collector; bytes the
	// client sent right after its request stay in the old reader.
	r := brw.Reader
	if r.Buffered() == 0 {
		r = bufio.NewReaderSize(nc, readBufferSize)
	}
	return nc, bufio.NewReadWriter(r, bufio.NewWriterSize(nc, writeBufferSize)), nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

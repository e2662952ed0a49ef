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

	"github.com/callgate/callgate/internal/store"
	"github.com/coder/websocket"
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
}

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
		// The caller checked the Origin against the app's corsOrigins
		// (the library only knows same-origin or a fixed pattern list).
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept wrote the HTTP error
	}
	ws.SetReadLimit(h.cfg.ReadLimit)
	c := &conn{
		h: h, ws: ws, sess: sess, key: store.UserKey(sess.AppID, sess.UID), hash: string(sess.TokenHash),
		send: make(chan []byte, h.cfg.QueueSize), closing: make(chan closeReq, 1), pwakeup: make(chan struct{}, 1),
	}
	ctx, abort := context.WithCancel(context.WithoutCancel(r.Context()))
	defer abort()
	c.abort = abort
	// "connected" must be the first message (docs/realtime.md; the SDK reports
	// OnConnected on it). Queue it before registering: once registered, the
	// connection receives other users' presence events, and queued later it
	// could follow one of them. Nothing is written until the writer starts,
	// after a successful registration, so a refused connection never sees it.
	c.send <- mustJSON(struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}{"connected", sess.UID})
	if err := h.register(ctx, c); err != nil {
		// errClosed, and anything unforeseen: the client should try again.
		code, reason := websocket.StatusTryAgainLater, "server shutting down"
		var rv errRevoked
		switch {
		case errors.Is(err, errTooMany):
			code, reason = CloseTooManyConnections, "too many connections for this user (limit "+strconv.Itoa(h.cfg.MaxPerUser)+")"
		case errors.As(err, &rv):
			c.write(ctx, revokedMsg(Reason(rv)))
			code, reason = CloseRevoked, string(rv)
		}
		ws.Close(code, reason)
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
		if reply := clientReply(data); reply != nil {
			c.enqueue(reply)
		}
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

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

package calls

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// UserListener receives presence of the other users of the app: a user is
// online while one of their realtime connections is live. Callbacks run on
// the client's realtime goroutine with no SDK lock held.
type UserListener struct {
	OnUserOnline, OnUserOffline func(*User)
}

// ConnectionListener follows the realtime connection. OnConnected fires
// when the server has registered the connection (so a revocation from then
// on always reaches it); OnDisconnected when it drops (the SDK reconnects
// with backoff) or closes; OnSessionRevoked when the server ends the
// session (logout elsewhere, token deleted or expired, user deleted or
// deactivated — reason says which, one of the Revoked… constants), or the
// SDK ends it at its token's expiry (RevokedTokenExpired; then on a
// goroutine of the SDK, realtime or not). Each end is reported once. It
// is never called for the client's own Logout; by the time it runs the
// local session and store are cleared.
type ConnectionListener struct {
	OnConnected, OnDisconnected func()
	OnSessionRevoked            func(reason string)
}

// Why the server revoked a session: the reason OnSessionRevoked receives.
// They mirror the server's set (docs/realtime.md says what causes each) and
// are untyped so that they compare directly with reason.
const (
	RevokedLogout          = "logout"           // DELETE /me with this token, by another client holding it
	RevokedTokenDeleted    = "token_deleted"    // the token was deleted (or had died when the SDK reconnected)
	RevokedTokensFlushed   = "tokens_flushed"   // every token of the user was deleted
	RevokedUserDeleted     = "user_deleted"     // the user was deleted
	RevokedUserDeactivated = "user_deactivated" // the user was deactivated
	RevokedTokenExpired    = "token_expired"    // the token reached its expiry
	// The user ended this session from another of theirs (LogoutSession,
	// LogoutOtherSessions).
	RevokedLoggedOutElsewhere = "logged_out_elsewhere"
	// Every token issued before a time was revoked (by the app's backend).
	RevokedTokensRevoked = "tokens_revoked"
	// The token went unused longer than the app's idle timeout.
	RevokedTokenIdle = "token_idle"
)

// RevokedReasons returns every reason OnSessionRevoked may receive.
func RevokedReasons() []string {
	return []string{
		RevokedLogout,
		RevokedTokenDeleted,
		RevokedTokensFlushed,
		RevokedUserDeleted,
		RevokedUserDeactivated,
		RevokedTokenExpired,
		RevokedLoggedOutElsewhere,
		RevokedTokensRevoked,
		RevokedTokenIdle,
	}
}

// Realtime timing. Variables so tests can shorten them.
var (
	rtBackoffMin = 500 * time.Millisecond
	rtBackoffMax = 30 * time.Second
	rtPing       = 25 * time.Second // application-level ping interval
	rtSilence    = 60 * time.Second // no message for this long: reconnect
)

// Close codes the server uses (docs/realtime.md).
const (
	closeRevoked      websocket.StatusCode = 4001
	closeTooManyConns websocket.StatusCode = 4029
)

// realtime is a client's live connection state.
type realtime struct {
	mu  sync.Mutex
	cur *rtConn // the session's connection; nil when there is none

	lmu   sync.Mutex
	users map[string]UserListener
	conns map[string]ConnectionListener
}

// AddUserListener registers l under id (replacing one with the same id).
func (c *Client) AddUserListener(id string, l UserListener) {
	c.rt.lmu.Lock()
	defer c.rt.lmu.Unlock()
	if c.rt.users == nil {
		c.rt.users = map[string]UserListener{}
	}
	c.rt.users[id] = l
}

// RemoveUserListener removes the user listener registered under id.
func (c *Client) RemoveUserListener(id string) {
	c.rt.lmu.Lock()
	defer c.rt.lmu.Unlock()
	delete(c.rt.users, id)
}

// AddConnectionListener registers l under id (replacing one with the same id).
func (c *Client) AddConnectionListener(id string, l ConnectionListener) {
	c.rt.lmu.Lock()
	defer c.rt.lmu.Unlock()
	if c.rt.conns == nil {
		c.rt.conns = map[string]ConnectionListener{}
	}
	c.rt.conns[id] = l
}

// RemoveConnectionListener removes the connection listener registered under id.
func (c *Client) RemoveConnectionListener(id string) {
	c.rt.lmu.Lock()
	defer c.rt.lmu.Unlock()
	delete(c.rt.conns, id)
}

func sortedIDs[T any](m map[string]T) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (c *Client) connListeners() []namedConn {
	c.rt.lmu.Lock()
	defer c.rt.lmu.Unlock()
	out := make([]namedConn, 0, len(c.rt.conns))
	for _, id := range sortedIDs(c.rt.conns) {
		out = append(out, namedConn{id, c.rt.conns[id]})
	}
	return out
}

type namedConn struct {
	id string
	l  ConnectionListener
}

func (c *Client) fireConn(pick func(ConnectionListener) func(), name string) {
	for _, n := range c.connListeners() {
		if f := pick(n.l); f != nil {
			c.safely(n.id, name, f)
		}
	}
}

func (c *Client) firePresence(u *User) {
	c.rt.lmu.Lock()
	ids := sortedIDs(c.rt.users)
	ls := make([]UserListener, len(ids))
	for i, id := range ids {
		ls[i] = c.rt.users[id]
	}
	c.rt.lmu.Unlock()
	for i, l := range ls {
		f, name := l.OnUserOffline, "OnUserOffline"
		if u.Status == "online" {
			f, name = l.OnUserOnline, "OnUserOnline"
		}
		if f != nil {
			c.safely(ids[i], name, func() { f(u.clone()) })
		}
	}
}

// rtConn is the connection of one session, kept up (reconnecting) by one
// goroutine until it is stopped or the session is revoked.
type rtConn struct {
	cfg    *config
	token  string
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has finished
	// inCallback counts the listener callbacks running on the goroutine.
	// A callback may end the session (Logout, a login as someone else),
	// which stops this connection: that must not wait for the goroutine,
	// which is the callback's own.
	inCallback atomic.Int32
}

// callback runs listener callbacks on the connection's goroutine.
func (rc *rtConn) callback(f func()) {
	rc.inCallback.Add(1)
	defer rc.inCallback.Add(-1)
	f()
}

// stop ends the connection; with wait it returns once the goroutine has
// finished, unless the goroutine is in a callback (possibly the caller).
func (rc *rtConn) stop(wait bool) {
	rc.cancel()
	if wait && rc.inCallback.Load() == 0 {
		<-rc.done
	}
}

// rtStart connects for token's session, replacing any connection. It does
// nothing once token is no longer the session of cfg: the hooks of two
// session changes may run in either order, and a logout that came in
// between must not be followed by a connection for the session it ended.
// The check and the hand-over happen under rt.mu, which rtStop takes too.
func (c *Client) rtStart(cfg *config, token string) {
	c.rt.mu.Lock()
	if !c.holds(cfg, token) {
		c.rt.mu.Unlock()
		return
	}
	old := c.rt.cur
	ctx, cancel := context.WithCancel(context.Background())
	rc := &rtConn{cfg: cfg, token: token, cancel: cancel, done: make(chan struct{})}
	c.rt.cur = rc
	c.rt.mu.Unlock()
	if old != nil { // the previous connection ends before the next dials
		old.stop(true)
	}
	go func() {
		defer close(rc.done)
		c.rtRun(ctx, rc)
	}()
}

// rtStop closes the connection of token's session (any connection when
// token is ""); a connection of another session, started meanwhile, stays.
// With wait it returns once the connection goroutine has finished.
func (c *Client) rtStop(token string, wait bool) {
	c.rt.mu.Lock()
	rc := c.rt.cur
	if rc == nil || token != "" && rc.token != token {
		c.rt.mu.Unlock()
		return
	}
	c.rt.cur = nil
	c.rt.mu.Unlock()
	rc.stop(wait)
}

// rtRun keeps a connection up until ctx ends or the session is revoked,
// reconnecting with exponential backoff and jitter.
func (c *Client) rtRun(ctx context.Context, rc *rtConn) {
	backoff := rtBackoffMin
	for ctx.Err() == nil {
		connected, over := c.rtOnce(ctx, rc)
		if over || ctx.Err() != nil {
			return
		}
		if connected {
			backoff = rtBackoffMin
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: spread reconnecting clients
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, rtBackoffMax)
	}
}

type rtMessage struct {
	Type         string `json:"type"`
	UID          string `json:"uid"`
	Status       string `json:"status"`
	LastActiveAt int64  `json:"lastActiveAt"`
	Reason       string `json:"reason"`
	// presence_batch: several users' presence in one frame, in order.
	Events []struct {
		UID          string `json:"uid"`
		Status       string `json:"status"`
		LastActiveAt int64  `json:"lastActiveAt"`
	} `json:"events"`
}

// rtOnce runs one connection. connected reports that the server registered
// it; over, that the session ended (revoked), so no reconnect.
func (c *Client) rtOnce(ctx context.Context, rc *rtConn) (connected, over bool) {
	cfg, token := rc.cfg, rc.token
	h := http.Header{}
	h.Set("appId", cfg.appID)
	h.Set("authToken", token)
	h.Set("sdk", "callgate-go@"+sdkVersion)
	h.Set("User-Agent", userAgent)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	wsURL := cfg.host + apiPrefix + "/ws"
	if cfg.presence != "" {
		wsURL += "?presence=" + url.QueryEscape(cfg.presence)
	}
	ws, resp, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPClient: cfg.http, HTTPHeader: h})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized && rtDeadToken(resp) {
			// The token died while we were away (logged out elsewhere,
			// deleted, expired): the session is over.
			reason := RevokedTokenDeleted
			if c.expired(token) {
				reason = RevokedTokenExpired
			}
			return false, c.rtRevoked(ctx, rc, reason)
		}
		cfg.log.Debug("callgate: realtime connection failed; retrying", "err", err)
		return false, false
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	defer func() {
		if connected && !over && ctx.Err() == nil {
			rc.callback(func() {
				c.fireConn(func(l ConnectionListener) func() { return l.OnDisconnected }, "OnDisconnected")
			})
		}
	}()
	go func() { // application-level pings: the server answers pong
		t := time.NewTicker(rtPing)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				ws.Close(websocket.StatusNormalClosure, "")
				return
			case <-t.C:
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				ws.Write(wctx, websocket.MessageText, []byte(`{"type":"ping"}`))
				cancel()
			}
		}
	}()
	reason := ""
	for {
		rctx, cancel := context.WithTimeout(ctx, rtSilence)
		_, data, err := ws.Read(rctx)
		cancel()
		if err != nil {
			if websocket.CloseStatus(err) == closeRevoked {
				if reason == "" {
					reason = strings.TrimSpace(closeReason(err))
				}
				return connected, c.rtRevoked(ctx, rc, reason)
			}
			if websocket.CloseStatus(err) == closeTooManyConns {
				cfg.log.Warn("callgate: the server refused the realtime connection: too many connections for this user")
			}
			return connected, false
		}
		switch ev := decodeRT(data); ev.kind {
		case rtMsgConnected:
			if !connected && ctx.Err() == nil {
				connected = true
				rc.callback(func() {
					c.fireConn(func(l ConnectionListener) func() { return l.OnConnected }, "OnConnected")
				})
			}
		case rtMsgPresence:
			if ctx.Err() == nil {
				rc.callback(func() { c.firePresence(ev.user) })
			}
		case rtMsgPresenceBatch:
			for _, u := range ev.users {
				if ctx.Err() == nil {
					rc.callback(func() { c.firePresence(u) })
				}
			}
		case rtMsgRevoked:
			reason = ev.reason // the close with 4001 follows
		}
	}
}

// What a message of the server means to the connection.
const (
	rtMsgIgnored       = iota // not JSON, not a message the SDK knows, or incomplete
	rtMsgConnected            // the server registered the connection
	rtMsgPresence             // another user went online or offline (user)
	rtMsgPresenceBatch        // several did, oldest first (users)
	rtMsgRevoked              // the session was revoked (reason); a 4001 close follows
)

type rtEvent struct {
	kind   int
	user   *User   // rtMsgPresence
	users  []*User // rtMsgPresenceBatch: each names a user
	reason string  // rtMsgRevoked
}

// decodeRT reads one message of the server.
func decodeRT(data []byte) rtEvent {
	var m rtMessage
	if json.Unmarshal(data, &m) != nil {
		return rtEvent{}
	}
	switch m.Type {
	case "connected":
		return rtEvent{kind: rtMsgConnected}
	case "presence":
		if m.UID != "" {
			return rtEvent{kind: rtMsgPresence, user: &User{UID: m.UID, Status: m.Status, LastActiveAt: m.LastActiveAt}}
		}
	case "presence_batch":
		var users []*User
		for _, e := range m.Events {
			if e.UID != "" {
				users = append(users, &User{UID: e.UID, Status: e.Status, LastActiveAt: e.LastActiveAt})
			}
		}
		if len(users) > 0 {
			return rtEvent{kind: rtMsgPresenceBatch, users: users}
		}
	case "session_revoked":
		return rtEvent{kind: rtMsgRevoked, reason: m.Reason}
	}
	return rtEvent{}
}

// rtRevoked ends the local session after the server revoked token, and
// reports it unless the session had already ended here (our own Logout).
func (c *Client) rtRevoked(ctx context.Context, rc *rtConn, reason string) bool {
	if ctx.Err() != nil {
		return true
	}
	rc.callback(func() { c.endRevoked(rc.token, reason) })
	return true
}

func rtDeadToken(resp *http.Response) bool {
	var env struct {
		Error struct{ Code string } `json:"error"`
	}
	if resp.Body == nil {
		return false
	}
	json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 64<<10)).Decode(&env)
	return env.Error.Code == "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"
}

func closeReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/nodeid"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/sqlstore"
)

// Hub-level tests: the hub on real SQLite and real sockets, without the
// HTTP API in front (internal/server's realtime tests cover that), so a
// store wrapper can stage the races that end-to-end tests only hit by
// luck, and an in-memory bus joins two hubs in one process.

// ---- fixture

type fixture struct {
	t   *testing.T
	st  *sqlstore.Store
	app *store.App
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), sqlite.FileName), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app, err := provision.CreateApp(ctx, st, "rt-app", "realtime", "us", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, app: app}
}

// user creates uid (if new) and a token of theirs, and returns the session
// the server would have authenticated.
func (f *fixture) user(uid string) realtime.Session {
	f.t.Helper()
	ctx := context.Background()
	now := time.Now()
	_, tok := provision.NewAuthToken(f.app, uid, now)
	u := &store.User{AppID: f.app.ID, UID: uid, Name: uid, Role: "default", CreatedAt: now.Unix(), UpdatedAt: now.Unix()}
	err := f.st.CreateUser(ctx, u, tok)
	if errors.Is(err, store.ErrAlreadyExists) {
		err = f.st.CreateAuthToken(ctx, tok)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return realtime.Session{AppID: f.app.ID, UID: uid, TokenHash: tok.Hash, ExpiresAt: tok.ExpiresAt}
}

func (f *fixture) online(uid string) bool {
	f.t.Helper()
	on, err := f.st.Online(context.Background(), f.app.ID, uid, time.Now().Unix())
	if err != nil {
		f.t.Fatal(err)
	}
	return on
}

// node is a hub behind its own HTTP server. Clients name their session
// with ?s=, as if the server had authenticated it.
type node struct {
	hub      *realtime.Hub
	url      string
	sessions sync.Map // string → realtime.Session
	n        atomic.Int64
	stop     context.CancelFunc
	runDone  chan struct{}
}

func (f *fixture) node(st store.Store, bus realtime.Bus, cfg realtime.Config, run bool) *node {
	f.t.Helper()
	if cfg.Node == "" {
		cfg.Node = nodeid.New("node")
	}
	n := &node{hub: realtime.New(st, bus, cfg), runDone: make(chan struct{})}
	if err := n.hub.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := n.sessions.Load(r.URL.Query().Get("s"))
		if !ok {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		n.hub.Serve(w, r, s.(realtime.Session))
	}))
	f.t.Cleanup(srv.Close)
	n.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	if run {
		go func() {
			defer close(n.runDone)
			n.hub.Run(ctx)
		}()
	} else {
		close(n.runDone)
	}
	f.t.Cleanup(func() {
		cancel()
		<-n.runDone
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		n.hub.Shutdown(sctx)
	})
	return n
}

// ---- client

type client struct {
	t     *testing.T
	name  string
	conn  *websocket.Conn
	msgs  chan msg
	done  chan struct{}
	err   error
	endAt time.Time
}

type msg struct {
	m   map[string]any
	raw string
	at  time.Time
}

func (m msg) str(k string) string { s, _ := m.m[k].(string); return s }

// dial connects to n as s; read=false leaves the socket unread.
func (n *node) dial(t *testing.T, s realtime.Session, read bool) *client {
	t.Helper()
	id := strconv.FormatInt(n.n.Add(1), 10)
	n.sessions.Store(id, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, n.url+"/?s="+id, nil)
	if err != nil {
		t.Fatalf("dial as %s: %v", s.UID, err)
	}
	c := &client{t: t, name: s.UID, conn: conn, msgs: make(chan msg, 1024), done: make(chan struct{})}
	t.Cleanup(func() { conn.CloseNow() })
	if read {
		go c.read()
	}
	return c
}

func (c *client) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.err, c.endAt = err, time.Now()
			return
		}
		m := msg{raw: string(data), at: time.Now()}
		json.Unmarshal(data, &m.m)
		if evs, ok := m.m["events"].([]any); ok && m.str("type") == "presence_batch" {
			for _, ev := range evs { // one presence event per entry, as the SDKs do
				e, _ := ev.(map[string]any)
				if e == nil {
					e = map[string]any{}
				}
				e["type"] = "presence"
				c.msgs <- msg{m: e, raw: m.raw, at: m.at}
			}
			continue
		}
		c.msgs <- m
	}
}

func (c *client) next(timeout time.Duration) msg {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		c.t.Fatalf("%s: closed (%v) while waiting for a message", c.name, c.err)
	case <-time.After(timeout):
		c.t.Fatalf("%s: no message within %v", c.name, timeout)
	}
	return msg{}
}

func (c *client) connected() {
	c.t.Helper()
	if m := c.next(5 * time.Second); m.str("type") != "connected" || m.str("uid") != c.name {
		c.t.Fatalf("%s: first message %s, want connected", c.name, m.raw)
	}
}

func (c *client) presence(uid, status string, timeout time.Duration) msg {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-c.msgs:
			if m.str("type") == "presence" && m.str("uid") == uid && m.str("status") == status {
				return m
			}
		case <-deadline:
			c.t.Fatalf("%s: no presence %s %s within %v", c.name, uid, status, timeout)
		}
	}
}

func (c *client) closed(timeout time.Duration) (websocket.StatusCode, string) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("%s: still open after %v", c.name, timeout)
	}
	var ce websocket.CloseError
	if errors.As(c.err, &ce) {
		return ce.Code, ce.Reason
	}
	return -1, ""
}

// revoked expects session_revoked with reason, then close 4001.
func (c *client) revoked(reason string) {
	c.t.Helper()
	m := c.next(5 * time.Second)
	for m.str("type") == "presence" {
		m = c.next(5 * time.Second)
	}
	if m.str("type") != "session_revoked" || m.str("reason") != reason {
		c.t.Errorf("%s: got %s, want session_revoked %s", c.name, m.raw, reason)
	}
	if code, why := c.closed(5 * time.Second); code != realtime.CloseRevoked || why != reason {
		c.t.Errorf("%s: closed with %d %q, want 4001 %q", c.name, code, why, reason)
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- a store that stages races

type hookStore struct {
	store.Store
	renewed chan struct{} // gets a value on every RenewNode

	mu         sync.Mutex        // hooks are set while the hub runs
	getSession func(hash []byte) // after the real read
	removeNode func()            // after the real removal
}

func (h *hookStore) hooks() (func([]byte), func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.getSession, h.removeNode
}

func (h *hookStore) set(getSession func([]byte), removeNode func()) {
	h.mu.Lock()
	h.getSession, h.removeNode = getSession, removeNode
	h.mu.Unlock()
}

func (h *hookStore) GetSession(ctx context.Context, hash []byte) (*store.AuthToken, *store.User, error) {
	tok, u, err := h.Store.GetSession(ctx, hash)
	if hook, _ := h.hooks(); hook != nil {
		hook(hash)
	}
	return tok, u, err
}

func (h *hookStore) RemoveNode(ctx context.Context, node string) ([]store.UserRef, error) {
	users, err := h.Store.RemoveNode(ctx, node)
	if _, hook := h.hooks(); hook != nil {
		hook()
	}
	return users, err
}

func (h *hookStore) RenewNode(ctx context.Context, node string, until int64) (bool, error) {
	ok, err := h.Store.RenewNode(ctx, node, until)
	if h.renewed != nil {
		select {
		case h.renewed <- struct{}{}:
		default:
		}
	}
	return ok, err
}

// A revocation that lands after the hub's last session check but before it
// records the user online must not leave the user online with no
// connection (it used to: nothing was left to take them offline).
func TestRevocationRacingRegistration(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hs := &hookStore{Store: f.st}
	n := f.node(hs, nil, realtime.Config{Grace: time.Hour}, true)
	watcher := n.dial(t, f.user("watcher"), true)
	watcher.connected()

	victim := f.user("victim")
	var once sync.Once
	hs.set(func(hash []byte) {
		if string(hash) != string(victim.TokenHash) {
			return
		}
		// The registration's check just found the token alive; now it dies.
		once.Do(func() {
			if _, err := f.st.DeleteAuthTokens(context.Background(), f.app.ID, "victim"); err != nil {
				t.Error(err)
			}
			n.hub.RevokeTokens(context.Background(), f.app.ID, [][]byte{victim.TokenHash}, "logout")
		})
	}, nil)
	c := n.dial(t, victim, true)
	// Either outcome of the race is fine for the client — refused with the
	// reason, or connected then revoked — as long as it ends revoked.
	m := c.next(5 * time.Second)
	if m.str("type") == "connected" {
		m = c.next(5 * time.Second)
	}
	if m.str("type") != "session_revoked" || m.str("reason") != "logout" {
		t.Fatalf("got %s, want session_revoked logout", m.raw)
	}
	if code, _ := c.closed(5 * time.Second); code != realtime.CloseRevoked {
		t.Fatalf("closed with %d", code)
	}
	if n.hub.Online(f.app.ID, "victim") {
		t.Error("hub holds the revoked connection")
	}
	if f.online("victim") {
		t.Error("the revoked user is online in the store with no connection")
	}
	// Barrier: a later user's online event; the victim's online event, if
	// any was sent, must have been followed by an offline one.
	n.dial(t, f.user("later"), true).connected()
	state := "offline"
	for {
		m := watcher.next(5 * time.Second)
		if m.str("uid") == "victim" {
			state = m.str("status")
		}
		if m.str("uid") == "later" {
			break
		}
	}
	if state != "offline" {
		t.Error("watcher was told the victim is online, never offline")
	}
}

// A revocation between authentication and registration is remembered: the
// connection is refused with the reason, before any "connected".
func TestRevokedBeforeRegistration(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n := f.node(f.st, nil, realtime.Config{}, true)
	s := f.user("late")
	// The token is still in the database: only the hub's memory says no.
	n.hub.RevokeTokens(context.Background(), f.app.ID, [][]byte{s.TokenHash}, "token_deleted")
	c := n.dial(t, s, true)
	c.revoked("token_deleted")
	if f.online("late") {
		t.Error("refused user is online")
	}
}

// Shutdown withdraws the node; a lease renewal after it must not register
// the node again and put its users back online (serve keeps the hub's Run
// going while the HTTP server shuts down).
func TestShutdownStopsLeaseRenewal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hs := &hookStore{Store: f.st, renewed: make(chan struct{}, 1)}
	node := "node-shutdown"
	n := f.node(hs, nil, realtime.Config{Node: node, Lease: 600 * time.Millisecond, Grace: time.Hour}, true)
	// A client that does not read holds its connection through Shutdown's
	// close handshake, as a slow network would.
	n.dial(t, f.user("stays"), false)
	eventually(t, 5*time.Second, "stays online", func() bool { return f.online("stays") })

	var once sync.Once
	hs.set(nil, func() {
		// Give a heartbeat (every 200 ms) the chance to run after the
		// removal (once: the test's cleanup shuts down again).
		once.Do(func() {
			select {
			case <-hs.renewed:
			default:
			}
			select {
			case <-hs.renewed:
			case <-time.After(time.Second):
			}
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.hub.Shutdown(ctx)
	n.stop()
	<-n.runDone // no heartbeat in flight any more
	if f.online("stays") {
		t.Error("user online after Shutdown: a heartbeat re-registered the node")
	}
	var rows int
	if err := f.st.DB().QueryRow(`SELECT count(*) FROM nodes WHERE id = ?`, node).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Error("the node is registered again after Shutdown")
	}
}

// ---- two nodes in one process

// memNet is an in-memory Bus shared by hubs (what LISTEN/NOTIFY is across
// processes): Publish reaches every other hub.
type memNet struct {
	mu   sync.Mutex
	subs []*memBus
}

type memBus struct {
	net *memNet
	ch  chan realtime.Event
}

func (m *memNet) bus() *memBus {
	b := &memBus{net: m, ch: make(chan realtime.Event, 1024)}
	m.mu.Lock()
	m.subs = append(m.subs, b)
	m.mu.Unlock()
	return b
}

func (b *memBus) Publish(_ context.Context, ev realtime.Event) error {
	b.net.mu.Lock()
	defer b.net.mu.Unlock()
	for _, o := range b.net.subs {
		if o != b {
			o.ch <- ev
		}
	}
	return nil
}

func (b *memBus) Run(ctx context.Context, handle func(realtime.Event)) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-b.ch:
			handle(ev)
		}
	}
}

func TestTwoNodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var mn memNet
	var remote atomic.Int64
	cfg := realtime.Config{Lease: 2 * time.Second, Grace: time.Hour, OnRemote: func(realtime.Event) { remote.Add(1) }}
	a := f.node(f.st, mn.bus(), cfg, true)
	bBus := mn.bus()
	b := f.node(f.st, bBus, cfg, true)

	watcher := a.dial(t, f.user("watcher"), true)
	watcher.connected()
	// Presence crosses nodes.
	s1 := f.user("on-b")
	c1 := b.dial(t, s1, true)
	c1.connected()
	watcher.presence("on-b", "online", 5*time.Second)

	// A token revocation on A closes the socket on B, and the user goes
	// offline on A at once.
	start := time.Now()
	a.hub.RevokeTokens(context.Background(), f.app.ID, [][]byte{s1.TokenHash}, "token_deleted")
	c1.revoked("token_deleted")
	if d := c1.endAt.Sub(start); d > time.Second {
		t.Errorf("closed %v after the revocation on the other node", d)
	}
	watcher.presence("on-b", "offline", time.Second)

	// A user revocation too.
	c2 := b.dial(t, f.user("on-b"), true)
	c2.connected()
	watcher.presence("on-b", "online", 5*time.Second)
	a.hub.RevokeUser(context.Background(), f.app.ID, "on-b", "user_deactivated")
	c2.revoked("user_deactivated")
	watcher.presence("on-b", "offline", time.Second)
	if remote.Load() == 0 {
		t.Error("OnRemote was never called")
	}

	// A missed revocation (the token deleted behind the bus's back) is
	// caught by the resync that follows a lost listener.
	s3 := f.user("on-b")
	c3 := b.dial(t, s3, true)
	c3.connected()
	if _, err := f.st.DeleteAuthTokens(context.Background(), f.app.ID, "on-b"); err != nil {
		t.Fatal(err)
	}
	bBus.ch <- realtime.Event{Kind: realtime.KindResync}
	c3.revoked("token_deleted")

	// Node B dies (stops renewing its lease; its process is gone, so its
	// sockets are not closed by it): A reaps it when the lease lapses.
	s4 := f.user("crashes")
	c4 := b.dial(t, s4, true)
	c4.connected()
	watcher.presence("crashes", "online", 5*time.Second)
	b.stop()
	<-b.runDone
	crashed := time.Now()
	ev := watcher.presence("crashes", "offline", 5*time.Second)
	t.Logf("lease %v: crash→offline %v", cfg.Lease, ev.at.Sub(crashed).Round(time.Millisecond))
	if d := ev.at.Sub(crashed); d > cfg.Lease+time.Second+cfg.Lease/3 {
		t.Errorf("offline %v after the crash, want within the lease (%v) and a heartbeat", d, cfg.Lease)
	}
	if f.online("crashes") {
		t.Error("the crashed node's user is online in the store")
	}
}

// A client message over the read limit ends the connection.
func TestReadLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n := f.node(f.st, nil, realtime.Config{}, true)
	c := n.dial(t, f.user("big"), true)
	c.connected()
	ok := `{"type":"ping","pad":"` + strings.Repeat("x", 4000) + `"}`
	c.conn.Write(context.Background(), websocket.MessageText, []byte(ok))
	if m := c.next(5 * time.Second); m.raw != `{"type":"pong"}` {
		t.Fatalf("a 4 KB ping: %s", m.raw)
	}
	big := `{"type":"ping","pad":"` + strings.Repeat("x", 5000) + `"}`
	c.conn.Write(context.Background(), websocket.MessageText, []byte(big))
	if code, _ := c.closed(5 * time.Second); code != websocket.StatusMessageTooBig {
		t.Errorf("closed with %d, want 1009 message too big", code)
	}
}

// A client that stops reading during a presence flood is dropped as soon as
// it is behind by the documented bound, not when a blocked write times out
// (30 s here), and a client that reads hears every event. The client's tiny
// receive buffer and the server's bounded send buffer make the socket fill
// after a few dozen KB, as it would on a real network.
func TestSlowConsumerDroppedAtBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var mn memNet
	n := f.node(f.st, mn.bus(), realtime.Config{WriteTimeout: 30 * time.Second, Grace: time.Hour}, true)
	other := mn.bus()

	reader := n.dial(t, f.user("reader"), true)
	reader.connected()
	tiny := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = setReceiveBuffer(fd, 4096)
			})
			return errors.Join(err, serr)
		},
	}).DialContext}}
	id := strconv.FormatInt(n.n.Add(1), 10)
	n.sessions.Store(id, f.user("sleeper"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sleeper, _, err := websocket.Dial(ctx, n.url+"/?s="+id, &websocket.DialOptions{HTTPClient: tiny})
	if err != nil {
		t.Fatal(err)
	}
	defer sleeper.CloseNow()
	eventually(t, 5*time.Second, "both connected", func() bool { return n.hub.Count() == 2 })

	// 6,000 distinct users of ~120-byte messages: 720 KB, well past the
	// 256 KiB a connection may be behind by. The reader's messages are
	// counted as they come (its buffer holds only 1,024).
	const users = 6000
	heard := make(chan int, 1)
	go func() {
		seen := 0
		for seen < users {
			select {
			case m := <-reader.msgs:
				if m.str("type") == "presence" {
					seen++
				}
			case <-reader.done:
				heard <- seen
				return
			case <-time.After(10 * time.Second):
				heard <- seen
				return
			}
		}
		heard <- seen
	}()
	pad := strings.Repeat("x", 80)
	var droppedAt time.Time
	start := time.Now()
	for i := range users {
		other.Publish(context.Background(), realtime.Event{Kind: realtime.KindPresence, Origin: "elsewhere",
			AppID: f.app.ID, UID: fmt.Sprintf("flood-%05d-%s", i, pad), Status: "online", LastActiveAt: 1})
		if droppedAt.IsZero() && n.hub.Count() == 1 {
			droppedAt = time.Now()
		}
	}
	floodEnd := time.Now()
	eventually(t, 10*time.Second, "the client that never reads is dropped", func() bool { return n.hub.Count() == 1 })
	if droppedAt.IsZero() {
		droppedAt = time.Now()
	}
	t.Logf("flood of %d events took %v; the sleeper was dropped %v after the flood began", users, floodEnd.Sub(start).Round(time.Millisecond), droppedAt.Sub(start).Round(time.Millisecond))
	if d := droppedAt.Sub(floodEnd); d > 7*time.Second {
		t.Errorf("dropped %v after the flood ended, want < 7s (5 s stalled, then the sweep; the write timeout is 30s)", d)
	}
	// The reader heard the whole flood and is still connected.
	if seen := <-heard; seen != users {
		t.Errorf("the reader heard %d of %d events (%v)", seen, users, reader.err)
	}
	if !n.hub.Online(f.app.ID, "reader") {
		t.Error("the reading client was dropped too")
	}
}

// Every revocation reaches its connection, with many connections coming
// and going: each of 600 sessions is revoked (token by token, in random
// order, while others connect) and must be told and closed within a
// second. A connection runs in goroutines of its own after the upgrade
// handler returns; this is the race that design must not have.
func TestEveryRevocationCloses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n := f.node(f.st, nil, realtime.Config{Grace: time.Minute}, true)
	const sessions = 600
	type live struct {
		s realtime.Session
		c *client
	}
	all := make([]live, 0, sessions)
	for i := range sessions {
		s := f.user(fmt.Sprintf("rev-%03d", i%60))
		c := n.dial(t, s, true)
		all = append(all, live{s, c})
		if i%3 == 0 && len(all) > 10 { // revoke one while others connect
			v := all[len(all)-10]
			go n.hub.RevokeTokens(context.Background(), f.app.ID, [][]byte{v.s.TokenHash}, realtime.ReasonTokenDeleted)
		}
	}
	for _, v := range all {
		go n.hub.RevokeTokens(context.Background(), f.app.ID, [][]byte{v.s.TokenHash}, realtime.ReasonTokenDeleted)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i, v := range all {
		select {
		case <-v.c.done:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("session %d of %d was never closed after its revocation", i, sessions)
		}
		var ce websocket.CloseError
		if !errors.As(v.c.err, &ce) || ce.Code != realtime.CloseRevoked {
			t.Errorf("session %d closed with %v, want 4001", i, v.c.err)
		}
	}
	eventually(t, 5*time.Second, "no connection left", func() bool { return n.hub.Count() == 0 })
}

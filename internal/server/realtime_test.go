package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
)

// Realtime (GET /ws) end to end: real sockets, the real handler, the real
// hub. Every wait is for a condition with a generous deadline; the timing
// bounds the issue sets (revocation within 1 s, offline after the grace
// period) are asserted on measured times.

// ---- a test WebSocket client

// wsc is a WebSocket client whose reader goroutine timestamps every message
// into a channel, so tests wait on conditions instead of sleeping.
type wsc struct {
	t     testing.TB
	name  string
	conn  *websocket.Conn
	msgs  chan wsMsg
	done  chan struct{} // closed when the reader ends
	err   error         // what ended the reader (read after done)
	endAt time.Time     // when (read after done)
	pings atomic.Int64  // WebSocket pings received from the server
}

type wsMsg struct {
	m   map[string]any
	raw string
	at  time.Time
}

func (m wsMsg) typ() string { return str(m.m, "type") }

func wsBase(base string) string { return "ws" + strings.TrimPrefix(base, "http") }

type dialOpts struct {
	header http.Header
	noRead bool         // no reader goroutine: a client that never reads
	client *http.Client // custom transport (e.g. tiny socket buffers)
}

// dialWS opens a WebSocket to base+path. It returns the handshake response
// whether or not the upgrade succeeded.
func dialWS(t testing.TB, name, base, path string, o dialOpts) (*wsc, *http.Response, error) {
	t.Helper()
	w := &wsc{t: t, name: name, msgs: make(chan wsMsg, 4096), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, wsBase(base)+path, &websocket.DialOptions{
		HTTPHeader: o.header,
		HTTPClient: o.client,
		OnPingReceived: func(context.Context, []byte) bool {
			w.pings.Add(1)
			return true
		},
	})
	if err != nil {
		return nil, res, err
	}
	w.conn = conn
	t.Cleanup(func() { conn.CloseNow() })
	if !o.noRead {
		go w.read()
	}
	return w, res, nil
}

func (w *wsc) read() {
	defer close(w.done)
	for {
		_, data, err := w.conn.Read(context.Background())
		if err != nil {
			w.err, w.endAt = err, time.Now()
			return
		}
		msg := wsMsg{raw: string(data), at: time.Now()}
		if json.Unmarshal(data, &msg.m) != nil {
			msg.m = map[string]any{"type": "<not JSON>"}
		}
		if evs, ok := msg.m["events"].([]any); ok && msg.typ() == "presence_batch" {
			// What the SDKs do: one presence event per entry, in order.
			for _, ev := range evs {
				m, _ := ev.(map[string]any)
				if m == nil || len(m) != 3 {
					m = map[string]any{"type": "<bad batch entry>"}
				} else {
					m["type"] = "presence"
				}
				w.msgs <- wsMsg{m: m, raw: msg.raw, at: msg.at}
			}
			continue
		}
		w.msgs <- msg
	}
}

// next returns the next message, failing the test on timeout or close.
func (w *wsc) next(timeout time.Duration) wsMsg {
	w.t.Helper()
	select {
	case m := <-w.msgs:
		return m
	case <-time.After(timeout):
		w.t.Fatalf("%s: no message within %v", w.name, timeout)
	}
	return wsMsg{}
}

// waitFor skips messages until one matches, failing the test on timeout or
// on the connection closing first.
func (w *wsc) waitFor(what string, timeout time.Duration, match func(wsMsg) bool) wsMsg {
	w.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-w.msgs:
			if match(m) {
				return m
			}
		case <-w.done:
			// Messages read before the close are still in the channel.
			for {
				select {
				case m := <-w.msgs:
					if match(m) {
						return m
					}
					continue
				default:
				}
				break
			}
			w.t.Fatalf("%s: closed (%v) before %s", w.name, w.err, what)
		case <-deadline:
			w.t.Fatalf("%s: no %s within %v", w.name, what, timeout)
		}
	}
}

func isPresence(uid, status string) func(wsMsg) bool {
	return func(m wsMsg) bool {
		return m.typ() == "presence" && str(m.m, "uid") == uid && str(m.m, "status") == status
	}
}

func (w *wsc) waitPresence(uid, status string, timeout time.Duration) wsMsg {
	w.t.Helper()
	return w.waitFor("presence "+uid+" "+status, timeout, isPresence(uid, status))
}

// closed waits for the connection to end and returns its close status
// (-1 when it ended without a close frame), reason and time.
func (w *wsc) closed(timeout time.Duration) (websocket.StatusCode, string, time.Time) {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(timeout):
		w.t.Fatalf("%s: still open after %v", w.name, timeout)
	}
	var ce websocket.CloseError
	if errors.As(w.err, &ce) {
		return ce.Code, ce.Reason, w.endAt
	}
	return -1, fmt.Sprint(w.err), w.endAt
}

func (w *wsc) isOpen() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

func (w *wsc) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.conn.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("%s: write: %v", w.name, err)
	}
}

// alive proves the connection still works end to end: an application ping
// is answered with a pong.
func (w *wsc) alive() {
	w.t.Helper()
	w.send(map[string]string{"type": "ping"})
	w.waitFor("pong", 5*time.Second, func(m wsMsg) bool { return m.typ() == "pong" })
}

// connect opens /v3/ws for a token (headers) and checks that the first
// message is {"type":"connected","uid":uid}.
func connect(t testing.TB, base, appID, uid, token string) *wsc {
	t.Helper()
	return connectPath(t, base, "/v3/ws", http.Header{"appId": {appID}, "authToken": {token}}, uid)
}

func connectPath(t testing.TB, base, path string, h http.Header, uid string) *wsc {
	t.Helper()
	w, res, err := dialWS(t, uid, base, path, dialOpts{header: h})
	if err != nil {
		t.Fatalf("dial %s as %s: %v (%s)", path, uid, err, body(res))
	}
	wantConnected(t, w, uid)
	return w
}

func wantConnected(t testing.TB, w *wsc, uid string) {
	t.Helper()
	first := w.next(10 * time.Second)
	if first.typ() != "connected" || str(first.m, "uid") != uid || len(first.m) != 2 {
		t.Fatalf("%s: first message %s, want {\"type\":\"connected\",\"uid\":%q}", w.name, first.raw, uid)
	}
}

func body(res *http.Response) string {
	if res == nil || res.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(res.Body)
	return fmt.Sprintf("HTTP %d %s", res.StatusCode, b)
}

// ---- REST shortcuts

func (e *env) status(uid string) string {
	e.t.Helper()
	return str(e.do("GET", "/v3/users/"+uid, e.rest(), nil).data(e.t), "status")
}

func (e *env) listed(status string) []string {
	e.t.Helper()
	items, _ := e.do("GET", "/v3/users?perPage=1000&status="+status, e.rest(), nil).list(e.t)
	var uids []string
	for _, it := range items {
		uids = append(uids, str(it, "uid"))
	}
	return uids
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func online(t testing.TB, st store.Store, appID, uid string) bool {
	t.Helper()
	on, err := st.Online(context.Background(), appID, uid, time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	return on
}

// ---- 1. authentication before the upgrade

func TestRealtimeAuthBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	a := e.srv.AppID
	b, _, bAuth := secondApp(t, e.srv.Store, "rt-other-app")
	tok := e.newToken("/v3", "cometchat-uid-1")
	dead := e.newToken("/v3", "cometchat-uid-1")
	e.do("DELETE", "/v3/me", e.tok(dead), nil).data(t)
	bTok := str(e.do("POST", "/v3/users", H{"appId": b, "apiKey": bAuth}, map[string]any{"uid": "cometchat-uid-1", "name": "B one", "withAuthToken": true}).data(t), "authToken")
	unknownShape := "cometchat-uid-1_1700000000" + strings.Repeat("ab", 32)

	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = []string{kv[i+1]} // as written: names are case-insensitive
		}
		return h
	}
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "?" + v.Encode()
	}

	type tc struct {
		name   string
		query  string
		header http.Header
		code   string // "" = the upgrade succeeds
	}
	cases := []tc{
		{"no credentials", "", nil, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"no token", "", hdr("appId", a), "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"blank token", "", hdr("appId", a, "authToken", "   "), "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"bad token", "", hdr("appId", a, "authToken", "nonsense"), "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"unknown token", "", hdr("appId", a, "authToken", unknownShape), "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"logged-out token", "", hdr("appId", a, "authToken", dead), "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"token of another app", "", hdr("appId", b, "authToken", tok), "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"unknown app", "", hdr("appId", "no-such-app", "authToken", tok), "AUTH_ERR_INVALID_APPID"},
		{"malformed app", "", hdr("appId", "Not An App!", "authToken", tok), "AUTH_ERR_INVALID_APPID"},
		{"query: no token", q("appId", a), nil, "AUTH_ERR_EMPTY_AUTH_TOKEN"},
		{"query: bad token", q("appId", a, "authToken", "nonsense"), nil, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"query: logged-out token", q("appId", a, "authToken", dead), nil, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"query: token of another app", q("appId", b, "authToken", tok), nil, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},
		{"query: unknown app", q("appId", "no-such-app", "authToken", tok), nil, "AUTH_ERR_INVALID_APPID"},
		{"header app wins over query app", q("appId", a, "authToken", tok), hdr("appId", b), "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"},

		{"headers", "", hdr("appId", a, "authToken", tok), ""},
		{"headers, any case", "", hdr("APPID", a, "authtoken", tok), ""},
		{"headers, token only", "", hdr("authToken", tok), ""},
		{"query", q("appId", a, "authToken", tok), nil, ""},
		{"query, token only", q("authToken", tok), nil, ""},
		{"app in header, token in query", q("authToken", tok), hdr("appId", a), ""},
		{"other app's own token", q("appId", b, "authToken", bTok), nil, ""},
	}
	for _, v := range versions {
		for _, c := range cases {
			t.Run(strings.TrimPrefix(v, "/")+"/"+c.name, func(t *testing.T) {
				w, res, err := dialWS(t, c.name, e.srv.URL, v+"/ws"+c.query, dialOpts{header: c.header})
				if c.code == "" {
					if err != nil {
						t.Fatalf("upgrade failed: %v (%s)", err, body(res))
					}
					wantConnected(t, w, "cometchat-uid-1")
					w.alive()
					return
				}
				if err == nil {
					t.Fatalf("upgraded; want HTTP 401 %s", c.code)
				}
				if res == nil {
					t.Fatalf("no HTTP response: %v", err)
				}
				if res.StatusCode == http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != "" || res.Header.Get("Sec-WebSocket-Accept") != "" {
					t.Fatalf("the server upgraded (%d %v) before refusing", res.StatusCode, res.Header)
				}
				raw, _ := io.ReadAll(res.Body)
				wantErr(t, parse(res, raw), http.StatusUnauthorized, c.code)
			})
		}
		// A plain GET (no upgrade): authenticated first, then a JSON 400.
		wantErr(t, e.do("GET", v+"/ws", H{"appId": a}, nil), http.StatusUnauthorized, "AUTH_ERR_EMPTY_AUTH_TOKEN")
		wantErr(t, e.do("GET", v+"/ws", e.tok(dead), nil), http.StatusUnauthorized, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
		wantBadField(t, e.do("GET", v+"/ws", e.tok(tok), nil), "Upgrade")
		wantBadField(t, e.do("GET", v+"/ws?authToken="+tok, H{"Upgrade": "h2c", "Connection": "Upgrade"}, nil), "Upgrade")
		wantErr(t, e.do("POST", v+"/ws", e.tok(tok), nil), http.StatusNotFound, "ERR_ENDPOINT_NOT_FOUND")

		// Handshakes the WebSocket library would refuse: the JSON envelope
		// too, naming the header, and no upgrade.
		up := H{"authToken": tok, "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
		for _, hc := range []struct {
			h     H
			field string
		}{
			{up.without("Sec-WebSocket-Key"), "Sec-WebSocket-Key"},
			{up.with("Sec-WebSocket-Key", "c2hvcnQ="), "Sec-WebSocket-Key"},
			{up.with("Sec-WebSocket-Key", "not base64!"), "Sec-WebSocket-Key"},
			{up.with("Sec-WebSocket-Version", "8"), "Sec-WebSocket-Version"},
			{up.without("Sec-WebSocket-Version"), "Sec-WebSocket-Version"},
		} {
			r := raw(t, e.srv.URL, "GET "+v+"/ws HTTP/1.1", hc.h, "")
			wantBadField(t, r, hc.field)
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%v: Content-Type %q", hc.h, r.Header.Get("Content-Type"))
			}
		}
		r := raw(t, e.srv.URL, "GET "+v+"/ws HTTP/1.1", up.with("Sec-WebSocket-Version", "8"), "")
		if got := r.Header.Get("Sec-WebSocket-Version"); got != "13" {
			t.Errorf("a refused version does not name the supported one: %q", got)
		}
		// Two keys.
		r = raw(t, e.srv.URL, "GET "+v+"/ws HTTP/1.1\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==", up, "")
		wantBadField(t, r, "Sec-WebSocket-Key")
	}
}

// ---- 2. connected, presence, REST status

func TestRealtimePresence(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	a := e.srv.AppID
	b, bFull, bAuth := secondApp(t, e.srv.Store, "rt-presence-b")
	bRest := H{"appId": b, "apiKey": bFull}
	// App B has a user of the same uid as A's, and a watcher.
	e.do("POST", "/v3/users", bRest, map[string]any{"uid": "cometchat-uid-2", "name": "B two"}).data(t)
	e.do("POST", "/v3/users", bRest, map[string]any{"uid": "b-watcher", "name": "B watcher"}).data(t)
	bTok := func(uid string) string {
		return str(e.do("POST", "/v3/users/"+uid+"/auth_tokens", H{"appId": b, "apiKey": bAuth}, nil).data(t), "authToken")
	}

	watcher := connect(t, e.srv.URL, a, "cometchat-uid-1", e.newToken("/v3", "cometchat-uid-1"))
	bWatcher := connect(t, e.srv.URL, b, "b-watcher", bTok("b-watcher"))

	if got := e.status("cometchat-uid-2"); got != "offline" {
		t.Fatalf("uid-2 before connecting: %s", got)
	}
	before := time.Now().Unix()
	two := connect(t, e.srv.URL, a, "cometchat-uid-2", e.newToken("/v3", "cometchat-uid-2"))
	ev := watcher.waitPresence("cometchat-uid-2", "online", 5*time.Second)
	after := time.Now().Unix()
	if at := int64(num(ev.m, "lastActiveAt")); at < before || at > after {
		t.Errorf("lastActiveAt %d not in [%d, %d]: %s", at, before, after, ev.raw)
	}
	if len(ev.m) != 4 {
		t.Errorf("presence message has fields beyond type, uid, status, lastActiveAt: %s", ev.raw)
	}

	// REST sees the user online while connected.
	d := e.do("GET", "/v3/users/cometchat-uid-2", e.rest(), nil).data(t)
	if str(d, "status") != "online" || int64(num(d, "lastActiveAt")) < before {
		t.Errorf("GET /users/cometchat-uid-2 while connected: %v", d)
	}
	d = e.do("GET", "/v3.0/users/cometchat-uid-2", e.rest(), nil).data(t)
	if str(d, "status") != "online" {
		t.Errorf("GET /v3.0/users/cometchat-uid-2 while connected: %v", d)
	}
	on, off := e.listed("online"), e.listed("offline")
	for _, uid := range []string{"cometchat-uid-1", "cometchat-uid-2"} {
		if !slices.Contains(on, uid) || slices.Contains(off, uid) {
			t.Errorf("%s: online list %v, offline list %v", uid, on, off)
		}
	}
	for _, uid := range []string{"cometchat-uid-3", "cometchat-uid-4", "cometchat-uid-5"} {
		if slices.Contains(on, uid) || !slices.Contains(off, uid) {
			t.Errorf("%s: online list %v, offline list %v", uid, on, off)
		}
	}
	// App B's same-named user is not online because A's is.
	if d := e.do("GET", "/v3/users/cometchat-uid-2", bRest, nil).data(t); str(d, "status") != "offline" {
		t.Errorf("app B's cometchat-uid-2: %v", d)
	}

	// Barrier for app B: its own user connecting is the first presence
	// event its watcher sees; A's events never reach it.
	connect(t, e.srv.URL, b, "cometchat-uid-2", bTok("cometchat-uid-2"))
	if m := bWatcher.next(5 * time.Second); !isPresence("cometchat-uid-2", "online")(m) {
		t.Fatalf("app B's watcher got %s first; want its own user's presence (and nothing of app A)", m.raw)
	}
	// ...and A's watcher never hears of B's user (barrier: uid-3 of A).
	connect(t, e.srv.URL, a, "cometchat-uid-3", e.newToken("/v3", "cometchat-uid-3"))
	if m := watcher.next(5 * time.Second); !isPresence("cometchat-uid-3", "online")(m) {
		t.Fatalf("A's watcher got %s; want uid-3's presence (app B's events must not reach it)", m.raw)
	}

	// A user never hears of themselves; a second connection of an online
	// user is not news. Barrier: uid-4 connects afterwards.
	connect(t, e.srv.URL, a, "cometchat-uid-2", e.newToken("/v3", "cometchat-uid-2"))
	connect(t, e.srv.URL, a, "cometchat-uid-4", e.newToken("/v3", "cometchat-uid-4"))
	if m := watcher.next(5 * time.Second); !isPresence("cometchat-uid-4", "online")(m) {
		t.Fatalf("watcher got %s; want uid-4 online (a second connection of uid-2 is not news)", m.raw)
	}
	for _, m := range drain(two, "cometchat-uid-4", 5*time.Second) {
		if str(m.m, "uid") == "cometchat-uid-2" {
			t.Errorf("uid-2 was told about itself: %s", m.raw)
		}
	}

	// Application-level ping (browsers cannot send WebSocket pings).
	two.send(map[string]string{"type": "ping"})
	if m := two.next(5 * time.Second); m.raw != `{"type":"pong"}` {
		t.Errorf("ping answered with %s", m.raw)
	}
	// Other messages are ignored; the connection stays up.
	two.send(map[string]string{"type": "subscribe"})
	two.conn.Write(context.Background(), websocket.MessageText, []byte("not json"))
	two.alive()
}

// drain returns the messages of w up to and including uid's online event.
func drain(w *wsc, uid string, timeout time.Duration) []wsMsg {
	w.t.Helper()
	var out []wsMsg
	w.waitFor("presence "+uid+" online", timeout, func(m wsMsg) bool {
		out = append(out, m)
		return isPresence(uid, "online")(m)
	})
	return out
}

// The first message is "connected" even while other users' presence
// events are flowing during the registration.
func TestRealtimeConnectedIsFirst(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Millisecond}})
	const workers, rounds = 6, 12
	toks := make([]string, workers)
	for i := range workers {
		uid := fmt.Sprintf("rt-first-%d", i)
		e.newUser("/v3", uid)
		toks[i] = e.newToken("/v3", uid)
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := fmt.Sprintf("rt-first-%d", i)
			for range rounds {
				w, res, err := dialWS(t, uid, e.srv.URL, "/v3/ws", dialOpts{header: http.Header{"appId": {e.srv.AppID}, "authToken": {toks[i]}}})
				if err != nil {
					t.Errorf("dial: %v (%s)", err, body(res))
					return
				}
				select {
				case m := <-w.msgs:
					if m.typ() != "connected" || str(m.m, "uid") != uid {
						t.Errorf("%s: first message %s, want connected", uid, m.raw)
					}
				case <-time.After(10 * time.Second):
					t.Errorf("%s: no first message", uid)
				}
				w.conn.CloseNow()
			}
		}()
	}
	wg.Wait()
}

// ---- 3. revocation

type revokeCase struct {
	reason string
	// act revokes; tok1 has two connections, tok2 one.
	act func(e *env, uid, tok1, tok2 string)
	// survives: tok2's connection stays open (only tok1 was revoked).
	survives bool
}

var revokeCases = []revokeCase{
	{"logout", func(e *env, uid, tok1, tok2 string) {
		if d := e.do("DELETE", "/v3.0/me", e.tok(tok1), nil).data(e.t); str(d, "message") != "Logout successful" {
			e.t.Errorf("logout: %v", d)
		}
	}, true},
	{"token_deleted", func(e *env, uid, tok1, tok2 string) {
		id := str(e.do("GET", "/v3/users/"+uid+"/auth_tokens/"+tok1, e.rest(), nil).data(e.t), "id")
		e.do("DELETE", "/v3/users/"+uid+"/auth_tokens/"+id, e.rest(), nil).data(e.t)
	}, true},
	{"tokens_flushed", func(e *env, uid, tok1, tok2 string) {
		e.do("DELETE", "/v3/users/"+uid+"/auth_tokens", e.rest(), nil).data(e.t)
	}, false},
	{"user_deleted", func(e *env, uid, tok1, tok2 string) {
		e.do("DELETE", "/v3/users/"+uid, e.rest(), nil).data(e.t)
	}, false},
	{"user_deactivated", func(e *env, uid, tok1, tok2 string) {
		e.do("PUT", "/v3/users/"+uid, e.rest(), map[string]any{"deactivated": true}).data(e.t)
	}, false},
	{"user_deactivated", func(e *env, uid, tok1, tok2 string) { // CometChat's soft delete
		e.do("DELETE", "/v3.0/users/"+uid, e.rest(), map[string]any{"permanent": false}).data(e.t)
	}, false},
}

// wantRevoked waits for {"type":"session_revoked","reason":reason} and then
// a close with 4001, and returns the time from since to the close.
func wantRevoked(t testing.TB, w *wsc, reason string, since time.Time) time.Duration {
	t.Helper()
	m := w.waitFor("session_revoked", 5*time.Second, func(m wsMsg) bool { return m.typ() != "presence" })
	if m.typ() != "session_revoked" || str(m.m, "reason") != reason || len(m.m) != 2 {
		t.Errorf("%s: got %s, want {\"type\":\"session_revoked\",\"reason\":%q}", w.name, m.raw, reason)
	}
	code, why, at := w.closed(5 * time.Second)
	if code != realtime.CloseRevoked || why != reason {
		t.Errorf("%s: closed with %d %q, want 4001 %q", w.name, code, why, reason)
	}
	for {
		select {
		case extra := <-w.msgs:
			t.Errorf("%s: message after session_revoked: %s", w.name, extra.raw)
			continue
		default:
		}
		break
	}
	return at.Sub(since)
}

func TestRealtimeRevocation(t *testing.T) {
	t.Parallel()
	// A long grace period: presence that ends only by it would fail the
	// 1 s bound below.
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	for i, c := range revokeCases {
		t.Run(fmt.Sprintf("%s-%d", c.reason, i), func(t *testing.T) {
			t.Parallel()
			e := &env{t: t, srv: e.srv}
			uid := fmt.Sprintf("rt-rev-%d", i)
			e.newUser("/v3", uid)
			e.newUser("/v3", uid+"-w")
			watcher := connect(t, e.srv.URL, e.srv.AppID, uid+"-w", e.newToken("/v3", uid+"-w"))
			tok1, tok2 := e.newToken("/v3", uid), e.newToken("/v3", uid)
			a1 := connect(t, e.srv.URL, e.srv.AppID, uid, tok1)
			a2 := connectPath(t, e.srv.URL, "/v3.0/ws?appId="+e.srv.AppID+"&authToken="+tok1, nil, uid)
			b := connect(t, e.srv.URL, e.srv.AppID, uid, tok2)
			watcher.waitPresence(uid, "online", 5*time.Second)

			start := time.Now()
			c.act(e, uid, tok1, tok2)
			acted := time.Now()
			victims := []*wsc{a1, a2}
			if !c.survives {
				victims = append(victims, b)
			}
			for _, v := range victims {
				lat := wantRevoked(t, v, c.reason, start)
				if lat > time.Second {
					t.Errorf("%s: closed %v after the revocation, want < 1s", c.reason, lat)
				}
				t.Logf("%s: revoke→close %v (the REST call took %v)", c.reason, lat.Round(100*time.Microsecond), acted.Sub(start).Round(100*time.Microsecond))
			}
			// The revoked token cannot reconnect.
			_, res, err := dialWS(t, "again", e.srv.URL, "/v3/ws", dialOpts{header: http.Header{"appId": {e.srv.AppID}, "authToken": {tok1}}})
			if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
				t.Errorf("revoked token reconnected: %v %s", err, body(res))
			}

			if c.survives {
				b.alive()
				if e.status(uid) != "online" || !online(t, e.srv.Store, e.srv.AppID, uid) {
					t.Errorf("user offline while another token's connection is live")
				}
				// Now end the last one: offline at once, and no offline
				// event was sent before.
				second := time.Now()
				e.do("DELETE", "/v3/users/"+uid+"/auth_tokens", e.rest(), nil).data(t)
				wantRevoked(t, b, "tokens_flushed", second)
				ev := watcher.waitPresence(uid, "offline", 5*time.Second)
				if ev.at.Before(second) {
					t.Errorf("offline announced while a connection was still live")
				}
				if lat := ev.at.Sub(second); lat > time.Second {
					t.Errorf("offline %v after the last revocation, want < 1s", lat)
				}
			} else {
				ev := watcher.waitPresence(uid, "offline", 5*time.Second)
				lat := ev.at.Sub(start)
				t.Logf("%s: revoke→offline event %v", c.reason, lat.Round(100*time.Microsecond))
				if lat > time.Second {
					t.Errorf("offline %v after the revocation (grace is 1m: it must not apply), want < 1s", lat)
				}
			}
			if online(t, e.srv.Store, e.srv.AppID, uid) {
				t.Errorf("store still has %s online", uid)
			}
			if c.reason != "user_deleted" && c.reason != "user_deactivated" && e.status(uid) != "offline" {
				t.Errorf("REST status %s after revocation", e.status(uid))
			}
			watcher.alive() // the watcher is untouched
		})
	}
}

// token_expired: the connection closes when its token expires.
func TestRealtimeTokenExpiry(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	ctx := context.Background()
	watcher := connect(t, e.srv.URL, e.srv.AppID, "cometchat-uid-1", e.newToken("/v3", "cometchat-uid-1"))
	// The server caches apps for ~2 s, so mint until the new TTL shows.
	app, err := e.srv.Store.GetApp(ctx, e.srv.AppID)
	if err != nil {
		t.Fatal(err)
	}
	app.Settings.AuthTokenTTL = 2
	if err := e.srv.Store.UpdateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	var tok string
	var exp int64
	eventually(t, 10*time.Second, "a token with the 2 s TTL", func() bool {
		d := e.do("POST", "/v3/users/cometchat-uid-2/auth_tokens", e.auth(), nil).data(t)
		tok, exp = str(d, "authToken"), int64(num(d, "expiresAt"))
		return exp != 0
	})
	w := connect(t, e.srv.URL, e.srv.AppID, "cometchat-uid-2", tok)
	watcher.waitPresence("cometchat-uid-2", "online", 5*time.Second)
	expiry := time.Unix(exp, 0)
	lat := wantRevoked(t, w, "token_expired", expiry)
	t.Logf("token_expired: expiry→close %v", lat.Round(100*time.Microsecond))
	if lat < 0 || lat > time.Second {
		t.Errorf("closed %v after expiry, want within [0, 1s)", lat)
	}
	ev := watcher.waitPresence("cometchat-uid-2", "offline", 5*time.Second)
	if d := ev.at.Sub(expiry); d > time.Second {
		t.Errorf("offline %v after expiry, want < 1s (no grace)", d)
	}
	_, res, err := dialWS(t, "expired", e.srv.URL, "/v3/ws", dialOpts{header: http.Header{"appId": {e.srv.AppID}, "authToken": {tok}}})
	if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired token connected: %v %s", err, body(res))
	}
}

// ---- 4. dropped connections and the grace period

func TestRealtimeGrace(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: grace}})
	a := e.srv.AppID
	watcher := connect(t, e.srv.URL, a, "cometchat-uid-1", e.newToken("/v3", "cometchat-uid-1"))

	drops := []struct {
		name string
		drop func(*wsc)
	}{
		{"tcp close", func(w *wsc) { w.conn.CloseNow() }},
		{"close frame", func(w *wsc) { w.conn.Close(websocket.StatusNormalClosure, "bye") }},
	}
	for _, d := range drops {
		tok := e.newToken("/v3", "cometchat-uid-2")
		w := connect(t, e.srv.URL, a, "cometchat-uid-2", tok)
		watcher.waitPresence("cometchat-uid-2", "online", 5*time.Second)
		dropped := time.Now()
		d.drop(w)
		checked := e.status("cometchat-uid-2")
		if time.Since(dropped) < grace && checked != "online" {
			t.Errorf("%s: REST says %s inside the grace period", d.name, checked)
		}
		ev := watcher.waitPresence("cometchat-uid-2", "offline", 5*time.Second)
		lat := ev.at.Sub(dropped)
		t.Logf("%s: drop→offline %v (grace %v)", d.name, lat.Round(time.Millisecond), grace)
		if lat < grace || lat > grace+time.Second {
			t.Errorf("%s: offline %v after the drop, want within [%v, %v]", d.name, lat, grace, grace+time.Second)
		}
		if got := e.status("cometchat-uid-2"); got != "offline" {
			t.Errorf("%s: REST says %s after the grace period", d.name, got)
		}
	}

	// A reconnect inside the grace period: no offline event, no flap.
	tok := e.newToken("/v3", "cometchat-uid-2")
	w := connect(t, e.srv.URL, a, "cometchat-uid-2", tok)
	watcher.waitPresence("cometchat-uid-2", "online", 5*time.Second)
	three := connect(t, e.srv.URL, a, "cometchat-uid-3", e.newToken("/v3", "cometchat-uid-3"))
	watcher.waitPresence("cometchat-uid-3", "online", 5*time.Second)
	w.conn.CloseNow()
	w = connect(t, e.srv.URL, a, "cometchat-uid-2", tok)
	// Barrier: uid-3 drops after the reconnect, so its offline event comes
	// after uid-2's would have.
	three.conn.CloseNow()
	for _, m := range drainUntil(watcher, isPresence("cometchat-uid-3", "offline"), 5*time.Second) {
		if str(m.m, "uid") == "cometchat-uid-2" {
			t.Errorf("reconnect inside the grace period flapped: %s", m.raw)
		}
	}
	if got := e.status("cometchat-uid-2"); got != "online" {
		t.Errorf("after a reconnect inside the grace period: %s", got)
	}
	w.alive()
}

// A revocation ends the presence a dropped connection still holds in its
// grace period, whatever order the client closes and revokes in: a client
// that closes its socket and then logs out (or whose token is deleted, or
// whose user is deleted) is offline at once, not after the grace. A second,
// live-token connection's grace is kept.
func TestRealtimeRevokeEndsGrace(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	a := e.srv.AppID
	watcher := connect(t, e.srv.URL, a, "cometchat-uid-1", e.newToken("/v3", "cometchat-uid-1"))
	for i, c := range []struct {
		name   string
		revoke func(uid, tok string)
	}{
		{"logout", func(uid, tok string) { e.do("DELETE", "/v3.0/me", e.tok(tok), nil).data(t) }},
		{"token deleted", func(uid, tok string) {
			e.do("DELETE", "/v3/users/"+uid+"/auth_tokens/"+tok, e.rest(), nil).data(t)
		}},
		{"user deleted", func(uid, tok string) { e.do("DELETE", "/v3/users/"+uid, e.rest(), nil).data(t) }},
	} {
		uid := fmt.Sprintf("grace-rev-%d", i)
		e.newUser("/v3", uid)
		tok := e.newToken("/v3", uid)
		w := connect(t, e.srv.URL, a, uid, tok)
		watcher.waitPresence(uid, "online", 5*time.Second)
		w.conn.Close(websocket.StatusNormalClosure, "bye")
		eventually(t, 5*time.Second, "the server sees the drop", func() bool { return !e.srv.Hub.Online(a, uid) })
		if got := e.status(uid); got != "online" {
			t.Fatalf("%s: REST says %s inside the grace period", c.name, got)
		}
		start := time.Now()
		c.revoke(uid, tok)
		ev := watcher.waitPresence(uid, "offline", 5*time.Second)
		if lat := ev.at.Sub(start); lat > time.Second {
			t.Errorf("%s after a drop: offline %v later, want < 1s", c.name, lat)
		}
		if c.name != "user deleted" {
			if got := e.status(uid); got != "offline" {
				t.Errorf("%s after a drop: REST says %s", c.name, got)
			}
		}
	}

	// Two dropped connections of one user, one revoked: the other's grace
	// still holds the user online.
	uid := "grace-rev-two"
	e.newUser("/v3", uid)
	t1, t2 := e.newToken("/v3", uid), e.newToken("/v3", uid)
	w1, w2 := connect(t, e.srv.URL, a, uid, t1), connect(t, e.srv.URL, a, uid, t2)
	watcher.waitPresence(uid, "online", 5*time.Second)
	w1.conn.CloseNow()
	w2.conn.CloseNow()
	eventually(t, 5*time.Second, "the server sees both drops", func() bool { return !e.srv.Hub.Online(a, uid) })
	e.do("DELETE", "/v3.0/me", e.tok(t1), nil).data(t)
	time.Sleep(300 * time.Millisecond)
	if got := e.status(uid); got != "online" {
		t.Errorf("one of two dropped tokens revoked: REST says %s, want online (the other is in its grace)", got)
	}
	e.do("DELETE", "/v3.0/me", e.tok(t2), nil).data(t)
	watcher.waitPresence(uid, "offline", 2*time.Second)
	watcher.alive()
}

// drainUntil returns the messages up to and including the first match.
func drainUntil(w *wsc, match func(wsMsg) bool, timeout time.Duration) []wsMsg {
	w.t.Helper()
	var out []wsMsg
	w.waitFor("the barrier event", timeout, func(m wsMsg) bool {
		out = append(out, m)
		return match(m)
	})
	return out
}

// ---- 5. the per-user cap

func TestRealtimePerUserCap(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{MaxPerUser: 2}})
	a := e.srv.AppID
	tok := e.newToken("/v3", "cometchat-uid-2")
	c1 := connect(t, e.srv.URL, a, "cometchat-uid-2", tok)
	c2 := connect(t, e.srv.URL, a, "cometchat-uid-2", e.newToken("/v3", "cometchat-uid-2"))

	third, res, err := dialWS(t, "third", e.srv.URL, "/v3/ws", dialOpts{header: http.Header{"appId": {a}, "authToken": {tok}}})
	if err != nil {
		t.Fatalf("third connection: %v (%s)", err, body(res))
	}
	code, reason, _ := third.closed(5 * time.Second)
	if code != realtime.CloseTooManyConnections || !strings.Contains(reason, "too many connections") || !strings.Contains(reason, "2") {
		t.Errorf("third connection closed with %d %q, want 4029 naming the limit", code, reason)
	}
	select {
	case m := <-third.msgs:
		t.Errorf("refused connection got a message: %s", m.raw)
	default:
	}
	c1.alive()
	c2.alive()
	// Other users are not limited by uid-2's connections.
	connect(t, e.srv.URL, a, "cometchat-uid-3", e.newToken("/v3", "cometchat-uid-3"))
	connect(t, e.srv.URL, a, "cometchat-uid-3", e.newToken("/v3", "cometchat-uid-3"))
	// A freed slot can be used again.
	c1.conn.CloseNow()
	eventually(t, 5*time.Second, "the closed connection unregistered", func() bool { return e.srv.Hub.Count() == 3 })
	connect(t, e.srv.URL, a, "cometchat-uid-2", tok).alive()
}

// ---- 7. liveness

func TestRealtimePing(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	e := start(t, servertest.Options{Realtime: realtime.Config{PingInterval: interval, WriteTimeout: 300 * time.Millisecond, Grace: time.Minute}})
	a := e.srv.AppID

	// An idle client that reads answers pings and stays.
	idle := connect(t, e.srv.URL, a, "cometchat-uid-2", e.newToken("/v3", "cometchat-uid-2"))
	eventually(t, 10*time.Second, "6 server pings", func() bool { return idle.pings.Load() >= 6 })
	if !idle.isOpen() || !e.srv.Hub.Online(a, "cometchat-uid-2") {
		t.Fatal("an idle client that answers pings was disconnected")
	}
	idle.alive()

	// A client that never reads never answers a ping: the server gives up
	// on it after the ping's write timeout.
	_, res, err := dialWS(t, "mute", e.srv.URL, "/v3/ws", dialOpts{noRead: true, header: http.Header{"appId": {a}, "authToken": {e.newToken("/v3", "cometchat-uid-3")}}})
	if err != nil {
		t.Fatalf("dial: %v (%s)", err, body(res))
	}
	eventually(t, 5*time.Second, "uid-3 registered", func() bool { return e.srv.Hub.Online(a, "cometchat-uid-3") })
	eventually(t, 5*time.Second, "the server to drop a client that does not answer pings", func() bool {
		return !e.srv.Hub.Online(a, "cometchat-uid-3")
	})
	if !idle.isOpen() {
		t.Error("the idle client was dropped too")
	}
}

// ---- 8. shutdown

func TestRealtimeShutdown(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	a := e.srv.AppID
	one := connect(t, e.srv.URL, a, "cometchat-uid-1", e.newToken("/v3", "cometchat-uid-1"))
	two := connect(t, e.srv.URL, a, "cometchat-uid-2", e.newToken("/v3", "cometchat-uid-2"))
	one.waitPresence("cometchat-uid-2", "online", 5*time.Second)
	// A dropped connection in its grace period goes offline too.
	three := connect(t, e.srv.URL, a, "cometchat-uid-3", e.newToken("/v3", "cometchat-uid-3"))
	three.conn.CloseNow()
	eventually(t, 5*time.Second, "uid-3 unregistered", func() bool { return !e.srv.Hub.Online(a, "cometchat-uid-3") })
	if !online(t, e.srv.Store, a, "cometchat-uid-3") {
		t.Fatal("uid-3 offline before its grace period ended")
	}

	stopped := time.Now()
	e.srv.Stop()
	for _, w := range []*wsc{one, two} {
		code, _, at := w.closed(10 * time.Second)
		if code != websocket.StatusGoingAway {
			t.Errorf("%s: closed with %d, want 1001 going away", w.name, code)
		}
		t.Logf("%s: stop→close %v", w.name, at.Sub(stopped).Round(time.Millisecond))
	}
	// Stop closed the store: look at the database afresh.
	st, err := sqlite.Open(context.Background(), filepath.Join(e.srv.DataDir, sqlite.FileName), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, uid := range []string{"cometchat-uid-1", "cometchat-uid-2", "cometchat-uid-3"} {
		if online(t, st, a, uid) {
			t.Errorf("%s online after shutdown", uid)
		}
		if u, _ := st.GetUser(context.Background(), a, uid); u == nil || u.Status != "offline" {
			t.Errorf("%s: stored user %+v", uid, u)
		}
	}
	_, _, err = dialWS(t, "after", e.srv.URL, "/v3/ws", dialOpts{})
	if err == nil {
		t.Error("connected after Stop")
	}
}

// The presence parameter chooses whose presence a connection hears.
func TestRealtimePresenceFilter(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	a := e.srv.AppID
	e.do("PUT", "/v3/users/cometchat-uid-2", e.rest(), map[string]any{"role": "Moderator"}).data(t)
	open := func(uid, presence string) *wsc {
		return connectPath(t, e.srv.URL, "/v3/ws?presence="+url.QueryEscape(presence), http.Header{"appId": {a}, "authToken": {e.newToken("/v3", uid)}}, uid)
	}
	all, none, mods := open("cometchat-uid-1", "all"), open("cometchat-uid-4", "none"), open("cometchat-uid-5", "roles:moderator,vip")
	for _, uid := range []string{"cometchat-uid-2", "cometchat-uid-3"} {
		connect(t, e.srv.URL, a, uid, e.newToken("/v3", uid))
		all.waitPresence(uid, "online", 5*time.Second)
	}
	mods.waitPresence("cometchat-uid-2", "online", 5*time.Second)
	// Barrier: uid-1 (role default) comes online after uid-3; none and the
	// roles filter hear nothing of either.
	for _, w := range []*wsc{none, mods} {
		w.alive()
		for {
			select {
			case m := <-w.msgs:
				if m.typ() == "presence" && (w == none || str(m.m, "uid") != "cometchat-uid-2") {
					t.Errorf("%s heard %s", w.name, m.raw)
				}
				continue
			default:
			}
			break
		}
	}
	for _, bad := range []string{"some", "roles:", "roles:a b", "roles:" + manyRoles(26)} {
		_, res, err := dialWS(t, "bad", e.srv.URL, "/v3/ws?presence="+url.QueryEscape(bad), dialOpts{header: http.Header{"authToken": {e.newToken("/v3", "cometchat-uid-1")}}})
		if err == nil || res == nil || res.StatusCode != 400 || !strings.Contains(body(res), "presence") {
			t.Errorf("presence=%q: %v %s", bad, err, body(res))
		}
	}
}

func manyRoles(n int) string {
	var r []string
	for i := range n {
		r = append(r, fmt.Sprintf("role%d", i))
	}
	return strings.Join(r, ",")
}

// ---- 9. metrics

// /metrics counts live connections and how late presence is written.
func TestRealtimeMetrics(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute}})
	a := e.srv.AppID
	metric := func(name string) float64 {
		for _, line := range strings.Split(string(e.do("GET", "/metrics", nil, nil).Raw), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("no %s in /metrics", name)
		return 0
	}
	if n := metric("callgate_realtime_connections"); n != 0 {
		t.Fatalf("connections before any: %v", n)
	}
	one := connect(t, e.srv.URL, a, "cometchat-uid-1", e.newToken("/v3", "cometchat-uid-1"))
	two := connect(t, e.srv.URL, a, "cometchat-uid-2", e.newToken("/v3", "cometchat-uid-2"))
	one.waitPresence("cometchat-uid-2", "online", 5*time.Second)
	if n := metric("callgate_realtime_connections"); n != 2 {
		t.Errorf("connections: %v, want 2", n)
	}
	// uid-2's online reached uid-1's connection: at least one frame observed,
	// and none of them late by seconds on an idle server.
	if n := metric("callgate_realtime_presence_delay_seconds_count"); n < 1 {
		t.Errorf("presence frames observed: %v", n)
	}
	if n, sum := metric("callgate_realtime_presence_delay_seconds_count"), metric("callgate_realtime_presence_delay_seconds_sum"); sum/n > 1 {
		t.Errorf("presence written %v s late on average", sum/n)
	}
	two.conn.CloseNow()
	eventually(t, 5*time.Second, "the closed connection uncounted", func() bool { return metric("callgate_realtime_connections") == 1 })
}

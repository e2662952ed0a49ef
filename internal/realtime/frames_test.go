package realtime_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/callgate/callgate/internal/realtime"
)

// Frame-level tests: a raw TCP client writes the frames a WebSocket library
// would never send, and reads the server's frames as bytes.

type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// dialRaw opens a WebSocket to n as s by hand; extra is written in the
// same write as the handshake (frames a client sends before the answer).
func (n *node) dialRaw(t *testing.T, s realtime.Session, extra []byte) *rawClient {
	t.Helper()
	id := strconv.FormatInt(n.n.Add(1), 10)
	n.sessions.Store(id, s)
	nc, err := net.Dial("tcp", strings.TrimPrefix(n.url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /?s=" + id + " HTTP/1.1\r\nHost: callgate.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake answered %s %v", res.Status, res.Header)
	}
	return c
}

// clientFrame is a frame as a client sends it: masked unless told not to.
func clientFrame(first byte, payload []byte, masked bool) []byte {
	b := []byte{first}
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, maskBit|byte(n))
	case n <= 0xFFFF:
		b = binary.BigEndian.AppendUint16(append(b, maskBit|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, maskBit|127), uint64(n))
	}
	p := bytes.Clone(payload)
	if masked {
		mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
		b = append(b, mask[:]...)
		ws.Cipher(p, mask, 0)
	}
	return append(b, p...)
}

const (
	fin    = 0x80
	opText = 0x1
	opCont = 0x0
	opBin  = 0x2
	opClos = 0x8
	opPing = 0x9
	opPong = 0xA
)

func (c *rawClient) send(frames ...[]byte) {
	c.t.Helper()
	if _, err := c.nc.Write(bytes.Join(frames, nil)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the server's next frame; ok is false at the end of the socket.
func (c *rawClient) next(timeout time.Duration) (ws.Frame, bool) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	f, err := ws.ReadFrame(c.br)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.t.Fatalf("no frame within %v", timeout)
		}
		return f, false
	}
	if f.Header.Masked {
		c.t.Fatal("the server masked a frame")
	}
	return f, true
}

// expect reads frames until one of op with payload (presence and
// "connected" come and go).
func (c *rawClient) expect(op ws.OpCode, payload string) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f, ok := c.next(time.Until(deadline))
		if !ok {
			c.t.Fatalf("socket ended waiting for op %d %q", op, payload)
		}
		if f.Header.OpCode == op && string(f.Payload) == payload {
			return
		}
	}
	c.t.Fatalf("no op %d %q within 5s", op, payload)
}

// closedWith reads until the server's close frame and then the end of
// the socket, without answering: the server must not wait for us forever.
func (c *rawClient) closedWith(code ws.StatusCode) {
	c.t.Helper()
	for {
		f, ok := c.next(5 * time.Second)
		if !ok {
			c.t.Fatalf("socket ended before a close frame (want %d)", code)
		}
		if f.Header.OpCode != ws.OpClose {
			continue
		}
		if got, reason := ws.ParseCloseFrameData(f.Payload); got != code {
			c.t.Fatalf("closed with %d %q, want %d", got, reason, code)
		}
		break
	}
	start := time.Now()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c.br); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.t.Fatal("the server kept the socket open after its close frame")
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		c.t.Errorf("socket closed %v after the close frame", d)
	}
}

func TestFrames(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n := f.node(f.st, nil, realtime.Config{Grace: time.Hour}, true)
	ping := []byte(`{"type":"ping"}`)
	pong := `{"type":"pong"}`

	for _, tc := range []struct {
		name   string
		frames [][]byte
		pong   bool          // the server answers {"type":"pong"}
		close  ws.StatusCode // else the server closes with this
	}{
		{name: "ping message", frames: [][]byte{clientFrame(fin|opText, ping, true)}, pong: true},
		{name: "binary ping message", frames: [][]byte{clientFrame(fin|opBin, ping, true)}, pong: true},
		{name: "fragmented message", pong: true, frames: [][]byte{
			clientFrame(opText, ping[:5], true), clientFrame(opCont, ping[5:9], true), clientFrame(fin|opCont, ping[9:], true)}},
		{name: "empty first fragment", pong: true, frames: [][]byte{
			clientFrame(opText, nil, true), clientFrame(fin|opCont, ping, true)}},
		{name: "control frame between fragments", pong: true, frames: [][]byte{
			clientFrame(opText, ping[:5], true), clientFrame(fin|opPong, []byte("x"), true), clientFrame(fin|opCont, ping[5:], true)}},
		{name: "message of exactly the limit", pong: true, frames: [][]byte{
			clientFrame(fin|opText, []byte(`{"type":"ping","pad":"`+strings.Repeat("x", 4096-24)+`"}`), true)}},

		{name: "unmasked frame", frames: [][]byte{clientFrame(fin|opText, ping, false)}, close: ws.StatusProtocolError},
		{name: "reserved opcode", frames: [][]byte{clientFrame(fin|0x3, ping, true)}, close: ws.StatusProtocolError},
		{name: "reserved control opcode", frames: [][]byte{clientFrame(fin|0xB, nil, true)}, close: ws.StatusProtocolError},
		{name: "rsv bit without an extension", frames: [][]byte{clientFrame(fin|0x40|opText, ping, true)}, close: ws.StatusProtocolError},
		{name: "fragmented ping", frames: [][]byte{clientFrame(opPing, []byte("x"), true)}, close: ws.StatusProtocolError},
		{name: "control payload over 125 bytes", frames: [][]byte{clientFrame(fin|opPing, bytes.Repeat([]byte("x"), 126), true)}, close: ws.StatusProtocolError},
		{name: "continuation without a start", frames: [][]byte{clientFrame(fin|opCont, ping, true)}, close: ws.StatusProtocolError},
		{name: "new message inside a fragmented one", frames: [][]byte{
			clientFrame(opText, ping[:5], true), clientFrame(fin|opText, ping, true)}, close: ws.StatusProtocolError},
		{name: "message over the limit", frames: [][]byte{
			clientFrame(fin|opText, bytes.Repeat([]byte("x"), 4097), true)}, close: ws.StatusMessageTooBig},
		{name: "fragments over the limit", frames: [][]byte{
			clientFrame(opText, bytes.Repeat([]byte("x"), 3000), true), clientFrame(fin|opCont, bytes.Repeat([]byte("x"), 1097), true)}, close: ws.StatusMessageTooBig},
		{name: "a 64-bit length with its top bit set", frames: [][]byte{
			{fin | opText, 0x80 | 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}}, close: ws.StatusProtocolError},
		{name: "a frame claiming 2^63 bytes", frames: [][]byte{
			{fin | opText, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}}, close: ws.StatusMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // a close waits out the server's linger
			c := n.dialRaw(t, f.user("frames"), nil)
			c.expect(ws.OpText, `{"type":"connected","uid":"frames"}`)
			c.send(tc.frames...)
			if tc.pong {
				c.expect(ws.OpText, pong)
				// Still open: a second message is answered too.
				c.send(clientFrame(fin|opText, ping, true))
				c.expect(ws.OpText, pong)
				return
			}
			c.closedWith(tc.close)
		})
	}

	t.Run("websocket ping", func(t *testing.T) {
		c := n.dialRaw(t, f.user("frames"), nil)
		c.send(clientFrame(fin|opPing, []byte("are you there"), true))
		c.expect(ws.OpPong, "are you there")
	})

	// A client may send frames right behind its handshake, before it has
	// the answer: they sit in the handshake's buffer, not in the socket.
	t.Run("frames sent with the handshake", func(t *testing.T) {
		c := n.dialRaw(t, f.user("frames"), clientFrame(fin|opText, ping, true))
		c.expect(ws.OpText, pong)
		c.send(clientFrame(fin|opText, ping, true))
		c.expect(ws.OpText, pong)
	})

	// The client closes: the server answers with the same code, closes the
	// socket, and forgets the connection.
	t.Run("client close", func(t *testing.T) {
		s := f.user("closer")
		c := n.dialRaw(t, s, nil)
		c.expect(ws.OpText, `{"type":"connected","uid":"closer"}`)
		c.send(clientFrame(fin|opClos, ws.NewCloseFrameBody(4321, "bye"), true))
		c.closedWith(4321)
		eventually(t, 5*time.Second, "the connection forgotten", func() bool { return !n.hub.Online(f.app.ID, "closer") })
	})

	// A code that must never be sent (1005 means "no code") or is unassigned
	// is a protocol error.
	for _, code := range []ws.StatusCode{1005, 1006, 1004, 999, 2000, 5000} {
		t.Run("client close with code "+strconv.Itoa(int(code)), func(t *testing.T) {
			t.Parallel()
			c := n.dialRaw(t, f.user("frames"), nil)
			c.send(clientFrame(fin|opClos, ws.NewCloseFrameBody(code, ""), true))
			c.closedWith(ws.StatusProtocolError)
		})
	}

	// A close frame with no code is answered with 1000.
	t.Run("client close without a code", func(t *testing.T) {
		c := n.dialRaw(t, f.user("frames"), nil)
		c.send(clientFrame(fin|opClos, nil, true))
		c.closedWith(ws.StatusNormalClosure)
	})

	// A frame that stops half way is given up on after WriteTimeout (10 s
	// by default): the reader does not wait forever.
	t.Run("frame cut short, client gone", func(t *testing.T) {
		s := f.user("halfway")
		c := n.dialRaw(t, s, nil)
		c.expect(ws.OpText, `{"type":"connected","uid":"halfway"}`)
		c.send(clientFrame(fin|opText, ping, true)[:8])
		c.nc.Close()
		eventually(t, 5*time.Second, "the connection forgotten", func() bool { return !n.hub.Online(f.app.ID, "halfway") })
	})
}

// Idle connections hold no goroutine: the poller starts a reader only
// when a socket has bytes (Linux; elsewhere one reader per connection).
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux's epoll")
	}
	f := newFixture(t)
	n := f.node(f.st, nil, realtime.Config{Grace: time.Hour}, true)
	const conns = 300
	var clients []*rawClient
	for i := range conns {
		c := n.dialRaw(t, f.user("idle"+strconv.Itoa(i%30)), nil)
		c.expect(ws.OpText, `{"type":"connected","uid":"idle`+strconv.Itoa(i%30)+`"}`)
		clients = append(clients, c)
	}
	before := runtime.NumGoroutine()
	// Let the writers finish their presence and end.
	eventually(t, 10*time.Second, "goroutines to settle below one per connection", func() bool {
		return runtime.NumGoroutine() < conns/3
	})
	// They still read: every one answers a ping.
	for _, c := range clients {
		c.send(clientFrame(fin|opText, []byte(`{"type":"ping"}`), true))
	}
	for _, c := range clients {
		c.expect(ws.OpText, `{"type":"pong"}`)
	}
	eventually(t, 10*time.Second, "goroutines to settle again", func() bool {
		return runtime.NumGoroutine() < conns/3
	})
	t.Logf("%d connections: %d goroutines after the dial storm, %d idle", conns, before, runtime.NumGoroutine())
}

package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/servertest"
)

// ---- 6. a slow reader

// A client that never reads, on sockets with tiny buffers so that a few
// dozen events fill them: the server must disconnect it and keep serving
// everyone else promptly. (Linux: the client's receive buffer is set before
// connecting, which needs the raw socket.)
func TestRealtimeSlowReader(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{
		Realtime: realtime.Config{QueueSize: 2, WriteTimeout: time.Second, Grace: time.Minute},
		Handler:  smallSendBuffers,
	})
	a := e.srv.AppID
	watcher := connect(t, e.srv.URL, a, "cometchat-uid-1", e.newToken("/v3", "cometchat-uid-1"))

	slow, res, err := dialWS(t, "slow", e.srv.URL, "/v3/ws", dialOpts{noRead: true, client: tinyClient(),
		header: http.Header{"appId": {a}, "authToken": {e.newToken("/v3", "cometchat-uid-2")}}})
	if err != nil {
		t.Fatalf("dial: %v (%s)", err, body(res))
	}
	watcher.waitPresence("cometchat-uid-2", "online", 5*time.Second)

	// Long uids make long presence messages, so fewer fill the buffers.
	churn := func(i int) time.Duration {
		uid := fmt.Sprintf("slow-%04d-%s", i, strings.Repeat("x", 80))
		d := e.do("POST", "/v3/users", e.auth(), map[string]any{"uid": uid, "name": "churn", "withAuthToken": true}).data(t)
		start := time.Now()
		w := connect(t, e.srv.URL, a, uid, str(d, "authToken"))
		w.conn.CloseNow() // grace is long: no offline events in between
		return watcher.waitPresence(uid, "online", 5*time.Second).at.Sub(start)
	}
	var worst time.Duration
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	for ; e.srv.Hub.Online(a, "cometchat-uid-2"); n++ {
		if time.Now().After(deadline) || n == 3000 {
			t.Fatalf("the client that never reads is still connected after %d presence events", n)
		}
		worst = max(worst, churn(n))
	}
	t.Logf("slow reader dropped after %d presence events; the worst connect→event latency for the watcher meanwhile: %v", n, worst.Round(time.Millisecond))
	if worst > time.Second {
		t.Errorf("a slow reader delayed the others' events by up to %v", worst)
	}
	// The slow client learns it was cut off: its buffered messages, then
	// the end (a 4008 close when that frame could still be sent).
	go slow.read()
	code, reason, _ := slow.closed(10 * time.Second)
	if code != -1 && code != realtime.CloseSlowConsumer {
		t.Errorf("slow reader closed with %d %q, want 4008 or a dropped connection", code, reason)
	}
	t.Logf("slow reader's end: %d %q", code, reason)
	// Everyone else is still served promptly.
	if lat := churn(n); lat > time.Second {
		t.Errorf("after the slow reader: event latency %v", lat)
	}
	watcher.alive()
}

// smallSendBuffers shrinks the server's send buffer of every hijacked
// (WebSocket) connection, so a client that does not read fills it quickly.
func smallSendBuffers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(sndbufWriter{w}, r)
	})
}

type sndbufWriter struct{ http.ResponseWriter }

func (w sndbufWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w sndbufWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(1) // the kernel's minimum
	}
	return c, brw, err
}

// A burst reaches a lagging connection as presence_batch frames, each user
// once: the client reads nothing while 300 users come online (its socket
// fills after a few events), then reads.
func TestRealtimePresenceBatch(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Realtime: realtime.Config{Grace: time.Minute, SendBuffer: 1}})
	a := e.srv.AppID
	all := connect(t, e.srv.URL, a, "cometchat-uid-2", e.newToken("/v3", "cometchat-uid-2"))
	slow, res, err := dialWS(t, "lagging", e.srv.URL, "/v3/ws", dialOpts{noRead: true, client: tinyClient(),
		header: http.Header{"authToken": {e.newToken("/v3", "cometchat-uid-1")}}})
	if err != nil {
		t.Fatalf("dial: %v %s", err, body(res))
	}
	var toks []string
	for i := range 300 {
		uid := fmt.Sprintf("burst-%03d", i)
		d := e.do("POST", "/v3/users", e.rest(), map[string]any{"uid": uid, "name": "B", "withAuthToken": true}).data(t)
		toks = append(toks, str(d, "authToken"))
	}
	for i, tok := range toks {
		w := connect(t, e.srv.URL, a, fmt.Sprintf("burst-%03d", i), tok)
		w.conn.CloseNow() // grace is long: online, no offline
	}
	all.waitPresence("burst-299", "online", 10*time.Second)
	frames, events := 0, map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(events) < 300 {
		_, data, err := slow.conn.Read(ctx)
		if err != nil {
			t.Fatalf("lagging client: %v after %d users", err, len(events))
		}
		var m struct {
			Type   string
			UID    string
			Events []struct{ UID, Status string }
		}
		json.Unmarshal(data, &m)
		switch m.Type {
		case "presence_batch":
			frames++
			for _, ev := range m.Events {
				events[ev.UID]++
			}
		case "presence":
			frames++
			events[m.UID]++
		}
	}
	for uid, n := range events {
		if n != 1 {
			t.Errorf("%s came %d times", uid, n)
		}
	}
	t.Logf("300 users reached the lagging client in %d frames", frames)
	if frames > 100 {
		t.Errorf("%d frames for 300 users: not batched", frames)
	}
}

// tinyClient dials with a 1-byte receive buffer (the kernel's minimum),
// so a client that does not read fills its socket after a few messages.
func tinyClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}).DialContext}}
}

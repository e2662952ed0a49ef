package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

// Behind a trusted proxy (the test's own loopback address), the client
// address the proxy forwards is the one the failed-auth limit counts and
// the request log shows, for REST, the client API and WebSocket upgrades.
func TestTrustedProxyClientAddress(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	e := start(t, servertest.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Config: server.Config{
			RateLimits:     server.RateLimits{Enabled: true, FailedAuthPerMinute: 3, TokensPerMinute: 1000},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		},
	})
	bad := e.rest().with("apiKey", strings.Repeat("1", 40))
	from := func(h H, addr string) H { return h.with("X-Forwarded-For", "6.6.6.6, "+addr) }

	// Three failures from one client behind the proxy use up its bucket …
	for range 3 {
		wantErr(t, e.do("GET", "/v3/users", from(bad, "198.51.100.1"), nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	}
	want429(t, e.do("GET", "/v3/users", from(bad, "198.51.100.1"), nil), 3)
	want429(t, e.do("GET", "/v3/me", from(e.tok("garbage"), "198.51.100.1"), nil), 3)
	// … and not the proxy's, nor another client's behind it; the client's
	// own forged prefix (6.6.6.6) counts for nothing.
	wantErr(t, e.do("GET", "/v3/users", from(bad, "198.51.100.2"), nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/users", bad, nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/users", bad.with("Forwarded", `for="[2001:db8::5]:443"`), nil), 401, "AUTH_ERR_APIKEY_NOT_FOUND")

	// A WebSocket upgrade is logged with the forwarded address too.
	tok := e.newToken("/v3", "cometchat-uid-1")
	h := http.Header{}
	h.Set("X-Forwarded-For", "198.51.100.3")
	ws, _, err := websocket.Dial(context.Background(), strings.Replace(e.srv.URL, "http", "ws", 1)+"/v3/ws?appId="+e.srv.AppID+"&authToken="+tok,
		&websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	type line struct {
		Route, Remote, Proxy, Code string
		Status                     int
	}
	var lines []line
	eventually(t, 5*time.Second, "the WebSocket's log line", func() bool {
		lines = lines[:0]
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var ln line
			if json.Unmarshal([]byte(l), &ln) == nil && ln.Route != "" {
				lines = append(lines, ln)
			}
		}
		return len(lines) > 0 && lines[len(lines)-1].Route == "/ws"
	})
	want := []struct{ remote, proxy string }{
		{"198.51.100.1", "127.0.0.1"}, {"198.51.100.1", "127.0.0.1"}, {"198.51.100.1", "127.0.0.1"},
		{"198.51.100.1", "127.0.0.1"}, {"198.51.100.1", "127.0.0.1"},
		{"198.51.100.2", "127.0.0.1"}, {"127.0.0.1", ""}, {"2001:db8::5", "127.0.0.1"},
		{"127.0.0.1", ""}, // the token's creation
		{"198.51.100.3", "127.0.0.1"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d request lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i, w := range want {
		if lines[i].Remote != w.remote || lines[i].Proxy != w.proxy {
			t.Errorf("line %d (%s %d): remote=%q proxy=%q, want remote=%q proxy=%q", i, lines[i].Route, lines[i].Status, lines[i].Remote, lines[i].Proxy, w.remote, w.proxy)
		}
	}
}

package bench

// The floor of bench-realtime (--floor): a bare coder/websocket server on
// net/http that accepts a connection, sends one message and reads until
// the client goes. Nothing of callgate's is in it — no authentication,
// registry, presence or queues — so its RSS and connect time per session,
// measured by the same clients, are what the I/O model itself costs
// (goroutine, stack and buffers per socket), the line callgate's figures
// are read against.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// ServeFloor serves the floor server on addr until ctx ends: GET /readyz
// and the WebSocket at /v3.0/ws (the path bench-realtime's clients dial).
func ServeFloor(ctx context.Context, addr string) error {
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /v3.0/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		wctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		err = ws.Write(wctx, websocket.MessageText, []byte(`{"type":"connected"}`))
		cancel()
		for err == nil {
			_, _, err = ws.Read(context.Background())
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

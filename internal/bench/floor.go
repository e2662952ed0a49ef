package bench

// The floor of bench-realtime (--floor): a bare coder/websocket server on
// net/http that accepts a connection, sends one message and reads until
// the client goes. Nothing of callgate's is in it — no authentication,
// registry, presence feed or queues — so its RSS and connect time per
// session, measured by the same clients, are what the I/O model itself
// costs (goroutine, stack and buffers per socket), the line callgate's
// figures are read against.
//
// Its presence fan-out is the floor of that figure: a dial with a
// floorWatchHeader has its uid's online event written to every other
// socket at once, a goroutine per socket, with nothing looked up, queued or
// encoded per socket.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// floorWatchHeader names the uid whose online event the floor server
// writes to every socket when that uid dials.
const floorWatchHeader = "X-Floor-Watched"

// ServeFloor serves the floor server on addr until ctx ends: GET /readyz
// and the WebSocket at /v3.0/ws (the path bench-realtime's clients dial).
func ServeFloor(ctx context.Context, addr string) error {
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	var mu sync.Mutex
	conns := map[*websocket.Conn]struct{}{}
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
		if uid := r.Header.Get(floorWatchHeader); uid != "" {
			msg := []byte(`{"type":"presence","uid":` + strconv.Quote(uid) +
				`,"status":"online","lastActiveAt":` + strconv.FormatInt(time.Now().Unix(), 10) + `}`)
			mu.Lock()
			for c := range conns {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					c.Write(ctx, websocket.MessageText, msg)
				}()
			}
			mu.Unlock()
		}
		mu.Lock()
		conns[ws] = struct{}{}
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(conns, ws)
			mu.Unlock()
		}()
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

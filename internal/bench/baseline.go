package bench

// The baseline server of Run: a bare net/http handler with a fixed JSON
// body, started as its own process (callgate bench-baseline) like callgate.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// ServeBaseline serves a JSON body of size bytes on addr until ctx ends.
func ServeBaseline(ctx context.Context, addr string, size int) error {
	body := baselineBody(size)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func baselineBody(size int) []byte {
	b := []byte(`{"data":{"uid":"baseline","name":"`)
	for len(b) < size-3 {
		b = append(b, 'x')
	}
	return append(b, `"}}`...)
}

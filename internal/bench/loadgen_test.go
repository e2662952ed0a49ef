package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRunLoadCountsStatusesAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	good, bad := NewRequest("GET", addr, "/", nil, nil), NewRequest("POST", addr, "/bad", map[string]string{"X": "1"}, []byte(`{}`))
	res, err := RunLoad(context.Background(), LoadOptions{Addr: addr, Connections: 4, Duration: 300 * time.Millisecond,
		Next: func(conn, i int) Request {
			if i%4 == 0 {
				return bad
			}
			return good
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 100 || res.Errors == 0 || res.Errors > res.Requests/2 {
		t.Fatalf("requests %d errors %d", res.Requests, res.Errors)
	}
	if res.Hist.Count() != res.Requests || res.RPS() <= 0 {
		t.Fatalf("hist %d vs %d", res.Hist.Count(), res.Requests)
	}
}

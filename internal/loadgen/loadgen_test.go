package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.9, 900 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.Quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d < 0 || d > 0.03 {
			t.Errorf("q%.2f = %v, want %v (+3%%)", tc.q, got, tc.want)
		}
	}
	if h.Max() != time.Millisecond || h.Count() != 1000 {
		t.Errorf("max %v count %d", h.Max(), h.Count())
	}
}

func TestRunCountsStatusesAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	good, bad := NewRequest("GET", addr, "/", nil, nil), NewRequest("POST", addr, "/bad", map[string]string{"X": "1"}, []byte(`{}`))
	res, err := Run(context.Background(), Options{Addr: addr, Connections: 4, Duration: 300 * time.Millisecond,
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

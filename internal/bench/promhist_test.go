package bench

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHistogramQuantile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`# HELP x_seconds help
# TYPE x_seconds histogram
x_seconds_bucket{le="0.1"} 50
x_seconds_bucket{le="0.2"} 90
x_seconds_bucket{le="0.4"} 100
x_seconds_bucket{le="+Inf"} 100
x_seconds_sum 12
x_seconds_count 100
other_bucket{le="0.1"} 7
`))
	}))
	defer srv.Close()
	h, err := scrapeHistogram(context.Background(), srv.Client(), srv.URL, "x_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 || !math.IsInf(maxKey(h), 1) {
		t.Fatalf("scraped %v", h)
	}
	for _, tc := range []struct{ q, want float64 }{
		{0.25, 0.05}, // half way into the first bucket, from 0
		{0.5, 0.1},
		{0.7, 0.15}, // half of the second bucket's 40
		{0.99, 0.38},
	} {
		if got := h.quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// Between two scrapes: only what was observed in between.
	before := histogram{0.1: 40, 0.2: 40, 0.4: 40, math.Inf(1): 40}
	d := h.minus(before)
	if got := d.quantile(0.5); math.Abs(got-0.15) > 1e-9 { // 10, 40, 10 observed: rank 30 of 60
		t.Errorf("delta median %v", got)
	}
	if got := (histogram{0.1: 0, math.Inf(1): 0}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty histogram: %v", got)
	}
	if got := (histogram{0.1: 0, math.Inf(1): 5}).quantile(0.5); got != 0.1 {
		t.Errorf("all above the last bound: %v, want 0.1", got)
	}
	if _, err := scrapeHistogram(context.Background(), srv.Client(), srv.URL, "missing"); err == nil {
		t.Error("a missing histogram scraped without error")
	}
}

func maxKey(h histogram) float64 {
	m := math.Inf(-1)
	for k := range h {
		m = max(m, k)
	}
	return m
}

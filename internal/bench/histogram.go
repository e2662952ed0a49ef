package bench

import (
	"math"
	"time"
)

// Histogram records latencies in log-linear buckets (≤ ~1.6 % error) from
// 1 µs to ~1 min.
type Histogram struct {
	counts [64 * 32]int64
	max    time.Duration
	n      int64
}

func NewHistogram() *Histogram { return &Histogram{} }

func bucket(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us < 1 {
		return 0
	}
	b := int(math.Log2(us) * 32)
	return min(b, 64*32-1)
}

func (h *Histogram) Record(d time.Duration) {
	h.counts[bucket(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Quantile returns the q-quantile (0 < q ≤ 1).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	target := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= target {
			// Upper edge of the bucket, capped by the true max.
			us := math.Exp2(float64(i+1) / 32)
			return min(time.Duration(us*float64(time.Microsecond)), h.max)
		}
	}
	return h.max
}

func (h *Histogram) Max() time.Duration { return h.max }
func (h *Histogram) Count() int64       { return h.n }

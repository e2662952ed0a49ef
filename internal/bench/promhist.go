package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// histogram is one Prometheus histogram as scraped: cumulative counts by
// upper bound, the text format's _bucket{le="…"} lines.
type histogram map[float64]float64

// scrapeHistogram reads name's buckets from a /metrics URL.
func scrapeHistogram(ctx context.Context, client *http.Client, url, name string) (histogram, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", url, res.StatusCode)
	}
	h := histogram{}
	prefix := name + `_bucket{le="`
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		bound, err1 := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		n, err2 := strconv.ParseFloat(count, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("GET %s: bad bucket line %q", url, sc.Text())
		}
		h[bound] += n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("GET %s: no %s", url, name)
	}
	return h, nil
}

// minus is what was observed between two scrapes of one histogram (or the
// sums of several nodes').
func (h histogram) minus(before histogram) histogram {
	out := histogram{}
	for le, n := range h {
		out[le] = n - before[le]
	}
	return out
}

func (h histogram) add(o histogram) {
	for le, n := range o {
		h[le] += n
	}
}

// quantile estimates the q-quantile (0 < q < 1) as Prometheus's
// histogram_quantile does: linear within the bucket it falls in. NaN when
// nothing was observed; the last finite bound when it falls in +Inf.
func (h histogram) quantile(q float64) float64 {
	bounds := make([]float64, 0, len(h))
	for le := range h {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 || h[bounds[len(bounds)-1]] <= 0 {
		return math.NaN()
	}
	rank := q * h[bounds[len(bounds)-1]]
	lo, below := 0.0, 0.0
	for _, le := range bounds {
		n := h[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return lo
			}
			if n == below {
				return le
			}
			return lo + (le-lo)*(rank-below)/(n-below)
		}
		lo, below = le, n
	}
	return lo
}

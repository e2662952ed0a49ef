package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/callgate/callgate/internal/apierr"
)

// RateLimits configures the limiters. Zero PerMinute disables that limit.
type RateLimits struct {
	Enabled bool
	// TokensPerMinute caps auth-token creation per app (the hosted service's
	// default is 10,000/min).
	TokensPerMinute int
	// FailedAuthPerMinute caps failed authentications per client IP.
	FailedAuthPerMinute int
}

// DefaultRateLimits are the limits a new server starts with.
var DefaultRateLimits = RateLimits{Enabled: true, TokensPerMinute: 10000, FailedAuthPerMinute: 30}

// limiterSet is a token bucket per key (app or IP), with a burst of one
// minute's allowance. Idle buckets refill completely within a minute, so
// dropping them after that loses nothing; that keeps memory bounded under a
// spray of source addresses.
type limiterSet struct {
	perMin    int
	mu        sync.Mutex
	m         map[string]*limEntry
	lastSweep time.Time
}

type limEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiterSet(perMin int) *limiterSet {
	if perMin <= 0 {
		return nil
	}
	return &limiterSet{perMin: perMin, m: map[string]*limEntry{}}
}

func (ls *limiterSet) get(key string, now time.Time) *rate.Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now.Sub(ls.lastSweep) > time.Minute || len(ls.m) > 100_000 {
		for k, e := range ls.m {
			if now.Sub(e.seen) > time.Minute {
				delete(ls.m, k)
			}
		}
		ls.lastSweep = now
	}
	e := ls.m[key]
	if e == nil {
		e = &limEntry{l: rate.NewLimiter(rate.Limit(float64(ls.perMin)/60), ls.perMin)}
		ls.m[key] = e
	}
	e.seen = now
	return e.l
}

func (ls *limiterSet) headers(h http.Header, l *rate.Limiter, now time.Time) {
	h.Set("X-Rate-Limit", strconv.Itoa(ls.perMin))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(max(0, int(l.TokensAt(now)))))
}

func (ls *limiterSet) limited(l *rate.Limiter, now time.Time) *apierr.Error {
	wait := (1 - l.TokensAt(now)) / float64(l.Limit())
	secs := strconv.Itoa(max(1, int(math.Ceil(wait))))
	return apierr.New(apierr.TooManyRequests).With("retryAfter", secs).
		SetHeader("Retry-After", secs).
		SetHeader("X-Rate-Limit", strconv.Itoa(ls.perMin)).
		SetHeader("X-Rate-Limit-Remaining", "0")
}

// allow takes one event from key's bucket, or returns the 429 to send.
func (ls *limiterSet) allow(w http.ResponseWriter, key string, now time.Time) *apierr.Error {
	if ls == nil {
		return nil
	}
	l := ls.get(key, now)
	if !l.AllowN(now, 1) {
		return ls.limited(l, now)
	}
	ls.headers(w.Header(), l, now)
	return nil
}

// blocked reports (as a 429) whether key's bucket is empty, without taking
// from it: failed-auth buckets are only drained by failures.
func (ls *limiterSet) blocked(key string, now time.Time) *apierr.Error {
	if ls == nil {
		return nil
	}
	l := ls.get(key, now)
	if l.TokensAt(now) >= 1 {
		return nil
	}
	return ls.limited(l, now)
}

// spend takes one event from key's bucket.
func (ls *limiterSet) spend(key string, now time.Time) {
	if ls != nil {
		ls.get(key, now).AllowN(now, 1)
	}
}

// limited counts a request the auth-token creation limit refused.
func (s *Server) limited(e *apierr.Error) error {
	s.metrics.rateLimited.WithLabelValues("auth_tokens").Inc()
	return e
}

package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callgate/callgate/internal/realtime"
)

// metrics are the server's Prometheus series (docs/operations.md,
// "Observability"); their labels come from fixed sets (docs/design.md
// "Limits and abuse").
type metrics struct {
	// series caches the children of requests and latency per route, method
	// and status: label lookups hash their values on every call.
	series        sync.Map // seriesKey → *seriesPair
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	logins        prometheus.Counter
	tokensCreated prometheus.Counter
	authFailures  *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
}

type seriesKey struct {
	route, method string
	status        int
}

type seriesPair struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// methodLabel maps a request's method onto a fixed set. The method is
// whatever the client sent (`curl -X PROBE-a1b2` is a valid request line),
// and a label per distinct value was a series per request: 100,000 odd
// methods took RSS from 20 MB to 369 MB and /metrics to 197 MB.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// observe records one request. Every label comes from a fixed set: route is
// a registered pattern or "unmatched", method goes through methodLabel, and
// status is one the server itself wrote.
func (m *metrics) observe(route, method string, status int, d time.Duration) {
	method = methodLabel(method)
	k := seriesKey{route, method, status}
	p, ok := m.series.Load(k)
	if !ok {
		code := strconv.Itoa(status)
		p, _ = m.series.LoadOrStore(k, &seriesPair{
			count:   m.requests.WithLabelValues(route, method, code),
			latency: m.latency.WithLabelValues(route, method, code),
		})
	}
	sp := p.(*seriesPair)
	sp.count.Inc()
	sp.latency.Observe(d.Seconds())
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callgate_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "callgate_http_request_duration_seconds", Help: "HTTP request latency by route pattern, method and status code.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		logins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callgate_logins_total", Help: "Sessions started (PUT /me).",
		}),
		tokensCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callgate_auth_tokens_created_total", Help: "Auth tokens created.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callgate_auth_failures_total", Help: "Failed authentication attempts by error code.",
		}, []string{"code"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callgate_rate_limited_total", Help: "Requests refused by a rate limit.",
		}, []string{"limit"}),
	}
	reg.MustRegister(m.requests, m.latency, m.logins, m.tokensCreated, m.authFailures, m.rateLimited)
	return m
}

// registerRealtime adds the hub's series: live connections, and how late
// presence is written to them (realtime.Hub.ObservePresence).
func registerRealtime(reg *prometheus.Registry, hub *realtime.Hub) {
	delay := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callgate_realtime_presence_delay_seconds",
		Help: "Time from a presence change reaching this node to its frame written to a connection, per frame and connection.",
		// A change after a quiet spell goes out at once; in a storm a
		// connection's window stretches to 800 ms (docs/realtime.md).
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .075, .1, .15, .2, .3, .4, .5, .65, .8, 1, 1.5, 2.5, 5, 10, 30},
	})
	hub.ObservePresence(func(d time.Duration) { delay.Observe(d.Seconds()) })
	reg.MustRegister(delay, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "callgate_realtime_connections", Help: "Live realtime (WebSocket) connections on this node.",
	}, func() float64 { return float64(hub.Count()) }))
}

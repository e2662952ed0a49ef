package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/bench"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store"
)

// BenchmarkAuditOverhead measures what the audit log costs the write it
// records: POST /v3/users with a fullAccess key (user.create), each request
// a new user, 64 keep-alive connections closed-loop (internal/bench's load
// generator), on a real server over a real socket. Recording is switched on
// and off between rounds on the same server, alternating (on off off
// on on off …), so that drift of a shared machine and the growth of the
// users table fall on both alike. The figures to compare are the ratios
// within each adjacent pair of rounds, and their median
// (docs/benchmarks.md "Audit log").
//
//	go test ./internal/server -run '^$' -bench AuditOverhead -benchtime 1x
//	CALLGATE_TEST_POSTGRES=postgres://… go test … (adds PostgreSQL)
func BenchmarkAuditOverhead(b *testing.B) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		b.Run(name, func(b *testing.B) { benchAuditOverhead(b, pg) })
	}
}

func benchAuditOverhead(b *testing.B, pg bool) {
	const (
		pairs       = 6
		round       = 4 * time.Second
		warmup      = time.Second
		connections = 64
	)
	srv := servertest.Start(b, servertest.Options{NoRealtime: true, Postgres: pg})
	addr := strings.TrimPrefix(srv.URL, "http://")
	headers := map[string]string{"appId": srv.AppID, "apiKey": srv.RESTKey}
	type agg struct {
		requests int64
		elapsed  time.Duration
		hist     *bench.Histogram
		rps, p99 []float64
	}
	modes := map[bool]*agg{true: {hist: bench.NewHistogram()}, false: {hist: bench.NewHistogram()}}
	for n := range 2 * pairs {
		on := n%4 == 0 || n%4 == 3 // on off off on, on off off on…
		srv.API.SetAuditRecording(on)
		res, err := bench.RunLoad(context.Background(), bench.LoadOptions{
			Addr: addr, Connections: connections, Duration: round, Warmup: warmup,
			Next: func(conn, i int) bench.Request {
				body := fmt.Sprintf(`{"uid":"b%d-%d-%d","name":"Bench user"}`, n, conn, i)
				return bench.NewRequest("POST", addr, "/v3/users", headers, []byte(body))
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Errors > 0 {
			b.Fatalf("round %d: %d of %d requests failed", n, res.Errors, res.Requests)
		}
		// Events still held behind are written now, not during the next round.
		srv.API.FlushAudit()
		a := modes[on]
		a.requests += res.Requests
		a.elapsed += res.Elapsed
		a.hist.Merge(res.Hist)
		a.rps = append(a.rps, res.RPS())
		a.p99 = append(a.p99, ms(res.Hist.Quantile(0.99)))
		b.Logf("round %d audit=%-5v %7.0f req/s  p50 %5.2f ms  p99 %5.2f ms", n+1, on, res.RPS(),
			ms(res.Hist.Quantile(0.50)), ms(res.Hist.Quantile(0.99)))
	}
	on, off := modes[true], modes[false]
	// The switch works: events for the rounds that recorded, none for the
	// others (warm-ups count as their rounds do).
	_, events, err := srv.Store.ListAuditEvents(context.Background(), srv.AppID, store.AuditQuery{Action: "user.create", Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	_, users, err := srv.Store.ListUsers(context.Background(), srv.AppID, store.UserQuery{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	if int64(events) < on.requests || int64(users-events) < off.requests {
		b.Fatalf("%d user.create events for %d users; measured %d with recording, %d without", events, users, on.requests, off.requests)
	}
	onRPS, offRPS := float64(on.requests)/on.elapsed.Seconds(), float64(off.requests)/off.elapsed.Seconds()
	onP99, offP99 := ms(on.hist.Quantile(0.99)), ms(off.hist.Quantile(0.99))
	b.Logf("audit on:  %7.0f req/s  p50 %5.2f ms  p99 %5.2f ms", onRPS, ms(on.hist.Quantile(0.50)), onP99)
	b.Logf("audit off: %7.0f req/s  p50 %5.2f ms  p99 %5.2f ms", offRPS, ms(off.hist.Quantile(0.50)), offP99)
	rpsRatio, rpsPairs := pairRatios(on.rps, off.rps)
	p99Ratio, p99Pairs := pairRatios(on.p99, off.p99)
	b.Logf("on/off, all rounds: throughput %.1f %%, p99 %.1f %%", 100*onRPS/offRPS, 100*onP99/offP99)
	b.Logf("on/off, median of pairs: throughput %.1f %% (%s), p99 %.1f %% (%s)", rpsRatio, rpsPairs, p99Ratio, p99Pairs)
	b.ReportMetric(onRPS, "req/s-on")
	b.ReportMetric(offRPS, "req/s-off")
	b.ReportMetric(onP99, "p99-ms-on")
	b.ReportMetric(offP99, "p99-ms-off")
	b.ReportMetric(rpsRatio, "%-throughput")
	b.ReportMetric(p99Ratio, "%-p99")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pairRatios is on/off of each adjacent pair of rounds, in per cent: their
// median, and each.
func pairRatios(on, off []float64) (float64, string) {
	var rs []float64
	var out []string
	for i := range min(len(on), len(off)) {
		rs = append(rs, 100*on[i]/off[i])
		out = append(out, fmt.Sprintf("%.0f", rs[i]))
	}
	slices.Sort(rs)
	med := rs[len(rs)/2]
	if len(rs)%2 == 0 {
		med = (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
	}
	return med, strings.Join(out, " ")
}

package bench

// Formatting the figures for people; the CLI prints the tables (and --json
// prints Report.Results or RealtimeResult as they are).

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Heading is the line printed above Run's table.
func (rep *Report) Heading() string {
	return fmt.Sprintf("\n%d connections, %s per scenario in %d rounds taking turns, server %s\n\n", rep.Connections, rep.Duration, rep.Rounds, rep.env.url)
}

// Table is Run's figures, one row a scenario.
func (rep *Report) Table() (header []string, rows [][]string) {
	rows = make([][]string, 0, len(rep.Results))
	for _, r := range rep.Results {
		ratio, rss := "-", "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*r.Ratio)
		}
		if r.ServerRSS > 0 {
			rss = fmt.Sprintf("%.0f MB", r.ServerRSS)
		}
		rows = append(rows, []string{r.Scenario, fmt.Sprintf("%.0f", r.RPS), ms(r.P50ms), ms(r.P90ms), ms(r.P99ms), ms(r.MaxMs),
			strconv.FormatInt(r.Errors, 10), rss, ratio})
	}
	return []string{"SCENARIO", "REQ/S", "P50", "P90", "P99", "MAX", "ERRORS", "SERVER RSS", "VS BASELINE"}, rows
}

// WriteWrk writes wrk commands that reproduce each scenario on the same server.
func (rep *Report) WriteWrk(w io.Writer) {
	env, conns := rep.env, rep.Connections
	fmt.Fprintf(w, "\nReproduce with wrk (the servers stop when bench exits; use --target on a server you keep running):\n\n")
	h := func(k, v string) string { return fmt.Sprintf("-H '%s: %s'", k, v) }
	if env.baseline != "" {
		fmt.Fprintf(w, "  wrk -t2 -c%d -d10s http://%s/\n", conns, env.baseline)
	}
	fmt.Fprintf(w, "  wrk -t2 -c%d -d10s %s %s %s/v3/me\n", conns, h("appId", env.app), h("authToken", env.tokens[0]), env.url)
	fmt.Fprintf(w, "  wrk -t2 -c%d -d10s -s docs/bench/put-me.lua %s %s %s/v3.0/me\n", conns, h("appId", env.app), h("authToken", env.tokens[0]), env.url)
	fmt.Fprintf(w, "  wrk -t2 -c%d -d10s -s docs/bench/login.lua %s %s %s/v3/users/%s/auth_tokens\n", conns, h("appId", env.app), h("apiKey", env.authKey), env.url, env.uids[0])
}

// Heading is the line printed above RunRealtime's table.
func (res RealtimeResult) Heading() string {
	if res.Store == "floor" {
		return fmt.Sprintf("\n%d sessions on the floor server (bare coder/websocket on net/http: accept, one message, read loop), %d client process(es)\n\n",
			res.Sessions, res.Clients)
	}
	return fmt.Sprintf("\n%d sessions over %d users, one app, %d node(s) on %s, %d client process(es), presence %s\n\n",
		res.Sessions, res.Users, res.Nodes, res.Store, res.Clients, res.Presence)
}

// Table is RunRealtime's figures, one row a measure.
func (res RealtimeResult) Table() (header []string, rows [][]string) {
	connect := fmt.Sprintf("%.1f s", res.ConnectSeconds)
	if res.ConnectRetries > 0 {
		connect += fmt.Sprintf(" (%d upgrades answered 503 and dialed again)", res.ConnectRetries)
	}
	rows = [][]string{
		{"connect all sessions", connect},
		{"server RSS, all live", fmt.Sprintf("%.0f MB (%.1f KB per session)", res.ServerRSSMB, res.RSSPerSessionKB)},
	}
	if len(res.PerNode) > 1 {
		for _, n := range res.PerNode {
			rows = append(rows, []string{fmt.Sprintf("  node %d (%d sessions)", n.Node, n.Sessions),
				fmt.Sprintf("%.0f MB (%.1f KB per session), idle CPU %.1f%%", n.RSSMB, n.RSSPerSessionKB, n.IdleCPUPercent)})
		}
	}
	idle := fmt.Sprintf("server CPU idle (pings every %.0fs)", res.PingIntervalSec)
	if res.Store == "floor" {
		idle = "server CPU idle (no pings)"
	}
	rows = append(rows,
		[]string{"client processes' RSS", fmt.Sprintf("%.0f MB", res.ClientRSSMB)},
		[]string{idle, fmt.Sprintf("%.1f%% of a core over %.0f s", res.IdleCPUPercent, res.IdleSeconds)})
	if res.PresenceSessions > 0 {
		v := fmt.Sprintf("last %.1f ms, p50 %.1f ms, p99 %.1f ms", res.PresenceAllMs, res.PresenceP50Ms, res.PresenceP99Ms)
		if res.Nodes > 1 {
			v += fmt.Sprintf(" (other nodes' p99 %.1f ms)", res.PresenceOtherP99Ms)
		}
		rows = append(rows, []string{"presence: a user online on node 1 → every session", v})
		if res.Store != "floor" {
			rows = append(rows, []string{"  written to the sockets by the server(s) (/metrics)",
				fmt.Sprintf("p50 %.0f ms, p99 %.0f ms", res.PresenceServerP50Ms, res.PresenceServerP99Ms)})
		}
	} else if res.Store != "floor" {
		rows = append(rows, []string{"presence fan-out", "not measured: the sessions hear no presence"})
	}
	where := "token delete → socket closed"
	if res.RevokeAcrossNodes {
		where = "token delete on node 1 → socket on another node closed"
	}
	if res.RevokeSamples > 0 {
		rows = append(rows, []string{where, fmt.Sprintf("p50 %.2f ms, p99 %.2f ms (%d samples)", res.RevokeP50Ms, res.RevokeP99Ms, res.RevokeSamples)})
	}
	if k := res.Kill; k != nil {
		v := fmt.Sprintf("REST offline after %.0f ms", k.RESTOfflineMs)
		if k.Listeners > 0 {
			v = fmt.Sprintf("first offline heard after %.0f ms; every session heard all after %.0f ms (p50 %.0f ms, p99 %.0f ms; %d sessions); ",
				k.FirstOfflineMs, k.AllOfflineMs, k.OfflineP50Ms, k.OfflineP99Ms, k.Listeners) + v
			if k.Missing > 0 {
				v += fmt.Sprintf("; %d sessions had not heard all after %.0f ms (one only %d of %d)", k.Missing, k.WaitedMs, k.MissingFewest, k.Users)
			}
		}
		rows = append(rows, []string{fmt.Sprintf("kill -9 node %d (%d users, %d sessions; lease %.0f s)", k.Node, k.Users, k.Sessions, k.LeaseSeconds), v})
	}
	return []string{"MEASURE", "VALUE"}, rows
}

func ms(v float64) string { return fmt.Sprintf("%.2fms", v) }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Heading is the line printed above RunSoak's table.
func (rep *SoakReport) Heading() string {
	return fmt.Sprintf("\nsoak: %.0f s of mixed load (10%% login, 20%% PUT /me, 70%% GET /me) on %d connections, %d WebSocket clients churning; server %s\n\n",
		rep.DurationSeconds, rep.Connections, rep.Churners, rep.url)
}

// Table is RunSoak's figures, one row a window, then the growth checks.
func (rep *SoakReport) Table() (header []string, rows [][]string) {
	for _, w := range rep.Windows {
		rows = append(rows, []string{strconv.Itoa(w.Index), fmt.Sprintf("%.0f", w.RPS), ms(w.P99ms), strconv.FormatInt(w.Errors, 10),
			fmt.Sprintf("%d (%d failed)", w.WSConnects, w.WSFailures), fmt.Sprintf("%.0f MB (%.0f)", w.RSSMB, w.RSSMBMax),
			fmt.Sprintf("%d (%d)", w.Goroutines, w.GoroutinesMax), fmt.Sprintf("%d (%d)", w.FDs, w.FDsMax)})
	}
	return []string{"WINDOW", "REQ/S", "P99", "ERRORS", "WS CONNECTS", "RSS MEDIAN (MAX)", "GOROUTINES MEDIAN (MAX)", "OPEN FDS MEDIAN (MAX)"}, rows
}

// Verdict is the growth checks and the outcome, for people.
func (rep *SoakReport) Verdict() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nafter %.0f s of warm-up, medians by third (early / middle / last; limit for the last):\n", rep.WarmupSeconds)
	for _, c := range rep.Checks {
		mark := "ok"
		if c.Grew {
			mark = "GREW"
		}
		fmt.Fprintf(&b, "  %-17s %s / %s / %s  (limit %s)  %s\n", c.Measure, fmtMeasure(c.Measure, c.Early), fmtMeasure(c.Measure, c.Middle),
			fmtMeasure(c.Measure, c.Last), fmtMeasure(c.Measure, c.Limit), mark)
	}
	fmt.Fprintf(&b, "  %d requests, %d errors, p99 %s; %d WebSocket connections, %d failed; %d samples\n",
		rep.Requests, rep.Errors, ms(rep.P99ms), rep.WSConnects, rep.WSFailures, rep.Samples)
	if len(rep.Failures) == 0 {
		b.WriteString("\nsoak passed: nothing kept growing\n")
	}
	return b.String()
}

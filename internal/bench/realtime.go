package bench

// callgate bench-realtime: N live WebSocket sessions on one or several
// nodes, held by one or several client processes; their memory and idle
// cost, presence fan-out, revoke→close latency and, with --kill-node, how
// soon a crashed node's users are heard offline (docs/benchmarks.md).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/provision"
)

// RealtimeOptions are the settings of RunRealtime: the flags of callgate
// bench-realtime, which its errors name.
type RealtimeOptions struct {
	Sessions  int           // concurrent WebSocket sessions
	Users     int           // users the sessions belong to
	Samples   int           // token deletions timed for revoke→close
	Idle      time.Duration // idle window for the CPU figure
	ServerBin string        // callgate binary to start; "" is this executable
	// ServerArgs are extra flags for the started servers (e.g. --pprof).
	ServerArgs []string
	// Presence is the presence query parameter of every session ("",
	// all, none, roles:r1,r2). With roles, every user gets the first role.
	Presence string
	// Nodes is how many serve processes share the sessions (round robin
	// by user); more than one needs DB.
	Nodes int
	// DB is a PostgreSQL URL the nodes share; "" runs one node on SQLite.
	DB string
	// NodeLease is the nodes' --node-lease (with DB).
	NodeLease time.Duration
	// Clients is how many client processes hold the sessions (each holds
	// at most its open-files limit).
	Clients int
	// KillNode ends the run by killing the last node with SIGKILL and
	// timing its users' offline events on the other nodes.
	KillNode bool
	// Floor runs the floor server (floor.go) as the one node instead of
	// callgate: connect, RSS, idle CPU and presence fan-out (of one
	// message written to every socket: floor.go).
	Floor bool
	// Redact hides the password of a database URL in status lines.
	Redact func(dsn string) string
}

// RealtimeNode is one node's share of RealtimeResult.
type RealtimeNode struct {
	Node            int     `json:"node"` // 1-based
	Addr            string  `json:"addr"`
	Sessions        int     `json:"sessions"`
	RSSMB           float64 `json:"rssMB"`
	RSSPerSessionKB float64 `json:"rssPerSessionKB"`
	IdleCPUPercent  float64 `json:"idleCpuPercent"`
}

// RealtimeKill is what --kill-node measured.
type RealtimeKill struct {
	Node         int     `json:"node"`  // 1-based
	Users        int     `json:"users"` // users all of whose sessions were on it
	Sessions     int     `json:"sessionsOnIt"`
	Listeners    int     `json:"listeningSessions"` // sessions on the other nodes, timed
	LeaseSeconds float64 `json:"leaseSeconds"`
	// Until every listening session has heard every one of the node's
	// users go offline, from the SIGKILL: the last session, and p50/p99
	// over sessions. Zero when the sessions hear no presence.
	FirstOfflineMs float64 `json:"firstOfflineMs"` // the first any session heard
	AllOfflineMs   float64 `json:"allOfflineMs"`
	OfflineP50Ms   float64 `json:"offlineP50Ms"`
	OfflineP99Ms   float64 `json:"offlineP99Ms"`
	RESTOfflineMs  float64 `json:"restOfflineMs"` // node 1's GET /users/{uid} reads one of them offline
	// Missing sessions had not heard every user offline after WaitedMs
	// (the figures above are then of the others); one of them had heard
	// only MissingFewest.
	Missing       int     `json:"missing,omitempty"`
	MissingFewest int     `json:"missingFewest,omitempty"`
	WaitedMs      float64 `json:"waitedMs,omitempty"`
}

// RealtimeResult is what RunRealtime measured (also its --json shape).
type RealtimeResult struct {
	Sessions        int            `json:"sessions"`
	Users           int            `json:"users"`
	Nodes           int            `json:"nodes"`
	Store           string         `json:"store"` // sqlite, postgres, or floor (--floor)
	Clients         int            `json:"clients"`
	Presence        string         `json:"presence"`
	ConnectSeconds  float64        `json:"connectSeconds"`
	ConnectRetries  int            `json:"connectRetries"` // upgrades answered 503 (Retry-After) and dialed again
	ServerRSSMB     float64        `json:"serverRssMB"`    // all nodes
	RSSPerSessionKB float64        `json:"serverRssPerSessionKB"`
	PerNode         []RealtimeNode `json:"perNode"`
	ClientRSSMB     float64        `json:"clientRssMB"`         // all client processes
	IdleCPUPercent  float64        `json:"idleCpuPercent"`      // of one core, all nodes, pings running
	IdleSeconds     float64        `json:"idleSeconds"`         //
	PresenceAllMs   float64        `json:"presenceFanoutAllMs"` // one event reaching every session
	PresenceP50Ms   float64        `json:"presenceFanoutP50Ms"`
	PresenceP99Ms   float64        `json:"presenceFanoutP99Ms"`
	// PresenceOtherP99Ms is the p99 over the sessions on nodes other than
	// the one the user connected to (0 with one node).
	PresenceOtherP99Ms float64 `json:"presenceFanoutOtherNodesP99Ms"`
	PresenceSessions   int     `json:"presenceSessions"` // sessions timed (0: the filter hears nothing)
	// PresenceServerP50Ms and P99Ms are the same fan-out as the servers saw
	// it: from the change reaching a node to its frame written to each
	// socket, estimated from their /metrics histograms
	// (callgate_realtime_presence_delay_seconds, linear within a bucket).
	PresenceServerP50Ms float64 `json:"presenceServerP50Ms"`
	PresenceServerP99Ms float64 `json:"presenceServerP99Ms"`
	RevokeP50Ms         float64 `json:"revokeToCloseP50Ms"`
	RevokeP99Ms         float64 `json:"revokeToCloseP99Ms"`
	RevokeSamples       int     `json:"revokeSamples"`
	// RevokeAcrossNodes: each DELETE went to node 1 and its socket was on
	// another node.
	RevokeAcrossNodes bool          `json:"revokeAcrossNodes"`
	Kill              *RealtimeKill `json:"killNode,omitempty"`
	PingIntervalSec   float64       `json:"pingIntervalSeconds"`
}

const rtWatched = "rt-user-watched"

// presenceDelayMetric is the servers' histogram of how late presence is
// written (docs/operations.md).
const presenceDelayMetric = "callgate_realtime_presence_delay_seconds"

// rtChild is a client process as the coordinator sees it.
type rtChild struct {
	ctx     context.Context
	n       int
	cmd     *exec.Cmd
	in      io.WriteCloser
	enc     *json.Encoder
	replies chan rtEvent
	logPath string
	rssKB   int64
	done    chan struct{}
}

func (c *rtChild) ask(cmd rtCommand, want string, timeout time.Duration) (rtEvent, error) {
	if err := c.enc.Encode(cmd); err != nil {
		return rtEvent{}, c.failed(fmt.Errorf("send %s: %w", cmd.Cmd, err))
	}
	select {
	case ev, ok := <-c.replies:
		if !ok {
			return rtEvent{}, c.failed(errors.New("it exited"))
		}
		if ev.Ev == "error" {
			return rtEvent{}, c.failed(errors.New(ev.Msg))
		}
		if ev.Ev != want {
			return rtEvent{}, c.failed(fmt.Errorf("answered %q to %q", ev.Ev, cmd.Cmd))
		}
		return ev, nil
	case <-time.After(timeout):
		return rtEvent{}, c.failed(fmt.Errorf("no answer to %q within %v", cmd.Cmd, timeout))
	case <-c.ctx.Done():
		return rtEvent{}, c.ctx.Err()
	}
}

func (c *rtChild) failed(err error) error {
	out, _ := os.ReadFile(c.logPath)
	return fmt.Errorf("client process %d: %w\n%s", c.n+1, err, tail(string(out), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// askAll sends cmd to every child at once and collects their answers.
func askAll(children []*rtChild, cmd func(int) rtCommand, want string, timeout time.Duration) ([]rtEvent, error) {
	evs := make([]rtEvent, len(children))
	errs := make([]error, len(children))
	var wg sync.WaitGroup
	for k, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs[k], errs[k] = c.ask(cmd(k), want, timeout)
		}()
	}
	wg.Wait()
	return evs, errors.Join(errs...)
}

type rtNode struct {
	addr, url string
	p         *exec.Cmd
	log       string
	stopped   bool
}

// RunRealtime starts the nodes and the client processes, opens o.Sessions
// WebSocket sessions and measures them, reporting progress on stderr.
func RunRealtime(ctx context.Context, stderr io.Writer, o RealtimeOptions) (RealtimeResult, error) {
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	if o.Clients <= 0 {
		o.Clients = 1
	}
	switch {
	case o.Users <= 0 || o.Sessions < o.Users:
		return RealtimeResult{}, errors.New("--sessions must be at least --users, and --users at least 1")
	case o.Nodes > 1 && o.DB == "":
		return RealtimeResult{}, errors.New("--nodes above 1 needs --db postgres://…: nodes share a PostgreSQL database (SQLite serves one node)")
	case o.Users < o.Nodes:
		return RealtimeResult{}, errors.New("--users must be at least --nodes: each node serves whole users")
	case o.KillNode && o.Nodes < 2:
		return RealtimeResult{}, errors.New("--kill-node needs --nodes 2 or more: the other nodes must hear its users go offline")
	case o.Clients > o.Sessions:
		return RealtimeResult{}, errors.New("--clients must be at most --sessions")
	case o.Floor && strings.HasPrefix(o.Presence, "roles:"):
		return RealtimeResult{}, errors.New("--floor: the floor server has no presence filter; use --presence all or none")
	case o.Floor && (o.Nodes > 1 || o.DB != "" || o.KillNode):
		return RealtimeResult{}, errors.New("--floor runs one bare WebSocket server: no --nodes, --db or --kill-node")
	}
	var role string
	if list, ok := strings.CutPrefix(o.Presence, "roles:"); ok {
		role, _, _ = strings.Cut(list, ",")
		role = strings.ToLower(strings.TrimSpace(role))
	} else if o.Presence != "" && o.Presence != "all" && o.Presence != "none" {
		return RealtimeResult{}, fmt.Errorf("--presence %q: want all, none or roles:r1,r2", o.Presence)
	}
	hears := o.Presence != "none"
	if o.NodeLease <= 0 {
		o.NodeLease = 15 * time.Second
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return RealtimeResult{}, fmt.Errorf("raise the open-files limit: %w", err)
	}
	perNode := (o.Sessions + o.Nodes - 1) / o.Nodes
	perClient := (o.Sessions + o.Clients - 1) / o.Clients
	if need := uint64(max(perNode, perClient)) + 200; limit < need {
		return RealtimeResult{}, fmt.Errorf("open-files hard limit is %d; %d sessions on a node or in a client process need about %d (raise it with ulimit -Hn, or add --nodes and --clients)",
			limit, max(perNode, perClient), need)
	}
	status := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	bin := o.ServerBin
	self, err := os.Executable()
	if err != nil {
		return RealtimeResult{}, err
	}
	if bin == "" {
		bin = self
	}
	tmp, err := os.MkdirTemp("", "callgate-rtbench-")
	if err != nil {
		return RealtimeResult{}, err
	}
	defer os.RemoveAll(tmp)

	// Node of session i: its user's, users dealt round robin, so that a
	// node's users have all their sessions on it (--kill-node's users).
	nodeOf := func(i int) int { return (i % o.Users) % o.Nodes }
	perUser := (o.Sessions + o.Users - 1) / o.Users
	res := RealtimeResult{Sessions: o.Sessions, Users: o.Users, Nodes: o.Nodes, Clients: o.Clients, Presence: o.Presence,
		Store: "sqlite", PingIntervalSec: 20}
	if res.Presence == "" {
		res.Presence = "all"
	}
	if o.DB != "" {
		res.Store = "postgres"
	}
	if o.Floor {
		res.Store = "floor"
	}

	// The app.
	var app, restKey string
	common := []string{"--rate-limit", "off", "--log-level", "warn", "--ws-max-per-user", strconv.Itoa(perUser + 1), "--shutdown-drain", "0"}
	if o.DB != "" {
		out, err := exec.CommandContext(ctx, bin, "apps", "create", "--db", o.DB, "--name", "bench-realtime", "--json").Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			return RealtimeResult{}, fmt.Errorf("callgate apps create: %w", err)
		}
		var c struct {
			AppID      string `json:"appId"`
			RESTAPIKey string `json:"restApiKey"`
		}
		if err := json.Unmarshal(out, &c); err != nil || c.AppID == "" || c.RESTAPIKey == "" {
			return RealtimeResult{}, fmt.Errorf("callgate apps create --json: %v: %s", err, out)
		}
		app, restKey = c.AppID, c.RESTAPIKey
		common = append(common, "--db", o.DB, "--node-lease", o.NodeLease.String())
	}

	// The nodes: the first alone (it migrates a new database), then the rest.
	nodes := make([]*rtNode, o.Nodes)
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			if n != nil && !n.stopped {
				wg.Add(1)
				go func() { defer wg.Done(); stopProc(n.p, 15*time.Second) }()
			}
		}
		wg.Wait()
	}()
	startNode := func(k int) error {
		addr, err := FreeAddr()
		if err != nil {
			return err
		}
		args := append([]string{"serve", "--addr", addr}, common...)
		if o.Floor {
			args = []string{"bench-realtime", "floor", "--addr", addr}
		} else if o.DB == "" {
			args = append(args, "--dev", "--data", filepath.Join(tmp, "data"))
		}
		args = append(args, o.ServerArgs...)
		n := &rtNode{addr: addr, url: "http://" + addr, log: filepath.Join(tmp, fmt.Sprintf("node%d.log", k+1))}
		if k == 0 {
			status("starting %d node(s): %s %s", o.Nodes, filepath.Base(bin), strings.Join(redactArgs(args, o.Redact), " "))
		}
		if n.p, err = startProc(bin, args, n.log); err != nil {
			return err
		}
		nodes[k] = n
		return WaitReady(ctx, n.url+"/readyz", n.log)
	}
	if err := startNode(0); err != nil {
		return RealtimeResult{}, err
	}
	if err := parallel(ctx, o.Nodes-1, o.Nodes, func(k int) error { return startNode(k + 1) }); err != nil {
		return RealtimeResult{}, err
	}
	if o.DB == "" && !o.Floor {
		creds, err := provision.ReadDevCredentials(filepath.Join(tmp, "data", provision.DevCredentialsFile))
		if err != nil {
			return RealtimeResult{}, err
		}
		app, restKey = creds.AppID, creds.RESTAPIKey
	}

	api := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	rest := func(node int, method, path string, body string) (map[string]any, error) {
		req, _ := http.NewRequestWithContext(ctx, method, nodes[node].url+path, strings.NewReader(body))
		req.Header.Set("appId", app)
		req.Header.Set("apiKey", restKey)
		res, err := api.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out struct{ Data map[string]any }
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 200 {
			return nil, fmt.Errorf("%s %s on node %d: HTTP %d", method, path, node+1, res.StatusCode)
		}
		return out.Data, nil
	}
	uidOf := func(u int) string { return fmt.Sprintf("rt-user-%d", u) }
	roleField := ""
	if role != "" {
		roleField = `,"role":"` + role + `"`
	}

	type sess struct {
		uid, token, id string
		closedAt       atomic.Int64
		closeCode      atomic.Int32
	}
	sessions := make([]*sess, o.Sessions)
	if o.Floor { // the floor server takes any dial
		for i := range sessions {
			sessions[i] = &sess{uid: uidOf(i % o.Users)}
		}
	} else {
		status("creating %d users and %d tokens…", o.Users+1, o.Sessions)
		if err := parallel(ctx, o.Users+1, 16, func(u int) error {
			uid := uidOf(u)
			if u == o.Users {
				uid = rtWatched
			}
			_, err := rest(u%o.Nodes, "POST", "/v3/users", `{"uid":"`+uid+`","name":"RT `+strconv.Itoa(u)+`"`+roleField+`}`)
			return err
		}); err != nil {
			return RealtimeResult{}, err
		}
		if err := parallel(ctx, o.Sessions, 32, func(i int) error {
			uid := uidOf(i % o.Users)
			d, err := rest(i%o.Nodes, "POST", "/v3/users/"+uid+"/auth_tokens", "{}")
			if err != nil {
				return err
			}
			sessions[i] = &sess{uid: uid, token: fmt.Sprint(d["authToken"]), id: fmt.Sprint(d["id"])}
			return nil
		}); err != nil {
			return RealtimeResult{}, err
		}
	}

	// The client processes, each with every Clients-th session.
	victim := o.Nodes - 1
	spec := rtClientSpec{App: app, Presence: o.Presence, Watched: rtWatched}
	for _, n := range nodes {
		spec.Nodes = append(spec.Nodes, "ws://"+n.addr+"/v3.0/ws")
	}
	if o.KillNode {
		for u := range o.Users {
			if u%o.Nodes == victim {
				spec.Victims = append(spec.Victims, uidOf(u))
			}
		}
	}
	status("starting %d client process(es) for %d sessions on %d node(s)…", o.Clients, o.Sessions, o.Nodes)
	children := make([]*rtChild, o.Clients)
	defer func() {
		for _, c := range children {
			if c != nil {
				c.in.Close()
				select {
				case <-c.done:
				case <-time.After(20 * time.Second):
					c.cmd.Process.Kill()
					<-c.done
				}
			}
		}
	}()
	for k := range o.Clients {
		s := spec
		s.Sessions = nil
		for i := k; i < o.Sessions; i += o.Clients {
			s.Sessions = append(s.Sessions, rtClientSession{I: i, Node: nodeOf(i), Token: sessions[i].token, First: i < o.Users})
		}
		c := &rtChild{ctx: ctx, n: k, replies: make(chan rtEvent, 16), logPath: filepath.Join(tmp, fmt.Sprintf("client%d.log", k+1)), done: make(chan struct{})}
		logf, err := os.Create(c.logPath)
		if err != nil {
			return RealtimeResult{}, err
		}
		defer logf.Close()
		c.cmd = exec.Command(self, "bench-realtime", "client")
		c.cmd.Stderr = logf
		if c.in, err = c.cmd.StdinPipe(); err != nil {
			return RealtimeResult{}, err
		}
		out, err := c.cmd.StdoutPipe()
		if err != nil {
			return RealtimeResult{}, err
		}
		if err := c.cmd.Start(); err != nil {
			return RealtimeResult{}, fmt.Errorf("start client process: %w", err)
		}
		children[k] = c
		c.enc = json.NewEncoder(c.in)
		go func() {
			defer close(c.done)
			defer c.cmd.Wait()
			defer close(c.replies)
			dec := json.NewDecoder(bufio.NewReaderSize(out, 1<<16))
			for {
				var ev rtEvent
				if err := dec.Decode(&ev); err != nil {
					return
				}
				if ev.Ev == "closed" {
					s := sessions[ev.I]
					s.closeCode.Store(int32(ev.Code))
					s.closedAt.Store(max(ev.At, 1))
					continue
				}
				c.replies <- ev
			}
		}()
		if err := c.enc.Encode(s); err != nil {
			return RealtimeResult{}, c.failed(err)
		}
	}

	status("connecting %d sessions (each user's first, then the rest)…", o.Sessions)
	start := time.Now()
	connectTimeout := time.Duration(120+o.Sessions/o.Clients/40) * time.Second
	for phase := range 2 {
		evs, err := askAll(children, func(int) rtCommand { return rtCommand{Cmd: "connect", Phase: phase, Workers: max(8, 64/o.Clients)} }, "connected", connectTimeout)
		if err != nil {
			return RealtimeResult{}, err
		}
		for k, ev := range evs {
			children[k].rssKB = ev.RSSKB
			res.ConnectRetries += ev.Retried
		}
	}
	res.ConnectSeconds = time.Since(start).Seconds()
	status("%d sessions live after %.1fs", o.Sessions, res.ConnectSeconds)

	time.Sleep(2 * time.Second) // let connection-time presence traffic drain
	status("measuring idle CPU over %s (pings every 20s)…", o.Idle)
	c0 := make([]float64, o.Nodes)
	for k, n := range nodes {
		c0[k] = cpuSeconds(n.p.Process.Pid)
	}
	t0 := time.Now()
	time.Sleep(o.Idle)
	res.IdleSeconds = time.Since(t0).Seconds()
	for k, n := range nodes {
		cnt := 0
		for i := range o.Sessions {
			if nodeOf(i) == k {
				cnt++
			}
		}
		rn := RealtimeNode{Node: k + 1, Addr: n.addr, Sessions: cnt,
			IdleCPUPercent: 100 * (cpuSeconds(n.p.Process.Pid) - c0[k]) / res.IdleSeconds,
			RSSMB:          float64(rssKB(n.p.Process.Pid)) / 1024}
		if cnt > 0 {
			rn.RSSPerSessionKB = rn.RSSMB * 1024 / float64(cnt)
		}
		res.PerNode = append(res.PerNode, rn)
		res.ServerRSSMB += rn.RSSMB
		res.IdleCPUPercent += rn.IdleCPUPercent
	}
	res.RSSPerSessionKB = res.ServerRSSMB * 1024 / float64(o.Sessions)
	if evs, err := askAll(children, func(int) rtCommand { return rtCommand{Cmd: "stats"} }, "stats", 30*time.Second); err == nil {
		for _, ev := range evs {
			res.ClientRSSMB += float64(ev.RSSKB) / 1024
		}
	} else {
		return RealtimeResult{}, err
	}

	if hears {
		status("presence fan-out: one user comes online on node 1…")
		h := http.Header{}
		if o.Floor {
			h.Set(floorWatchHeader, rtWatched)
		} else {
			d, err := rest(0, "POST", "/v3/users/"+rtWatched+"/auth_tokens", "{}")
			if err != nil {
				return RealtimeResult{}, err
			}
			h.Set("appId", app)
			h.Set("authToken", fmt.Sprint(d["authToken"]))
		}
		// The servers' own view of the same fan-out: their presence-delay
		// histograms, before and after.
		scrapeAll := func() (histogram, error) {
			sum := histogram{}
			for k := range nodes {
				h, err := scrapeHistogram(ctx, api, nodes[k].url+"/metrics", presenceDelayMetric)
				if err != nil {
					return nil, err
				}
				sum.add(h)
			}
			return sum, nil
		}
		var before histogram
		if !o.Floor {
			if before, err = scrapeAll(); err != nil {
				return RealtimeResult{}, err
			}
		}
		fanStart := time.Now()
		wws, _, err := websocket.Dial(ctx, spec.Nodes[0], &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			return RealtimeResult{}, err
		}
		defer wws.CloseNow()
		evs, err := askAll(children, func(int) rtCommand { return rtCommand{Cmd: "presence", TimeoutMs: 30_000} }, "presence", 60*time.Second)
		if err != nil {
			return RealtimeResult{}, err
		}
		var all, other []float64
		missing := 0
		for k, ev := range evs {
			for j, at := range ev.Times {
				i := k + j*o.Clients
				if at == 0 {
					missing++
					continue
				}
				ms := float64(at-fanStart.UnixNano()) / 1e6
				all = append(all, ms)
				if nodeOf(i) != 0 {
					other = append(other, ms)
				}
			}
		}
		if missing > 0 {
			codes := map[int32]int{}
			for _, s := range sessions {
				if s.closedAt.Load() != 0 {
					codes[s.closeCode.Load()]++
				}
			}
			return RealtimeResult{}, fmt.Errorf("the presence event reached %d of %d sessions within 30 s (closed sessions by close code: %v)", len(all), o.Sessions, codes)
		}
		res.PresenceSessions = len(all)
		res.PresenceAllMs, res.PresenceP50Ms, res.PresenceP99Ms = pct(all, 100), pct(all, 50), pct(all, 99)
		res.PresenceOtherP99Ms = pct(other, 99)
		if !o.Floor {
			after, err := scrapeAll()
			if err != nil {
				return RealtimeResult{}, err
			}
			d := after.minus(before)
			res.PresenceServerP50Ms, res.PresenceServerP99Ms = 1000*d.quantile(0.5), 1000*d.quantile(0.99)
		}
	}

	// Revoke → close: a DELETE on node 1, each for a session on another
	// node where there is one; never a user's first session, so that every
	// user stays online (for --kill-node).
	res.RevokeAcrossNodes = o.Nodes > 1
	var cand []int
	for i := o.Sessions - 1; i >= o.Users && len(cand) < o.Samples && !o.Floor; i-- {
		if o.Nodes == 1 || nodeOf(i) != 0 {
			cand = append(cand, i)
		}
	}
	if len(cand) > 0 {
		status("revoke → close: deleting %d tokens one at a time on node 1…", len(cand))
	}
	var rev []float64
	for _, i := range cand {
		s := sessions[i]
		t0 := time.Now()
		if _, err := rest(0, "DELETE", "/v3/users/"+s.uid+"/auth_tokens/"+s.id, ""); err != nil {
			return RealtimeResult{}, err
		}
		for s.closedAt.Load() == 0 && time.Since(t0) < 10*time.Second {
			time.Sleep(100 * time.Microsecond)
		}
		if s.closedAt.Load() == 0 || s.closeCode.Load() != 4001 {
			return RealtimeResult{}, fmt.Errorf("session %d (node %d) was not closed with 4001 within 10 s of its DELETE on node 1 (code %d)", i, nodeOf(i)+1, s.closeCode.Load())
		}
		rev = append(rev, float64(s.closedAt.Load()-t0.UnixNano())/1e6)
	}
	if len(rev) > 0 {
		res.RevokeSamples = len(rev)
		res.RevokeP50Ms, res.RevokeP99Ms = pct(rev, 50), pct(rev, 99)
	}

	if o.KillNode {
		k := &RealtimeKill{Node: victim + 1, Users: len(spec.Victims), LeaseSeconds: o.NodeLease.Seconds()}
		for i := range o.Sessions {
			if nodeOf(i) == victim {
				k.Sessions++
			}
		}
		if _, err := askAll(children, func(int) rtCommand { return rtCommand{Cmd: "arm"} }, "armed", 30*time.Second); err != nil {
			return RealtimeResult{}, err
		}
		status("kill -9 node %d (%d sessions of %d users; lease %s)…", victim+1, k.Sessions, k.Users, o.NodeLease)
		n := nodes[victim]
		killed := time.Now()
		n.p.Process.Kill()
		n.p.Wait()
		n.stopped = true
		bound := 3*o.NodeLease + 60*time.Second
		restDone := make(chan float64, 1)
		go func() {
			for time.Since(killed) < bound {
				d, err := rest(0, "GET", "/v3/users/"+spec.Victims[0], "")
				if err == nil && d["status"] == "offline" {
					restDone <- float64(time.Since(killed).Microseconds()) / 1e3
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			restDone <- 0
		}()
		if hears {
			evs, err := askAll(children, func(int) rtCommand {
				return rtCommand{Cmd: "offline", ExcludeNode: victim, TimeoutMs: bound.Milliseconds()}
			}, "offline", bound+30*time.Second)
			if err != nil {
				return RealtimeResult{}, err
			}
			var lat []float64
			missing, fewest := 0, k.Users
			for _, ev := range evs {
				if ev.Missing > 0 {
					fewest = min(fewest, ev.N)
				}
				if f := float64(ev.At-killed.UnixNano()) / 1e6; ev.At != 0 && (k.FirstOfflineMs == 0 || f < k.FirstOfflineMs) {
					k.FirstOfflineMs = f
				}
				for _, at := range ev.Times {
					if at == 0 {
						missing++
						continue
					}
					lat = append(lat, float64(at-killed.UnixNano())/1e6)
				}
			}
			k.Listeners = len(lat) + missing
			if missing > 0 {
				// Reported, not fatal: how far off it was is the finding.
				k.Missing, k.MissingFewest, k.WaitedMs = missing, fewest, float64(bound.Milliseconds())
				status("%d of %d sessions on the other nodes did not hear all %d users of the killed node go offline within %v (one heard only %d)", missing, k.Listeners, k.Users, bound, fewest)
			}
			k.AllOfflineMs, k.OfflineP50Ms, k.OfflineP99Ms = pct(lat, 100), pct(lat, 50), pct(lat, 99)
		}
		k.RESTOfflineMs = <-restDone
		res.Kill = k
	}

	if _, err := askAll(children, func(int) rtCommand { return rtCommand{Cmd: "close"} }, "closed-all", 60*time.Second); err != nil {
		return RealtimeResult{}, err
	}
	return res, nil
}

// pct is the p-th percentile of v (nearest rank; 100 is the largest), 0
// for none. It sorts v.
func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[min(len(v)-1, len(v)*p/100)]
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

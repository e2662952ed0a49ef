package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/provision"
)

type rtBenchFlags struct {
	sessions, users, samples int
	idle                     time.Duration
	serverBin                string
	asJSON                   bool
}

// rtBenchResult is what bench-realtime measured (also its --json shape).
type rtBenchResult struct {
	Sessions        int     `json:"sessions"`
	Users           int     `json:"users"`
	ConnectSeconds  float64 `json:"connectSeconds"`
	ServerRSSMB     float64 `json:"serverRssMB"`
	IdleCPUPercent  float64 `json:"idleCpuPercent"` // of one core, pings running
	IdleSeconds     float64 `json:"idleSeconds"`
	PresenceAllMs   float64 `json:"presenceFanoutAllMs"` // one event reaching every session
	PresenceP50Ms   float64 `json:"presenceFanoutP50Ms"`
	RevokeP50Ms     float64 `json:"revokeToCloseP50Ms"`
	RevokeP99Ms     float64 `json:"revokeToCloseP99Ms"`
	RevokeSamples   int     `json:"revokeSamples"`
	PingIntervalSec float64 `json:"pingIntervalSeconds"`
}

func newBenchRealtimeCmd() *cobra.Command {
	var f rtBenchFlags
	cmd := &cobra.Command{
		Use:   "bench-realtime",
		Short: "Measure realtime at scale: N live WebSocket sessions, idle cost, presence fan-out, revoke→close latency",
		Long: `Starts callgate on a fresh temp data dir and opens --sessions WebSocket sessions
(each with its own auth token) spread over --users users of one app, then reports:

  - the server's RSS with every session live,
  - its CPU while idle with pings running (over --idle),
  - the time for one presence event (a new user coming online) to reach every session,
  - the time from DELETE /users/{uid}/auth_tokens/{id} to that session's close (p50/p99).

The server runs with --ws-max-per-user raised to fit sessions/users. It raises
its own open-files limit to the hard limit; 10,000 sessions need about 10,100
descriptors in each process (check ulimit -Hn).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchRealtime(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&f.sessions, "sessions", 10000, "concurrent WebSocket sessions")
	fs.IntVar(&f.users, "users", 100, "users the sessions belong to (sessions/users each)")
	fs.IntVar(&f.samples, "samples", 200, "token deletions timed for revoke→close")
	fs.DurationVar(&f.idle, "idle", 30*time.Second, "idle window for the CPU figure")
	fs.StringVar(&f.serverBin, "server-bin", "", "callgate binary to start (default: this one)")
	fs.BoolVar(&f.asJSON, "json", false, "print results as JSON")
	return cmd
}

func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	return lim.Cur, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// cpuSeconds is a process's user+system CPU time from /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

type rtSession struct {
	uid, token, id string
	ws             *websocket.Conn
	presenceAt     atomic.Int64 // unix nanos the watched presence event arrived
	closedAt       atomic.Int64
	closeCode      atomic.Int32
}

func runBenchRealtime(ctx context.Context, stdout, stderr io.Writer, f *rtBenchFlags) error {
	if f.users <= 0 || f.sessions < f.users {
		return errors.New("--sessions must be at least --users, and --users at least 1")
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return fmt.Errorf("raise the open-files limit: %w", err)
	}
	if need := uint64(f.sessions) + 200; limit < need {
		return fmt.Errorf("open-files hard limit is %d; %d sessions need about %d (raise it: ulimit -Hn)", limit, f.sessions, need)
	}
	status := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	bin := f.serverBin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "callgate-rtbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	perUser := (f.sessions + f.users - 1) / f.users
	ping := 20 * time.Second
	args := []string{"serve", "--dev", "--data", filepath.Join(tmp, "data"), "--addr", addr, "--rate-limit", "off",
		"--log-level", "warn", "--ws-max-per-user", strconv.Itoa(perUser + 1)}
	status("starting callgate with %d sessions over %d users (%d each)…", f.sessions, f.users, perUser)
	p, err := startProc(bin, args, filepath.Join(tmp, "server.log"))
	if err != nil {
		return err
	}
	defer func() {
		p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.Process.Kill()
		}
	}()
	url := "http://" + addr
	if err := waitReady(ctx, url+"/readyz", filepath.Join(tmp, "server.log")); err != nil {
		return err
	}
	creds, err := provision.ReadDevCredentials(filepath.Join(tmp, "data", provision.DevCredentialsFile))
	if err != nil {
		return err
	}
	api := &http.Client{Timeout: 30 * time.Second}
	rest := func(method, path string, body string) (map[string]any, error) {
		req, _ := http.NewRequestWithContext(ctx, method, url+path, strings.NewReader(body))
		req.Header.Set("appId", creds.AppID)
		req.Header.Set("apiKey", creds.RESTAPIKey)
		res, err := api.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out struct{ Data map[string]any }
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 200 {
			return nil, fmt.Errorf("%s %s: HTTP %d", method, path, res.StatusCode)
		}
		return out.Data, nil
	}

	status("creating %d users and %d tokens…", f.users+1, f.sessions+1)
	sessions := make([]*rtSession, f.sessions)
	for u := 0; u <= f.users; u++ {
		uid := fmt.Sprintf("rt-user-%d", u)
		if _, err := rest("POST", "/v3/users", `{"uid":"`+uid+`","name":"RT `+strconv.Itoa(u)+`"}`); err != nil {
			return err
		}
	}
	if err := parallel(ctx, f.sessions, 32, func(i int) error {
		uid := fmt.Sprintf("rt-user-%d", i%f.users)
		d, err := rest("POST", "/v3/users/"+uid+"/auth_tokens", "{}")
		if err != nil {
			return err
		}
		sessions[i] = &rtSession{uid: uid, token: fmt.Sprint(d["authToken"]), id: fmt.Sprint(d["id"])}
		return nil
	}); err != nil {
		return err
	}

	const watched = "rt-user-watched"
	if _, err := rest("POST", "/v3/users", `{"uid":"`+watched+`","name":"Watched"}`); err != nil {
		return err
	}
	status("connecting %d sessions…", f.sessions)
	wsURL := url + "/v3.0/ws"
	connected := make(chan struct{}, f.sessions)
	start := time.Now()
	var conns sync.WaitGroup
	// The first session of each user goes first, so each user's online
	// event reaches few sessions; the rest join users already online.
	order := make([]int, 0, f.sessions)
	for i := range f.sessions {
		if i < f.users {
			order = append(order, i)
		}
	}
	for i := f.users; i < f.sessions; i++ {
		order = append(order, i)
	}
	if err := parallel(ctx, len(order), 64, func(k int) error {
		s := sessions[order[k]]
		h := http.Header{}
		h.Set("appId", creds.AppID)
		h.Set("authToken", s.token)
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			return fmt.Errorf("dial session %d: %w", k, err)
		}
		s.ws = ws
		conns.Add(1)
		go func() {
			defer conns.Done()
			first := true
			for {
				_, data, err := ws.Read(context.Background())
				if err != nil {
					s.closedAt.Store(time.Now().UnixNano())
					s.closeCode.Store(int32(websocket.CloseStatus(err)))
					return
				}
				if first {
					first = false
					connected <- struct{}{}
					continue
				}
				if strings.Contains(string(data), `"uid":"`+watched+`"`) && strings.Contains(string(data), `"online"`) {
					s.presenceAt.CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		}()
		return nil
	}); err != nil {
		return err
	}
	for range f.sessions {
		select {
		case <-connected:
		case <-time.After(60 * time.Second):
			return errors.New("sessions did not all receive their connected message within 60 s")
		}
	}
	res := rtBenchResult{Sessions: f.sessions, Users: f.users, ConnectSeconds: time.Since(start).Seconds(), PingIntervalSec: ping.Seconds()}
	status("%d sessions live after %.1fs", f.sessions, res.ConnectSeconds)

	time.Sleep(2 * time.Second) // let connection-time presence traffic drain
	status("measuring idle CPU over %s (pings every %s)…", f.idle, ping)
	c0, t0 := cpuSeconds(p.Process.Pid), time.Now()
	time.Sleep(f.idle)
	res.IdleSeconds = time.Since(t0).Seconds()
	res.IdleCPUPercent = 100 * (cpuSeconds(p.Process.Pid) - c0) / res.IdleSeconds
	res.ServerRSSMB = float64(rssKB(p.Process.Pid)) / 1024

	status("presence fan-out: one user comes online…")
	d, err := rest("POST", "/v3/users/"+watched+"/auth_tokens", "{}")
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("appId", creds.AppID)
	h.Set("authToken", fmt.Sprint(d["authToken"]))
	fanStart := time.Now()
	wws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return err
	}
	defer wws.CloseNow()
	deadline := time.Now().Add(30 * time.Second)
	var lat []float64
	for time.Now().Before(deadline) {
		lat = lat[:0]
		for _, s := range sessions {
			if at := s.presenceAt.Load(); at != 0 {
				lat = append(lat, float64(at-fanStart.UnixNano())/1e6)
			}
		}
		if len(lat) == len(sessions) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(lat) != len(sessions) {
		codes := map[int32]int{}
		for _, s := range sessions {
			if s.closedAt.Load() != 0 {
				codes[s.closeCode.Load()]++
			}
		}
		return fmt.Errorf("the presence event reached %d of %d sessions within 30 s (closed sessions by close code: %v)", len(lat), len(sessions), codes)
	}
	slices.Sort(lat)
	res.PresenceAllMs, res.PresenceP50Ms = lat[len(lat)-1], lat[len(lat)/2]

	status("revoke → close: deleting %d tokens one at a time…", f.samples)
	var rev []float64
	for i := 0; i < f.samples && i < len(sessions); i++ {
		s := sessions[len(sessions)-1-i]
		t0 := time.Now()
		if _, err := rest("DELETE", "/v3/users/"+s.uid+"/auth_tokens/"+s.id, ""); err != nil {
			return err
		}
		for s.closedAt.Load() == 0 && time.Since(t0) < 10*time.Second {
			time.Sleep(100 * time.Microsecond)
		}
		if s.closedAt.Load() == 0 || s.closeCode.Load() != 4001 {
			return fmt.Errorf("session %d was not closed with 4001 within 10 s (code %d)", i, s.closeCode.Load())
		}
		rev = append(rev, float64(s.closedAt.Load()-t0.UnixNano())/1e6)
	}
	slices.Sort(rev)
	if len(rev) > 0 {
		res.RevokeSamples = len(rev)
		res.RevokeP50Ms = rev[len(rev)/2]
		res.RevokeP99Ms = rev[min(len(rev)-1, len(rev)*99/100)]
	}
	for _, s := range sessions {
		s.ws.CloseNow()
	}
	conns.Wait()

	if f.asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "\n%d sessions over %d users, one app\n\n", res.Sessions, res.Users)
	printTable(stdout, []string{"MEASURE", "VALUE"}, [][]string{
		{"connect all sessions", fmt.Sprintf("%.1f s", res.ConnectSeconds)},
		{"server RSS, all live", fmt.Sprintf("%.0f MB", res.ServerRSSMB)},
		{fmt.Sprintf("server CPU idle (pings every %.0fs)", res.PingIntervalSec), fmt.Sprintf("%.1f%% of a core over %.0f s", res.IdleCPUPercent, res.IdleSeconds)},
		{"presence event → every session", fmt.Sprintf("%.1f ms (median session %.1f ms)", res.PresenceAllMs, res.PresenceP50Ms)},
		{"token delete → socket closed", fmt.Sprintf("p50 %.2f ms, p99 %.2f ms (%d samples)", res.RevokeP50Ms, res.RevokeP99Ms, res.RevokeSamples)},
	})
	return nil
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

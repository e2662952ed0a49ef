package bench

// callgate bench-realtime: N live WebSocket sessions, their idle cost,
// presence fan-out and revoke→close latency (docs/benchmarks.md).

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
	// ServerArgs are extra flags for the started server (e.g. --pprof).
	ServerArgs []string
}

// RealtimeResult is what RunRealtime measured (also its --json shape).
type RealtimeResult struct {
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

type rtSession struct {
	uid, token, id string
	ws             *websocket.Conn
	presenceAt     atomic.Int64 // unix nanos the watched presence event arrived
	closedAt       atomic.Int64
	closeCode      atomic.Int32
}

// RunRealtime starts a server, opens o.Sessions WebSocket sessions and
// measures them, reporting progress on stderr.
func RunRealtime(ctx context.Context, stderr io.Writer, o RealtimeOptions) (RealtimeResult, error) {
	if o.Users <= 0 || o.Sessions < o.Users {
		return RealtimeResult{}, errors.New("--sessions must be at least --users, and --users at least 1")
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return RealtimeResult{}, fmt.Errorf("raise the open-files limit: %w", err)
	}
	if need := uint64(o.Sessions) + 200; limit < need {
		return RealtimeResult{}, fmt.Errorf("open-files hard limit is %d; %d sessions need about %d (raise it: ulimit -Hn)", limit, o.Sessions, need)
	}
	status := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	bin := o.ServerBin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return RealtimeResult{}, err
		}
	}
	tmp, err := os.MkdirTemp("", "callgate-rtbench-")
	if err != nil {
		return RealtimeResult{}, err
	}
	defer os.RemoveAll(tmp)
	addr, err := FreeAddr()
	if err != nil {
		return RealtimeResult{}, err
	}
	perUser := (o.Sessions + o.Users - 1) / o.Users
	ping := 20 * time.Second
	args := []string{"serve", "--dev", "--data", filepath.Join(tmp, "data"), "--addr", addr, "--rate-limit", "off",
		"--log-level", "warn", "--ws-max-per-user", strconv.Itoa(perUser + 1)}
	args = append(args, o.ServerArgs...)
	status("starting callgate with %d sessions over %d users (%d each)…", o.Sessions, o.Users, perUser)
	p, err := startProc(bin, args, filepath.Join(tmp, "server.log"))
	if err != nil {
		return RealtimeResult{}, err
	}
	defer stopProc(p, 15*time.Second)
	url := "http://" + addr
	if err := WaitReady(ctx, url+"/readyz", filepath.Join(tmp, "server.log")); err != nil {
		return RealtimeResult{}, err
	}
	creds, err := provision.ReadDevCredentials(filepath.Join(tmp, "data", provision.DevCredentialsFile))
	if err != nil {
		return RealtimeResult{}, err
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

	status("creating %d users and %d tokens…", o.Users+1, o.Sessions+1)
	sessions := make([]*rtSession, o.Sessions)
	for u := 0; u <= o.Users; u++ {
		uid := fmt.Sprintf("rt-user-%d", u)
		if _, err := rest("POST", "/v3/users", `{"uid":"`+uid+`","name":"RT `+strconv.Itoa(u)+`"}`); err != nil {
			return RealtimeResult{}, err
		}
	}
	if err := parallel(ctx, o.Sessions, 32, func(i int) error {
		uid := fmt.Sprintf("rt-user-%d", i%o.Users)
		d, err := rest("POST", "/v3/users/"+uid+"/auth_tokens", "{}")
		if err != nil {
			return err
		}
		sessions[i] = &rtSession{uid: uid, token: fmt.Sprint(d["authToken"]), id: fmt.Sprint(d["id"])}
		return nil
	}); err != nil {
		return RealtimeResult{}, err
	}

	const watched = "rt-user-watched"
	if _, err := rest("POST", "/v3/users", `{"uid":"`+watched+`","name":"Watched"}`); err != nil {
		return RealtimeResult{}, err
	}
	status("connecting %d sessions…", o.Sessions)
	wsURL := url + "/v3.0/ws"
	connected := make(chan struct{}, o.Sessions)
	start := time.Now()
	var conns sync.WaitGroup
	// The first session of each user goes first, so each user's online
	// event reaches few sessions; the rest join users already online.
	order := make([]int, 0, o.Sessions)
	for i := range o.Sessions {
		if i < o.Users {
			order = append(order, i)
		}
	}
	for i := o.Users; i < o.Sessions; i++ {
		order = append(order, i)
	}
	if err := parallel(ctx, len(order), 64, func(k int) error {
		s := sessions[order[k]]
		h := http.Header{}
		h.Set("appId", creds.AppID)
		h.Set("authToken", s.token)
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		ws, res, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			why := ""
			if res != nil && res.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
				why = " (" + strings.TrimSpace(string(b)) + ")"
			}
			log, _ := os.ReadFile(filepath.Join(tmp, "server.log"))
			if len(log) > 4000 {
				log = log[len(log)-4000:]
			}
			return fmt.Errorf("dial session %d: %w%s\nthe server's log ends:\n%s", k, err, why, log)
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
		return RealtimeResult{}, err
	}
	for range o.Sessions {
		select {
		case <-connected:
		case <-time.After(60 * time.Second):
			return RealtimeResult{}, errors.New("sessions did not all receive their connected message within 60 s")
		}
	}
	res := RealtimeResult{Sessions: o.Sessions, Users: o.Users, ConnectSeconds: time.Since(start).Seconds(), PingIntervalSec: ping.Seconds()}
	status("%d sessions live after %.1fs", o.Sessions, res.ConnectSeconds)

	time.Sleep(2 * time.Second) // let connection-time presence traffic drain
	status("measuring idle CPU over %s (pings every %s)…", o.Idle, ping)
	c0, t0 := cpuSeconds(p.Process.Pid), time.Now()
	time.Sleep(o.Idle)
	res.IdleSeconds = time.Since(t0).Seconds()
	res.IdleCPUPercent = 100 * (cpuSeconds(p.Process.Pid) - c0) / res.IdleSeconds
	res.ServerRSSMB = float64(rssKB(p.Process.Pid)) / 1024

	status("presence fan-out: one user comes online…")
	d, err := rest("POST", "/v3/users/"+watched+"/auth_tokens", "{}")
	if err != nil {
		return RealtimeResult{}, err
	}
	h := http.Header{}
	h.Set("appId", creds.AppID)
	h.Set("authToken", fmt.Sprint(d["authToken"]))
	fanStart := time.Now()
	wws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return RealtimeResult{}, err
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
		return RealtimeResult{}, fmt.Errorf("the presence event reached %d of %d sessions within 30 s (closed sessions by close code: %v)", len(lat), len(sessions), codes)
	}
	slices.Sort(lat)
	res.PresenceAllMs, res.PresenceP50Ms = lat[len(lat)-1], lat[len(lat)/2]

	status("revoke → close: deleting %d tokens one at a time…", o.Samples)
	var rev []float64
	for i := 0; i < o.Samples && i < len(sessions); i++ {
		s := sessions[len(sessions)-1-i]
		t0 := time.Now()
		if _, err := rest("DELETE", "/v3/users/"+s.uid+"/auth_tokens/"+s.id, ""); err != nil {
			return RealtimeResult{}, err
		}
		for s.closedAt.Load() == 0 && time.Since(t0) < 10*time.Second {
			time.Sleep(100 * time.Microsecond)
		}
		if s.closedAt.Load() == 0 || s.closeCode.Load() != 4001 {
			return RealtimeResult{}, fmt.Errorf("session %d was not closed with 4001 within 10 s (code %d)", i, s.closeCode.Load())
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

	return res, nil
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

package bench

// The client side of bench-realtime: a process (callgate bench-realtime
// client, hidden) that holds its share of the sessions and answers the
// coordinator, RunRealtime, over its stdin and stdout. One process can hold
// no more sockets than its open-files limit (20,000 here), so a large run
// spreads its sessions over --clients such processes. Times cross the
// process boundary as Unix nanoseconds: every process reads the same clock.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// rtClientSpec is the first message to a client process: what to connect.
type rtClientSpec struct {
	App      string            `json:"app"`
	Presence string            `json:"presence,omitempty"` // the presence query parameter; "" sends none
	Nodes    []string          `json:"nodes"`              // each node's WebSocket URL
	Watched  string            `json:"watched"`            // the user whose coming online is timed
	Victims  []string          `json:"victims,omitempty"`  // the users of the node --kill-node kills
	Sessions []rtClientSession `json:"sessions"`
}

type rtClientSession struct {
	I     int    `json:"i"` // the session's number in the whole run
	Node  int    `json:"n"`
	Token string `json:"t"`
	First bool   `json:"f,omitempty"` // its user's first session: connects in phase 0
}

// rtCommand is a later message to a client process.
type rtCommand struct {
	Cmd         string `json:"cmd"` // connect, presence, arm, offline, stats, close
	Phase       int    `json:"phase,omitempty"`
	TimeoutMs   int64  `json:"timeoutMs,omitempty"`
	ExcludeNode int    `json:"excludeNode,omitempty"`
	Workers     int    `json:"workers,omitempty"` // connect: dials at a time
}

// rtEvent is a client process's message: an answer to a command, or a
// session's close (sent as it happens, once the sessions are connected).
type rtEvent struct {
	Ev      string  `json:"ev"` // connected, closed, presence, armed, offline, stats, error
	I       int     `json:"i,omitempty"`
	At      int64   `json:"at,omitempty"`
	Code    int     `json:"code,omitempty"`
	N       int     `json:"n,omitempty"`
	Phase   int     `json:"phase,omitempty"`
	Missing int     `json:"missing,omitempty"`
	RSSKB   int64   `json:"rssKB,omitempty"`
	Retried int     `json:"retried,omitempty"` // connected: dials answered 503 and tried again
	Times   []int64 `json:"times,omitempty"`
	Msg     string  `json:"msg,omitempty"`
}

type rtcSession struct {
	rtClientSession
	ws        *websocket.Conn
	watchedAt atomic.Int64 // when the watched user's online event arrived
	closedAt  atomic.Int64
	mu        sync.Mutex
	seen      []uint64     // victims heard offline since arming (a bit each)
	heard     int          // how many
	firstAt   atomic.Int64 // when the first was heard
	allAt     atomic.Int64 // when the last victim was heard offline
}

// RunRealtimeClient is a client process: it reads a spec and then commands
// from in, and writes events to out, until told to close or in ends.
func RunRealtimeClient(ctx context.Context, in io.Reader, out io.Writer) error {
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	dec := json.NewDecoder(in)
	var spec rtClientSpec
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("read the spec: %w", err)
	}
	var outMu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(ev rtEvent) {
		outMu.Lock()
		defer outMu.Unlock()
		enc.Encode(ev)
	}
	victim := make(map[string]int, len(spec.Victims))
	for i, v := range spec.Victims {
		victim[v] = i
	}
	var armed atomic.Bool
	var reportCloses atomic.Bool
	sessions := make([]*rtcSession, len(spec.Sessions))
	for i, s := range spec.Sessions {
		sessions[i] = &rtcSession{rtClientSession: s}
	}
	watchedOnline := []byte(`"` + spec.Watched + `"`)
	onEvent := func(s *rtcSession, uid, status string, at int64) {
		if status == "online" && uid == spec.Watched {
			s.watchedAt.CompareAndSwap(0, at)
			return
		}
		if status != "offline" || !armed.Load() {
			return
		}
		v, ok := victim[uid]
		if !ok {
			return
		}
		s.mu.Lock()
		if s.seen == nil {
			s.seen = make([]uint64, (len(spec.Victims)+63)/64)
		}
		if s.seen[v/64]&(1<<(v%64)) == 0 {
			s.seen[v/64] |= 1 << (v % 64)
			s.heard++
			s.firstAt.CompareAndSwap(0, at)
			if s.heard == len(spec.Victims) {
				s.allAt.Store(at)
			}
		}
		s.mu.Unlock()
	}
	type presenceMsg struct {
		Type   string `json:"type"`
		UID    string `json:"uid"`
		Status string `json:"status"`
		Events []struct {
			UID    string `json:"uid"`
			Status string `json:"status"`
		} `json:"events"`
	}
	var readers sync.WaitGroup
	closeCodes := sync.Map{}
	var retried atomic.Int64
	dial := func(s *rtcSession, connected chan<- error) {
		h := http.Header{}
		h.Set("appId", spec.App)
		h.Set("authToken", s.Token)
		url := spec.Nodes[s.Node]
		if spec.Presence != "" {
			url += "?presence=" + spec.Presence
		}
		// A node that cannot take the upgrade now (its storage deadline
		// passed in the storm) answers 503 with Retry-After; the SDKs retry
		// such a dial, and so does this client, a few times.
		var ws *websocket.Conn
		var err error
		for attempt := 0; ; attempt++ {
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			var res *http.Response
			ws, res, err = websocket.Dial(dctx, url, &websocket.DialOptions{HTTPHeader: h})
			cancel()
			if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable || attempt == 5 {
				break
			}
			retried.Add(1)
			wait := time.Second
			if n, perr := strconv.Atoi(res.Header.Get("Retry-After")); perr == nil && n > 0 {
				wait = time.Duration(min(n, 10)) * time.Second
			}
			time.Sleep(wait/2 + rand.N(wait))
		}
		if err != nil {
			connected <- fmt.Errorf("dial session %d (node %d): %w", s.I, s.Node+1, err)
			return
		}
		ws.SetReadLimit(1 << 20)
		s.ws = ws
		readers.Add(1)
		go func() {
			defer readers.Done()
			first := true
			for {
				_, data, err := ws.Read(context.Background())
				now := time.Now().UnixNano()
				if err != nil {
					s.closedAt.Store(now)
					code := int(websocket.CloseStatus(err))
					if first {
						connected <- fmt.Errorf("session %d (node %d) closed before its connected message: %w", s.I, s.Node+1, err)
						return
					}
					closeCodes.Store(s.I, code)
					if reportCloses.Load() {
						send(rtEvent{Ev: "closed", I: s.I, At: now, Code: code})
					}
					return
				}
				if first {
					first = false
					connected <- nil
					continue
				}
				if !bytes.Contains(data, []byte(`"presence`)) {
					continue
				}
				if !armed.Load() && !bytes.Contains(data, watchedOnline) {
					continue
				}
				var m presenceMsg
				if json.Unmarshal(data, &m) != nil {
					continue
				}
				if m.Type == "presence" {
					onEvent(s, m.UID, m.Status, now)
				}
				for _, e := range m.Events {
					onEvent(s, e.UID, e.Status, now)
				}
			}
		}()
	}
	waitAll := func(timeout time.Duration, done func(*rtcSession) bool) {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			all := true
			for _, s := range sessions {
				if !done(s) {
					all = false
					break
				}
			}
			if all {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	for {
		var c rtCommand
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			for _, s := range sessions {
				if s.ws != nil {
					s.ws.CloseNow()
				}
			}
			return err
		}
		switch c.Cmd {
		case "connect":
			var phase []*rtcSession
			for _, s := range sessions {
				if s.First == (c.Phase == 0) {
					phase = append(phase, s)
				}
			}
			connected := make(chan error, len(phase))
			if err := parallel(ctx, len(phase), max(c.Workers, 1), func(k int) error { dial(phase[k], connected); return nil }); err != nil {
				return err
			}
			for range phase {
				select {
				case err := <-connected:
					if err != nil {
						send(rtEvent{Ev: "error", Msg: err.Error()})
						return err
					}
				case <-time.After(60 * time.Second):
					err := errors.New("sessions did not all receive their connected message within 60 s")
					send(rtEvent{Ev: "error", Msg: err.Error()})
					return err
				}
			}
			if c.Phase == 1 {
				reportCloses.Store(true)
				// Closes before now were of no session a command waits for.
				closeCodes.Range(func(k, v any) bool {
					send(rtEvent{Ev: "closed", I: k.(int), Code: v.(int)})
					return true
				})
			}
			send(rtEvent{Ev: "connected", Phase: c.Phase, N: len(phase), Retried: int(retried.Swap(0)), RSSKB: rssKB(os.Getpid())})
		case "presence":
			waitAll(time.Duration(c.TimeoutMs)*time.Millisecond, func(s *rtcSession) bool {
				return s.watchedAt.Load() != 0 || s.closedAt.Load() != 0
			})
			ev := rtEvent{Ev: "presence", Times: make([]int64, len(sessions))}
			for k, s := range sessions {
				ev.Times[k] = s.watchedAt.Load()
				if ev.Times[k] == 0 {
					ev.Missing++
				}
			}
			send(ev)
		case "arm":
			armed.Store(true)
			send(rtEvent{Ev: "armed"})
		case "offline":
			eligible := func(s *rtcSession) bool { return s.Node != c.ExcludeNode && s.closedAt.Load() == 0 }
			waitAll(time.Duration(c.TimeoutMs)*time.Millisecond, func(s *rtcSession) bool {
				return !eligible(s) || s.allAt.Load() != 0
			})
			ev := rtEvent{Ev: "offline"}
			for _, s := range sessions {
				if !eligible(s) {
					continue
				}
				if f := s.firstAt.Load(); f != 0 && (ev.At == 0 || f < ev.At) {
					ev.At = f // the first any session heard
				}
				at := s.allAt.Load()
				ev.Times = append(ev.Times, at)
				if at == 0 {
					ev.Missing++
					s.mu.Lock()
					if ev.Missing == 1 || s.heard < ev.N {
						ev.N = s.heard // the fewest heard by a session that missed some
					}
					s.mu.Unlock()
				}
			}
			send(ev)
		case "stats":
			send(rtEvent{Ev: "stats", RSSKB: rssKB(os.Getpid())})
		case "close":
			reportCloses.Store(false)
			for _, s := range sessions {
				if s.ws != nil {
					s.ws.CloseNow()
				}
			}
			readers.Wait()
			send(rtEvent{Ev: "closed-all"})
			return nil
		default:
			return fmt.Errorf("unknown command %q", c.Cmd)
		}
	}
}

package server

// The admin event stream, GET /admin/events (docs/api.md "Admin event
// stream"): one app's presence changes, revocations and audit events as
// server-sent events, for the web console and any other admin tool. It
// follows the hub (Hub.Watch), which sees this node's events as they are
// published and other nodes' as they arrive, so a stream on any node
// hears the whole cluster.
//
// The hub must never wait on a reader: each subscriber has a bounded
// buffer, and one that falls behind is dropped (it reconnects and reloads).
// The stream ends when its key is deleted or loses fullAccess (checked at
// once when an audit event says a key of the app changed, and every
// AdminKeyCheck anyway, for changes made offline), and when the server
// shuts down.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

const (
	// adminBuffer is how many frames a subscriber may have unread before
	// it is dropped.
	adminBuffer = 256
	// adminMaxPerApp bounds the streams of one app on one node.
	adminMaxPerApp = 64
	// adminWriteTimeout bounds one write to the client: a reader whose
	// socket stays full that long is gone.
	adminWriteTimeout = 10 * time.Second
	// auditDataMax is the room for audit events in one bus event, leaving
	// the rest of realtime.MaxPayload for its other fields.
	auditDataMax = 7000
)

// Why a stream ends; the last frame, "end", says which.
const (
	endKeyRevoked = "key_revoked" // the key was deleted or lost fullAccess: do not reconnect with it
	endShutdown   = "shutdown"    // the server is shutting down: reconnect
	endSlow       = "slow_reader" // the client fell behind: reconnect, and reload what it shows
)

type adminSub struct {
	app     string
	recheck chan struct{} // poke: check the key now
	frames  chan []byte
	done    chan struct{}
	once    sync.Once
	reason  string // set before done closes
}

func (s *adminSub) stop(reason string) {
	s.once.Do(func() {
		s.reason = reason
		close(s.done)
	})
}

func (s *adminSub) send(frame []byte) {
	select {
	case s.frames <- frame:
	default:
		s.stop(endSlow)
	}
}

func (s *adminSub) poke() {
	select {
	case s.recheck <- struct{}{}:
	default:
	}
}

// adminFeed holds the streams of this node, by app.
type adminFeed struct {
	mu     sync.Mutex
	subs   map[string]map[*adminSub]struct{}
	closed bool
}

func newAdminFeed() *adminFeed {
	return &adminFeed{subs: map[string]map[*adminSub]struct{}{}}
}

var errFeedClosed = errors.New("the server is shutting down")

func (f *adminFeed) subscribe(app string) (*adminSub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errFeedClosed
	}
	if len(f.subs[app]) >= adminMaxPerApp {
		return nil, apierr.New(apierr.TooManyRequests).With("retryAfter", "30").SetHeader("Retry-After", "30").
			Field("streams", "this app already has "+strconv.Itoa(adminMaxPerApp)+" event streams open on this server; close one")
	}
	s := &adminSub{app: app, recheck: make(chan struct{}, 1), frames: make(chan []byte, adminBuffer), done: make(chan struct{})}
	if f.subs[app] == nil {
		f.subs[app] = map[*adminSub]struct{}{}
	}
	f.subs[app][s] = struct{}{}
	return s, nil
}

func (f *adminFeed) unsubscribe(s *adminSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs[s.app], s)
	if len(f.subs[s.app]) == 0 {
		delete(f.subs, s.app)
	}
}

// close ends every stream and refuses new ones (shutdown).
func (f *adminFeed) close() {
	f.mu.Lock()
	f.closed = true
	var all []*adminSub
	for _, set := range f.subs {
		for s := range set {
			all = append(all, s)
		}
	}
	f.mu.Unlock()
	for _, s := range all {
		s.stop(endShutdown)
	}
}

// targets are the streams of app ("" = every app).
func (f *adminFeed) targets(app string) []*adminSub {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*adminSub
	for a, set := range f.subs {
		if app != "" && a != app {
			continue
		}
		for s := range set {
			out = append(out, s)
		}
	}
	return out
}

// deliver turns a bus event into frames for the streams of its app. It
// runs on the publisher's or the bus's goroutine: it never blocks.
func (f *adminFeed) deliver(ev realtime.Event) {
	var frames [][]byte
	keyChanged := false
	switch ev.Kind {
	case realtime.KindPresence:
		frames = append(frames, sseFrame("presence", struct {
			UID          string `json:"uid"`
			Status       string `json:"status"`
			LastActiveAt int64  `json:"lastActiveAt"`
		}{ev.UID, ev.Status, ev.LastActiveAt}))
	case realtime.KindRevokeTokens:
		frames = append(frames, sseFrame("revocation", adminRevocation{
			Scope: "tokens", UIDs: tokenUIDs(ev.Hashes), Count: len(ev.Hashes), Reason: ev.Reason,
		}))
	case realtime.KindRevokeUser:
		frames = append(frames, sseFrame("revocation", adminRevocation{Scope: "user", UID: ev.UID, Reason: ev.Reason}))
	case realtime.KindRevokeBefore:
		frames = append(frames, sseFrame("revocation", adminRevocation{
			Scope: "issued_before", UID: ev.UID, IssuedBefore: ev.Before, Reason: ev.Reason,
		}))
	case realtime.KindAudit:
		var evs []json.RawMessage
		if json.Unmarshal(ev.Data, &evs) != nil {
			return
		}
		for _, e := range evs {
			var head struct {
				Action string `json:"action"`
			}
			json.Unmarshal(e, &head)
			if head.Action == "apikey.update" || head.Action == "apikey.delete" {
				keyChanged = true
			}
			var b bytes.Buffer
			if json.Compact(&b, e) == nil {
				frames = append(frames, rawFrame("audit", b.Bytes()))
			}
		}
	case realtime.KindResync:
		// The bus may have missed events: whoever shows state reloads it.
		frames = append(frames, rawFrame("resync", []byte("{}")))
	default:
		return
	}
	app := ev.AppID
	if ev.Kind == realtime.KindResync {
		app = ""
	} else if app == "" {
		return // of no app: not for an app's stream
	}
	for _, s := range f.targets(app) {
		for _, fr := range frames {
			s.send(fr)
		}
		if keyChanged {
			s.poke()
		}
	}
}

// adminRevocation is the data of a "revocation" frame.
type adminRevocation struct {
	// Scope is "tokens" (UIDs and Count say whose and how many),
	// "user" (all of UID's) or "issued_before" (the app's, or UID's,
	// tokens issued before IssuedBefore).
	Scope        string   `json:"scope"`
	UID          string   `json:"uid,omitempty"`
	UIDs         []string `json:"uids,omitempty"`
	Count        int      `json:"count,omitempty"`
	IssuedBefore int64    `json:"issuedBefore,omitempty"`
	Reason       string   `json:"reason"`
}

// tokenUIDs are the distinct uids of hex token keys, which begin with the
// uid and a zero byte (credential.TokenKey).
func tokenUIDs(hexKeys []string) []string {
	var out []string
	for _, h := range hexKeys {
		b, err := hex.DecodeString(h)
		if err != nil {
			continue
		}
		if i := bytes.IndexByte(b, 0); i > 0 && !slices.Contains(out, string(b[:i])) {
			out = append(out, string(b[:i]))
		}
	}
	return out
}

func sseFrame(event string, v any) []byte {
	b, _ := json.Marshal(v) // our own types: cannot fail
	return rawFrame(event, b)
}

// rawFrame is one server-sent event; data is compact JSON (one line).
func rawFrame(event string, data []byte) []byte {
	b := make([]byte, 0, len(event)+len(data)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}

// adminEvents serves GET /admin/events.
func (s *Server) adminEvents(w http.ResponseWriter, r *http.Request, c *call) error {
	sub, err := s.feed.subscribe(c.app.ID)
	if errors.Is(err, errFeedClosed) {
		return apierr.New(apierr.ServiceUnavailable).SetHeader("Retry-After", "1").SetDetails("draining", true)
	}
	if err != nil {
		return err
	}
	defer s.feed.unsubscribe(sub)
	rc := http.NewResponseController(w)
	// A stream outlives the server's write timeout, which guards requests:
	// each write gets its own deadline instead. (The read deadline is no
	// matter: net/http clears it for the read that watches a GET's
	// connection.)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte, timeout time.Duration) bool {
		rc.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	ready := sseFrame("ready", struct {
		AppID string `json:"appId"`
		KeyID string `json:"keyId"`
		Node  string `json:"node,omitempty"`
	}{c.app.ID, c.key.ID, s.nodeID()})
	if !write(ready, adminWriteTimeout) {
		return nil
	}
	heartbeat := time.NewTicker(s.cfg.AdminHeartbeat)
	defer heartbeat.Stop()
	keyCheck := time.NewTicker(s.cfg.AdminKeyCheck)
	defer keyCheck.Stop()
	end := func(reason string) {
		write(sseFrame("end", struct {
			Reason string `json:"reason"`
		}{reason}), time.Second)
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-sub.done:
			end(sub.reason)
			return nil
		case fr := <-sub.frames:
			// Whatever else is waiting goes out in the same write.
			batch := append([]byte(nil), fr...)
			for more := true; more && len(batch) < 64<<10; {
				select {
				case fr := <-sub.frames:
					batch = append(batch, fr...)
				default:
					more = false
				}
			}
			if !write(batch, adminWriteTimeout) {
				return nil
			}
		case <-heartbeat.C:
			if !write([]byte(": heartbeat\n\n"), adminWriteTimeout) {
				return nil
			}
		case <-keyCheck.C:
			if s.keyRevoked(r.Context(), c) {
				end(endKeyRevoked)
				return nil
			}
		case <-sub.recheck:
			if s.keyRevoked(r.Context(), c) {
				end(endKeyRevoked)
				return nil
			}
		}
	}
}

// keyRevoked reports whether the stream's key was deleted or lost
// fullAccess. It asks the store, not the key cache (another node's change
// reaches that only when its entry expires); a store that does not answer
// is no reason to end a stream.
func (s *Server) keyRevoked(ctx context.Context, c *call) bool {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DBTimeout)
	defer cancel()
	k, err := s.st.GetAPIKeyByHash(ctx, c.app.ID, c.key.Hash)
	if errors.Is(err, store.ErrNotFound) {
		return true
	}
	return err == nil && k.Scope != store.ScopeFullAccess
}

func (s *Server) nodeID() string {
	if s.hub == nil {
		return ""
	}
	return s.hub.Node()
}

// emit delivers an event of this node to the admin streams of every node:
// through the hub (which hands it to this node's streams and publishes it),
// or straight to this node's streams when there is no hub.
func (s *Server) emit(ctx context.Context, ev realtime.Event) {
	if s.hub != nil {
		s.hub.Publish(ctx, ev)
		return
	}
	s.feed.deliver(ev)
}

// publishAudit tells every node's admin streams of audit events just
// recorded: per app, as few bus events as fit NOTIFY's limit. An event too
// large for one (the details of an app.update can be) goes without its
// details, marked truncated; GET /audit_events has them in full.
func (s *Server) publishAudit(batch []*store.AuditEvent) {
	byApp := map[string][][]byte{}
	var apps []string
	for _, e := range batch {
		v := wire.AuditEventOf(e)
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		if len(b) > auditDataMax-2 {
			v.Details = json.RawMessage(`{"truncated":true}`)
			if b, err = json.Marshal(v); err != nil || len(b) > auditDataMax-2 {
				continue
			}
		}
		if byApp[e.AppID] == nil {
			apps = append(apps, e.AppID)
		}
		byApp[e.AppID] = append(byApp[e.AppID], b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, app := range apps {
		evs := byApp[app]
		for len(evs) > 0 {
			data := []byte{'['}
			n := 0
			for n < len(evs) && len(data)+len(evs[n])+2 <= auditDataMax {
				if n > 0 {
					data = append(data, ',')
				}
				data = append(data, evs[n]...)
				n++
			}
			data = append(data, ']')
			s.emit(ctx, realtime.Event{Kind: realtime.KindAudit, AppID: app, Data: data})
			evs = evs[n:]
		}
	}
}

package server

// The audit log (docs/sessions.md "Audit log"): every admin write through
// REST is an event, written behind in batches so that recording it costs
// the write a map append, not a second transaction. A crash loses at most
// the last flush interval of events; a graceful shutdown flushes them.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

// auditFlushEvery bounds how late an event reaches the store.
const auditFlushEvery = 200 * time.Millisecond

type auditor struct {
	st       store.Store
	log      *slog.Logger
	recorded func([]*store.AuditEvent) // after each batch is written
	// flushing is held for a whole flush: a flush returns only once what
	// was added before it is written, even when the ticker's flush had
	// taken it (GET /audit_events read an empty page while the ticker's
	// write was in flight), and batches are written and announced in order.
	flushing sync.Mutex
	mu       sync.Mutex
	pending  []*store.AuditEvent
	stop     chan struct{}
	done     chan struct{}
}

func newAuditor(st store.Store, log *slog.Logger, recorded func([]*store.AuditEvent)) *auditor {
	a := &auditor{st: st, log: log, recorded: recorded, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		tick := time.NewTicker(auditFlushEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				a.flush()
			case <-a.stop:
				a.flush()
				return
			}
		}
	}()
	return a
}

func (a *auditor) add(e *store.AuditEvent) {
	a.mu.Lock()
	a.pending = append(a.pending, e)
	a.mu.Unlock()
}

func (a *auditor) flush() {
	a.flushing.Lock()
	defer a.flushing.Unlock()
	a.mu.Lock()
	batch := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.st.RecordAuditEvents(ctx, batch); err != nil {
		// Kept for the next flush: an audit log must not drop events
		// because the database blinked.
		a.log.Warn("recording audit events failed; retrying", "events", len(batch), "err", err)
		a.mu.Lock()
		a.pending = append(batch, a.pending...)
		a.mu.Unlock()
		return
	}
	if a.recorded != nil {
		a.recorded(batch)
	}
}

func (a *auditor) close() {
	close(a.stop)
	<-a.done
}

// NewAuditID returns a random event id.
func NewAuditID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// audit records an admin write by the request's API key. details must hold
// no secret.
func (s *Server) audit(r *http.Request, c *call, action, target string, details map[string]any) {
	if s.noAudit.Load() {
		return
	}
	var d json.RawMessage
	if len(details) > 0 {
		d, _ = json.Marshal(details)
	}
	e := &store.AuditEvent{
		ID: NewAuditID(), Time: s.now().Unix(), AppID: c.app.ID, ActorType: "apiKey",
		Action: action, Target: target, IP: clientIP(r), RequestID: info(r.Context()).id, Details: d,
	}
	if c.key != nil {
		e.ActorID = c.key.ID
	}
	s.auditLog.add(e)
}

func (s *Server) listAuditEvents(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	var v validator
	perPage := v.intParam("perPage", q.Get("perPage"), 100, 1, 1000)
	page := v.intParam("page", q.Get("page"), 1, 1, 1_000_000)
	since := v.intParam("since", q.Get("since"), 0, 0, 1<<40)
	until := v.intParam("until", q.Get("until"), 0, 0, 1<<40)
	action := q.Get("action")
	if action != "" && !slices.Contains(wire.AuditActions, action) {
		v.bad("action", "must be one of the audited actions (docs/sessions.md)")
	}
	actor, target := q.Get("actor"), q.Get("target")
	v.text("actor", actor, 100)
	v.text("target", target, 255)
	if until != 0 && since > until {
		v.bad("since", "must not be after until")
	}
	if err := v.result(); err != nil {
		return err
	}
	// Events a flush has not written yet would be missing from the page.
	s.auditLog.flush()
	evs, total, err := s.st.ListAuditEvents(r.Context(), c.app.ID, store.AuditQuery{
		Action: action, Actor: actor, Target: target, Since: int64(since), Until: int64(until),
		Limit: perPage, Offset: (page - 1) * perPage,
	})
	if err != nil {
		return err
	}
	out := make([]wire.AuditEvent, len(evs))
	for i, e := range evs {
		out[i] = wire.AuditEventOf(e)
	}
	writeList(w, out, total, perPage, page)
	return nil
}

// reapAudit enforces the audit retention.
func (s *Server) reapAudit(ctx context.Context) {
	if s.cfg.AuditRetention <= 0 {
		return
	}
	n, err := s.st.DeleteAuditEventsBefore(ctx, s.now().Add(-s.cfg.AuditRetention).Unix())
	if err != nil {
		s.log.Warn("removing old audit events failed", "err", err)
	} else if n > 0 {
		s.log.Info("removed audit events past the retention", "events", n, "retention", s.cfg.AuditRetention)
	}
}

package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// slowAuditStore holds each RecordAuditEvents until release is closed.
type slowAuditStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
	written chan int
}

func (s *slowAuditStore) RecordAuditEvents(ctx context.Context, evs []*store.AuditEvent) error {
	s.entered <- struct{}{}
	<-s.release
	s.written <- len(evs)
	return nil
}

// A flush returns only once every event added before it is written, even
// while another flush (the ticker's) is writing them: GET /audit_events
// flushes and then reads, and once read an empty page because the
// ticker's flush had taken the events and not yet written them.
func TestAuditFlushWaitsForTheFlushInFlight(t *testing.T) {
	st := &slowAuditStore{entered: make(chan struct{}, 2), release: make(chan struct{}), written: make(chan int, 2)}
	a := newAuditor(st, slog.New(slog.DiscardHandler), nil)
	var released bool
	release := func() {
		if !released {
			released = true
			close(st.release)
		}
	}
	defer func() {
		release()
		a.close()
	}()
	a.add(&store.AuditEvent{ID: "evt_1"})
	select { // the ticker's flush has the event and is writing it
	case <-st.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the auditor did not flush within 5 s")
	}
	returned := make(chan struct{})
	go func() {
		a.flush()
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("flush returned while the event it must wait for was still being written")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("flush did not return once the write in flight ended")
	}
	if n := <-st.written; n != 1 {
		t.Fatalf("the write held %d events, want 1", n)
	}
}

package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/callgate/callgate/internal/store"
)

// ---- the audit log

func auditRec(appID, actorType, actorID, action, target string, at int64) *store.AuditEvent {
	return &store.AuditEvent{
		ID:        "evt_" + randHex(8),
		Time:      at,
		AppID:     appID,
		ActorType: actorType,
		ActorID:   actorID,
		Action:    action,
		Target:    target,
		IP:        "203.0.113.7",
		RequestID: "req_" + randHex(6),
	}
}

// checkEvent compares an event read back with what was recorded (details
// as JSON).
func checkEvent(t *testing.T, what string, got, want *store.AuditEvent) {
	t.Helper()
	g, w := *got, *want
	if !jsonEqual(g.Details, w.Details) {
		t.Errorf("%s: Details = %s, want %s", what, g.Details, w.Details)
	}
	g.Details, w.Details = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func eventIDs(es []*store.AuditEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// newestFirst returns the IDs of es (recorded in this order) for which
// keep holds, last recorded first.
func newestFirst(es []*store.AuditEvent, keep func(*store.AuditEvent) bool) []string {
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		if keep(es[i]) {
			out = append(out, es[i].ID)
		}
	}
	return out
}

// testAuditEvents: RecordAuditEvents numbers events in order; an app's
// page comes newest first with the count of all that match, each filter
// narrows it, and retention removes old events of every app.
func testAuditEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	must(t, "RecordAuditEvents(none)", s.RecordAuditEvents(ctx, nil))

	// Times are not in recording order: the log's order is seq.
	mine := []*store.AuditEvent{
		auditRec(app.ID, "apiKey", "key_1", "user.create", "alice", base+10),
		auditRec(app.ID, "apiKey", "key_1", "user.update", "alice", base+20),
		auditRec(app.ID, "cli", "root", "apikey.create", "key_2", base+15),
		auditRec(app.ID, "apiKey", "key_2", "user.create", "bob", base+30),
		auditRec(app.ID, "apiKey", "key_2", "token.revoke", "bob", base+30),
		auditRec(app.ID, "cli", "ops", "app.update", app.ID, base+40),
		auditRec(app.ID, "apiKey", "key_1", "user.delete", "alice", base+50),
	}
	mine[0].Details = json.RawMessage(`{"name":"Alice","tags":["a","b"],"metadata":{"n":1,"ok":true,"nothing":null}}`)
	mine[5].Details = json.RawMessage(`{"changed": ["authTokenTTL"]}`)
	theirs := []*store.AuditEvent{
		auditRec(other.ID, "apiKey", "key_1", "user.create", "alice", base+10), // same actor and target ids, other app
		auditRec(other.ID, "cli", "root", "app.update", other.ID, base+60),
	}
	// Two batches, interleaving the apps.
	must(t, "RecordAuditEvents", s.RecordAuditEvents(ctx, append(slices.Clone(mine[:4]), theirs[0])))
	must(t, "RecordAuditEvents", s.RecordAuditEvents(ctx, append(slices.Clone(mine[4:]), theirs[1])))
	var last int64
	for i, e := range append(append(slices.Clone(mine[:4]), theirs[0]), append(slices.Clone(mine[4:]), theirs[1])...) {
		if e.Seq <= last {
			t.Errorf("event %d of the batches: Seq = %d after %d, want increasing", i, e.Seq, last)
		}
		last = e.Seq
	}

	list := func(t *testing.T, appID string, q store.AuditQuery) ([]*store.AuditEvent, int) {
		t.Helper()
		got, total, err := s.ListAuditEvents(ctx, appID, q)
		must(t, "ListAuditEvents", err)
		return got, total
	}

	t.Run("All", func(t *testing.T) {
		got, total := list(t, app.ID, store.AuditQuery{})
		if total != len(mine) || len(got) != len(mine) {
			t.Fatalf("listed %d (total %d), want %d", len(got), total, len(mine))
		}
		for i, e := range got {
			checkEvent(t, fmt.Sprintf("event %d", i), e, mine[len(mine)-1-i])
		}
		got, total = list(t, other.ID, store.AuditQuery{})
		if ids := eventIDs(got); !slices.Equal(ids, newestFirst(theirs, func(*store.AuditEvent) bool { return true })) || total != 2 {
			t.Errorf("other app lists %q (total %d)", ids, total)
		}
		got, total = list(t, "no-such-app", store.AuditQuery{})
		if len(got) != 0 || total != 0 {
			t.Errorf("unknown app lists %d (total %d)", len(got), total)
		}
	})

	t.Run("Details", func(t *testing.T) {
		got, _ := list(t, app.ID, store.AuditQuery{Target: "alice", Action: "user.create"})
		if len(got) != 1 {
			t.Fatalf("got %d events", len(got))
		}
		if !jsonEqual(got[0].Details, mine[0].Details) {
			t.Errorf("details = %s, want %s", got[0].Details, mine[0].Details)
		}
		var v map[string]any
		if err := json.Unmarshal(got[0].Details, &v); err != nil {
			t.Errorf("details do not parse: %v", err)
		}
		got, _ = list(t, app.ID, store.AuditQuery{Action: "user.update"})
		if len(got) != 1 || got[0].Details != nil {
			t.Errorf("an event without details reads back with %q", got[0].Details)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		tests := []struct {
			name string
			q    store.AuditQuery
			keep func(e *store.AuditEvent) bool
		}{
			{"action", store.AuditQuery{Action: "user.create"}, func(e *store.AuditEvent) bool { return e.Action == "user.create" }},
			{"actor id", store.AuditQuery{Actor: "key_2"}, func(e *store.AuditEvent) bool { return e.ActorID == "key_2" }},
			{"actor cli", store.AuditQuery{Actor: "cli"}, func(e *store.AuditEvent) bool { return e.ActorType == "cli" }},
			{"actor a CLI user", store.AuditQuery{Actor: "ops"}, func(e *store.AuditEvent) bool { return e.ActorID == "ops" }},
			{"target", store.AuditQuery{Target: "bob"}, func(e *store.AuditEvent) bool { return e.Target == "bob" }},
			{"since (inclusive)", store.AuditQuery{Since: base + 30}, func(e *store.AuditEvent) bool { return e.Time >= base+30 }},
			{"until (inclusive)", store.AuditQuery{Until: base + 15}, func(e *store.AuditEvent) bool { return e.Time <= base+15 }},
			{"since and until", store.AuditQuery{Since: base + 15, Until: base + 30}, func(e *store.AuditEvent) bool { return e.Time >= base+15 && e.Time <= base+30 }},
			{"one second", store.AuditQuery{Since: base + 30, Until: base + 30}, func(e *store.AuditEvent) bool { return e.Time == base+30 }},
			{"all filters", store.AuditQuery{Action: "user.create", Actor: "key_1", Target: "alice", Since: base + 10, Until: base + 10},
				func(e *store.AuditEvent) bool { return e == mine[0] }},
			{"no match", store.AuditQuery{Action: "user.create", Target: "ops"}, func(*store.AuditEvent) bool { return false }},
			{"another app's target", store.AuditQuery{Target: other.ID}, func(*store.AuditEvent) bool { return false }},
			{"until before all", store.AuditQuery{Until: base + 9}, func(*store.AuditEvent) bool { return false }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				want := newestFirst(mine, tc.keep)
				got, total := list(t, app.ID, tc.q)
				if ids := eventIDs(got); !slices.Equal(ids, want) || total != len(want) {
					t.Errorf("%+v: got %q (total %d), want %q", tc.q, ids, total, want)
				}
			})
		}
	})

	t.Run("Pages", func(t *testing.T) {
		all := newestFirst(mine, func(*store.AuditEvent) bool { return true })
		var paged []string
		for off := 0; off < len(mine)+2; off += 3 {
			got, total := list(t, app.ID, store.AuditQuery{Limit: 3, Offset: off})
			if total != len(mine) {
				t.Errorf("offset %d: total %d, want %d", off, total, len(mine))
			}
			if want := min(3, max(len(mine)-off, 0)); len(got) != want {
				t.Errorf("offset %d: %d events, want %d", off, len(got), want)
			}
			paged = append(paged, eventIDs(got)...)
		}
		if !slices.Equal(paged, all) {
			t.Errorf("pages of 3: %q, want %q", paged, all)
		}
		// A filtered page counts every match.
		got, total := list(t, app.ID, store.AuditQuery{Actor: "key_1", Limit: 1, Offset: 1})
		want := newestFirst(mine, func(e *store.AuditEvent) bool { return e.ActorID == "key_1" })
		if ids := eventIDs(got); !slices.Equal(ids, want[1:2]) || total != len(want) {
			t.Errorf("second page of one of key_1's: %q (total %d), want %q (total %d)", ids, total, want[1:2], len(want))
		}
	})

	t.Run("AppGone", func(t *testing.T) {
		// No foreign key to apps: the log keeps events of an app that
		// no longer exists (or never did, for the store).
		gone := auditRec("app-deleted", "cli", "root", "app.delete", "app-deleted", base+70)
		must(t, "RecordAuditEvents(unknown app)", s.RecordAuditEvents(ctx, []*store.AuditEvent{gone}))
		last = max(last, gone.Seq)
		got, total := list(t, "app-deleted", store.AuditQuery{})
		if len(got) != 1 || total != 1 {
			t.Fatalf("listed %d (total %d)", len(got), total)
		}
		checkEvent(t, "event of a deleted app", got[0], gone)
	})

	t.Run("StrayBytes", func(t *testing.T) {
		// Text from a request that PostgreSQL's text cannot hold is
		// recorded (as U+FFFD) on every backend, without failing its batch.
		odd := auditRec(other.ID, "apiKey", "key_1", "user.update", "caf\xe9", base+61)
		odd.RequestID = "req\x00id"
		fine := auditRec(other.ID, "apiKey", "key_1", "user.update", "fine", base+61)
		must(t, "RecordAuditEvents(stray bytes)", s.RecordAuditEvents(ctx, []*store.AuditEvent{odd, fine}))
		last = max(last, odd.Seq, fine.Seq)
		got, _ := list(t, other.ID, store.AuditQuery{Action: "user.update"})
		if len(got) != 2 {
			t.Fatalf("listed %d events, want 2", len(got))
		}
		for _, e := range got {
			for _, v := range []string{e.Target, e.RequestID} {
				if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
					t.Errorf("event %s holds %q", e.ID, v)
				}
			}
		}
		if got[1].Target != "caf\uFFFD" || got[1].RequestID != "req\uFFFDid" {
			t.Errorf("stray bytes read back as %q, %q", got[1].Target, got[1].RequestID)
		}
		// A filter no stored event can match finds nothing, without error.
		got, total := list(t, other.ID, store.AuditQuery{Target: "caf\xe9"})
		if len(got) != 0 || total != 0 {
			t.Errorf("filter with a stray byte: %d (total %d)", len(got), total)
		}
	})

	t.Run("Retention", func(t *testing.T) {
		count := func(appID string) int {
			_, total := list(t, appID, store.AuditQuery{})
			return total
		}
		before := count(app.ID) + count(other.ID)
		// Events at base+30 stay: older than, not as old as.
		n, err := s.DeleteAuditEventsBefore(ctx, base+30)
		must(t, "DeleteAuditEventsBefore", err)
		// mine: +10, +20, +15; theirs: +10.
		if n != 4 {
			t.Errorf("DeleteAuditEventsBefore removed %d, want 4", n)
		}
		got, _ := list(t, app.ID, store.AuditQuery{})
		if ids, want := eventIDs(got), newestFirst(mine, func(e *store.AuditEvent) bool { return e.Time >= base+30 }); !slices.Equal(ids, want) {
			t.Errorf("after retention: %q, want %q", ids, want)
		}
		if after := count(app.ID) + count(other.ID); after != before-4 {
			t.Errorf("%d events left of %d, want %d", after, before, before-4)
		}
		n, err = s.DeleteAuditEventsBefore(ctx, base+30)
		must(t, "DeleteAuditEventsBefore again", err)
		if n != 0 {
			t.Errorf("DeleteAuditEventsBefore again removed %d", n)
		}
	})
}

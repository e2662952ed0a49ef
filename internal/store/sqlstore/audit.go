package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/callgate/callgate/internal/store"
)

const auditCols = `seq, id, time, app_id, actor_type, actor_id, action, target, ip, request_id, details`

// auditText is how an event's text is stored: valid UTF-8 without NUL,
// which is all PostgreSQL's text can hold (SQLite would keep anything). An
// event carries text from requests (a request id, a target taken from a
// path) and is written behind in a batch with others: a stray byte must
// neither fail the batch nor be stored on one backend and refused on the
// other. Such bytes become U+FFFD.
func auditText(s string) string {
	if storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// auditRowsPerInsert is how many events one INSERT writes (100 × 10
// parameters stays under SQLite's and PostgreSQL's limits).
const auditRowsPerInsert = 100

// RecordAuditEvents inserts the batch in one transaction, many events a
// statement, and sets Seq only once it has committed: a retried
// transaction numbers the events again. The seqs come back with their
// event's id: neither database promises RETURNING's rows in VALUES order.
func (s *Store) RecordAuditEvents(ctx context.Context, events []*store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	seqs := make(map[string][]int64, len(events)) // ids are unique in practice; a repeat takes the next
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(seqs)
		// Many rows a statement: the per-statement cost, not the rows, was
		// most of an event's share of the writer.
		for rest := events; len(rest) > 0; {
			chunk := rest[:min(len(rest), auditRowsPerInsert)]
			rest = rest[len(chunk):]
			var b strings.Builder
			b.WriteString(`INSERT INTO audit_events (id, time, app_id, actor_type, actor_id, action, target, ip, request_id, details) VALUES `)
			args := make([]any, 0, 10*len(chunk))
			for i, e := range chunk {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
				var details any
				if len(e.Details) > 0 {
					details = auditText(string(e.Details))
				}
				args = append(args, auditText(e.ID), e.Time, auditText(e.AppID), auditText(e.ActorType), auditText(e.ActorID),
					auditText(e.Action), auditText(e.Target), auditText(e.IP), auditText(e.RequestID), details)
			}
			b.WriteString(` RETURNING id, seq`)
			rows, err := tx.QueryContext(ctx, s.q(b.String()), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var seq int64
				if err := rows.Scan(&id, &seq); err != nil {
					rows.Close()
					return err
				}
				seqs[id] = append(seqs[id], seq)
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		need := make(map[string]int, len(events))
		for _, e := range events {
			need[auditText(e.ID)]++
		}
		for id, n := range need {
			if len(seqs[id]) != n {
				return fmt.Errorf("audit insert returned %d seqs for the %d events of id %q", len(seqs[id]), n, id)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range events {
		id := auditText(e.ID)
		e.Seq, seqs[id] = seqs[id][0], seqs[id][1:]
	}
	return nil
}

func scanAuditEvent(r scanner) (*store.AuditEvent, error) {
	var e store.AuditEvent
	var details sql.NullString
	if err := r.Scan(&e.Seq, &e.ID, &e.Time, &e.AppID, &e.ActorType, &e.ActorID, &e.Action, &e.Target, &e.IP, &e.RequestID, &details); err != nil {
		return nil, err
	}
	if details.Valid && details.String != "" {
		e.Details = json.RawMessage(details.String)
	}
	return &e, nil
}

// ListAuditEvents pages an app's events by seq, newest first; Limit <= 0
// means 100, as for ListUsers. Each filter but the time range is an
// equality that an index (app_id, column, seq) serves in order; Actor
// "cli" matches the events of the CLI (actor_type), any other value the
// actor's id.
func (s *Store) ListAuditEvents(ctx context.Context, appID string, q store.AuditQuery) ([]*store.AuditEvent, int, error) {
	if !storable(appID, q.Action, q.Actor, q.Target) {
		return []*store.AuditEvent{}, 0, nil
	}
	where := ` FROM audit_events WHERE app_id = ?`
	args := []any{appID}
	if q.Action != "" {
		where += ` AND action = ?`
		args = append(args, q.Action)
	}
	switch q.Actor {
	case "":
	case "cli":
		where += ` AND actor_type = ?`
		args = append(args, q.Actor)
	default:
		where += ` AND actor_id = ?`
		args = append(args, q.Actor)
	}
	if q.Target != "" {
		where += ` AND target = ?`
		args = append(args, q.Target)
	}
	if q.Since > 0 {
		where += ` AND time >= ?`
		args = append(args, q.Since)
	}
	if q.Until > 0 {
		where += ` AND time <= ?`
		args = append(args, q.Until)
	}
	var total int
	if err := s.r.QueryRowContext(ctx, s.q(`SELECT count(*)`+where), args...).Scan(&total); err != nil {
		return nil, 0, s.classify(err)
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	events, err := list(s, ctx, scanAuditEvent, `SELECT `+auditCols+where+` ORDER BY seq DESC LIMIT ? OFFSET ?`,
		append(args, q.Limit, max(q.Offset, 0))...)
	return events, total, err
}

// DeleteAuditEventsBefore is one DELETE across apps, by the time index.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, before int64) (int, error) {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM audit_events WHERE time < ?`), before)
	if err != nil {
		return 0, s.classify(err)
	}
	n, err := res.RowsAffected()
	return int(n), s.classify(err)
}

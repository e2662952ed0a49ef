package main

// callgate audit: an app's audit log (docs/sessions.md "Audit log"), read
// through a running server (GET /v3/audit_events) or offline on the
// database, like keys. Also here: the audit events of the offline CLI's own
// writes, which dbBackend records as it makes them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

// adminAuditEvent is an event as GET /v3/audit_events shows it.
type adminAuditEvent = wire.AuditEvent

// auditQuery is a page of the audit log: the query of GET /audit_events.
type auditQuery struct {
	action, actor, target string
	since, until          int64 // unix seconds, inclusive; 0 = unbounded
	perPage, page         int
}

func (q auditQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("action", q.action)
	set("actor", q.actor)
	set("target", q.target)
	if q.since > 0 {
		v.Set("since", strconv.FormatInt(q.since, 10))
	}
	if q.until > 0 {
		v.Set("until", strconv.FormatInt(q.until, 10))
	}
	v.Set("perPage", strconv.Itoa(q.perPage))
	v.Set("page", strconv.Itoa(q.page))
	return v
}

func (b restBackend) ListAuditEvents(ctx context.Context, q auditQuery) (adminReply[[]adminAuditEvent], error) {
	return adminCall[[]adminAuditEvent](ctx, b.c, http.MethodGet, "/audit_events", q.values(), nil)
}

// ListAuditEvents reads the log from the database. A running server writes
// its events behind, within 200 ms: the newest may not be there yet.
func (b *dbBackend) ListAuditEvents(ctx context.Context, q auditQuery) (adminReply[[]adminAuditEvent], error) {
	evs, total, err := b.st.ListAuditEvents(ctx, b.app.ID, store.AuditQuery{
		Action: q.action, Actor: q.actor, Target: q.target, Since: q.since, Until: q.until,
		Limit: q.perPage, Offset: (q.page - 1) * q.perPage,
	})
	if err != nil {
		return adminReply[[]adminAuditEvent]{}, err
	}
	out := make([]adminAuditEvent, len(evs))
	for i, e := range evs {
		out[i] = wire.AuditEventOf(e)
	}
	r := offlineReply(b.app.ID, out)
	r.page = &adminPage{Total: total, Count: len(out), PerPage: q.perPage, CurrentPage: q.page,
		TotalPages: (total + q.perPage - 1) / q.perPage}
	return r, nil
}

func newAuditCmd() *cobra.Command {
	var f adminBackendFlags
	var action, actor, target, since, until string
	var limit, page int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List an app's audit log: who changed what, newest first",
		Long: `Lists the audit log of an app, newest first: every admin write — API keys, users,
auth tokens, signing keys, the app's settings — with who made it (an API key's id,
or "cli" and the local user for offline commands), what it acted on, and when.

With --server or --key (or CALLGATE_SERVER / CALLGATE_KEY) it calls a running
server (GET /v3/audit_events, with a fullAccess key). Without them it reads the
database — SQLite in --data or PostgreSQL with --db. A server writes its events
within 200 ms, so an offline read may miss the very newest.

Filters (all optional, combined with and):
  --action A    one action: ` + wrapList(wire.AuditActions, 52, "\n                ") + `
  --actor X     an API key's id, or cli for the offline CLI's events
  --target T    what was acted on: a uid, an API key's id, a signing key's
                kid, the app's id
  --since T     events at or after T; --until T: at or before T. T is an RFC 3339
                time (2026-11-30T09:00:00Z), a date (2026-11-30: --since its start,
                --until its end, local time), unix seconds, or a duration meaning
                that long ago (24h, 90m, 7d)

--json prints the events as GET /v3/audit_events answers them:
[{id, time, appId, actor: {type, id}, action, target, ip, requestId, details}].

Events are kept for the server's --audit-retention (90 days by default).`,
		Example: `  callgate audit                                     # the dev app of ./callgate-data
  callgate audit --since 24h --action apikey.delete
  callgate audit --target alice --json | jq -r '.[] | [.time, .action] | @tsv'
  callgate audit --server http://127.0.0.1:8080 --app my-app --key $REST_KEY --actor cli
  callgate audit --db postgres://callgate@localhost/callgate --app my-app --limit 20 --page 2`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := auditFlags(action, actor, target, since, until, limit, page, time.Now())
			if err != nil {
				return err
			}
			list := func(b adminBackend, ctx context.Context) (adminReply[[]adminAuditEvent], error) {
				return b.ListAuditEvents(ctx, q)
			}
			return adminDo(cmd, &f, list, showAuditEvents)
		},
	}
	f.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&action, "action", "", "only this action (apikey.create, user.delete, …)")
	fs.StringVar(&actor, "actor", "", "only this actor: an API key's id, or cli")
	fs.StringVar(&target, "target", "", "only events on this target: a uid, a key id, …")
	fs.StringVar(&since, "since", "", "only events at or after: RFC 3339, a date, unix seconds, or a duration ago (24h, 7d)")
	fs.StringVar(&until, "until", "", "only events at or before: RFC 3339, a date, unix seconds, or a duration ago")
	fs.IntVar(&limit, "limit", 100, "events per page (1–1000)")
	fs.IntVar(&page, "page", 1, "page number, from 1")
	return cmd
}

// wrapList joins items with ", ", breaking lines (with sep) before width.
func wrapList(items []string, width int, sep string) string {
	var b strings.Builder
	line := 0
	for i, it := range items {
		if i > 0 {
			b.WriteString(",")
			line++
			if line+1+len(it) > width {
				b.WriteString(sep)
				line = 0
			} else {
				b.WriteString(" ")
				line++
			}
		}
		b.WriteString(it)
		line += len(it)
	}
	return b.String()
}

// auditFlags checks the flags of audit and turns them into a query.
func auditFlags(action, actor, target, since, until string, limit, page int, now time.Time) (auditQuery, error) {
	q := auditQuery{action: strings.TrimSpace(action), actor: strings.TrimSpace(actor), target: strings.TrimSpace(target), perPage: limit, page: page}
	if q.action != "" && !slices.Contains(wire.AuditActions, q.action) {
		return q, fmt.Errorf("--action %q: want one of %s", action, strings.Join(wire.AuditActions, ", "))
	}
	if limit < 1 || limit > 1000 {
		return q, fmt.Errorf("--limit %d: want 1 to 1000", limit)
	}
	if page < 1 {
		return q, fmt.Errorf("--page %d: pages count from 1", page)
	}
	var err error
	if q.since, err = auditTime("since", since, now, false); err != nil {
		return q, err
	}
	if q.until, err = auditTime("until", until, now, true); err != nil {
		return q, err
	}
	if q.until != 0 && q.since > q.until {
		return q, fmt.Errorf("--since %s is after --until %s: nothing can match", adminTime(q.since, "-"), adminTime(q.until, "-"))
	}
	return q, nil
}

// auditTime reads a --since or --until value as unix seconds: an RFC 3339
// time, a date (its first second, or for until its last), unix seconds, or
// a duration before now. "" is 0, no bound.
func auditTime(flag, s string, now time.Time, endOfDay bool) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	bad := func() (int64, error) {
		return 0, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-11-30T09:00:00Z), a date (2026-11-30), unix seconds (1796029200), or a duration ago (24h, 90m, 7d)", flag, s)
	}
	if digits.MatchString(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return bad()
		}
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return max(t.Unix(), 1), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1).Add(-time.Second)
		}
		return max(t.Unix(), 1), nil
	}
	if d, err := parseLongDuration(s); err == nil && d >= 0 {
		return max(now.Add(-d).Unix(), 1), nil
	}
	return bad()
}

func showAuditEvents(w io.Writer, r adminReply[[]adminAuditEvent]) {
	if len(r.v) == 0 {
		if r.page != nil && r.page.Total > 0 {
			fmt.Fprintf(w, "No audit events on page %d: %d match in all (%d pages).\n", r.page.CurrentPage, r.page.Total, r.page.TotalPages)
		} else {
			fmt.Fprintf(w, "No audit events of app %s match.\n", r.app)
		}
		return
	}
	rows := make([][]string, len(r.v))
	for i, e := range r.v {
		rows[i] = []string{adminTime(e.Time, "-"), e.Actor.Type + ":" + e.Actor.ID, e.Action, orDash(e.Target), orDash(e.IP), auditDetails(e.Details)}
	}
	printTable(w, []string{"TIME", "ACTOR", "ACTION", "TARGET", "IP", "DETAILS"}, rows)
	if pg := r.page; pg != nil && pg.TotalPages > 1 {
		fmt.Fprintf(w, "\npage %d of %d (%d events in all)", pg.CurrentPage, pg.TotalPages, pg.Total)
		if pg.CurrentPage < pg.TotalPages {
			fmt.Fprintf(w, "; next: --page %d", pg.CurrentPage+1)
		}
		fmt.Fprintln(w)
	}
}

// auditDetails shows an event's details on one line, cut at 80 characters
// (--json has them whole).
func auditDetails(d json.RawMessage) string {
	s := strings.TrimSpace(string(d))
	if s == "" || s == "{}" || s == "null" {
		return "-"
	}
	if utf8.RuneCountInString(s) > 80 {
		s = string([]rune(s)[:79]) + "…"
	}
	return s
}

// ---- the audit events of the offline CLI's writes

// auditActorCLI is the actor type of the offline CLI's events; its id is
// the local user (cliUser).
const auditActorCLI = "cli"

// cliUser names the local user for the audit log: the OS account, else
// $USER, else "unknown".
func cliUser() string {
	if u, err := user.Current(); err == nil && strings.TrimSpace(u.Username) != "" {
		return strings.TrimSpace(u.Username)
	}
	if u := strings.TrimSpace(os.Getenv("USER")); u != "" {
		return u
	}
	return "unknown"
}

// errUnaudited is wrapped by the error of a write that was made but whose
// audit event could not be recorded: the command shows what it did, then
// fails.
var errUnaudited = errors.New("recording it in the audit log failed")

// record writes the audit event of an offline write at once (a server
// writes its own behind; the CLI exits right after). details must hold no
// secret: no API key, no token, never the reference a key was named by.
func (b *dbBackend) record(ctx context.Context, appID, action, target string, details map[string]any) error {
	var d json.RawMessage
	if len(details) > 0 {
		d = mustJSON(details)
	}
	e := &store.AuditEvent{
		ID: server.NewAuditID(), Time: time.Now().Unix(), AppID: appID,
		ActorType: auditActorCLI, ActorID: cliUser(),
		Action: action, Target: target, Details: d,
	}
	// The write is done: record it even if the command is being cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := b.st.RecordAuditEvents(ctx, []*store.AuditEvent{e}); err != nil {
		return fmt.Errorf("the change was made (%s %s), but %w: %v\n  it stands; `callgate audit` will not show it", action, target, errUnaudited, err)
	}
	return nil
}

package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/realtime"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
)

// The admin event stream, GET /admin/events, over real sockets: an app's
// presence changes, revocations and audit events, only that app's, until
// its key goes, the client leaves or the server stops.

// sse is a client of the stream.
type sse struct {
	t      testing.TB
	res    *http.Response
	events chan sseEvent
	done   chan struct{} // closed when the body ends
	cancel context.CancelFunc
	seen   []sseEvent // read but not yet asked for
}

type sseEvent struct {
	name string         // "" for a comment
	data map[string]any // the JSON of data
	raw  string
	at   time.Time
}

// openSSE opens the stream with h and fails the test unless it is one.
func openSSE(t testing.TB, base string, h H) *sse {
	t.Helper()
	s, res := dialSSE(t, base, h)
	if s == nil {
		t.Fatalf("GET /admin/events: %d %s", res.Status, res.Raw)
	}
	return s
}

// dialSSE opens the stream; a refusal is returned read in full instead.
func dialSSE(t testing.TB, base string, h H) (*sse, *resp) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/admin/events", nil)
	for k, v := range h {
		req.Header[k] = []string{v}
	}
	res, err := http.DefaultClient.Do(req) // no client timeout: a stream
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		defer cancel()
		defer res.Body.Close()
		raw, _ := readAll(res)
		return nil, parse(res, raw)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q", ct)
	}
	s := &sse{t: t, res: res, events: make(chan sseEvent, 4096), done: make(chan struct{}), cancel: cancel}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	go s.read()
	return s, nil
}

func readAll(res *http.Response) ([]byte, error) {
	var b strings.Builder
	_, err := bufio.NewReader(res.Body).WriteTo(&b)
	return []byte(b.String()), err
}

func (s *sse) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.name != "" {
				ev.at = time.Now()
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			s.events <- sseEvent{raw: line, at: time.Now()}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.raw = strings.TrimPrefix(line, "data: ")
			if err := json.Unmarshal([]byte(ev.raw), &ev.data); err != nil {
				s.t.Errorf("data that is not a JSON object: %q", ev.raw)
			}
		default:
			s.t.Errorf("a line the stream should not carry: %q", line)
		}
	}
}

// waitFor returns the first event named name that matches, waiting up to
// timeout for it. Events it passes over are kept for later calls: the
// effects of one action (a revocation, the user going offline, the audit
// event) may arrive in any order.
func (s *sse) waitFor(name string, timeout time.Duration, match func(map[string]any) bool) sseEvent {
	s.t.Helper()
	ok := func(ev sseEvent) bool { return ev.name == name && (match == nil || match(ev.data)) }
	for i, ev := range s.seen {
		if ok(ev) {
			s.seen = append(s.seen[:i:i], s.seen[i+1:]...)
			return ev
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-s.events:
			if ok(ev) {
				return ev
			}
			s.seen = append(s.seen, ev)
		case <-s.done:
			select {
			case ev := <-s.events:
				if ok(ev) {
					return ev
				}
				s.seen = append(s.seen, ev)
				continue
			default:
			}
			s.t.Fatalf("the stream ended before a %s event", name)
		case <-deadline:
			s.t.Fatalf("no %s event within %v", name, timeout)
		}
	}
}

// ended waits for the stream's end event and its close, and returns the reason.
func (s *sse) ended(timeout time.Duration) string {
	s.t.Helper()
	ev := s.waitFor("end", timeout, nil)
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.t.Fatal("the stream stayed open after its end event")
	}
	return str(ev.data, "reason")
}

func isAudit(action, target string) func(map[string]any) bool {
	return func(d map[string]any) bool { return str(d, "action") == action && str(d, "target") == target }
}

func TestAdminEvents(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Config: server.Config{AdminHeartbeat: 100 * time.Millisecond}})
	app := e.srv.AppID

	// Credentials, as every fullAccess route checks them.
	_, r := dialSSE(t, e.srv.URL, H{"appId": app})
	wantErr(t, r, 401, "AUTH_ERR_EMPTY_APIKEY")
	_, r = dialSSE(t, e.srv.URL, e.auth())
	wantErr(t, r, 403, "AUTH_ERR_NO_ACCESS")
	_, r = dialSSE(t, e.srv.URL, H{"appId": app, "apiKey": strings.Repeat("ab", 20)})
	wantErr(t, r, 401, "AUTH_ERR_APIKEY_NOT_FOUND")
	wantErr(t, e.do("GET", "/v3/admin/events", e.rest(), nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	wantErr(t, e.do("POST", "/admin/events", e.rest(), nil), 404, "ERR_ENDPOINT_NOT_FOUND")

	s := openSSE(t, e.srv.URL, e.rest())
	ready := s.waitFor("ready", 5*time.Second, nil)
	if str(ready.data, "appId") != app || !strings.HasPrefix(str(ready.data, "keyId"), "key_") {
		t.Errorf("ready: %s", ready.raw)
	}
	if s.res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", s.res.Header.Get("Cache-Control"))
	}

	// Another app's stream hears nothing of this one, and the reverse.
	bApp, bKey, _ := secondApp(t, e.srv.Store, "admin-events-b")
	sb := openSSE(t, e.srv.URL, H{"appId": bApp, "apiKey": bKey})
	sb.waitFor("ready", 5*time.Second, nil)

	// Presence: a user comes online.
	uid := "cometchat-uid-1"
	tok := e.newToken("/v3", uid)
	start := time.Now()
	ws := connect(t, e.srv.URL, app, uid, tok)
	ev := s.waitFor("presence", 2*time.Second, func(d map[string]any) bool { return str(d, "uid") == uid && str(d, "status") == "online" })
	t.Logf("online → stream in %v", ev.at.Sub(start).Round(time.Millisecond))
	if num(ev.data, "lastActiveAt") == 0 {
		t.Errorf("presence without lastActiveAt: %s", ev.raw)
	}

	// A revocation from the console's side: the token deleted. The stream
	// hears the revocation (whose, why), the user going offline, and the
	// audit event, each within a second.
	id := str(e.do("GET", "/v3/users/"+uid+"/auth_tokens/"+tok, e.rest(), nil).data(t), "id")
	start = time.Now()
	e.do("DELETE", "/v3/users/"+uid+"/auth_tokens/"+id, e.rest(), nil).data(t)
	wantRevoked(t, ws, "token_deleted", start)
	ev = s.waitFor("revocation", time.Second, nil)
	if str(ev.data, "scope") != "tokens" || fmt.Sprint(ev.data["uids"]) != "["+uid+"]" || num(ev.data, "count") != 1 || str(ev.data, "reason") != "token_deleted" {
		t.Errorf("revocation: %s", ev.raw)
	}
	if strings.Contains(ev.raw, tok) || strings.Contains(ev.raw, id) {
		t.Errorf("a revocation carries the token: %s", ev.raw)
	}
	s.waitFor("presence", time.Second, func(d map[string]any) bool { return str(d, "uid") == uid && str(d, "status") == "offline" })
	ev = s.waitFor("audit", time.Second, isAudit("token.delete", uid))
	t.Logf("DELETE token → audit event on the stream in %v", ev.at.Sub(start).Round(time.Millisecond))
	for _, f := range []string{"id", "time", "appId", "actor", "action", "target", "ip", "requestId", "details"} {
		if _, ok := ev.data[f]; !ok {
			t.Errorf("the audit event lacks %s: %s", f, ev.raw)
		}
	}
	if a, _ := ev.data["actor"].(map[string]any); str(a, "id") != str(ready.data, "keyId") {
		t.Errorf("actor %v, want the stream's key %s", a, str(ready.data, "keyId"))
	}

	// Revoke issued before, for a user and for the app; a user deleted.
	e.newUser("/v3", "ev-user")
	e.do("POST", "/v3/users/ev-user/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": time.Now().Unix() + 1}).data(t)
	ev = s.waitFor("revocation", time.Second, func(d map[string]any) bool { return str(d, "scope") == "issued_before" })
	if str(ev.data, "uid") != "ev-user" || num(ev.data, "issuedBefore") == 0 || str(ev.data, "reason") != "tokens_revoked" {
		t.Errorf("revocation: %s", ev.raw)
	}
	e.do("POST", "/v3/auth_tokens/revoke", e.rest(), map[string]any{"issuedBefore": 1}).data(t)
	ev = s.waitFor("revocation", time.Second, func(d map[string]any) bool { return str(d, "scope") == "issued_before" })
	if _, ok := ev.data["uid"]; ok || num(ev.data, "issuedBefore") != 1 {
		t.Errorf("the app-wide revocation: %s", ev.raw)
	}
	e.do("DELETE", "/v3/users/ev-user", e.rest(), nil).data(t)
	ev = s.waitFor("revocation", time.Second, func(d map[string]any) bool { return str(d, "scope") == "user" })
	if str(ev.data, "uid") != "ev-user" || str(ev.data, "reason") != "user_deleted" {
		t.Errorf("revocation: %s", ev.raw)
	}
	s.waitFor("audit", time.Second, isAudit("user.delete", "ev-user"))

	// Heartbeats keep an idle stream visibly alive.
	s.waitFor("", time.Second, nil)

	// App B's stream saw none of that; its own audit event is its first.
	do(t, e.srv.URL, "POST", "/v3/users", H{"appId": bApp, "apiKey": bKey}, map[string]any{"uid": "b-barrier", "name": "B"}).data(t)
	sb.waitFor("audit", 2*time.Second, isAudit("user.create", "b-barrier"))
	for _, ev := range sb.seen {
		if ev.name != "" && ev.name != "ready" {
			t.Errorf("app B's stream got %s %s", ev.name, ev.raw)
		}
	}

	// A key deleted or demoted ends its streams at once.
	for _, change := range []struct {
		name   string
		method string
		body   any
	}{{"deleted", "DELETE", nil}, {"demoted", "PUT", map[string]any{"scope": "authOnly"}}} {
		d := e.do("POST", "/v3/apikeys", e.rest(), map[string]any{"name": "console " + change.name, "scope": "fullAccess"}).data(t)
		ks := openSSE(t, e.srv.URL, H{"appId": app, "apiKey": str(d, "apiKey")})
		ks.waitFor("ready", 5*time.Second, nil)
		start := time.Now()
		e.do(change.method, "/v3/apikeys/"+str(d, "id"), e.rest(), change.body).data(t)
		if reason := ks.ended(2 * time.Second); reason != "key_revoked" {
			t.Errorf("key %s: ended with %q", change.name, reason)
		}
		t.Logf("key %s → stream ended in %v", change.name, time.Since(start).Round(time.Millisecond))
	}
	// The first stream lives on.
	e.newUser("/v3", "ev-after")
	s.waitFor("audit", time.Second, isAudit("user.create", "ev-after"))
}

// A key deleted offline (the CLI on the database) ends its streams within
// the key check's period.
func TestAdminEventsKeyCheck(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Config: server.Config{AdminKeyCheck: 200 * time.Millisecond}})
	d := e.do("POST", "/v3/apikeys", e.rest(), map[string]any{"name": "offline", "scope": "fullAccess"}).data(t)
	s := openSSE(t, e.srv.URL, H{"appId": e.srv.AppID, "apiKey": str(d, "apiKey")})
	s.waitFor("ready", 5*time.Second, nil)
	if err := e.srv.Store.DeleteAPIKey(context.Background(), e.srv.AppID, str(d, "id")); err != nil {
		t.Fatal(err)
	}
	if reason := s.ended(2 * time.Second); reason != "key_revoked" {
		t.Errorf("ended with %q", reason)
	}
}

// Shutdown ends every stream at once (http.Server.Shutdown would otherwise
// wait them out), and refuses new ones.
func TestAdminEventsShutdown(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	s := openSSE(t, e.srv.URL, e.rest())
	s.waitFor("ready", 5*time.Second, nil)
	start := time.Now()
	e.srv.Stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the server took %v to stop with a stream open", d)
	}
	if reason := s.ended(2 * time.Second); reason != "shutdown" {
		t.Errorf("ended with %q", reason)
	}
}

// A stream outlives the HTTP server's read and write timeouts, which are
// meant for requests: here they are 300 ms and the stream lasts 1.5 s.
func TestAdminEventsOutlivesTimeouts(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{Config: server.Config{AdminHeartbeat: 100 * time.Millisecond}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: e.srv.API, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	s := openSSE(t, "http://"+ln.Addr().String(), e.rest())
	s.waitFor("ready", 5*time.Second, nil)
	time.Sleep(1500 * time.Millisecond)
	e.newUser("/v3", "late-user")
	s.waitFor("audit", 2*time.Second, isAudit("user.create", "late-user"))
}

// An audit event too large for a NOTIFY goes without its details.
func TestAdminEventsLargeAudit(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	s := openSSE(t, e.srv.URL, e.rest())
	s.waitFor("ready", 5*time.Second, nil)
	origins := make([]string, 100)
	for i := range origins {
		origins[i] = fmt.Sprintf("https://%s-%d.example.com", strings.Repeat("o", 60), i)
	}
	e.do("PUT", "/v3/app", e.rest(), map[string]any{"settings": map[string]any{"corsOrigins": origins}}).data(t)
	ev := s.waitFor("audit", 2*time.Second, isAudit("app.update", e.srv.AppID))
	if d, _ := ev.data["details"].(map[string]any); d["truncated"] != true || len(ev.raw) > realtime.MaxPayload {
		t.Errorf("details of a large event: %.200s… (%d bytes)", ev.raw, len(ev.raw))
	}
	// GET /audit_events has them in full.
	items, _ := e.do("GET", "/v3/audit_events?action=app.update", e.rest(), nil).list(t)
	if len(items) != 1 || !strings.Contains(fmt.Sprint(items[0]["details"]), origins[99]) {
		t.Errorf("GET /audit_events: %v", items)
	}
}

// Two nodes on PostgreSQL: a stream on node B hears what happens on node A
// — presence, revocations, audit events (a large one included, within
// NOTIFY's limit) — and ends when its key is deleted through node A.
func TestAdminEventsTwoNodesPostgres(t *testing.T) {
	t.Parallel()
	a := start(t, servertest.Options{Postgres: true})
	b := start(t, servertest.Options{Join: a.srv})
	app := a.srv.AppID
	d := a.do("POST", "/v3/apikeys", a.rest(), map[string]any{"name": "console on B", "scope": "fullAccess"}).data(t)
	s := openSSE(t, b.srv.URL, H{"appId": app, "apiKey": str(d, "apiKey")})
	s.waitFor("ready", 5*time.Second, nil)

	uid := "cometchat-uid-2"
	tok := a.newToken("/v3", uid)
	start := time.Now()
	ws := connect(t, a.srv.URL, app, uid, tok)
	ev := s.waitFor("presence", 2*time.Second, func(d map[string]any) bool { return str(d, "uid") == uid && str(d, "status") == "online" })
	t.Logf("online on A → B's stream in %v", ev.at.Sub(start).Round(time.Millisecond))

	start = time.Now()
	a.do("DELETE", "/v3/users/"+uid+"/auth_tokens", a.rest(), nil).data(t)
	wantRevoked(t, ws, "tokens_flushed", start)
	ev = s.waitFor("revocation", time.Second, nil)
	if str(ev.data, "scope") != "tokens" || fmt.Sprint(ev.data["uids"]) != "["+uid+"]" || str(ev.data, "reason") != "tokens_flushed" {
		t.Errorf("revocation: %s", ev.raw)
	}
	t.Logf("flush on A → revocation on B's stream in %v", ev.at.Sub(start).Round(time.Millisecond))
	s.waitFor("presence", time.Second, func(d map[string]any) bool { return str(d, "uid") == uid && str(d, "status") == "offline" })
	ev = s.waitFor("audit", time.Second, isAudit("token.flush", uid))
	t.Logf("flush on A → audit event on B's stream in %v", ev.at.Sub(start).Round(time.Millisecond))

	origins := make([]string, 100)
	for i := range origins {
		origins[i] = fmt.Sprintf("https://%s-%d.example.com", strings.Repeat("p", 60), i)
	}
	a.do("PUT", "/v3/app", a.rest(), map[string]any{"settings": map[string]any{"corsOrigins": origins}}).data(t)
	ev = s.waitFor("audit", 2*time.Second, isAudit("app.update", app))
	if dd, _ := ev.data["details"].(map[string]any); dd["truncated"] != true {
		t.Errorf("a large event: %.200s…", ev.raw)
	}
	// Many events at once cross in a few NOTIFYs, all of them.
	for i := range 30 {
		a.newUser("/v3", fmt.Sprintf("burst-%d", i))
	}
	for i := range 30 {
		s.waitFor("audit", 2*time.Second, isAudit("user.create", fmt.Sprintf("burst-%d", i)))
	}

	start = time.Now()
	a.do("DELETE", "/v3/apikeys/"+str(d, "id"), a.rest(), nil).data(t)
	if reason := s.ended(3 * time.Second); reason != "key_revoked" {
		t.Errorf("ended with %q", reason)
	}
	t.Logf("key deleted on A → B's stream ended in %v", time.Since(start).Round(time.Millisecond))
}

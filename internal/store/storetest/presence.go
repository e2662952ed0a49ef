package storetest

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// ---- presence

func refs(rs []store.UserRef) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.AppID + "/" + r.UID
	}
	sort.Strings(out)
	return out
}

func testPresence(t *testing.T, s store.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	for _, uid := range []string{"p1", "p2", "p3", "gone"} {
		newUser(t, s, app.ID, uid)
	}
	newUser(t, s, other.ID, "p1") // same uid, other app
	now := base + 1000
	online := func(t *testing.T, appID, uid string, at int64) bool {
		t.Helper()
		on, err := s.Online(ctx, appID, uid, at)
		must(t, "Online", err)
		return on
	}

	t.Run("RenewNode", func(t *testing.T) {
		steps := []struct {
			name    string
			node    string
			lease   int64
			existed bool
		}{
			{"first start", "node-r", now + 30, false},
			{"renew", "node-r", now + 60, true},
			{"renew with the same lease", "node-r", now + 60, true},
			{"another node", "node-r2", now + 30, false},
		}
		for _, st := range steps {
			existed, err := s.RenewNode(ctx, st.node, st.lease)
			must(t, st.name, err)
			if existed != st.existed {
				t.Errorf("%s: existed = %v, want %v", st.name, existed, st.existed)
			}
		}
		_, err := s.RemoveNode(ctx, "node-r")
		must(t, "RemoveNode", err)
		_, err = s.RemoveNode(ctx, "node-r2")
		must(t, "RemoveNode", err)
	})

	t.Run("OnlineOffline", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-a", now+30)
		must(t, "RenewNode a", err)
		_, err = s.RenewNode(ctx, "node-b", now+30)
		must(t, "RenewNode b", err)
		if online(t, app.ID, "p1", now) {
			t.Fatal("p1 online before any connection")
		}
		must(t, "SetPresence a online", s.SetPresence(ctx, "node-a", app.ID, "p1", true, now))
		if !online(t, app.ID, "p1", now) {
			t.Error("p1 offline while node-a holds them")
		}
		u, err := s.GetUser(ctx, app.ID, "p1")
		must(t, "GetUser", err)
		if u.LastActiveAt != now {
			t.Errorf("LastActiveAt = %d, want %d", u.LastActiveAt, now)
		}
		// Idempotent.
		must(t, "SetPresence a online again", s.SetPresence(ctx, "node-a", app.ID, "p1", true, now+1))
		// Per app: the same uid elsewhere is not online.
		if online(t, other.ID, "p1", now) {
			t.Error("p1 of another app is online")
		}
		// Two nodes hold p1; one letting go leaves them online.
		must(t, "SetPresence b online", s.SetPresence(ctx, "node-b", app.ID, "p1", true, now+2))
		must(t, "SetPresence a offline", s.SetPresence(ctx, "node-a", app.ID, "p1", false, now+3))
		if !online(t, app.ID, "p1", now+3) {
			t.Error("p1 offline while node-b still holds them")
		}
		must(t, "SetPresence b offline", s.SetPresence(ctx, "node-b", app.ID, "p1", false, now+4))
		if online(t, app.ID, "p1", now+4) {
			t.Error("p1 online after every node let go")
		}
		u, err = s.GetUser(ctx, app.ID, "p1")
		must(t, "GetUser", err)
		if u.LastActiveAt != now+4 {
			t.Errorf("LastActiveAt = %d, want %d (stamped going offline too)", u.LastActiveAt, now+4)
		}
		// Offline for a connection never recorded, or a user since deleted, is fine.
		must(t, "SetPresence offline, never online", s.SetPresence(ctx, "node-a", app.ID, "p2", false, now+5))
		must(t, "SetPresence offline, no such user", s.SetPresence(ctx, "node-a", app.ID, "nobody", false, now+5))
	})

	t.Run("OnlineRefused", func(t *testing.T) {
		tests := []struct{ name, node, app, uid string }{
			{"missing user", "node-a", app.ID, "nobody"},
			{"user of another app", "node-a", other.ID, "p2"},
			{"unregistered node", "node-unknown", app.ID, "p2"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.SetPresence(ctx, tc.node, tc.app, tc.uid, true, now)
				wantErr(t, "SetPresence online", err, store.ErrNotFound)
				if online(t, tc.app, tc.uid, now) {
					t.Error("online after a refused SetPresence")
				}
			})
		}
	})

	t.Run("LeaseLapses", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-c", now+30)
		must(t, "RenewNode c", err)
		must(t, "SetPresence", s.SetPresence(ctx, "node-c", app.ID, "p2", true, now))
		if !online(t, app.ID, "p2", now+29) {
			t.Error("p2 offline within the lease")
		}
		// A lapsed lease counts for nothing, reaped or not.
		if online(t, app.ID, "p2", now+30) || online(t, app.ID, "p2", now+1000) {
			t.Error("p2 online after the lease ended")
		}
		// Renewing before anyone reaps keeps the presence.
		existed, err := s.RenewNode(ctx, "node-c", now+2000)
		must(t, "RenewNode c", err)
		if !existed {
			t.Error("RenewNode before a reap: existed = false")
		}
		if !online(t, app.ID, "p2", now+1000) {
			t.Error("p2 offline after the lease was renewed")
		}
	})

	t.Run("ReapNodes", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-dead", now+10)
		must(t, "RenewNode dead", err)
		_, err = s.RenewNode(ctx, "node-live", now+10_000)
		must(t, "RenewNode live", err)
		must(t, "SetPresence", s.SetPresence(ctx, "node-dead", app.ID, "p3", true, now))
		must(t, "SetPresence", s.SetPresence(ctx, "node-dead", other.ID, "p1", true, now))
		must(t, "SetPresence", s.SetPresence(ctx, "node-live", app.ID, "p1", true, now))
		got, err := s.ReapNodes(ctx, now+9)
		must(t, "ReapNodes before the lease ends", err)
		if len(got) != 0 {
			t.Errorf("reaped %v before any lease ended", refs(got))
		}
		// node-a, node-b (from OnlineOffline, lease now+30) and node-dead
		// lapse by now+5000; node-c (now+2000) too; node-live does not.
		got, err = s.ReapNodes(ctx, now+5000)
		must(t, "ReapNodes", err)
		want := []string{app.ID + "/p2", app.ID + "/p3", other.ID + "/p1"}
		sort.Strings(want)
		if g := refs(got); !slices.Equal(g, want) {
			t.Errorf("ReapNodes returned %q, want %q", g, want)
		}
		if !online(t, app.ID, "p1", now+5000) {
			t.Error("reaping lapsed nodes took a live node's user offline")
		}
		got, err = s.ReapNodes(ctx, now+5000)
		must(t, "ReapNodes again", err)
		if len(got) != 0 {
			t.Errorf("second reap returned %v", refs(got))
		}
		// A reaped node starts over: its presence is gone.
		existed, err := s.RenewNode(ctx, "node-dead", now+6000)
		must(t, "RenewNode after reap", err)
		if existed {
			t.Error("RenewNode of a reaped node: existed = true")
		}
		if online(t, app.ID, "p3", now+5000) {
			t.Error("p3 online again after the reap")
		}
		// And can record presence again.
		must(t, "SetPresence after re-registering", s.SetPresence(ctx, "node-dead", app.ID, "p3", true, now+5000))
		if !online(t, app.ID, "p3", now+5000) {
			t.Error("p3 offline after re-registering")
		}
	})

	t.Run("RemoveNode", func(t *testing.T) {
		_, err := s.RenewNode(ctx, "node-x", now+10_000)
		must(t, "RenewNode", err)
		must(t, "SetPresence", s.SetPresence(ctx, "node-x", app.ID, "p2", true, now))
		must(t, "SetPresence", s.SetPresence(ctx, "node-x", app.ID, "gone", true, now))
		// Deleting a user drops their presence.
		_, err = s.DeleteUser(ctx, app.ID, "gone")
		must(t, "DeleteUser", err)
		if online(t, app.ID, "gone", now) {
			t.Error("deleted user is online")
		}
		got, err := s.RemoveNode(ctx, "node-x")
		must(t, "RemoveNode", err)
		if g := refs(got); !slices.Equal(g, []string{app.ID + "/p2"}) {
			t.Errorf("RemoveNode returned %q, want [%s/p2]", g, app.ID)
		}
		if online(t, app.ID, "p2", now) {
			t.Error("p2 online after their node left")
		}
		existed, err := s.RenewNode(ctx, "node-x", now+10_000)
		must(t, "RenewNode after RemoveNode", err)
		if existed {
			t.Error("RenewNode after RemoveNode: existed = true")
		}
		got, err = s.RemoveNode(ctx, "node-never-was")
		must(t, "RemoveNode(unknown)", err)
		if len(got) != 0 {
			t.Errorf("RemoveNode(unknown) returned %v", refs(got))
		}
	})
}

// testPresenceInReads: user reads carry status from presence, judged against
// the database's own clock (a lease in the real future is live).
func testPresenceInReads(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	for _, uid := range []string{"on", "off", "lapsed"} {
		newUser(t, s, app.ID, uid)
	}
	tok := newToken(t, s, app.ID, "on")
	now := time.Now().Unix()
	_, err := s.RenewNode(ctx, "live", now+60)
	must(t, "RenewNode live", err)
	_, err = s.RenewNode(ctx, "dead", now-60)
	must(t, "RenewNode dead", err)
	must(t, "SetPresence on", s.SetPresence(ctx, "live", app.ID, "on", true, now))
	must(t, "SetPresence lapsed", s.SetPresence(ctx, "dead", app.ID, "lapsed", true, now))

	for uid, want := range map[string]string{"on": "online", "off": "offline", "lapsed": "offline"} {
		u, err := s.GetUser(ctx, app.ID, uid)
		must(t, "GetUser", err)
		if u.Status != want {
			t.Errorf("GetUser(%s).Status = %q, want %q", uid, u.Status, want)
		}
	}
	_, u, err := s.GetSession(ctx, tok.Hash)
	must(t, "GetSession", err)
	if u.Status != "online" {
		t.Errorf("GetSession user status = %q, want online", u.Status)
	}
	for _, tc := range []struct {
		status string
		want   []string
	}{
		{"online", []string{"on"}},
		{"offline", []string{"lapsed", "off"}},
		{"", []string{"lapsed", "off", "on"}},
	} {
		users, total, err := s.ListUsers(ctx, app.ID, store.UserQuery{Status: tc.status, Limit: 10})
		must(t, "ListUsers", err)
		var got []string
		for _, u := range users {
			got = append(got, u.UID)
		}
		if total != len(tc.want) || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ListUsers(status=%q) = %v (total %d), want %v", tc.status, got, total, tc.want)
		}
	}
}

package storetest

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

// ---- auth tokens

func testAuthTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	other := newApp(t, s)
	u := newUser(t, s, app.ID, "tokuser")
	u2 := newUser(t, s, app.ID, "tokuser2")
	newUser(t, s, other.ID, "only-in-other")

	t.Run("CreateGetSession", func(t *testing.T) {
		tok := tokenRec(app.ID, u.UID)
		tok.ExpiresAt = base + 100_000_000 // beyond every "now" of DeleteExpired
		tok.LastUsedAt = base
		must(t, "CreateAuthToken", s.CreateAuthToken(ctx, tok))
		gotTok, gotUser, err := s.GetSession(ctx, tok.Hash)
		must(t, "GetSession", err)
		checkToken(t, "GetSession token", gotTok, tok)
		checkUser(t, "GetSession user", gotUser, u)
		got, err := s.GetAuthToken(ctx, app.ID, u.UID, tok.ID)
		must(t, "GetAuthToken", err)
		checkToken(t, "GetAuthToken", got, tok)
	})

	t.Run("CreateErrors", func(t *testing.T) {
		deact := newUser(t, s, app.ID, "deactivated")
		_, err := s.UpdateUser(ctx, app.ID, deact.UID, store.UserPatch{Deactivated: ptr(true)}, base)
		must(t, "deactivate", err)
		existing := newToken(t, s, app.ID, u.UID)
		dupHash := tokenRec(app.ID, u2.UID)
		dupHash.Hash = existing.Hash
		tests := []struct {
			name string
			tok  *store.AuthToken
			want error
		}{
			{"missing user", tokenRec(app.ID, "nobody"), store.ErrNotFound},
			{"user of another app", tokenRec(app.ID, "only-in-other"), store.ErrNotFound},
			{"missing app", tokenRec("missing-app", u.UID), store.ErrNotFound},
			{"deactivated user", tokenRec(app.ID, deact.UID), store.ErrNotFound},
			{"duplicate hash", dupHash, store.ErrAlreadyExists},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateAuthToken", s.CreateAuthToken(ctx, tc.tok), tc.want)
				if tc.want == store.ErrNotFound {
					_, _, err := s.GetSession(ctx, tc.tok.Hash)
					wantErr(t, "GetSession of a refused token", err, store.ErrNotFound)
				}
			})
		}
		// Display ids are 64 random bits and not checked for uniqueness;
		// the same id under another user is certainly fine.
		sameID := tokenRec(app.ID, u2.UID)
		sameID.ID = existing.ID
		must(t, "CreateAuthToken(same display id, other user)", s.CreateAuthToken(ctx, sameID))
	})

	t.Run("GetMissing", func(t *testing.T) {
		tok := newToken(t, s, app.ID, u.UID)
		_, _, err := s.GetSession(ctx, newHash())
		wantErr(t, "GetSession(unknown hash)", err, store.ErrNotFound)
		_, _, err = s.GetSession(ctx, tok.Hash[:16])
		wantErr(t, "GetSession(hash prefix)", err, store.ErrNotFound)
		tests := []struct{ app, uid, id string }{
			{app.ID, u.UID, "tok_missing"},
			{app.ID, u2.UID, tok.ID},                      // another user's token
			{other.ID, u.UID, tok.ID},                     // another app
			{app.ID, u.UID, ""},                           // empty id
			{app.ID, u.UID, hex.EncodeToString(tok.Hash)}, // the hash is not the id
		}
		for _, tc := range tests {
			_, err := s.GetAuthToken(ctx, tc.app, tc.uid, tc.id)
			wantErr(t, fmt.Sprintf("GetAuthToken(%q, %q, %q)", tc.app, tc.uid, tc.id), err, store.ErrNotFound)
		}
	})

	t.Run("List", func(t *testing.T) {
		lu := newUser(t, s, app.ID, "lister")
		var want []*store.AuthToken
		for range 4 {
			want = append(want, newToken(t, s, app.ID, lu.UID))
		}
		newToken(t, s, app.ID, u2.UID) // noise
		got, err := s.ListAuthTokens(ctx, app.ID, lu.UID)
		must(t, "ListAuthTokens", err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ListAuthTokens: got %d tokens, want %d in creation order", len(got), len(want))
			for i := range got {
				t.Logf("  got %+v", got[i])
			}
		}
		for _, q := range []struct{ app, uid string }{{other.ID, lu.UID}, {app.ID, "nobody"}} {
			got, err := s.ListAuthTokens(ctx, q.app, q.uid)
			must(t, "ListAuthTokens", err)
			if len(got) != 0 {
				t.Errorf("ListAuthTokens(%q, %q) = %d tokens", q.app, q.uid, len(got))
			}
		}
	})

	t.Run("StartSession", func(t *testing.T) {
		su := newUser(t, s, app.ID, "sessioner")
		tok := newToken(t, s, app.ID, su.UID)
		sibling := newToken(t, s, app.ID, su.UID)
		up := store.SessionUpdate{Platform: "ios", DeviceID: "iphone-15-" + randHex(4), UserAgent: "CometChatCalls/5 iOS", Now: base + 777}
		must(t, "StartSessions", s.StartSessions(ctx, map[string]store.SessionUpdate{string(tok.Hash): up}))
		gotTok, gotUser, err := s.GetSession(ctx, tok.Hash)
		must(t, "GetSession", err)
		want := *tok
		want.Platform, want.DeviceID, want.UserAgent, want.LastUsedAt = up.Platform, up.DeviceID, up.UserAgent, up.Now
		checkToken(t, "token after StartSession", gotTok, &want)
		if gotUser.LastActiveAt != up.Now {
			t.Errorf("user LastActiveAt = %d, want %d", gotUser.LastActiveAt, up.Now)
		}
		stored, err := s.GetUser(ctx, app.ID, su.UID)
		must(t, "GetUser", err)
		if stored.LastActiveAt != up.Now {
			t.Errorf("GetUser LastActiveAt = %d, want %d", stored.LastActiveAt, up.Now)
		}
		// Only this token's device fields change.
		sib, err := s.GetAuthToken(ctx, app.ID, su.UID, sibling.ID)
		must(t, "GetAuthToken(sibling)", err)
		checkToken(t, "sibling token", sib, sibling)
		// Other users are untouched.
		other, err := s.GetUser(ctx, app.ID, u2.UID)
		must(t, "GetUser(u2)", err)
		if other.LastActiveAt != u2.LastActiveAt {
			t.Errorf("another user's LastActiveAt changed to %d", other.LastActiveAt)
		}
		// Write-behind batches may name tokens revoked since: ignored.
		must(t, "StartSessions(unknown hash)", s.StartSessions(ctx, map[string]store.SessionUpdate{string(newHash()): up}))
		// Many at once.
		batch := map[string]store.SessionUpdate{}
		var toks []*store.AuthToken
		for i := range 300 { // more than one write-behind transaction holds
			bt := newToken(t, s, app.ID, su.UID)
			toks = append(toks, bt)
			batch[string(bt.Hash)] = store.SessionUpdate{Platform: "web", DeviceID: "d" + strconv.Itoa(i), Now: base + 900 + int64(i)}
		}
		must(t, "StartSessions(batch)", s.StartSessions(ctx, batch))
		for i, bt := range toks {
			got, err := s.GetAuthToken(ctx, app.ID, su.UID, bt.ID)
			must(t, "GetAuthToken", err)
			if got.DeviceID != "d"+strconv.Itoa(i) || got.Platform != "web" {
				t.Errorf("batch token %d: device %q platform %q", i, got.DeviceID, got.Platform)
			}
		}
		stored, err = s.GetUser(ctx, app.ID, su.UID)
		must(t, "GetUser", err)
		if stored.LastActiveAt != base+1199 {
			t.Errorf("after batch, LastActiveAt = %d, want the latest %d", stored.LastActiveAt, base+1199)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		du := newUser(t, s, app.ID, "deleter")
		tok := newToken(t, s, app.ID, du.UID)
		keep := newToken(t, s, app.ID, du.UID)
		_, err := s.DeleteAuthToken(ctx, other.ID, du.UID, tok.ID)
		wantErr(t, "DeleteAuthToken under another app", err, store.ErrNotFound)
		_, err = s.DeleteAuthToken(ctx, app.ID, u2.UID, tok.ID)
		wantErr(t, "DeleteAuthToken under another user", err, store.ErrNotFound)
		got, err := s.DeleteAuthToken(ctx, app.ID, du.UID, tok.ID)
		must(t, "DeleteAuthToken", err)
		checkToken(t, "deleted token", got, tok)
		_, _, err = s.GetSession(ctx, tok.Hash)
		wantErr(t, "GetSession after delete", err, store.ErrNotFound)
		_, err = s.GetAuthToken(ctx, app.ID, du.UID, tok.ID)
		wantErr(t, "GetAuthToken after delete", err, store.ErrNotFound)
		_, err = s.DeleteAuthToken(ctx, app.ID, du.UID, tok.ID)
		wantErr(t, "DeleteAuthToken again", err, store.ErrNotFound)
		_, err = s.DeleteAuthToken(ctx, app.ID, du.UID, "tok_missing")
		wantErr(t, "DeleteAuthToken(missing)", err, store.ErrNotFound)
		if _, _, err := s.GetSession(ctx, keep.Hash); err != nil {
			t.Errorf("sibling token: %v", err)
		}
	})

	t.Run("Flush", func(t *testing.T) {
		fu := newUser(t, s, app.ID, "flusher")
		var toks []*store.AuthToken
		for range 5 {
			toks = append(toks, newToken(t, s, app.ID, fu.UID))
		}
		keep := newToken(t, s, app.ID, u2.UID)
		got, err := s.DeleteAuthTokens(ctx, other.ID, fu.UID)
		must(t, "DeleteAuthTokens under another app", err)
		if len(got) != 0 {
			t.Errorf("flush under another app removed %d tokens", len(got))
		}
		got, err = s.DeleteAuthTokens(ctx, app.ID, fu.UID)
		must(t, "DeleteAuthTokens", err)
		if !reflect.DeepEqual(tokenHashes(got), tokenHashes(toks)) {
			t.Errorf("flushed %v, want %v", tokenHashes(got), tokenHashes(toks))
		}
		list, err := s.ListAuthTokens(ctx, app.ID, fu.UID)
		must(t, "ListAuthTokens", err)
		if len(list) != 0 {
			t.Errorf("%d tokens left after flush", len(list))
		}
		for _, tk := range toks {
			_, _, err := s.GetSession(ctx, tk.Hash)
			wantErr(t, "GetSession after flush", err, store.ErrNotFound)
		}
		if _, _, err := s.GetSession(ctx, keep.Hash); err != nil {
			t.Errorf("another user's token: %v", err)
		}
		got, err = s.DeleteAuthTokens(ctx, app.ID, fu.UID)
		must(t, "DeleteAuthTokens with none left", err)
		if len(got) != 0 {
			t.Errorf("second flush returned %d", len(got))
		}
		// The user stays.
		if _, err := s.GetUser(ctx, app.ID, fu.UID); err != nil {
			t.Errorf("GetUser after flush: %v", err)
		}
	})

	t.Run("Touch", func(t *testing.T) {
		tu := newUser(t, s, app.ID, "toucher")
		a, b := tokenRec(app.ID, tu.UID), tokenRec(app.ID, tu.UID)
		a.LastUsedAt, b.LastUsedAt = base+100, base+100
		must(t, "CreateAuthToken a", s.CreateAuthToken(ctx, a))
		must(t, "CreateAuthToken b", s.CreateAuthToken(ctx, b))
		steps := []struct {
			name         string
			touch        map[string]int64
			wantA, wantB int64
		}{
			{"empty", map[string]int64{}, base + 100, base + 100},
			{"nil", nil, base + 100, base + 100},
			{"forward", map[string]int64{string(a.Hash): base + 200}, base + 200, base + 100},
			{"backward is ignored", map[string]int64{string(a.Hash): base + 150}, base + 200, base + 100},
			{"same is fine", map[string]int64{string(a.Hash): base + 200}, base + 200, base + 100},
			{"many at once, mixed", map[string]int64{string(a.Hash): base + 300, string(b.Hash): base + 50}, base + 300, base + 100},
			{"unknown hash is ignored", map[string]int64{string(newHash()): base + 999, string(b.Hash): base + 400}, base + 300, base + 400},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				must(t, "TouchAuthTokens", s.TouchAuthTokens(ctx, st.touch))
				ga, err := s.GetAuthToken(ctx, app.ID, tu.UID, a.ID)
				must(t, "GetAuthToken a", err)
				gb, err := s.GetAuthToken(ctx, app.ID, tu.UID, b.ID)
				must(t, "GetAuthToken b", err)
				if ga.LastUsedAt != st.wantA || gb.LastUsedAt != st.wantB {
					t.Errorf("lastUsedAt a=%d b=%d, want %d %d", ga.LastUsedAt-base, gb.LastUsedAt-base, st.wantA-base, st.wantB-base)
				}
			})
		}
		t.Run("many", func(t *testing.T) {
			m := map[string]int64{}
			var toks []*store.AuthToken
			for i := range 300 {
				tk := tokenRec(app.ID, tu.UID)
				must(t, "CreateAuthToken", s.CreateAuthToken(ctx, tk))
				m[string(tk.Hash)] = base + 1000 + int64(i)
				toks = append(toks, tk)
			}
			must(t, "TouchAuthTokens", s.TouchAuthTokens(ctx, m))
			for _, tk := range toks {
				got, _, err := s.GetSession(ctx, tk.Hash)
				must(t, "GetSession", err)
				if got.LastUsedAt != m[string(tk.Hash)] {
					t.Fatalf("token %s lastUsedAt %d, want %d", tk.ID, got.LastUsedAt, m[string(tk.Hash)])
				}
			}
		})
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		eapp := newApp(t, s)
		e1 := newUser(t, s, eapp.ID, "exp1")
		e2 := newUser(t, s, eapp.ID, "exp2")
		now := base + 10_000
		mk := func(uid string, expires int64) *store.AuthToken {
			tk := tokenRec(eapp.ID, uid)
			tk.ExpiresAt = expires
			must(t, "CreateAuthToken", s.CreateAuthToken(ctx, tk))
			return tk
		}
		never := mk(e1.UID, 0)
		expired1 := mk(e1.UID, now-1)
		expired2 := mk(e2.UID, now-5000)
		expired3 := mk(e2.UID, 1) // long ago
		live := mk(e1.UID, now+1)
		liveFar := mk(e2.UID, now+1_000_000)
		got, err := s.DeleteExpiredAuthTokens(ctx, now)
		must(t, "DeleteExpiredAuthTokens", err)
		want := []*store.AuthToken{expired1, expired2, expired3}
		if !reflect.DeepEqual(tokenHashes(got), tokenHashes(want)) {
			t.Errorf("deleted %d tokens %v, want %v", len(got), tokenHashes(got), tokenHashes(want))
		}
		for _, tk := range got {
			if tk.AppID != eapp.ID || tk.UID == "" || tk.ID == "" || tk.ExpiresAt == 0 {
				t.Errorf("returned token lacks what revocation needs: %+v", tk)
			}
		}
		for _, tk := range want {
			_, _, err := s.GetSession(ctx, tk.Hash)
			wantErr(t, "GetSession of an expired token", err, store.ErrNotFound)
		}
		for _, tk := range []*store.AuthToken{never, live, liveFar} {
			if _, _, err := s.GetSession(ctx, tk.Hash); err != nil {
				t.Errorf("token expiring at %d was removed: %v", tk.ExpiresAt, err)
			}
		}
		// Tokens of the other tests (expiresAt 0 or in the future) survive.
		if _, err := s.ListAuthTokens(ctx, app.ID, u.UID); err != nil {
			t.Error(err)
		}
		got, err = s.DeleteExpiredAuthTokens(ctx, now)
		must(t, "DeleteExpiredAuthTokens again", err)
		if len(got) != 0 {
			t.Errorf("second sweep deleted %d", len(got))
		}
		// Users stay.
		for _, uid := range []string{e1.UID, e2.UID} {
			if _, err := s.GetUser(ctx, eapp.ID, uid); err != nil {
				t.Errorf("GetUser(%s): %v", uid, err)
			}
		}
	})
}

// ---- concurrency

func testConcurrentAuthTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	const n = 50
	var users []*store.User
	for i := range 5 {
		users = append(users, newUser(t, s, app.ID, fmt.Sprintf("conc-%d", i)))
	}

	t.Run("AllSucceed", func(t *testing.T) {
		toks := make([]*store.AuthToken, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			toks[i] = tokenRec(app.ID, users[i%len(users)].UID)
			wg.Go(func() {
				<-start
				errs[i] = s.CreateAuthToken(ctx, toks[i])
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("CreateAuthToken #%d: %v", i, err)
			}
		}
		// Acknowledged means readable, at once.
		for _, tk := range toks {
			got, u, err := s.GetSession(ctx, tk.Hash)
			if err != nil {
				t.Errorf("GetSession(%s): %v", tk.ID, err)
				continue
			}
			checkToken(t, "token", got, tk)
			if u.UID != tk.UID {
				t.Errorf("token %s belongs to %s, want %s", tk.ID, u.UID, tk.UID)
			}
		}
		total := 0
		for _, u := range users {
			list, err := s.ListAuthTokens(ctx, app.ID, u.UID)
			must(t, "ListAuthTokens", err)
			total += len(list)
		}
		if total != n {
			t.Errorf("%d tokens listed, want %d", total, n)
		}
	})

	t.Run("FailuresDoNotSpread", func(t *testing.T) {
		// Good inserts racing with bad ones (missing user, duplicate hash,
		// deactivated user) must succeed, whatever batch they share.
		deact := newUser(t, s, app.ID, "conc-deactivated")
		_, err := s.UpdateUser(ctx, app.ID, deact.UID, store.UserPatch{Deactivated: ptr(true)}, base)
		must(t, "deactivate", err)
		existing := newToken(t, s, app.ID, users[0].UID)
		type job struct {
			tok  *store.AuthToken
			want error
		}
		var jobs []job
		for i := range n {
			jobs = append(jobs, job{tokenRec(app.ID, users[i%len(users)].UID), nil})
			switch i % 5 {
			case 1:
				jobs = append(jobs, job{tokenRec(app.ID, fmt.Sprintf("ghost-%d", i)), store.ErrNotFound})
			case 2:
				dup := tokenRec(app.ID, users[1].UID)
				dup.Hash = existing.Hash
				jobs = append(jobs, job{dup, store.ErrAlreadyExists})
			case 3:
				jobs = append(jobs, job{tokenRec(app.ID, deact.UID), store.ErrNotFound})
			}
		}
		errs := make([]error, len(jobs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Go(func() {
				<-start
				errs[i] = s.CreateAuthToken(ctx, jobs[i].tok)
			})
		}
		close(start)
		wg.Wait()
		for i, j := range jobs {
			if j.want == nil {
				if errs[i] != nil {
					t.Errorf("good insert #%d failed: %v", i, errs[i])
					continue
				}
				if _, _, err := s.GetSession(ctx, j.tok.Hash); err != nil {
					t.Errorf("good insert #%d not readable: %v", i, err)
				}
			} else {
				wantErr(t, fmt.Sprintf("bad insert #%d", i), errs[i], j.want)
			}
		}
	})
}

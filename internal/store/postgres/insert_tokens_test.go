package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
)

// TestInsertTokensStatement runs the batch insert on its own: the token
// writer falls back to a statement per token when a batch fails, so a broken
// batch statement would otherwise go unnoticed (only slower).
func TestInsertTokensStatement(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateApp(ctx, &store.App{ID: "a", Name: "a", Region: "us"}); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"alice", "bob"} {
		if err := s.CreateUser(ctx, &store.User{AppID: "a", UID: uid, Name: uid}, nil); err != nil {
			t.Fatal(err)
		}
	}
	deactivated := true
	if _, err := s.UpdateUser(ctx, "a", "bob", store.UserPatch{Deactivated: &deactivated}, 1); err != nil {
		t.Fatal(err)
	}
	uids := []string{"alice", "bob", "ghost", "alice"}
	var hashes [][]byte
	for _, uid := range uids {
		_, key := credential.NewToken(uid, time.Unix(10, 0))
		hashes = append(hashes, key)
	}
	ids := []string{"tok_1", "tok_2", "tok_3", "tok_4"}
	apps := []string{"a", "a", "a", "a"}
	empty := []string{"", "", "", ""}
	times := []int64{10, 10, 10, 10}
	zero := []int64{0, 0, 0, 0}
	rows, err := s.DB().QueryContext(ctx, insertTokensSQL, hashes, ids, apps, uids, []string{"web", "", "", ""}, empty, empty, times, zero, zero)
	if err != nil {
		t.Fatalf("batch insert: %v", err)
	}
	var got []string
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		got = append(got, string(h))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	a1, a2 := string(hashes[0]), string(hashes[3])
	if len(got) != 2 || !(got[0] == a1 && got[1] == a2 || got[0] == a2 && got[1] == a1) {
		t.Fatalf("inserted %d tokens, want alice's two only", len(got))
	}
	list, err := s.ListAuthTokens(ctx, "a", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("alice has %d tokens, want 2", len(list))
	}
	for _, tk := range list {
		if tk.ID == "tok_1" && tk.Platform != "web" || tk.CreatedAt != 10 {
			t.Errorf("stored token %+v: columns out of order?", tk)
		}
	}
}

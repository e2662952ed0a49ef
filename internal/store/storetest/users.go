package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

// ---- users

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)

	full := &store.User{
		AppID:        app.ID,
		UID:          "cometchat-uid-1",
		Name:         "Andrew Joseph",
		Avatar:       "https://data-us.cometchat.io/assets/images/avatars/ironman.png",
		Link:         "https://example.com/andrew",
		Role:         "moderator",
		Metadata:     json.RawMessage(`{"@private":{"email":"a@example.com","contactNumber":"0123"},"n":1.5,"list":[1,"two",null,true],"ü":"ß"}`),
		Tags:         []string{"vip", "beta tester", "ünïcode"},
		LastActiveAt: base - 10,
		CreatedAt:    base,
		UpdatedAt:    base + 1,
	}

	t.Run("CreateGet", func(t *testing.T) {
		must(t, "CreateUser", s.CreateUser(ctx, full, nil))
		got, err := s.GetUser(ctx, app.ID, full.UID)
		must(t, "GetUser", err)
		checkUser(t, "GetUser", got, full)
		if got.Status != "offline" {
			t.Errorf("Status = %q, want offline (nobody is connected)", got.Status)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name string
			edit func(u *store.User)
		}{
			{"minimal", func(u *store.User) {}},
			{"nil metadata and tags", func(u *store.User) { u.Metadata, u.Tags = nil, nil }},
			{"empty object metadata", func(u *store.User) { u.Metadata = json.RawMessage(`{}`) }},
			{"nested metadata", func(u *store.User) {
				u.Metadata = json.RawMessage(`{"a":{"b":{"c":[1,2,{"d":"e"}]}},"quote":"\"'\\","emoji":"📞"}`)
			}},
			{"one tag", func(u *store.User) { u.Tags = []string{"solo"} }},
			{"tags with punctuation", func(u *store.User) { u.Tags = []string{`a"b`, "c,d", "[e]", ""} }},
			{"deactivated", func(u *store.User) { u.DeactivatedAt = base + 5 }},
			{"long name", func(u *store.User) { u.Name = strings.Repeat("ñ", 100) }},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := userRec(app.ID, fmt.Sprintf("roundtrip-%d", i))
				tc.edit(u)
				must(t, "CreateUser", s.CreateUser(ctx, u, nil))
				got, err := s.GetUser(ctx, app.ID, u.UID)
				must(t, "GetUser", err)
				checkUser(t, "GetUser", got, u)
			})
		}
	})

	t.Run("CreateErrors", func(t *testing.T) {
		dup := userRec(app.ID, full.UID)
		dup.Name = "Impostor"
		tests := []struct {
			name string
			u    *store.User
			want error
		}{
			{"duplicate", dup, store.ErrAlreadyExists},
			{"missing app", userRec("missing-app", "someone"), store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateUser", s.CreateUser(ctx, tc.u, nil), tc.want)
			})
		}
		got, err := s.GetUser(ctx, app.ID, full.UID)
		must(t, "GetUser", err)
		checkUser(t, "user after failed duplicate create", got, full)
	})

	t.Run("GetMissing", func(t *testing.T) {
		other := newApp(t, s)
		tests := []struct{ app, uid string }{
			{app.ID, "nobody"},
			{app.ID, ""},
			{other.ID, full.UID},
			{"missing-app", full.UID},
		}
		for _, tc := range tests {
			_, err := s.GetUser(ctx, tc.app, tc.uid)
			wantErr(t, fmt.Sprintf("GetUser(%q, %q)", tc.app, tc.uid), err, store.ErrNotFound)
		}
	})

	t.Run("CreateWithToken", func(t *testing.T) {
		u := userRec(app.ID, "with-token")
		tok := tokenRec(app.ID, u.UID)
		must(t, "CreateUser", s.CreateUser(ctx, u, tok))
		gotTok, gotUser, err := s.GetSession(ctx, tok.Hash)
		must(t, "GetSession", err)
		checkToken(t, "token", gotTok, tok)
		checkUser(t, "user of the token", gotUser, u)
		list, err := s.ListAuthTokens(ctx, app.ID, u.UID)
		must(t, "ListAuthTokens", err)
		if len(list) != 1 {
			t.Errorf("%d tokens, want 1", len(list))
		}
	})

	t.Run("CreateWithTokenAtomic", func(t *testing.T) {
		existing := userRec(app.ID, "atomic-existing")
		existingTok := tokenRec(app.ID, existing.UID)
		must(t, "CreateUser", s.CreateUser(ctx, existing, existingTok))

		t.Run("user insert fails", func(t *testing.T) {
			dup := userRec(app.ID, existing.UID)
			tok := tokenRec(app.ID, dup.UID)
			wantErr(t, "CreateUser(duplicate, token)", s.CreateUser(ctx, dup, tok), store.ErrAlreadyExists)
			_, _, err := s.GetSession(ctx, tok.Hash)
			wantErr(t, "GetSession of the failed create's token", err, store.ErrNotFound)
			list, err := s.ListAuthTokens(ctx, app.ID, existing.UID)
			must(t, "ListAuthTokens", err)
			if got := tokenHashes(list); !reflect.DeepEqual(got, tokenHashes([]*store.AuthToken{existingTok})) {
				t.Errorf("existing user's tokens changed: %v", got)
			}
		})
		t.Run("user insert fails, missing app", func(t *testing.T) {
			u := userRec("missing-app", "ghost")
			tok := tokenRec(u.AppID, u.UID)
			wantErr(t, "CreateUser(missing app, token)", s.CreateUser(ctx, u, tok), store.ErrNotFound)
			_, _, err := s.GetSession(ctx, tok.Hash)
			wantErr(t, "GetSession of the failed create's token", err, store.ErrNotFound)
		})
		t.Run("token insert fails", func(t *testing.T) {
			u := userRec(app.ID, "atomic-new")
			tok := tokenRec(app.ID, u.UID)
			tok.Hash = existingTok.Hash // collides
			wantErr(t, "CreateUser(user, duplicate token)", s.CreateUser(ctx, u, tok), store.ErrAlreadyExists)
			_, err := s.GetUser(ctx, app.ID, u.UID)
			wantErr(t, "GetUser after a failed create", err, store.ErrNotFound)
			// The uid is still free.
			must(t, "CreateUser retry", s.CreateUser(ctx, u, tokenRec(app.ID, u.UID)))
		})
	})
}

// ---- list users

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	other := newApp(t, s)
	people := []struct{ uid, name string }{
		{"alice-1", "Alice Liddell"},
		{"bob_2", "Bobby Tables"},
		{"carol3", "Carol 100% Sure"},
		{"dave", "Dave x_y"},
		{"erin", "Érin Ünal"},
		{"frank", "FRANK"},
		{"grace", `Grace back\slash`},
	}
	var all []string
	for _, p := range people {
		u := userRec(app.ID, p.uid)
		u.Name = p.name
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		all = append(all, p.uid)
	}
	// Noise in another app that matches every search.
	for _, p := range people {
		newUser(t, s, other.ID, p.uid+"-other")
	}
	sort.Strings(all)

	t.Run("Search", func(t *testing.T) {
		tests := []struct {
			search string
			want   []string
		}{
			{"", all},
			{"alice", []string{"alice-1"}},   // uid
			{"ALICE", []string{"alice-1"}},   // uid, case-insensitive
			{"liddell", []string{"alice-1"}}, // name
			{"LiDDeLL", []string{"alice-1"}}, // name, case-insensitive
			{"frank", []string{"frank"}},     // upper-case name, lower-case search
			{"a", []string{"alice-1", "bob_2", "carol3", "dave", "erin", "frank", "grace"}},
			{"_", []string{"bob_2", "dave"}}, // literal underscore in uid and name
			{"e_1", nil},                     // "_" as a wildcard would match alice-1
			{"%", []string{"carol3"}},        // literal percent
			{"0% s", []string{"carol3"}},     // percent in the middle
			{"%sure", nil},                   // "%" as a wildcard would match carol3
			{`\`, []string{"grace"}},         // backslash is literal too
			{`k\s`, []string{"grace"}},       // backslash is literal too
			{`\%`, nil},                      // an escape sequence is literal
			{"ünal", []string{"erin"}},       // non-ASCII, case-insensitive
			{"ÉRIN", []string{"erin"}},       // non-ASCII upper-case search
			{"nobody", nil},                  // no match
			{"alice-1-other", nil},           // other app's users never show
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%q", tc.search), func(t *testing.T) {
				got, total, err := s.ListUsers(ctx, app.ID, store.UserQuery{Search: tc.search, Limit: 100})
				must(t, "ListUsers", err)
				if g := uids(got); !slices.Equal(g, tc.want) {
					t.Errorf("ListUsers(search %q) = %q, want %q", tc.search, g, tc.want)
				}
				if total != len(tc.want) {
					t.Errorf("total = %d, want %d", total, len(tc.want))
				}
			})
		}
	})

	t.Run("Status", func(t *testing.T) {
		// Presence lives in the realtime layer: the store sees nobody online.
		got, total, err := s.ListUsers(ctx, app.ID, store.UserQuery{Status: "offline", Limit: 100})
		must(t, "ListUsers(offline)", err)
		if g := uids(got); !slices.Equal(g, all) || total != len(all) {
			t.Errorf("offline: %q (total %d), want %q", g, total, all)
		}
		for _, u := range got {
			if u.Status != "offline" {
				t.Errorf("%s: status %q in the offline list", u.UID, u.Status)
			}
		}
		got, total, err = s.ListUsers(ctx, app.ID, store.UserQuery{Status: "online", Limit: 100})
		must(t, "ListUsers(online)", err)
		if len(got) != 0 || total != 0 {
			t.Errorf("online: %q (total %d), want none", uids(got), total)
		}
		got, total, err = s.ListUsers(ctx, app.ID, store.UserQuery{Status: "offline", Search: "ALICE", Limit: 100})
		must(t, "ListUsers(offline, search)", err)
		if g := uids(got); !slices.Equal(g, []string{"alice-1"}) || total != 1 {
			t.Errorf("offline+search: %q (total %d)", g, total)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		papp := newApp(t, s)
		var want []string
		for i := range 25 {
			uid := fmt.Sprintf("page-%02d", i)
			want = append(want, uid)
		}
		// Insert out of order; lists are ordered by uid.
		for _, i := range rand25() {
			newUser(t, s, papp.ID, want[i])
		}
		tests := []struct {
			limit, offset int
			search        string
			want          []string
			total         int
		}{
			{10, 0, "", want[0:10], 25},
			{10, 10, "", want[10:20], 25},
			{10, 20, "", want[20:25], 25},
			{10, 25, "", nil, 25},
			{10, 1000, "", nil, 25},
			{1, 24, "", want[24:], 25},
			{100, 0, "", want, 25},
			{3, 0, "page-1", want[10:13], 10},
			{3, 9, "page-1", want[19:20], 10},
			{5, 0, "PAGE-2", want[20:25], 5},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("limit=%d,offset=%d,search=%q", tc.limit, tc.offset, tc.search), func(t *testing.T) {
				got, total, err := s.ListUsers(ctx, papp.ID, store.UserQuery{Limit: tc.limit, Offset: tc.offset, Search: tc.search})
				must(t, "ListUsers", err)
				if g := uids(got); !slices.Equal(g, tc.want) {
					t.Errorf("page = %q, want %q", g, tc.want)
				}
				if total != tc.total {
					t.Errorf("total = %d, want %d", total, tc.total)
				}
			})
		}
		// Walking the pages visits every user once.
		var seen []string
		for off := 0; ; off += 7 {
			got, _, err := s.ListUsers(ctx, papp.ID, store.UserQuery{Limit: 7, Offset: off})
			must(t, "ListUsers", err)
			if len(got) == 0 {
				break
			}
			seen = append(seen, uids(got)...)
		}
		if !slices.Equal(seen, want) {
			t.Errorf("paging by 7 saw %q", seen)
		}
	})

	t.Run("EmptyApp", func(t *testing.T) {
		empty := newApp(t, s)
		got, total, err := s.ListUsers(ctx, empty.ID, store.UserQuery{Limit: 10})
		must(t, "ListUsers", err)
		if len(got) != 0 || total != 0 {
			t.Errorf("empty app lists %q, total %d", uids(got), total)
		}
	})
}

// rand25 is a fixed permutation of 0..24.
func rand25() []int {
	return []int{17, 3, 24, 0, 11, 8, 21, 14, 5, 19, 1, 23, 9, 16, 2, 12, 7, 20, 4, 15, 22, 10, 6, 18, 13}
}

// ---- update user

func testUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)

	seed := func(uid string) *store.User {
		u := userRec(app.ID, uid)
		u.Avatar = "https://example.com/a.png"
		u.Link = "https://example.com/u"
		u.Role = "default"
		u.Metadata = json.RawMessage(`{"k":"v"}`)
		u.Tags = []string{"t1", "t2"}
		u.LastActiveAt = base - 100
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		return u
	}

	t.Run("Patch", func(t *testing.T) {
		meta := json.RawMessage(`{"new":{"nested":[1,2,3]},"x":"ÿ"}`)
		tests := []struct {
			name  string
			patch store.UserPatch
			edit  func(u *store.User) // the expected effect on the user
		}{
			{"empty patch", store.UserPatch{}, func(u *store.User) {}},
			{"name", store.UserPatch{Name: ptr("New Name")}, func(u *store.User) { u.Name = "New Name" }},
			{"avatar", store.UserPatch{Avatar: ptr("https://x.example/b.png")}, func(u *store.User) { u.Avatar = "https://x.example/b.png" }},
			{"clear avatar", store.UserPatch{Avatar: ptr("")}, func(u *store.User) { u.Avatar = "" }},
			{"link", store.UserPatch{Link: ptr("https://x.example")}, func(u *store.User) { u.Link = "https://x.example" }},
			{"role", store.UserPatch{Role: ptr("admin")}, func(u *store.User) { u.Role = "admin" }},
			{"metadata", store.UserPatch{Metadata: &meta}, func(u *store.User) { u.Metadata = meta }},
			{"tags", store.UserPatch{Tags: ptr([]string{"x"})}, func(u *store.User) { u.Tags = []string{"x"} }},
			{"clear tags", store.UserPatch{Tags: ptr([]string{})}, func(u *store.User) { u.Tags = nil }},
			{"everything", store.UserPatch{Name: ptr("N"), Avatar: ptr("A"), Link: ptr("L"), Role: ptr("R"),
				Metadata: &meta, Tags: ptr([]string{"a", "b"})}, func(u *store.User) {
				u.Name, u.Avatar, u.Link, u.Role, u.Metadata, u.Tags = "N", "A", "L", "R", meta, []string{"a", "b"}
			}},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := seed(fmt.Sprintf("patch-%d", i))
				now := base + 500
				want := *u
				tc.edit(&want)
				want.UpdatedAt = now
				got, err := s.UpdateUser(ctx, app.ID, u.UID, tc.patch, now)
				must(t, "UpdateUser", err)
				checkUser(t, "UpdateUser result", got, &want)
				stored, err := s.GetUser(ctx, app.ID, u.UID)
				must(t, "GetUser", err)
				checkUser(t, "GetUser after UpdateUser", stored, &want)
			})
		}
	})

	t.Run("Successive", func(t *testing.T) {
		// Each patch leaves the fields it does not name as the previous one left them.
		u := seed("successive")
		_, err := s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Name: ptr("First")}, base+1)
		must(t, "UpdateUser 1", err)
		_, err = s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Tags: ptr([]string{"z"})}, base+2)
		must(t, "UpdateUser 2", err)
		got, err := s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Role: ptr("owner")}, base+3)
		must(t, "UpdateUser 3", err)
		want := *u
		want.Name, want.Tags, want.Role, want.UpdatedAt = "First", []string{"z"}, "owner", base+3
		checkUser(t, "after three patches", got, &want)
	})

	t.Run("DeactivateReactivate", func(t *testing.T) {
		u := seed("deact")
		pre := newToken(t, s, app.ID, u.UID) // minted before the deactivation
		steps := []struct {
			name        string
			deactivated bool
			now         int64
			wantAt      int64
			tokenErr    error
		}{
			{"deactivate", true, base + 10, base + 10, store.ErrNotFound},
			{"deactivate again keeps the first time", true, base + 20, base + 10, store.ErrNotFound},
			{"reactivate", false, base + 30, 0, nil},
			{"reactivate again", false, base + 40, 0, nil},
			{"deactivate after reactivation", true, base + 50, base + 50, store.ErrNotFound},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				got, err := s.UpdateUser(ctx, app.ID, u.UID, store.UserPatch{Deactivated: ptr(st.deactivated)}, st.now)
				must(t, "UpdateUser", err)
				if got.DeactivatedAt != st.wantAt {
					t.Errorf("DeactivatedAt = %d, want %d", got.DeactivatedAt, st.wantAt)
				}
				stored, err := s.GetUser(ctx, app.ID, u.UID)
				must(t, "GetUser (a deactivated user is still readable)", err)
				if stored.DeactivatedAt != st.wantAt {
					t.Errorf("stored DeactivatedAt = %d, want %d", stored.DeactivatedAt, st.wantAt)
				}
				if stored.Name != u.Name || !jsonEqual(stored.Metadata, u.Metadata) {
					t.Errorf("deactivation changed other fields: %+v", stored)
				}
				// An existing session still resolves, showing the
				// deactivation so the caller can refuse it.
				_, su, err := s.GetSession(ctx, pre.Hash)
				must(t, "GetSession", err)
				if su.DeactivatedAt != st.wantAt {
					t.Errorf("GetSession user DeactivatedAt = %d, want %d", su.DeactivatedAt, st.wantAt)
				}
				err = s.CreateAuthToken(ctx, tokenRec(app.ID, u.UID))
				if st.tokenErr == nil {
					must(t, "CreateAuthToken", err)
				} else {
					wantErr(t, "CreateAuthToken", err, st.tokenErr)
				}
			})
		}
	})

	t.Run("Missing", func(t *testing.T) {
		other := newApp(t, s)
		seed("present")
		tests := []struct{ app, uid string }{
			{app.ID, "nobody"},
			{other.ID, "present"},
			{"missing-app", "present"},
		}
		for _, tc := range tests {
			_, err := s.UpdateUser(ctx, tc.app, tc.uid, store.UserPatch{Name: ptr("x")}, base)
			wantErr(t, fmt.Sprintf("UpdateUser(%q, %q)", tc.app, tc.uid), err, store.ErrNotFound)
		}
		_, err := s.GetUser(ctx, other.ID, "present")
		wantErr(t, "UpdateUser must not create", err, store.ErrNotFound)
	})
}

// ---- delete user

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(t, s)

	u := newUser(t, s, app.ID, "doomed")
	bystander := newUser(t, s, app.ID, "bystander")
	var toks []*store.AuthToken
	for range 3 {
		toks = append(toks, newToken(t, s, app.ID, u.UID))
	}
	keep := newToken(t, s, app.ID, bystander.UID)

	got, err := s.DeleteUser(ctx, app.ID, u.UID)
	must(t, "DeleteUser", err)
	if !reflect.DeepEqual(tokenHashes(got), tokenHashes(toks)) {
		t.Errorf("DeleteUser returned tokens %v, want %v", tokenHashes(got), tokenHashes(toks))
	}
	for _, tk := range got {
		if tk.AppID != app.ID || tk.UID != u.UID || tk.ID == "" {
			t.Errorf("returned token lacks its identity: %+v", tk)
		}
	}
	_, err = s.GetUser(ctx, app.ID, u.UID)
	wantErr(t, "GetUser after DeleteUser", err, store.ErrNotFound)
	for _, tk := range toks {
		_, _, err := s.GetSession(ctx, tk.Hash)
		wantErr(t, "GetSession of a deleted user's token", err, store.ErrNotFound)
	}
	list, err := s.ListAuthTokens(ctx, app.ID, u.UID)
	must(t, "ListAuthTokens", err)
	if len(list) != 0 {
		t.Errorf("%d tokens survive their user", len(list))
	}
	if _, _, err := s.GetSession(ctx, keep.Hash); err != nil {
		t.Errorf("bystander's token: %v", err)
	}
	_, err = s.DeleteUser(ctx, app.ID, u.UID)
	wantErr(t, "DeleteUser again", err, store.ErrNotFound)
	_, err = s.DeleteUser(ctx, "missing-app", bystander.UID)
	wantErr(t, "DeleteUser under a missing app", err, store.ErrNotFound)

	t.Run("WithoutTokens", func(t *testing.T) {
		newUser(t, s, app.ID, "lonely")
		got, err := s.DeleteUser(ctx, app.ID, "lonely")
		must(t, "DeleteUser", err)
		if len(got) != 0 {
			t.Errorf("returned %d tokens", len(got))
		}
	})

	t.Run("Recreate", func(t *testing.T) {
		// A deleted uid is free again and does not inherit anything.
		again := newUser(t, s, app.ID, u.UID)
		list, err := s.ListAuthTokens(ctx, app.ID, again.UID)
		must(t, "ListAuthTokens", err)
		if len(list) != 0 {
			t.Errorf("recreated user has %d tokens", len(list))
		}
	})
}

package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/store"
)

// ---- apps

func testApps(t *testing.T, s store.Store) {
	ctx := t.Context()

	t.Run("EmptyList", func(t *testing.T) {
		apps, err := s.ListApps(ctx)
		must(t, "ListApps", err)
		if len(apps) != 0 {
			t.Errorf("fresh store has %d apps", len(apps))
		}
	})

	a := &store.App{
		ID:     "acme-" + randHex(4),
		Name:   "Acme Calls",
		Region: "eu",
		Settings: store.AppSettings{
			AuthTokenTTL: 86400,
			CallTokenTTL: 600,
			CORSOrigins:  []string{"https://acme.example", "http://localhost:5173"},
		},
		CreatedAt: base,
	}
	t.Run("CreateGet", func(t *testing.T) {
		must(t, "CreateApp", s.CreateApp(ctx, a))
		got, err := s.GetApp(ctx, a.ID)
		must(t, "GetApp", err)
		if !reflect.DeepEqual(got, a) {
			t.Errorf("GetApp = %+v, want %+v", got, a)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup := *a
		dup.Name = "Other"
		wantErr(t, "CreateApp(duplicate)", s.CreateApp(ctx, &dup), store.ErrAlreadyExists)
		got, err := s.GetApp(ctx, a.ID)
		must(t, "GetApp", err)
		if got.Name != a.Name {
			t.Errorf("duplicate create changed the app: name %q", got.Name)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		for _, id := range []string{"", "missing", strings.ToUpper(a.ID), a.ID + "x"} {
			_, err := s.GetApp(ctx, id)
			wantErr(t, fmt.Sprintf("GetApp(%q)", id), err, store.ErrNotFound)
		}
	})

	t.Run("List", func(t *testing.T) {
		b := &store.App{ID: "b-" + randHex(4), Name: "B", Region: "us", CreatedAt: base + 2}
		c := &store.App{ID: "c-" + randHex(4), Name: "C", Region: "in", CreatedAt: base + 1,
			Settings: store.AppSettings{CORSOrigins: []string{"*"}}}
		must(t, "CreateApp b", s.CreateApp(ctx, b))
		must(t, "CreateApp c", s.CreateApp(ctx, c))
		apps, err := s.ListApps(ctx)
		must(t, "ListApps", err)
		want := []*store.App{a, c, b} // by creation time
		if !reflect.DeepEqual(apps, want) {
			t.Errorf("ListApps =")
			for _, x := range apps {
				t.Errorf("  %+v", x)
			}
			t.Errorf("want")
			for _, x := range want {
				t.Errorf("  %+v", x)
			}
		}
	})

	t.Run("Update", func(t *testing.T) {
		tests := []struct {
			name string
			edit func(a *store.App)
		}{
			{"settings", func(a *store.App) {
				a.Settings = store.AppSettings{AuthTokenTTL: 60, CallTokenTTL: 7200, CORSOrigins: []string{"https://x.example"}}
			}},
			{"call grants", func(a *store.App) {
				a.Settings.CallGrants = &store.CallGrants{Join: true, PublishAudio: true, Moderator: true}
			}},
			{"name and region", func(a *store.App) { a.Name = "Renamed — ünïcode"; a.Region = "in" }},
			{"clear settings", func(a *store.App) { a.Settings = store.AppSettings{} }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cur, err := s.GetApp(ctx, a.ID)
				must(t, "GetApp", err)
				tc.edit(cur)
				must(t, "UpdateApp", s.UpdateApp(ctx, cur))
				got, err := s.GetApp(ctx, a.ID)
				must(t, "GetApp", err)
				if !reflect.DeepEqual(got, cur) {
					t.Errorf("after UpdateApp: %+v, want %+v", got, cur)
				}
			})
		}
		t.Run("missing", func(t *testing.T) {
			wantErr(t, "UpdateApp(missing)", s.UpdateApp(ctx, &store.App{ID: "missing", Name: "x", Region: "us"}), store.ErrNotFound)
		})
	})
}

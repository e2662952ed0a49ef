package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
)

// RevokeTimingEnv enables RevokeTiming.
const RevokeTimingEnv = "CALLGATE_BENCH_REVOKE"

// appCreatedIndex is the index the measurement is about: it would bound an
// app-wide revoke to the app's tokens instead of a scan of every app's.
const appCreatedIndex = `auth_tokens_app_created`

// RevokeTiming measures RevokeAuthTokensBefore on a realistic table: one
// app's 100,000 tokens (10,000 users × 10) among 300,000 of three other
// apps, which must survive. It times revoking one user's tokens (the key
// range delete; mean, median and worst of 100 users of another app), the
// app-wide delete with nothing to delete (what finding the rows costs) and
// the app's 100,000 at once, with and without an index on
// auth_tokens(app_id, created_at), and logs the figures. It is a measurement, not a test of
// behaviour: it is skipped unless $CALLGATE_BENCH_REVOKE is set
// ($CALLGATE_BENCH_REVOKE_USERS scales the users per app). open must return
// a fresh, empty store that is a Migrator: the tokens are seeded through its
// DB, a statement per 50 rows, much faster than logins. analyze runs
// ANALYZE after seeding: PostgreSQL's autovacuum would have by then, while
// nothing runs it on SQLite.
func RevokeTiming(t *testing.T, open func(t *testing.T) store.Store, analyze bool) {
	if os.Getenv(RevokeTimingEnv) == "" {
		t.Skip("a measurement: set " + RevokeTimingEnv + "=1 to run it")
	}
	users := 10_000
	if v, err := strconv.Atoi(os.Getenv(RevokeTimingEnv + "_USERS")); err == nil && v >= 100 {
		users = v
	}
	const perUser, otherApps, singles = 10, 3, 100
	for _, withIndex := range []bool{false, true} {
		name := "without index"
		if withIndex {
			name = "with index"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, closeIt := openMigrator(t, open)
			defer closeIt()
			db := s.DB()
			apps := []string{"target"}
			for i := range otherApps {
				apps = append(apps, fmt.Sprintf("other-%d", i))
			}
			start := time.Now()
			for _, app := range apps {
				must(t, "CreateApp", s.CreateApp(ctx, &store.App{ID: app, Name: app, Region: "us", CreatedAt: base}))
				seedTokens(t, db, app, users, perUser)
			}
			ddl := `DROP INDEX IF EXISTS ` + appCreatedIndex
			if withIndex {
				ddl = `CREATE INDEX IF NOT EXISTS ` + appCreatedIndex + ` ON auth_tokens(app_id, created_at)`
			}
			_, err := db.ExecContext(ctx, ddl)
			must(t, ddl, err)
			if analyze {
				_, err := db.ExecContext(ctx, `ANALYZE`)
				must(t, "ANALYZE", err)
			}
			t.Logf("seeded %d apps × %d users × %d tokens in %v", len(apps), users, perUser, time.Since(start).Round(time.Millisecond))
			count := func(app string) int {
				var n int
				err := db.QueryRowContext(ctx, `SELECT count(*) FROM auth_tokens WHERE app_id = $1`, app).Scan(&n)
				must(t, "count", err)
				return n
			}

			// One user at a time, in another app: the key range delete.
			var took []time.Duration
			for i := range singles {
				uid := fmt.Sprintf("user-%05d", i*users/singles)
				start := time.Now()
				n, err := s.RevokeAuthTokensBefore(ctx, apps[1], uid, base+int64(users*perUser)+1)
				took = append(took, time.Since(start))
				must(t, "RevokeAuthTokensBefore(user)", err)
				if n != perUser {
					t.Fatalf("revoked %d of %s's tokens, want %d", n, uid, perUser)
				}
			}
			var sum time.Duration
			for _, d := range took {
				sum += d
			}
			slices.Sort(took)
			t.Logf("one user (%d tokens): mean %v, median %v, worst %v over %d users", perUser,
				(sum / time.Duration(len(took))).Round(time.Microsecond), took[len(took)/2].Round(time.Microsecond),
				took[len(took)-1].Round(time.Microsecond), singles)

			// The whole app, first as of a second before its first token:
			// nothing to delete, so this is what finding the rows costs.
			start = time.Now()
			n, err := s.RevokeAuthTokensBefore(ctx, apps[0], "", base)
			must(t, "RevokeAuthTokensBefore(app, nothing)", err)
			if n != 0 {
				t.Fatalf("revoked %d tokens created before the first", n)
			}
			t.Logf("whole app, nothing to revoke: %v", time.Since(start).Round(time.Microsecond))
			start = time.Now()
			n, err = s.RevokeAuthTokensBefore(ctx, apps[0], "", base+int64(users*perUser)+1)
			whole := time.Since(start)
			must(t, "RevokeAuthTokensBefore(app)", err)
			t.Logf("whole app: %d tokens in %v", n, whole.Round(time.Millisecond))
			if n != users*perUser || count(apps[0]) != 0 {
				t.Errorf("revoked %d of the app's %d tokens, %d left", n, users*perUser, count(apps[0]))
			}
			for i, app := range apps[1:] {
				want := users * perUser
				if i == 0 {
					want -= singles * perUser
				}
				if got := count(app); got != want {
					t.Errorf("%s has %d tokens left, want %d", app, got, want)
				}
			}
		})
	}
}

// seedTokens inserts users × perUser tokens of app, with keys as the
// server makes them and creation times base, base+1, … in user order.
func seedTokens(t *testing.T, db *sql.DB, app string, users, perUser int) {
	t.Helper()
	ctx := context.Background()
	const rows = 50
	insert := func(tx *sql.Tx, head string, cols int, vals []any) {
		n := len(vals) / cols
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for c := range cols {
				if c > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", i*cols+c+1)
			}
			b.WriteString(")")
		}
		if _, err := tx.ExecContext(ctx, b.String(), vals...); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	must(t, "begin", err)
	defer tx.Rollback()
	var us, ts []any
	for i := range users {
		uid := fmt.Sprintf("user-%05d", i)
		us = append(us, app, uid, uid, base, base)
		if len(us) == rows*5 {
			insert(tx, `INSERT INTO users (app_id, uid, name, created_at, updated_at) VALUES `, 5, us)
			us = us[:0]
		}
		for j := range perUser {
			created := base + int64(i*perUser+j)
			_, key := credential.NewToken(uid, time.Unix(created, 0))
			ts = append(ts, key, "tok_"+randHex(8), app, uid, created)
			if len(ts) == rows*5 {
				if len(us) > 0 {
					insert(tx, `INSERT INTO users (app_id, uid, name, created_at, updated_at) VALUES `, 5, us)
					us = us[:0]
				}
				insert(tx, `INSERT INTO auth_tokens (hash, id, app_id, uid, created_at) VALUES `, 5, ts)
				ts = ts[:0]
			}
		}
	}
	if len(us) > 0 {
		insert(tx, `INSERT INTO users (app_id, uid, name, created_at, updated_at) VALUES `, 5, us)
	}
	if len(ts) > 0 {
		insert(tx, `INSERT INTO auth_tokens (hash, id, app_id, uid, created_at) VALUES `, 5, ts)
	}
	must(t, "commit", tx.Commit())
}

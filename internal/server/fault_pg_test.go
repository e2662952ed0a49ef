package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/store/postgres/pgtest"
)

// PostgreSQL going away under load: every request answers within 5 s
// (503 ERR_SERVICE_UNAVAILABLE when it needs the database), /readyz fails,
// and when the database comes back callgate recovers without a restart.
func TestPostgresOutageUnderLoad(t *testing.T) {
	for _, mode := range []string{"stopped", "hanging"} {
		t.Run(mode, func(t *testing.T) {
			base := pgtest.DSN(t)
			u, err := url.Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			proxy := servertest.NewProxy(t, u.Host)
			u.Host = proxy.Addr()
			srv := servertest.Start(t, servertest.Options{DSN: u.String()})
			client := &http.Client{Timeout: 15 * time.Second}
			call := func(method, path string) (int, string, time.Duration) {
				req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(`{}`))
				req.Header.Set("appId", srv.AppID)
				req.Header.Set("apiKey", srv.RESTKey)
				start := time.Now()
				res, err := client.Do(req)
				if err != nil {
					return 0, err.Error(), time.Since(start)
				}
				defer res.Body.Close()
				var body struct{ Error struct{ Code string } }
				json.NewDecoder(res.Body).Decode(&body)
				return res.StatusCode, body.Error.Code, time.Since(start)
			}
			if st, code, _ := call("POST", "/v3/users/cometchat-uid-1/auth_tokens"); st != 200 {
				t.Fatalf("before the outage: %d %s", st, code)
			}

			var stop atomic.Bool
			var wg sync.WaitGroup
			var mu sync.Mutex
			var bad []string
			var unavailable atomic.Int64
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					paths := []string{"/v3/users/cometchat-uid-2/auth_tokens", "/v3/users"}
					for !stop.Load() {
						method := "POST"
						p := paths[w%2]
						if w%2 == 1 {
							method = "GET"
						}
						st, code, d := call(method, p)
						switch {
						case d > 5*time.Second:
							mu.Lock()
							bad = append(bad, method+" "+p+" took "+d.String())
							mu.Unlock()
						case st == 503 && code == "ERR_SERVICE_UNAVAILABLE":
							unavailable.Add(1)
						case st == 200:
						default:
							mu.Lock()
							bad = append(bad, method+" "+p+": "+http.StatusText(st)+" "+code)
							mu.Unlock()
						}
					}
				}()
			}
			time.Sleep(300 * time.Millisecond)
			if mode == "stopped" {
				proxy.Down()
			} else {
				proxy.Stall()
			}
			// /readyz fails promptly.
			deadline := time.Now().Add(5 * time.Second)
			for {
				st, _, _ := call("GET", "/readyz")
				if st == 503 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("/readyz still ready 5 s into the outage")
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(3 * time.Second)
			proxy.Up()
			// Recovery without a restart.
			deadline = time.Now().Add(15 * time.Second)
			for {
				st1, _, _ := call("GET", "/readyz")
				st2, _, _ := call("POST", "/v3/users/cometchat-uid-3/auth_tokens")
				if st1 == 200 && st2 == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not recovered 15 s after the database came back (readyz %d, login %d)", st1, st2)
				}
				time.Sleep(200 * time.Millisecond)
			}
			stop.Store(true)
			wg.Wait()
			if len(bad) > 0 {
				t.Fatalf("%d bad answers during the outage, e.g. %v", len(bad), bad[:min(5, len(bad))])
			}
			if unavailable.Load() == 0 {
				t.Fatal("no request saw 503 during the outage")
			}
			t.Logf("%s: %d requests answered 503 ERR_SERVICE_UNAVAILABLE, none slower than 5 s", mode, unavailable.Load())
		})
	}
}

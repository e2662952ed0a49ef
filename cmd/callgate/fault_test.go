package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/bench"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/store/sqlite"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// callgateBinary builds the real binary once per test run: crash tests need
// a process they can kill -9.
func callgateBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "callgate-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "callgate")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type proc struct {
	cmd *exec.Cmd
	out *strings.Builder
	url string
}

func startServe(t *testing.T, args ...string) *proc {
	t.Helper()
	addr, err := bench.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{out: &strings.Builder{}, url: "http://" + addr}
	p.cmd = exec.Command(callgateBinary(t), append([]string{"serve", "--addr", addr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &lockedWriter{b: p.out}, &lockedWriter{b: p.out}
	p.cmd.Env = cleanEnv()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	if err := bench.WaitReady(context.Background(), p.url+"/readyz", os.DevNull); err != nil {
		t.Fatalf("server not ready: %v\n%s", err, p.out.String())
	}
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// cleanEnv drops CALLGATE_* so the outer environment cannot steer the child.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CALLGATE_") {
			env = append(env, e)
		}
	}
	return env
}

// A login storm, kill -9 of the server in the middle of it, a restart:
// every token that was answered 200 must still work, and the database must
// pass an integrity check.
func TestCrashLosesNoAcknowledgedToken(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills the real binary")
	}
	for _, durability := range []string{"normal", "full"} {
		t.Run(durability, func(t *testing.T) {
			dir := t.TempDir()
			srv := startServe(t, "--dev", "--data", dir, "--rate-limit", "off", "--log-level", "warn", "--durability", durability)
			creds, err := provision.ReadDevCredentials(filepath.Join(dir, provision.DevCredentialsFile))
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu    sync.Mutex
				acked []string
				stop  atomic.Bool
				wg    sync.WaitGroup
			)
			client := &http.Client{Timeout: 5 * time.Second}
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						uid := provision.SampleUsers[(w+i)%len(provision.SampleUsers)].UID
						req, _ := http.NewRequest("POST", srv.url+"/v3/users/"+uid+"/auth_tokens", strings.NewReader(`{}`))
						req.Header.Set("appId", creds.AppID)
						req.Header.Set("apiKey", creds.AuthKey)
						res, err := client.Do(req)
						if err != nil {
							continue // the server is gone
						}
						var body struct{ Data struct{ AuthToken string } }
						json.NewDecoder(res.Body).Decode(&body)
						res.Body.Close()
						if res.StatusCode == 200 && body.Data.AuthToken != "" {
							mu.Lock()
							acked = append(acked, body.Data.AuthToken)
							mu.Unlock()
						}
					}
				}()
			}
			time.Sleep(1500 * time.Millisecond)
			if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			srv.cmd.Wait()
			stop.Store(true)
			wg.Wait()
			if len(acked) < 100 {
				t.Fatalf("only %d tokens acknowledged before the kill; the storm was too small to prove anything", len(acked))
			}

			again := startServe(t, "--data", dir, "--rate-limit", "off", "--log-level", "warn")
			var lost atomic.Int64
			var vg sync.WaitGroup
			next := atomic.Int64{}
			for range 8 {
				vg.Add(1)
				go func() {
					defer vg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= len(acked) {
							return
						}
						req, _ := http.NewRequest("GET", again.url+"/v3/me", nil)
						req.Header.Set("authToken", acked[i])
						res, err := client.Do(req)
						if err != nil || res.StatusCode != 200 {
							lost.Add(1)
						}
						if res != nil {
							res.Body.Close()
						}
					}
				}()
			}
			vg.Wait()
			t.Logf("%s: %d tokens acknowledged before kill -9, %d lost", durability, len(acked), lost.Load())
			if lost.Load() != 0 {
				t.Fatalf("%d of %d acknowledged tokens lost", lost.Load(), len(acked))
			}
			again.cmd.Process.Signal(syscall.SIGTERM)
			again.cmd.Wait()
			st, err := sqlite.Open(context.Background(), filepath.Join(dir, sqlite.FileName), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if res, err := sqlite.IntegrityCheck(context.Background(), st.DB()); err != nil || res != "ok" {
				t.Fatalf("integrity check: %q %v", res, err)
			}
		})
	}
}

// A data directory the server cannot write is a clear start-up error that
// names the path, and exit status 1 — not a crash, not a hang.
func TestStartupFailsOnUnwritableDataDir(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) string // returns the --data dir
	}{
		{"read-only", func(t *testing.T) string {
			dir := t.TempDir()
			if os.Geteuid() != 0 {
				os.Chmod(dir, 0o500)
				t.Cleanup(func() { os.Chmod(dir, 0o700) })
				return dir
			}
			mountTmpfs(t, dir, "ro,size=1m")
			return dir
		}},
		{"disk full", func(t *testing.T) string {
			dir := t.TempDir()
			if os.Geteuid() != 0 {
				t.Skip("needs root to mount a tiny tmpfs")
			}
			mountTmpfs(t, dir, "size=16k")
			// Fill it so not even the database header fits.
			os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 16<<10), 0o600)
			return dir
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t)
			addr, _ := bench.FreeAddr()
			cmd := exec.Command(callgateBinary(t), "serve", "--dev", "--data", dir, "--addr", addr)
			cmd.Env = cleanEnv()
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("serve hung on an unwritable data dir")
			}
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 1 || !strings.Contains(string(out), dir) {
				t.Fatalf("exit %d (want 1), output must name %s:\n%s", code, dir, out)
			}
			t.Logf("%s: %s", tc.name, strings.TrimSpace(string(out)))
		})
	}
}

func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); skipping", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

package bench

// Starting and stopping the servers a benchmark measures: each runs as its
// own process, so the figures are of the binary as deployed.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// redactArgs is args for a status line: each --db value through redact
// (nil leaves it as given).
func redactArgs(args []string, redact func(string) string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "--db" && redact != nil {
			out[i] = redact(out[i])
		}
	}
	return out
}

// FreeAddr is a loopback address no one listens on, for a server to start on.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProc starts bin with args, its output going to logPath.
func startProc(bin string, args []string, logPath string) (*exec.Cmd, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := exec.Command(bin, args...)
	p.Stdout, p.Stderr = log, log
	p.Env = os.Environ()
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return p, nil
}

// WaitReady polls url until it answers 200, for up to 30 s; on a timeout
// the error holds the output at logPath.
func WaitReady(ctx context.Context, url, logPath string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	out, _ := os.ReadFile(logPath)
	return fmt.Errorf("server at %s did not become ready in 30s; its output:\n%s", url, out)
}

// stopProc interrupts p and waits for it to exit, killing it after grace.
func stopProc(p *exec.Cmd, grace time.Duration) {
	p.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		p.Process.Kill()
	}
}

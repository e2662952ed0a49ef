package browsertest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Find returns the path of a Chromium to drive, or "".
func Find() string {
	if p := os.Getenv("CALLGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one Chromium process for one test.
type Browser struct {
	t    testing.TB
	root context.Context // the first context: it owns the browser
}

// Option adjusts the Chromium that Start launches.
type Option func(*config)

type config struct {
	spki []string // SHA-256 hashes of trusted public keys, base64
}

// TrustCertificate makes Chromium accept TLS servers that present cert (a
// test's self-signed certificate), and no other certificate it would
// otherwise refuse: it names the certificate's public key in
// --ignore-certificate-errors-spki-list rather than ignoring every
// certificate error.
func TrustCertificate(cert *x509.Certificate) Option {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return func(c *config) { c.spki = append(c.spki, base64.StdEncoding.EncodeToString(sum[:])) }
}

// Start launches a headless Chromium that lives until the test ends.
func Start(t testing.TB, options ...Option) *Browser {
	t.Helper()
	var cfg config
	for _, o := range options {
		o(&cfg)
	}
	path := Find()
	if path == "" {
		msg := "no Chromium found (install Debian's chromium, or set CALLGATE_CHROMIUM)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI is set, so browser tests must run")
		}
		t.Skip(msg + "; skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		// Debian's chromium as root needs --no-sandbox; the network is
		// closed, so background fetches would only fail noisily.
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	if len(cfg.spki) > 0 {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(cfg.spki, ",")))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancel := chromedp.NewContext(actx)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(root); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &Browser{t: t, root: root}
}

// Tab is one page. Its console errors and uncaught exceptions are logged
// to the test when it fails.
type Tab struct {
	t   testing.TB
	ctx context.Context

	mu   sync.Mutex
	logs []string
	errs []string
}

// NewContext opens a tab in a new browser context: its own storage and
// cookies, as another user on another machine would have.
func (b *Browser) NewContext(t testing.TB) *Tab {
	return b.open(t, b.root, chromedp.WithNewBrowserContext())
}

// NewTab opens another tab in the same browser context as tab (shared
// localStorage: the tabs of one user).
func (b *Browser) NewTab(t testing.TB, tab *Tab) *Tab {
	return b.open(t, tab.ctx)
}

func (b *Browser) open(t testing.TB, parent context.Context, opts ...chromedp.ContextOption) *Tab {
	t.Helper()
	tab := &Tab{t: t}
	opts = append(opts, chromedp.WithListener(tab.listen))
	ctx, cancel := chromedp.NewContext(parent, opts...)
	tab.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			tab.mu.Lock()
			for _, l := range tab.logs {
				t.Logf("browser console: %s", l)
			}
			for _, e := range tab.errs {
				t.Logf("browser exception: %s", e)
			}
			tab.mu.Unlock()
		}
		cancel()
	})
	return tab
}

func (tab *Tab) listen(ev any) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		tab.logs = append(tab.logs, string(e.Type)+": "+strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		tab.errs = append(tab.errs, msg)
	}
}

// Exceptions returns the page's uncaught exceptions so far.
func (tab *Tab) Exceptions() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.errs...)
}

// Console returns what the page logged so far ("type: text" per call).
func (tab *Tab) Console() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.logs...)
}

// Context is the tab's chromedp context, for actions this package does not wrap.
func (tab *Tab) Context() context.Context { return tab.ctx }

// Navigate loads url and waits for the page to load.
func (tab *Tab) Navigate(url string) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tab.t.Fatalf("navigate to %s: %v", url, err)
	}
}

// Eval runs a JavaScript expression in the page, awaits it if it is a
// promise, and returns its JSON value. A rejected promise or a thrown error
// is returned as an error.
func (tab *Tab) Eval(js string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(tab.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
}

// MustEval is Eval that fails the test on an error.
func (tab *Tab) MustEval(js string) []byte {
	tab.t.Helper()
	v, err := tab.Eval(js)
	if err != nil {
		tab.t.Fatalf("eval %s: %v", abbreviate(js), err)
	}
	return v
}

// WaitFor polls a JavaScript expression until it is truthy.
func (tab *Tab) WaitFor(js string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		v, err := tab.Eval("!!(" + js + ")")
		if err == nil && string(v) == "true" {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("still false")
			}
			return fmt.Errorf("not within %v: %s: %w", timeout, abbreviate(js), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Screenshot returns a PNG of the viewport.
func (tab *Tab) Screenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(tab.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// Pages serves test pages on a second loopback origin: http://localhost:port
// while the server under test is http://127.0.0.1:port, so a page's calls
// to the server are cross-origin, as in production. (Chromium refuses to
// let a non-loopback or data: page reach 127.0.0.1, so both are loopback.)
type Pages struct {
	// Origin is the pages' origin, e.g. http://localhost:41234.
	Origin string
}

// ServePages serves h until the test ends.
func ServePages(t testing.TB, h http.Handler) *Pages {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &Pages{Origin: "http://localhost:" + port}
}

// HTML serves one page per path from a map of path → HTML.
func HTML(pages map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, p)
	})
}

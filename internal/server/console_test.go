package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/console"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/wire"
)

// The console is served at /console with its Content-Security-Policy, never
// framed, revalidated by ETag, gzipped for clients that take it; its files
// under /console/ with their types. Nothing else under /console exists.
func TestConsoleServed(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{})
	r := e.do("GET", "/console", nil, nil)
	h := r.Header
	if r.Status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !bytes.Contains(r.Raw, []byte("<main")) {
		t.Fatalf("GET /console: %d %s", r.Status, h.Get("Content-Type"))
	}
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-cache",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, h.Get(k), v)
		}
	}
	// Revalidation.
	r2 := e.do("GET", "/console", H{"If-None-Match": h.Get("ETag")}, nil)
	if r2.Status != http.StatusNotModified || len(r2.Raw) != 0 {
		t.Errorf("If-None-Match: %d", r2.Status)
	}
	// Every file, with its type; gzip when asked for.
	for _, f := range console.Files {
		r := e.do("GET", f.Path, nil, nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != f.ContentType || !bytes.Equal(r.Raw, f.Body) {
			t.Errorf("GET %s: %d %q", f.Path, r.Status, r.Header.Get("Content-Type"))
		}
		if f.Gzip == nil {
			continue
		}
		req, _ := http.NewRequest("GET", e.srv.URL+f.Path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil || res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s gzipped: %v %q", f.Path, err, res.Header.Get("Content-Encoding"))
			res.Body.Close()
			continue
		}
		body, _ := io.ReadAll(zr)
		res.Body.Close()
		if !bytes.Equal(body, f.Body) {
			t.Errorf("%s gzipped: another body", f.Path)
		}
	}
	if r := e.do("HEAD", "/console", nil, nil); r.Status != 200 {
		t.Errorf("HEAD /console: %d", r.Status)
	}
	for _, p := range []string{"/console/", "/console/nope.js", "/console/js", "/console/../v3/users", "/v3/console"} {
		wantErr(t, e.do("GET", p, nil, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
	}
	wantErr(t, e.do("POST", "/console", nil, nil), 404, "ERR_ENDPOINT_NOT_FOUND")
}

// The console's audit screen filters by the actions the server records.
func TestConsoleAuditActions(t *testing.T) {
	t.Parallel()
	var src string
	for _, f := range console.Files {
		if f.Path == "/console/js/audit.js" {
			src = string(f.Body)
		}
	}
	m := regexp.MustCompile(`(?s)export const actions = \[(.*?)\];`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("no actions list in audit.js")
	}
	var got []string
	for _, q := range regexp.MustCompile(`"([a-z.]+)"`).FindAllStringSubmatch(m[1], -1) {
		got = append(got, q[1])
	}
	if !slices.Equal(got, wire.AuditActions) {
		t.Errorf("audit.js lists %v, the server %v", got, wire.AuditActions)
	}
}

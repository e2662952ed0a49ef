package browsertest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/browsertest"
)

// The harness itself: a page on the second origin runs a module script,
// calls a server on 127.0.0.1 cross-origin, and Eval awaits promises and
// reports rejections.
func TestHarness(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Write([]byte(`{"origin":"` + r.Header.Get("Origin") + `"}`))
	}))
	defer api.Close()
	pages := browsertest.ServePages(t, browsertest.HTML(map[string]string{
		"/": `<!doctype html><title>t</title><script type="module">window.ready = 42;</script>`,
	}))
	b := browsertest.Start(t)
	tab := b.NewContext(t)
	tab.Navigate(pages.Origin + "/")
	if err := tab.WaitFor("window.ready === 42", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := string(tab.MustEval(`fetch("` + api.URL + `").then(r => r.json()).then(j => j.origin)`))
	if got != `"`+pages.Origin+`"` {
		t.Errorf("the server saw Origin %s, want %q", got, pages.Origin)
	}
	if _, err := tab.Eval(`Promise.reject(new Error("nope"))`); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("a rejection: %v", err)
	}
	// Two contexts do not share storage; two tabs of one context do.
	tab.MustEval(`localStorage.setItem("k", "v")`)
	other := b.NewContext(t)
	other.Navigate(pages.Origin + "/")
	if v := string(other.MustEval(`localStorage.getItem("k")`)); v != "null" {
		t.Errorf("another browser context sees %s", v)
	}
	sibling := b.NewTab(t, tab)
	sibling.Navigate(pages.Origin + "/")
	if v := string(sibling.MustEval(`localStorage.getItem("k")`)); v != `"v"` {
		t.Errorf("a tab of the same context sees %s", v)
	}
}

// TrustCertificate: Chromium reaches an https server with that self-signed
// certificate, and still refuses one with another.
func TestTrustCertificate(t *testing.T) {
	cors := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Write([]byte("ok"))
	})
	trusted := httptest.NewTLSServer(cors)
	defer trusted.Close()
	other := httptest.NewUnstartedServer(cors)
	other.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	other.StartTLS()
	defer other.Close()
	pages := browsertest.ServePages(t, browsertest.HTML(map[string]string{"/": `<!doctype html><title>t</title>`}))
	b := browsertest.Start(t, browsertest.TrustCertificate(trusted.Certificate()))
	tab := b.NewContext(t)
	tab.Navigate(pages.Origin + "/")
	fetch := func(url string) string {
		return string(tab.MustEval(`fetch("` + url + `").then(r => r.text(), e => "refused: " + e)`))
	}
	if got := fetch(trusted.URL); got != `"ok"` {
		t.Errorf("the trusted server: %s", got)
	}
	if got := fetch(other.URL); !strings.Contains(got, "refused") {
		t.Errorf("a server with another certificate: %s", got)
	}
}

// selfSigned makes a certificate for 127.0.0.1 other than httptest's.
func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

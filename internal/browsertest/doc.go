// Package browsertest runs pages in a real, headless Chromium for tests,
// driven over the DevTools protocol with chromedp. It finds Debian's
// chromium (or $CALLGATE_CHROMIUM); without one, a test fails when $CI is set
// (CI installs it, so a missing browser is a broken machine) and is skipped
// with a message elsewhere. It also serves test pages from a second
// loopback origin, so that every call from a page to the server is a real
// cross-origin request. TrustCertificate lets Chromium accept the
// self-signed certificate of a TLS test server, and no other certificate
// it would refuse. Only tests import it; it imports nothing of callgate's.
package browsertest

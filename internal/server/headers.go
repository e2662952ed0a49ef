package server

import "net/http"

// HSTSMaxAge is the Strict-Transport-Security max-age sent over TLS: two
// years, what the HSTS preload list asks for.
const HSTSMaxAge = "max-age=63072000"

// securityHeaders are set on every answer the handler gives (successes,
// errors, ops routes, /sdk/ files, WebSocket refusals and upgrades), before
// anything else writes: the API answers JSON and serves two static files,
// so no browser should sniff another type from them, and no URL of the API
// (a WebSocket URL may carry an auth token) should leak in a Referer.
// Over TLS, browsers are told to come back over TLS only. Behind a
// TLS-terminating proxy the proxy sends HSTS (docs/operations.md).
func securityHeaders(h http.Header, r *http.Request) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", HSTSMaxAge)
	}
}

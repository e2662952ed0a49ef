// Package server is callgate's HTTP API: the v3 REST API (API keys), the
// client API (auth tokens), and the ops endpoints.
//
// It holds the HTTP server (listen.go; TLS and its certificates in
// tls.go), the routing (the route table in server.go, dispatch and
// middleware in router.go; the client's address in clientip.go, the
// security headers in headers.go), authentication (authn.go), the
// handlers, one file per resource, with their validation (validate.go),
// the upgrade of GET /ws to internal/realtime (realtime.go), call tokens
// and their signing keys, the admin event stream (adminevents.go), and
// the ops endpoints. Handlers return errors; writeError
// in respond.go is the one place error JSON is written.
//
// It imports nothing of cmd/ (the CLI wires the server up, not the other
// way round) and not calls, the Go SDK, a client of this API. Of the
// public packages it imports only calltoken, the format of the call tokens
// it mints, verifies and publishes.
package server

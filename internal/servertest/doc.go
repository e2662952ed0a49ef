// Package servertest starts a real callgate server for tests: the real
// handler on a real loopback socket, over real SQLite in t.TempDir() (or
// PostgreSQL), with a dev app, its two keys and the sample users.
//
// It holds Start (servertest.go; Options.TLS serves HTTPS), Proxy
// (proxy.go: a database connection a test can cut), Do (do.go: the one
// plain HTTP helper — send a request, read callgate's JSON envelope — for
// the tests of calls, calltoken and cmd/callgate; internal/server's own
// tests keep their richer helpers) and CA (certs.go: a certificate
// authority made in the test, issuing serving certificates of each key
// type, and clients that trust it).
//
// Only _test.go files may import it: it calls testing.T.Fatal. It must not
// import what it serves in tests — calls, calltoken, cmd/callgate,
// internal/bench — only the server's own packages, so any test can use it
// without a cycle.
package servertest

// Package console is callgate's web console: static files (HTML, CSS and
// plain ES modules, no build step) embedded in the binary and served by
// the server at /console. The console does the hosted dashboard's jobs for
// one app through the public REST API and the admin event stream, with the
// fullAccess key the admin signs in with (docs/console.md).
//
// It imports nothing: the server serves Files, and nothing here knows the
// server.
package console

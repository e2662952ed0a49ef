// Command gen writes docs/openapi.json, a copy of the embedded
// description (internal/openapi/openapi.json), so that the docs hold what
// the server serves.
//
// It imports openapi only.
package main

// Package openapi holds the OpenAPI 3.1 description of callgate's whole
// HTTP surface, openapi.json, embedded so that the server answers GET
// /openapi.json without reading a file at run time.
//
// openapi.json is the source: edit it, then copy it to docs/openapi.json
// with `go run ./internal/openapi/gen` (a test fails while the two
// differ). The server's tests hold it to the router (every route, and
// nothing else), to the error catalogue (every code it lists) and to real
// answers (each validated against the schema of its operation and
// status); internal/openapi/openapitest is the validator they use.
//
// It imports nothing of callgate's.
package openapi

package openapi

import _ "embed"

//go:embed openapi.json
var document []byte

// JSON is the description, as served and as docs/openapi.json holds it.
// Callers must not modify it.
func JSON() []byte { return document }

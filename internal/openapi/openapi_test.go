package openapi_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/callgate/callgate/internal/openapi"
	"github.com/callgate/callgate/internal/openapi/openapitest"
)

// docs/openapi.json is a copy of the embedded description; this keeps it
// one.
func TestDocsUpToDate(t *testing.T) {
	got, err := os.ReadFile("../../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, openapi.JSON()) {
		t.Fatal("docs/openapi.json differs from internal/openapi/openapi.json: run go run ./internal/openapi/gen")
	}
}

// The description holds together: references resolve, schemas keep to
// what the validator checks, response objects close their properties,
// error answers list their codes, examples fit (openapitest.Lint).
func TestDescriptionLint(t *testing.T) {
	spec, err := openapitest.Load(openapi.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if v := spec.Root()["openapi"]; v != "3.1.0" {
		t.Errorf("openapi %v, want 3.1.0", v)
	}
	for _, err := range spec.Lint() {
		t.Error(err)
	}
	if n := len(spec.Operations()); n < 60 {
		t.Errorf("only %d operations", n)
	}
}

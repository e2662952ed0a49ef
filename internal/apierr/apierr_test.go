package apierr

import (
	"os"
	"strings"
	"testing"
)

func TestCatalogueComplete(t *testing.T) {
	seen := map[Code]bool{}
	for _, e := range Catalogue {
		if seen[e.Code] {
			t.Errorf("duplicate code %s", e.Code)
		}
		seen[e.Code] = true
		if e.Status < 400 || e.Status > 599 || e.Message == "" || e.DevMessage == "" || e.When == "" {
			t.Errorf("incomplete entry %+v", e)
		}
	}
}

func TestMessageParams(t *testing.T) {
	e := New(UIDNotFound).With("uid", "x")
	want := "The UID x does not exist, please make sure you have created a user with UID x."
	if got := e.Message(); got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if e.Status() != 404 {
		t.Fatalf("status %d", e.Status())
	}
	b := New(BadRequest).Field("uid", "must not be empty")
	if !strings.Contains(b.Message(), "uid must not be empty") || b.Details["uid"] == nil {
		t.Fatalf("field not rendered: %q %v", b.Message(), b.Details)
	}
}

// docs/errors.md is generated; this keeps it in step with the table.
func TestDocsUpToDate(t *testing.T) {
	got, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != Markdown() {
		t.Fatal("docs/errors.md is stale: run go run ./internal/apierr/gen")
	}
}

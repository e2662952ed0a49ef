package server

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports holds the package to what doc.go says it must not import.
func TestImports(t *testing.T) {
	const mod = "github.com/callgate/callgate/"
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rest, ours := strings.CutPrefix(p, mod)
			// Of callgate's packages outside internal/, only calltoken.
			if ours && !strings.HasPrefix(rest, "internal/") && rest != "calltoken" {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}

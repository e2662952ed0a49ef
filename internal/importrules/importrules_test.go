package importrules

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/callgate/callgate/"

// allowed lists, for each package (its directory under the module), the
// module's packages its non-test files may import. Tests may import more.
var allowed = map[string][]string{
	// Public: nothing internal, so a program that uses them pulls in none
	// of the server.
	"calls":          nil,
	"calltoken":      nil,
	"examples/login": {"calls"},
	"sdk/js":         nil,

	"internal/apierr":      nil,
	"internal/console":     nil,
	"internal/apierr/gen":  {"internal/apierr"},
	"internal/openapi/gen": {"internal/openapi"},
	"internal/credential":  nil,
	"internal/nodeid":      nil,
	"internal/openapi":     nil,
	"internal/secretfile":  nil,
	"internal/store":       nil,
	"internal/wire":        {"internal/store"},
	"internal/signing":     {"internal/store"},
	"internal/provision":   {"internal/credential", "internal/secretfile", "internal/store"},
	"internal/realtime":    {"internal/store"},

	"internal/store/migrate":         nil,
	"internal/store/sqlstore":        {"internal/credential", "internal/store", "internal/store/migrate"},
	"internal/store/sqlite":          {"internal/store", "internal/store/migrate", "internal/store/sqlstore"},
	"internal/store/postgres":        {"internal/store", "internal/store/migrate", "internal/store/sqlstore"},
	"internal/store/postgres/pgtest": nil,
	"internal/store/storetest":       {"internal/credential", "internal/store", "internal/store/migrate"},

	"internal/server": {"calltoken", "internal/apierr", "internal/credential", "internal/provision",
		"internal/console", "internal/openapi", "internal/realtime", "internal/signing", "internal/store", "internal/wire", "sdk/js"},

	// Tests and tools only.
	"internal/browsertest":         nil,
	"internal/importrules":         nil,
	"internal/openapi/openapitest": nil,
	"internal/servertest": {"internal/nodeid", "internal/provision", "internal/realtime", "internal/server",
		"internal/store/postgres", "internal/store/postgres/pgtest", "internal/store/sqlite", "internal/store/sqlstore"},
	"internal/bench": {"internal/provision"},

	// The binary may import anything of the module's but the test helpers.
	"cmd/callgate": {"*"},
}

var testOnly = []string{"internal/servertest", "internal/browsertest", "internal/openapi/openapitest", "internal/store/storetest", "internal/store/postgres/pgtest"}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(dir)
		seen[dir] = true
		rules, ok := allowed[dir]
		if !ok {
			t.Errorf("%s: a package without a rule; add it to the table in %s", dir, "internal/importrules")
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			ours, isOurs := strings.CutPrefix(p, module)
			if !isOurs {
				continue
			}
			if slices.Contains(rules, "*") && !slices.Contains(testOnly, ours) || slices.Contains(rules, ours) {
				continue
			}
			t.Errorf("%s/%s imports %s, which its rule (and doc.go) does not allow", dir, name, ours)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range allowed {
		if _, err := os.Stat(filepath.Join(root, dir)); err != nil || !seen[dir] {
			t.Errorf("the table names %s, which holds no package", dir)
		}
	}
}

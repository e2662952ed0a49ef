package calls_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/internal/realtime"
)

// The SDK cannot import internal/realtime, so it mirrors the revocation
// reasons; a reason added, removed or renamed on one side only fails here.
func TestRevokedReasonsMirrorServer(t *testing.T) {
	var want []string
	for _, r := range realtime.Reasons() {
		want = append(want, string(r))
	}
	if got := calls.RevokedReasons(); !slices.Equal(got, want) {
		t.Errorf("calls.RevokedReasons() = %q, realtime.Reasons() = %q", got, want)
	}
	for _, p := range []struct {
		sdk string
		srv realtime.Reason
	}{
		{calls.RevokedLogout, realtime.ReasonLogout},
		{calls.RevokedTokenDeleted, realtime.ReasonTokenDeleted},
		{calls.RevokedTokensFlushed, realtime.ReasonTokensFlushed},
		{calls.RevokedUserDeleted, realtime.ReasonUserDeleted},
		{calls.RevokedUserDeactivated, realtime.ReasonUserDeactivated},
		{calls.RevokedTokenExpired, realtime.ReasonTokenExpired},
	} {
		if p.sdk != string(p.srv) {
			t.Errorf("SDK constant %q mirrors realtime's %q", p.sdk, p.srv)
		}
	}
	// A constant declared but left out of its list would slip past the
	// comparison above: each list must hold every constant of its side.
	sdk := constants(t, ".", func(name string, _ ast.Expr) bool { return strings.HasPrefix(name, "Revoked") })
	srv := constants(t, "../internal/realtime", func(_ string, typ ast.Expr) bool {
		id, ok := typ.(*ast.Ident)
		return ok && id.Name == "Reason"
	})
	slices.Sort(want)
	if !slices.Equal(sdk, want) {
		t.Errorf("the SDK declares %q, realtime.Reasons() holds %q", sdk, want)
	}
	if !slices.Equal(srv, want) {
		t.Errorf("internal/realtime declares %q, Reasons() holds %q", srv, want)
	}
}

// constants returns the sorted values of the string constants declared in
// dir's non-test files that keep says to keep.
func constants(t *testing.T, dir string, keep func(name string, typ ast.Expr) bool) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				v := s.(*ast.ValueSpec)
				for i, n := range v.Names {
					if !keep(n.Name, v.Type) || i >= len(v.Values) {
						continue
					}
					lit, ok := v.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal", dir, n.Name)
					}
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, s)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

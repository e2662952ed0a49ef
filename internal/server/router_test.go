package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestRouteBodyFlags holds each route's body flag to its handler: set
// exactly when the handler, a method of Server, calls decode itself.
func TestRouteBodyFlags(t *testing.T) {
	decodes := map[string]bool{} // Server method → calls decode
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Body == nil || !isServer(fd.Recv.List[0].Type) {
				continue
			}
			calls := false
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "decode" {
						calls = true
					}
				}
				return !calls
			})
			decodes[fd.Name.Name] = calls
		}
	}
	for _, rt := range routeTable() {
		// A method value is named "….(*Server).createUser-fm"; a closure a
		// method returns, "….(*Server).metricsHandler.func1".
		fn := runtime.FuncForPC(reflect.ValueOf(rt.h).Pointer()).Name()
		i := strings.LastIndex(fn, "(*Server).")
		if i < 0 {
			t.Errorf("%s %s: handler %s is not a method of Server", rt.method, rt.path, fn)
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fn[i+len("(*Server)."):], "-fm"), ".")
		calls, ok := decodes[name]
		switch {
		case !ok:
			t.Errorf("%s %s: no method %s of Server found in the package's files", rt.method, rt.path, name)
		case calls != rt.body:
			t.Errorf("%s %s: body is %v, but %s calls decode: %v", rt.method, rt.path, rt.body, name, calls)
		}
	}
}

func isServer(e ast.Expr) bool {
	s, ok := e.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == "Server"
}

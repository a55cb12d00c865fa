package securedb_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageIsDocumented holds the library to its promise of godoc
// that reads like a manual: every library package has a package comment and
// at least one Example, and every exported name has a doc comment.
func TestEveryPackageIsDocumented(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		switch {
		case path != "." && strings.HasPrefix(d.Name(), "."),
			strings.HasPrefix(path, "examples"), strings.HasPrefix(path, "internal"),
			strings.HasPrefix(path, "scripts"), d.Name() == "testdata", d.Name() == "bench":
			return filepath.SkipDir
		}
		checkPackage(t, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkPackage(t *testing.T, dir string) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	examples := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if strings.HasSuffix(e.Name(), "_test.go") {
			examples += len(doc.Examples(f))
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return
	}
	p, err := doc.NewFromFiles(fset, files, "example.com/"+dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	if strings.TrimSpace(p.Doc) == "" {
		t.Errorf("%s: no package doc", dir)
	}
	if examples == 0 && p.Name != "dbtest" {
		t.Errorf("%s: no Example function", dir)
	}
	undocumented := func(kind, name, text string) {
		if strings.TrimSpace(text) == "" {
			t.Errorf("%s: %s %s has no doc comment", dir, kind, name)
		}
	}
	for _, c := range p.Consts {
		checkGroup(c.Doc, c.Decl, "const", dir, t)
	}
	for _, v := range p.Vars {
		checkGroup(v.Doc, v.Decl, "var", dir, t)
	}
	for _, f := range p.Funcs {
		undocumented("func", f.Name, f.Doc)
	}
	for _, ty := range p.Types {
		undocumented("type", ty.Name, ty.Doc)
		for _, f := range ty.Funcs {
			undocumented("func", f.Name, f.Doc)
		}
		for _, m := range ty.Methods {
			undocumented("method", ty.Name+"."+m.Name, m.Doc)
		}
		for _, c := range ty.Consts {
			checkGroup(c.Doc, c.Decl, "const", dir, t)
		}
		for _, v := range ty.Vars {
			checkGroup(v.Doc, v.Decl, "var", dir, t)
		}
	}
}

// checkGroup accepts a documented group, or a group whose every exported
// spec has its own comment.
func checkGroup(groupDoc string, decl *ast.GenDecl, kind, dir string, t *testing.T) {
	if strings.TrimSpace(groupDoc) != "" {
		return
	}
	for _, s := range decl.Specs {
		vs := s.(*ast.ValueSpec)
		for _, n := range vs.Names {
			if n.IsExported() && vs.Doc == nil && vs.Comment == nil {
				t.Errorf("%s: %s %s has no doc comment", dir, kind, n.Name)
			}
		}
	}
}

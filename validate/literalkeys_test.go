package validate_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

var literal = validate.Limits{LiteralKeys: true}

func TestLiteralKeysInDocuments(t *testing.T) {
	schema := map[string]any{
		"$defs": map[string]any{"q": map[string]any{"type": "string"}},
		"files": map[string]any{"main.py": "x", "v1.2": map[string]any{"$ref": "#/$defs/q"}},
	}
	if _, err := validate.Sanitize(schema, validate.Limits{}); !errors.Is(err, validate.ErrInvalid) || !strings.Contains(err.Error(), "Limits.LiteralKeys") {
		t.Errorf("default limits: err = %v, want ErrInvalid naming Limits.LiteralKeys", err)
	}
	got, err := validate.Sanitize(schema, literal)
	if err != nil || !deepEqual(got, schema) {
		t.Errorf("with LiteralKeys: got %v, %v; want the document unchanged", got, err)
	}
	for name, doc := range map[string]map[string]any{
		"a control character":  {"a": map[string]any{"x\ny": 1}},
		"an empty key":         {"a": map[string]any{"": 1}},
		"the __x__ form":       {"a": map[string]any{"__x__": 1}},
		"a key over MaxKeyLen": {"a": map[string]any{strings.Repeat("k", validate.MaxKeyLen+1): 1}},
	} {
		if _, err := validate.Sanitize(doc, literal); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("%s with LiteralKeys: err = %v, want ErrInvalid", name, err)
		}
	}
	// A top-level "_" key is still a system field, dropped, not stored.
	got, err = validate.Sanitize(map[string]any{"_rev": "x", "$a": 1}, literal)
	if err != nil || len(got) != 1 {
		t.Errorf("system field with LiteralKeys: got %v, %v", got, err)
	}
}

func TestFieldPathWith(t *testing.T) {
	cases := []struct {
		path          string
		plain, opt_in bool
	}{
		{"owner.id", true, true},
		{"_id", true, true},
		{`files.main\.py`, false, true},
		{`files.v1\.2.rank`, false, true},
		{"$defs.query", false, true},
		{"parameters.$ref", false, true},
		{`a\\b`, false, true},
		{"files.main py", false, true},
		{"files.main.py", true, true}, // three names: files → main → py
		{"_rev", false, false},
		{"_secret.x", false, false},
		{`\_id`, false, false},
		{"a..b", false, false},
		{"a.", false, false},
		{".a", false, false},
		{`a\b`, false, false},
		{`a\`, false, false},
		{"a.__x__", false, false},
		{"a.x\x00y", false, false},
		{"a.\xff", false, false},
		{strings.Repeat("a.", validate.MaxPathSegments) + "a", false, false},
		{strings.Repeat("a", validate.MaxPathLen+1), false, false},
	}
	for _, c := range cases {
		if err := validate.FieldPathWith(c.path, validate.Limits{}); (err == nil) != c.plain {
			t.Errorf("FieldPathWith(%q, default) = %v, want ok %v", c.path, err, c.plain)
		}
		if err := validate.FieldPath(c.path); (err == nil) != c.plain {
			t.Errorf("FieldPath(%q) = %v, want ok %v", c.path, err, c.plain)
		}
		err := validate.FieldPathWith(c.path, literal)
		if (err == nil) != c.opt_in {
			t.Errorf("FieldPathWith(%q, LiteralKeys) = %v, want ok %v", c.path, err, c.opt_in)
		}
		if err != nil && !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("FieldPathWith(%q): %v does not wrap ErrInvalid", c.path, err)
		}
	}
	if err := validate.FieldPath(`files.main\.py`); err == nil || !strings.Contains(err.Error(), "LiteralKeys") {
		t.Errorf("a refused escaped path does not name the setting: %v", err)
	}
}

// FuzzFieldPathWith: with LiteralKeys, the path dbservice.Path makes of any
// names is accepted exactly when each name is one a document key may be
// (and the first not a system field), and splits back into those names.
func FuzzFieldPathWith(f *testing.F) {
	f.Add("files", "main.py", "")
	f.Add("$defs", "q", "$ref")
	f.Add("a", `b\`, `\.`)
	f.Add("_id", "x", "")
	f.Add("a", "", "b")
	f.Add("a", "__x__", "b")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		names := []string{a, b}
		if c != "" {
			names = append(names, c)
		}
		p := dbservice.Path(names...)
		err := validate.FieldPathWith(p, literal)
		keyOK := len(p) <= validate.MaxPathLen
		for i, n := range names {
			doc := map[string]any{"k": map[string]any{n: 1.0}}
			if i == 0 {
				doc = map[string]any{n: 1.0}
			}
			if _, kerr := validate.Sanitize(doc, literal); kerr != nil || n == "" || (i == 0 && n[0] == '_') {
				keyOK = false
			}
		}
		if p == "_id" {
			keyOK = true
		}
		if (err == nil) != keyOK {
			t.Fatalf("FieldPathWith(%q) = %v; the names %q as keys ok = %v", p, err, names, keyOK)
		}
		if err == nil && p != "_id" && !slices.Equal(dbservice.SplitPath(p), names) {
			t.Fatalf("SplitPath(%q) = %q, want %q", p, dbservice.SplitPath(p), names)
		}
		if err != nil && utf8.ValidString(p) && len(err.Error()) > 200 {
			t.Fatalf("error too long: %d bytes", len(err.Error()))
		}
	})
}

// Every limit a value can exceed names the Limits field that raises it.
func TestLimitErrorsNameTheSetting(t *testing.T) {
	deep := map[string]any{}
	cur := deep
	for range 30 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	many := map[string]any{}
	for i := range 20 {
		many[strings.Repeat("k", i+1)] = 1.0
	}
	cases := []struct {
		name  string
		doc   map[string]any
		lim   validate.Limits
		field string
	}{
		{"string length", map[string]any{"s": strings.Repeat("a", validate.DefaultMaxStringLen+1)}, validate.Limits{}, "Limits.MaxStringLen"},
		{"depth", deep, validate.Limits{}, "Limits.MaxDepth"},
		{"keys", many, validate.Limits{MaxKeys: 10}, "Limits.MaxKeys"},
		{"document size", map[string]any{"s": strings.Repeat("a", 5000), "t": strings.Repeat("a", 5000)}, validate.Limits{MaxDocBytes: 1000}, "Limits.MaxDocBytes"},
		{"a $ key", map[string]any{"$where": 1.0}, validate.Limits{}, "Limits.LiteralKeys"},
		{"a . key", map[string]any{"a.b": 1.0}, validate.Limits{}, "Limits.LiteralKeys"},
	}
	for _, c := range cases {
		_, err := validate.Sanitize(c.doc, c.lim)
		if !errors.Is(err, validate.ErrInvalid) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want ErrInvalid naming %s", c.name, err, c.field)
		}
	}
	// Query values have fixed bounds: the error must not send the caller
	// to a setting that would not change it.
	_, err := validate.QueryValue(strings.Repeat("a", validate.DefaultMaxStringLen+1))
	if err == nil || strings.Contains(err.Error(), "Limits.") || !strings.Contains(err.Error(), "fixed") {
		t.Errorf("query value over the string bound: %v", err)
	}
}

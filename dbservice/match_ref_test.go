package dbservice

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// refLookup is Lookup as it was before it cut the names off in place: over
// an iterator of them. The differential test compares against it.
func refLookup(doc Doc, path string) (any, bool) {
	names := strings.SplitSeq(path, ".")
	if strings.Contains(path, `\`) {
		names = slices.Values(SplitPath(path))
	}
	var cur any = doc
	for seg := range names {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[seg]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// TestLookupAgreesWithTheReference: over a document with nested objects,
// arrays, nulls, empty and escaped names, every path of up to three names
// drawn from them (plain and escaped) finds what it found before.
func TestLookupAgreesWithTheReference(t *testing.T) {
	doc := Doc{
		"a":       map[string]any{"b": map[string]any{"c": 1.0, "": "empty"}, "n": nil, "l": []any{"x"}},
		"":        map[string]any{"": "root of empties"},
		"main.py": map[string]any{"v1.2": true},
		`back\`:   "slash",
		"n":       nil,
		"s":       "text",
	}
	names := []string{"a", "b", "c", "", "n", "l", "0", "s", "main.py", "v1.2", `back\`, "missing"}
	var paths []string
	var grow func(path string, depth int)
	grow = func(path string, depth int) {
		paths = append(paths, path)
		if depth == 3 {
			return
		}
		for _, n := range names {
			grow(path+"."+n, depth+1)
			grow(path+"."+Path(n), depth+1)
		}
	}
	for _, n := range names {
		grow(n, 1)
		grow(Path(n), 1)
	}
	paths = append(paths, "", ".", "..", `\`, `a\`, `a\.b`, `\\`)
	for _, p := range paths {
		got, gotOK := Lookup(doc, p)
		want, wantOK := refLookup(doc, p)
		if gotOK != wantOK || !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", p, got, gotOK, want, wantOK)
		}
	}
}

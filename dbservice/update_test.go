package dbservice

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/securedb-go/securedb/validate"
)

func TestPathRoundTrip(t *testing.T) {
	for _, names := range [][]string{
		{"a"}, {"a", "b"}, {"main.py"}, {`back\slash`, "x"}, {"a.", ".b", `\`, `\\.`}, {"$defs", "v1.2"},
	} {
		p := Path(names...)
		if got := SplitPath(p); !reflect.DeepEqual(got, names) {
			t.Errorf("SplitPath(Path(%q)) = %q via %q", names, got, p)
		}
		var nested any = "leaf"
		for i := len(names) - 1; i >= 0; i-- {
			nested = map[string]any{names[i]: nested}
		}
		if v, ok := Lookup(nested.(map[string]any), p); !ok || v != "leaf" {
			t.Errorf("Lookup(%q) = %v, %v; want the leaf under %q", p, v, ok, names)
		}
	}
	if got := Path("files", "main.py"); got != `files.main\.py` {
		t.Errorf("Path = %q", got)
	}
}

func FuzzPath(f *testing.F) {
	f.Add("a", "b.c")
	f.Add(`x\`, `.`)
	f.Fuzz(func(t *testing.T, a, b string) {
		if got := SplitPath(Path(a, b)); !reflect.DeepEqual(got, []string{a, b}) {
			t.Fatalf("SplitPath(Path(%q, %q)) = %q", a, b, got)
		}
	})
}

func TestPrefixEndBoundsExactlyThePrefixedStrings(t *testing.T) {
	cases := []struct {
		p, end string
		ok     bool
	}{
		{"ab", "ac", true},
		{"a\u00ff", "a\u0100", true},
		{"\ud7ff", "\ue000", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		end, ok := PrefixEnd(c.p)
		if end != c.end || ok != c.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", c.p, end, ok, c.end, c.ok)
		}
		if ok && !utf8.ValidString(end) {
			t.Errorf("PrefixEnd(%q) = %q is not valid UTF-8", c.p, end)
		}
	}
}

func FuzzPrefixEnd(f *testing.F) {
	f.Add("ab", "abc")
	f.Add("é", "éa")
	f.Fuzz(func(t *testing.T, p, s string) {
		if !utf8.ValidString(p) || !utf8.ValidString(s) {
			return
		}
		end, ok := PrefixEnd(p)
		in := s >= p && (!ok || s < end)
		if in != strings.HasPrefix(s, p) {
			t.Fatalf("prefix %q, end %q (%v): %q in range %v, has prefix %v", p, end, ok, s, in, strings.HasPrefix(s, p))
		}
	})
}

func TestCheckMutationsRefusesBeforeAnyWrite(t *testing.T) {
	bad := map[string][]Mutation{
		"none":           nil,
		"system field":   {Set("_rev", "1")},
		"overlap":        {Set("a.b", 1), Unset("a")},
		"operator value": {Set("a", map[string]any{"$ne": 1})},
		"text increment": {Increment("n", "1")},
		"empty append":   {Append("a")},
		"unknown kind":   {{Kind: "drop", Path: "a"}},
		"bad path":       {Set("a b", 1)},
	}
	for what, mods := range bad {
		if _, err := CheckMutations(mods, validate.Limits{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: CheckMutations = %v, want ErrInvalid", what, err)
		}
	}
	// Disjoint paths that share a text prefix are not overlapping.
	if _, err := CheckMutations([]Mutation{Set("ab", 1), Set("a", 2), Set("a2.b", 3)}, validate.Limits{}); err != nil {
		t.Errorf("disjoint paths refused: %v", err)
	}
}

func TestApplyMutationsLeavesItsInputAlone(t *testing.T) {
	doc := Doc{"a": map[string]any{"b": 1.0}, "l": []any{1.0, 2.0}}
	mods, err := CheckMutations([]Mutation{Set("a.c", 2), Remove("l", 1), Increment("a.b", 1)}, validate.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ApplyMutations(doc, mods)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc, Doc{"a": map[string]any{"b": 1.0}, "l": []any{1.0, 2.0}}) {
		t.Fatalf("input changed: %v", doc)
	}
	if !reflect.DeepEqual(out, Doc{"a": map[string]any{"b": 2.0, "c": 2.0}, "l": []any{2.0}}) {
		t.Fatalf("result %v", out)
	}
	inf, _ := CheckMutations([]Mutation{Increment("x", 1.7e308)}, validate.Limits{})
	if _, err := ApplyMutations(Doc{"x": 1.7e308}, inf); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an increment past the largest number = %v, want ErrInvalid", err)
	}
}

func TestCheckIDs(t *testing.T) {
	if err := CheckIDs(nil); err != nil {
		t.Fatal(err)
	}
	for what, ids := range map[string][]string{"dup": {"a", "a"}, "bad": {"a", "a/b"}, "empty": {""}} {
		if err := CheckIDs(ids); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", what, err)
		}
	}
}

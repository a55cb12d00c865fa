package validate_test

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb/validate"
)

func TestIDRule(t *testing.T) {
	cases := []struct {
		name string
		rule validate.IDRule
		id   string
		ok   bool
	}{
		{"a plain ID is accepted", validate.IDRule{}, "agent_01-x", true},
		{"100 characters are accepted", validate.IDRule{}, strings.Repeat("a", 100), true},
		{"101 characters are refused", validate.IDRule{}, strings.Repeat("a", 101), false},
		{"an empty ID is refused", validate.IDRule{}, "", false},
		{"a slash is refused", validate.IDRule{}, "a/b", false},
		{"a dot is refused by the default pattern", validate.IDRule{}, "a.b", false},
		{"an operator is refused", validate.IDRule{}, "$where", false},
		{"a space is refused", validate.IDRule{}, "a b", false},
		{"non-ASCII is refused by the default pattern", validate.IDRule{}, "ü", false},
		{"a custom pattern admits dots", validate.IDRule{Pattern: regexp.MustCompile(`^[a-z.@]+$`)}, "a.b@c", true},
		{"a custom pattern still refuses '..'", validate.IDRule{Pattern: regexp.MustCompile(`^[a-z.]+$`)}, "..", false},
		{"a custom pattern still refuses '/'", validate.IDRule{Pattern: regexp.MustCompile(`^.+$`)}, "a/b", false},
		{"a custom pattern still refuses __x__", validate.IDRule{Pattern: regexp.MustCompile(`^.+$`)}, "__x__", false},
		{"a custom pattern still refuses control characters", validate.IDRule{Pattern: regexp.MustCompile(`^.+$`)}, "a\x00b", false},
		{"a custom pattern still refuses invalid UTF-8", validate.IDRule{Pattern: regexp.MustCompile(`^.+$`)}, "\xff", false},
		{"a custom length applies", validate.IDRule{MaxLen: 3}, "abcd", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.rule.Check(c.id)
			if (err == nil) != c.ok {
				t.Fatalf("Check(%q) = %v, want ok=%v", c.id, err, c.ok)
			}
			if err != nil && !errors.Is(err, validate.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestCollectionNamesAreValidOnEveryBackend(t *testing.T) {
	for _, name := range []string{"agents", "abc", "a_b-c", "t0123456789", strings.Repeat("a", 64)} {
		if err := validate.CollectionName(name); err != nil {
			t.Errorf("CollectionName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "ab", "Agents", "1abc", "_users", "a/b", "a.b", "$cmd", "__x__", strings.Repeat("a", 65), "aé b"} {
		if err := validate.CollectionName(name); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("CollectionName(%q) = %v, want ErrInvalid", name, err)
		}
	}
}

func TestAllowlist(t *testing.T) {
	list := validate.Allowlist{"agents", "users"}
	if err := list.Check("agents"); err != nil {
		t.Fatalf("allowed name refused: %v", err)
	}
	if err := list.Check("tickets"); !errors.Is(err, validate.ErrInvalid) {
		t.Fatalf("name outside the list: %v, want ErrInvalid", err)
	}
	if err := (validate.Allowlist{}).Check("tickets"); err != nil {
		t.Fatalf("empty list refused a valid name: %v", err)
	}
	if err := (validate.Allowlist{"Bad/Name"}).Check("Bad/Name"); !errors.Is(err, validate.ErrInvalid) {
		t.Fatal("an allowlist entry bypassed the collection pattern")
	}
}

func TestSanitizeNormalizesToTheJSONModel(t *testing.T) {
	type named string
	when := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -3600))
	in := map[string]any{
		"_id": "dropped", "_rev": "dropped", "_private": "dropped",
		"i": 3, "u": uint16(7), "f32": float32(1.5), "s": named("x"), "b": []byte("hi"),
		"t": when, "p": ptr(5), "nilp": (*int)(nil), "list": []int{1, 2}, "m": map[string]string{"k": "v"},
		"nested": map[string]any{"_kept": true},
		"st": struct {
			A int    `json:"a"`
			B string `json:"-"`
		}{A: 1, B: "hidden"},
	}
	got, err := validate.Sanitize(in, validate.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"i": 3.0, "u": 7.0, "f32": 1.5, "s": "x", "b": "aGk=", "t": "2026-01-02T04:04:05.000000006Z",
		"p": 5.0, "nilp": nil, "list": []any{1.0, 2.0}, "m": map[string]any{"k": "v"},
		"nested": map[string]any{"_kept": true}, "st": map[string]any{"a": 1.0},
	}
	if !deepEqual(got, want) {
		t.Fatalf("Sanitize = %#v\nwant %#v", got, want)
	}
	in["nested"].(map[string]any)["_kept"] = false
	if got["nested"].(map[string]any)["_kept"] != true {
		t.Fatal("Sanitize output shares memory with its input")
	}
}

func TestSanitizeRefusals(t *testing.T) {
	deep := func(n int) map[string]any {
		root := map[string]any{}
		cur := root
		for range n - 1 {
			next := map[string]any{}
			cur["d"] = next
			cur = next
		}
		return root
	}
	cases := []struct {
		name string
		doc  map[string]any
		lim  validate.Limits
		ok   bool
	}{
		{"an operator key", map[string]any{"$where": 1}, validate.Limits{}, false},
		{"a nested operator key", map[string]any{"a": map[string]any{"$gt": 1}}, validate.Limits{}, false},
		{"NaN", map[string]any{"x": math.NaN()}, validate.Limits{}, false},
		{"-Inf", map[string]any{"x": math.Inf(-1)}, validate.Limits{}, false},
		{"2^53 is exact", map[string]any{"x": int64(1 << 53)}, validate.Limits{}, true},
		{"2^53+1 would round", map[string]any{"x": int64(1<<53 + 1)}, validate.Limits{}, false},
		{"a whole float beyond 2^53 is a number", map[string]any{"x": 1e17}, validate.Limits{}, true},
		{"an integer float64 holds exactly is fine", map[string]any{"x": uint64(1 << 63)}, validate.Limits{}, true},
		{"2^64-1 would round", map[string]any{"x": uint64(1<<64 - 1)}, validate.Limits{}, false},
		{"1e17 as encoding/json writes it", map[string]any{"x": jsonNumber("100000000000000000")}, validate.Limits{}, true},
		{"2^60 as encoding/json writes a float64", map[string]any{"x": jsonNumber("1152921504606847000")}, validate.Limits{}, true},
		{"2^60+1 as JSON text would round", map[string]any{"x": jsonNumber("1152921504606846977")}, validate.Limits{}, false},
		{"a struct's int64 that would round", map[string]any{"x": struct{ N int64 }{1152921504606847000}}, validate.Limits{}, false},
		{"a json.Number beyond float64's range", map[string]any{"x": jsonNumber("1e400")}, validate.Limits{}, false},
		{"a huge json.Number integer would round", map[string]any{"x": jsonNumber("123456789012345678901234567890")}, validate.Limits{}, false},
		{"a json.Number fraction is fine", map[string]any{"x": jsonNumber("1.25")}, validate.Limits{}, true},
		{"a json.Number that is no number", map[string]any{"x": jsonNumber("abc")}, validate.Limits{}, false},
		{"a channel", map[string]any{"x": make(chan int)}, validate.Limits{}, false},
		{"a func", map[string]any{"x": func() {}}, validate.Limits{}, false},
		{"int map keys", map[string]any{"x": map[int]int{1: 1}}, validate.Limits{}, false},
		{"invalid UTF-8", map[string]any{"x": "\xc3\x28"}, validate.Limits{}, false},
		{"a dotted key", map[string]any{"a.b": 1}, validate.Limits{}, false},
		{"a control character in a key", map[string]any{"a\tb": 1}, validate.Limits{}, false},
		{"a reserved nested key", map[string]any{"a": map[string]any{"__x__": 1}}, validate.Limits{}, false},
		{"10000 characters", map[string]any{"x": strings.Repeat("é", 10000)}, validate.Limits{}, true},
		{"10001 characters", map[string]any{"x": strings.Repeat("é", 10001)}, validate.Limits{}, false},
		{"a raised string limit", map[string]any{"x": strings.Repeat("a", 20000)}, validate.Limits{MaxStringLen: 20000}, true},
		{"depth 20", deep(20), validate.Limits{}, true},
		{"depth 21", deep(21), validate.Limits{}, false},
		{"too many keys", map[string]any{"x": make([]any, 10)}, validate.Limits{MaxKeys: 5}, false},
		{"too many bytes", map[string]any{"x": strings.Repeat("a", 200)}, validate.Limits{MaxDocBytes: 100}, false},
		{"a disabled bound", map[string]any{"x": strings.Repeat("a", 200)}, validate.Limits{MaxDocBytes: -1}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := validate.Sanitize(c.doc, c.lim)
			if (err == nil) != c.ok {
				t.Fatalf("Sanitize = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, validate.ErrInvalid) {
				t.Fatalf("%v does not wrap ErrInvalid", err)
			}
			if cerr := validate.CheckDoc(c.doc, c.lim); (cerr == nil) != (err == nil) {
				t.Fatalf("CheckDoc = %v disagrees with Sanitize = %v", cerr, err)
			}
		})
	}
}

func TestErrorsQuoteOnlyAShortEscapedPrefix(t *testing.T) {
	secret := strings.Repeat("x", 40) + "SECRET-CANARY"
	err := validate.IDRule{}.Check("bad id\n" + secret)
	if strings.Contains(err.Error(), "SECRET-CANARY") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error quotes too much: %q", err)
	}
	_, err = validate.Sanitize(map[string]any{"password": "SECRET-CANARY", "n": math.NaN()}, validate.Limits{})
	if strings.Contains(err.Error(), "SECRET-CANARY") {
		t.Fatalf("document error quotes a value: %q", err)
	}
	var ve *validate.Error
	if !errors.As(err, &ve) || ve.Field != "doc.n" {
		t.Fatalf("error %v: want *validate.Error with Field doc.n", err)
	}
}

func TestQueryChecks(t *testing.T) {
	for _, p := range []string{"name", "owner.id", "_id", "a-b.c_d", "a.b.c.d.e.f.g.h.i.j"} {
		if err := validate.FieldPath(p); err != nil {
			t.Errorf("FieldPath(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "$where", "a..b", ".a", "a.", "_rev", "_id.x", "a.$gt", "__name__", "a b", "a.b.c.d.e.f.g.h.i.j.k", strings.Repeat("a", 257)} {
		if err := validate.FieldPath(p); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("FieldPath(%q) = %v, want ErrInvalid", p, err)
		}
	}
	for _, op := range validate.Operators {
		if err := validate.Operator(op); err != nil {
			t.Errorf("Operator(%q) = %v", op, err)
		}
	}
	for _, op := range []string{"", "$where", "regex", "EQ", "eq "} {
		if err := validate.Operator(op); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("Operator(%q) = %v, want ErrInvalid", op, err)
		}
	}
	for _, c := range []string{"", "abc_-XYZ09"} {
		if err := validate.Cursor(c); err != nil {
			t.Errorf("Cursor(%q) = %v", c, err)
		}
	}
	for _, c := range []string{"a+b", "a/b", "a=", "{}", strings.Repeat("a", validate.MaxCursorLen+1)} {
		if err := validate.Cursor(c); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("Cursor(%q) = %v, want ErrInvalid", c, err)
		}
	}
	for _, v := range []any{map[string]any{"$gt": ""}, []any{1}, math.NaN(), make(chan int), "\xff"} {
		if _, err := validate.QueryValue(v); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("QueryValue(%#v) = %v, want ErrInvalid", v, err)
		}
	}
	if v, err := validate.QueryValue(int8(3)); err != nil || v != 3.0 {
		t.Errorf("QueryValue(int8(3)) = %#v, %v; want 3.0", v, err)
	}
	for _, n := range []int{-1, validate.MaxLimit + 1} {
		if err := validate.Limit(n); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("Limit(%d) = %v, want ErrInvalid", n, err)
		}
	}
	for _, r := range []string{"", "a b", `a"b`, strings.Repeat("1", validate.MaxRevLen+1)} {
		if err := validate.Rev(r); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("Rev(%q) = %v, want ErrInvalid", r, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

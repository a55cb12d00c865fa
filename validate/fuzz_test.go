package validate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/validate"
)

// FuzzID: Check never panics, refusals wrap ErrInvalid, accepted IDs match
// the default rule, and the error never quotes more than a short prefix.
func FuzzID(f *testing.F) {
	for _, s := range []string{"agent-1", "", "../x", "a/b", "$where", "__x__", "\xff", strings.Repeat("a", 101)} {
		f.Add(s)
	}
	def := regexp.MustCompile(validate.DefaultIDPattern)
	coll := regexp.MustCompile(validate.CollectionPattern)
	f.Fuzz(func(t *testing.T, id string) {
		// The hand-written checks agree with the documented patterns.
		if want := def.MatchString(id) && len(id) <= validate.DefaultIDMaxLen && !(len(id) >= 4 && strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__")); (validate.IDRule{}.Check(id) == nil) != want {
			t.Fatalf("IDRule{}.Check(%q) disagrees with %s", id, validate.DefaultIDPattern)
		}
		if (validate.CollectionName(id) == nil) != coll.MatchString(id) {
			t.Fatalf("CollectionName(%q) disagrees with %s", id, validate.CollectionPattern)
		}
		err := validate.IDRule{}.Check(id)
		if err == nil {
			if len(id) == 0 || len(id) > validate.DefaultIDMaxLen || strings.ContainsAny(id, "/.$ \x00") {
				t.Fatalf("accepted %q", id)
			}
			return
		}
		if !errors.Is(err, validate.ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		if len(id) > 60 && strings.Contains(err.Error(), id) {
			t.Fatalf("error quotes the whole input")
		}
	})
}

// FuzzSanitize: any JSON object either sanitizes to a document that passes
// Sanitize and CheckDoc again unchanged, or is refused with ErrInvalid.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"$where":"x"}`, `{"a":{"b":[1,"x",null,true]}}`, `{"_id":"x","n":9007199254740993}`, `{"a.b":1}`, `{"":1}`, `{"x":1e308}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		dec := json.NewDecoder(strings.NewReader(in))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil {
			return
		}
		out, err := validate.Sanitize(doc, validate.Limits{})
		if err != nil {
			if !errors.Is(err, validate.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if validate.CheckDoc(doc, validate.Limits{}) == nil {
				t.Fatal("CheckDoc accepts what Sanitize refuses")
			}
			return
		}
		for k := range out {
			if strings.HasPrefix(k, "_") {
				t.Fatalf("system field %q survived", k)
			}
		}
		again, err := validate.Sanitize(out, validate.Limits{})
		if err != nil {
			t.Fatalf("sanitized output does not re-validate: %v", err)
		}
		a, _ := json.Marshal(out)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("Sanitize is not idempotent:\n%s\n%s", a, b)
		}
	})
}

// FuzzQuery: field paths, operators, values and cursors either pass or are
// refused with ErrInvalid; accepted paths never carry operators.
func FuzzQuery(f *testing.F) {
	f.Add("owner.id", "eq", `"x"`, "")
	f.Add("$where", "$regex", `{"$gt":""}`, "!!")
	f.Add("a..b", "in", `[1,2]`, "abc")
	f.Fuzz(func(t *testing.T, path, op, value, cursor string) {
		for _, err := range []error{validate.FieldPath(path), validate.Operator(op), validate.Cursor(cursor)} {
			if err != nil && !errors.Is(err, validate.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		}
		if validate.FieldPath(path) == nil && (strings.ContainsAny(path, "$ {}") || strings.Contains(path, "..")) {
			t.Fatalf("accepted field path %q", path)
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(value))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return
		}
		nv, err := validate.QueryValue(v)
		if err != nil {
			if !errors.Is(err, validate.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		switch nv.(type) {
		case nil, bool, string, float64:
		default:
			t.Fatalf("QueryValue returned %T", nv)
		}
	})
}

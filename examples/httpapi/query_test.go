package main

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

func TestParseWhere(t *testing.T) {
	cases := []struct {
		in    string
		want  *dbservice.Cond // nil when refused
		value string          // fmt of the decoded value
	}{
		{in: `name:eq:"bob"`, want: &dbservice.Cond{Field: "name", Op: dbservice.Eq, Value: "bob"}},
		{in: `owner.id:ne:"a:b:c"`, want: &dbservice.Cond{Field: "owner.id", Op: dbservice.Ne, Value: "a:b:c"}},
		{in: `active:exists:true`, want: &dbservice.Cond{Field: "active", Op: dbservice.Exists, Value: true}},
		{in: `runs:gte:3`, want: &dbservice.Cond{Field: "runs", Op: dbservice.Gte, Value: "3"}},
		{in: `tags:in:["a",1,null]`, want: &dbservice.Cond{Field: "tags", Op: dbservice.In}},
		{in: `name:eq:null`, want: &dbservice.Cond{Field: "name", Op: dbservice.Eq, Value: nil}},
		{in: `name:eq: "padded" `, want: &dbservice.Cond{Field: "name", Op: dbservice.Eq, Value: "padded"}},
		{in: `name:eq:bob`},
		{in: `name:eq:{"$gt":""}`},
		{in: `name:eq:["a"]`},
		{in: `name:$ne:"x"`},
		{in: `name:EQ:"x"`},
		{in: `$where:eq:1`},
		{in: `_rev:eq:"x"`},
		{in: `name:eq:"a" "b"`},
		{in: `name:eq:1]`},
		{in: `name:eq`},
		{in: `name`},
		{in: `:eq:1`},
		{in: `name:eq:"` + strings.Repeat("x", maxValueLen) + `"`},
	}
	for _, tc := range cases {
		got, err := parseWhere(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseWhere(%.40q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.Field != tc.want.Field || got.Op != tc.want.Op {
			t.Errorf("parseWhere(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if tc.want.Op != dbservice.In && tc.want.Op != dbservice.Gte && got.Value != tc.want.Value {
			t.Errorf("parseWhere(%q) value = %#v, want %#v", tc.in, got.Value, tc.want.Value)
		}
		if _, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{got}}); err != nil {
			t.Errorf("parseWhere(%q) gave a condition CheckQuery refuses: %v", tc.in, err)
		}
	}
}

func TestParseListQueryRefusesWhatItDoesNotKnow(t *testing.T) {
	for _, raw := range []string{
		"x=1", "where=a:eq:1&x=1", "limit=0", "limit=+5", "limit=1e3", "limit=1&limit=1",
		"cursor=", "cursor=a%20b", "fields=a,,b", "fields=_rev", "fields=a&fields=b", "%zz",
		strings.Repeat("where=a:eq:1&", validate.MaxConds+1),
	} {
		if q, err := parseListQuery(raw); err == nil {
			t.Errorf("parseListQuery(%.50q) = %+v, want an error", raw, q)
		} else if !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("parseListQuery(%.50q) error %v does not match ErrInvalid", raw, err)
		}
	}
}

// FuzzParseListQuery checks that whatever the query string, parsing never
// panics, errors never repeat the input, and what parses uses only the
// known operators with no object values.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{
		"where=name:eq:%22bob%22&limit=10", "where=tags:in:[1,2]&fields=a,b.c", "cursor=abc_-",
		"where=a:eq:{%22$gt%22:1}", "where=a:eq:%22" + canary + "%22x", "limit=99999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseListQuery(raw)
		if err != nil {
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error repeats the input: %v", err)
			}
			return
		}
		for _, c := range q.Where {
			if !slices.Contains(validate.Operators, string(c.Op)) {
				t.Fatalf("operator %q got through", c.Op)
			}
			if _, isMap := c.Value.(map[string]any); isMap {
				t.Fatalf("an object value got through: %v", c.Value)
			}
		}
		if q.Limit < 0 || q.Limit > dbservice.MaxLimit {
			t.Fatalf("limit %d got through", q.Limit)
		}
		if _, err := url.ParseQuery(raw); err != nil {
			t.Fatalf("a malformed query string parsed: %v", err)
		}
	})
}

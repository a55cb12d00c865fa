package dbtest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

func mustSave(t *testing.T, s dbservice.Service, coll, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) string {
	t.Helper()
	rev, err := s.Save(ctx(t), coll, id, doc, opts...)
	if err != nil {
		t.Fatalf("Save(%s/%s): %v", coll, id, err)
	}
	if rev == "" {
		t.Fatalf("Save(%s/%s) returned an empty revision", coll, id)
	}
	return rev
}

func mustGet(t *testing.T, s dbservice.Service, coll, id string) dbservice.Doc {
	t.Helper()
	d, err := s.Get(ctx(t), coll, id)
	if err != nil {
		t.Fatalf("Get(%s/%s): %v", coll, id, err)
	}
	return d
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got error %v, want %v", what, err, sentinel)
	}
}

// body returns doc without its system fields.
func body(d dbservice.Doc) dbservice.Doc {
	out := dbservice.Doc{}
	for k, v := range d {
		if k != "_id" && k != "_rev" {
			out[k] = v
		}
	}
	return out
}

func wantBody(t *testing.T, what string, got, want dbservice.Doc) {
	t.Helper()
	g := body(got)
	if !reflect.DeepEqual(g, want) {
		for k := range union(g, want) {
			if !reflect.DeepEqual(g[k], want[k]) {
				t.Errorf("%s: field %q = %#v, want %#v", what, k, g[k], want[k])
			}
		}
		t.FailNow()
	}
}

func union(a, b dbservice.Doc) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// walk follows every page of q and returns the documents in order.
func walk(t *testing.T, s dbservice.Service, coll string, q dbservice.Query) []dbservice.Doc {
	t.Helper()
	var docs []dbservice.Doc
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("more than 10000 pages: the cursor does not advance")
		}
		p, err := s.Query(ctx(t), coll, q)
		if err != nil {
			t.Fatalf("Query(%s, %+v): %v", coll, q.Where, err)
		}
		if q.Limit > 0 && len(p.Docs) > q.Limit {
			t.Fatalf("page of %d documents exceeds Limit %d", len(p.Docs), q.Limit)
		}
		docs = append(docs, p.Docs...)
		if p.Next == "" {
			return docs
		}
		q.Cursor = p.Next
	}
}

func ids(docs []dbservice.Doc) []string {
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		id, _ := d["_id"].(string)
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// wantOnce checks that got holds every id of want exactly once and nothing
// else.
func wantOnce(t *testing.T, what string, got []string, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	w := slices.Clone(want)
	sort.Strings(w)
	for _, id := range w {
		if seen[id] != 1 {
			t.Errorf("%s: %q returned %d times, want once", what, id, seen[id])
		}
		delete(seen, id)
	}
	for id, n := range seen {
		t.Errorf("%s: unexpected %q returned %d times", what, id, n)
	}
	if t.Failed() {
		t.FailNow()
	}
}

func idN(i int) string { return fmt.Sprintf("doc-%04d", i) }

var validateDefaults = validate.Limits{}

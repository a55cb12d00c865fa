package couchdb

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

func TestPushdownSendsOnlyWhatMangoMeansTheSameWay(t *testing.T) {
	W := dbservice.Where
	cases := []struct {
		name string
		cond dbservice.Cond
		want string
	}{
		{"eq is sent as is", W("name", dbservice.Eq, "alice"), `[{"name":{"$eq":"alice"}}]`},
		{"eq nil matches nulls", W("note", dbservice.Eq, nil), `[{"note":{"$eq":null}}]`},
		{"ne on a number also excludes null", W("n", dbservice.Ne, 5), `[{"n":{"$ne":5}},{"n":{"$ne":null}}]`},
		{"ne on a string keeps only presence (ICU equality is wider)", W("s", dbservice.Ne, "é"), `[{"s":{"$ne":null}}]`},
		{"gt on a number adds the type", W("age", dbservice.Gt, 30), `[{"age":{"$gt":30,"$type":"number"}}]`},
		{"lte on a number adds the type", W("age", dbservice.Lte, -1.5), `[{"age":{"$lte":-1.5,"$type":"number"}}]`},
		{"a string range sends only the type", W("name", dbservice.Lt, "alice"), `[{"name":{"$type":"string"}}]`},
		{"in is sent as is", W("age", dbservice.In, []any{25, "40"}), `[{"age":{"$in":[25,"40"]}}]`},
		{"exists true", W("owner.tier", dbservice.Exists, true), `[{"owner.tier":{"$exists":true}}]`},
		{"exists false on a top-level field", W("note", dbservice.Exists, false), `[{"note":{"$exists":false}}]`},
		{"exists false on a nested path is left to the client", W("owner.tier", dbservice.Exists, false), `null`},
		{"eq on _id maps reserved IDs", W("_id", dbservice.Eq, "_x"), `[{"_id":{"$eq":"~_x"}}]`},
		{"in on _id maps reserved IDs", W("_id", dbservice.In, []any{"a", "_b", 3}), `[{"_id":{"$in":["a","~_b"]}}]`},
		{"eq on _id with a number matches nothing", W("_id", dbservice.Eq, 3), `[{"_id":{"$exists":false}}]`},
		{"a range on _id is left to the client", W("_id", dbservice.Gt, "a"), `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{c.cond}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(pushdown(q.Where[0]))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("pushdown = %s, want %s", got, c.want)
			}
		})
	}
}

func TestReservedIDsMapBothWays(t *testing.T) {
	for _, id := range []string{"a", "_", "_design", "__x", "-1", "~"} {
		cid := couchID(id)
		back, ok := userID(cid)
		if !ok || back != id {
			t.Errorf("userID(couchID(%q)) = %q, %v", id, back, ok)
		}
		if cid[0] == '_' {
			t.Errorf("couchID(%q) = %q starts with '_', which CouchDB refuses", id, cid)
		}
	}
	if _, ok := userID("_design/securedb-1"); ok {
		t.Error("a design document is returned as a document")
	}
}

// trickyDocs are where Mango and dbservice.Match disagree: ICU collation
// (case, accents, canonically equivalent and ignorable characters), values
// of other types, arrays Mango searches and indexes into, paths through
// non-objects, and IDs CouchDB reserves or orders differently under ICU.
var trickyDocs = map[string]dbservice.Doc{
	"a":     {"s": "alice", "n": 10, "nested": map[string]any{"k": "x"}},
	"B":     {"s": "Bob", "n": "10", "nested": "flat"},
	"_u":    {"s": "é", "n": 5.5, "list": []any{"x", 1}},
	"__x":   {"s": "e\u0301", "n": true, "nested": map[string]any{"k": nil}},
	"Z":     {"s": "a\u200bb", "n": nil, "list": []any{[]any{"x"}}},
	"-1":    {"s": "ab", "n": -3, "nested": []any{map[string]any{"k": "x"}}},
	"0a":    {"s": []any{"alice"}, "n": []any{10}},
	"emile": {"s": "Émile", "n": 1e100},
	"z9":    {"other": true},
}

func TestQueriesMatchTheReferenceOnTrickyData(t *testing.T) {
	s := newServer(t)
	coll := dbtest.Collection(t)
	want := map[string]dbservice.Doc{}
	for id, d := range trickyDocs {
		if _, err := s.Save(t.Context(), coll, id, d); err != nil {
			t.Fatalf("Save(%s): %v", id, err)
		}
		n, _ := dbservice.NormalizeDoc(d, validate.Limits{})
		n["_id"] = id
		want[id] = n
	}
	if err := s.EnsureIndex(t.Context(), coll, "s"); err != nil {
		t.Fatal(err)
	}
	W := dbservice.Where
	conds := [][]dbservice.Cond{
		{W("s", dbservice.Eq, "é")},
		{W("s", dbservice.Eq, "ab")},
		{W("s", dbservice.Eq, "alice")},
		{W("s", dbservice.Ne, "é")},
		{W("s", dbservice.Ne, "ab")},
		{W("s", dbservice.Gt, "Bob")},
		{W("s", dbservice.Lt, "alice")},
		{W("s", dbservice.Gte, "a")},
		{W("s", dbservice.Lte, "é")},
		{W("s", dbservice.In, []any{"alice", "e\u0301"})},
		{W("n", dbservice.Gt, 5)},
		{W("n", dbservice.Lt, 6)},
		{W("n", dbservice.Eq, 10)},
		{W("n", dbservice.Ne, 10)},
		{W("n", dbservice.Ne, nil)},
		{W("n", dbservice.Eq, nil)},
		{W("n", dbservice.In, []any{10, true})},
		{W("n", dbservice.Exists, false)},
		{W("list.0", dbservice.Eq, "x")},
		{W("list.0", dbservice.Exists, false)},
		{W("nested.k", dbservice.Exists, false)},
		{W("nested.k", dbservice.Exists, true)},
		{W("nested.k", dbservice.Eq, "x")},
		{W("nested", dbservice.Eq, "flat")},
		{W("_id", dbservice.Gt, "Z")},
		{W("_id", dbservice.Lt, "a")},
		{W("_id", dbservice.Eq, "_u")},
		{W("_id", dbservice.In, []any{"__x", "a"})},
		{W("_id", dbservice.Ne, "a"), W("s", dbservice.Exists, true)},
		{W("s", dbservice.Eq, "é"), W("n", dbservice.Gt, 0)},
	}
	for _, where := range conds {
		q, err := dbservice.CheckQuery(dbservice.Query{Where: where})
		if err != nil {
			t.Fatal(err)
		}
		var expect []string
		for id, d := range want {
			if dbservice.Match(d, q.Where) {
				expect = append(expect, id)
			}
		}
		sort.Strings(expect)
		for _, limit := range []int{1, 3, 100} {
			t.Run(fmt.Sprintf("%v in pages of %d", where, limit), func(t *testing.T) {
				var got []string
				qq := dbservice.Query{Where: where, Limit: limit}
				for pages := 0; ; pages++ {
					if pages > 50 {
						t.Fatal("the cursor does not advance")
					}
					p, err := s.Query(t.Context(), coll, qq)
					if err != nil {
						t.Fatalf("Query: %v", err)
					}
					if len(p.Docs) > limit {
						t.Fatalf("page of %d over limit %d", len(p.Docs), limit)
					}
					for _, d := range p.Docs {
						got = append(got, d["_id"].(string))
					}
					if p.Next == "" {
						break
					}
					qq.Cursor = p.Next
				}
				sorted := slices.Clone(got)
				sort.Strings(sorted)
				if !slices.Equal(sorted, expect) {
					t.Fatalf("got %q, want %q", got, expect)
				}
			})
		}
	}
}

func TestAnEqualityOnAnIndexedFieldReadsTheIndexInIDOrder(t *testing.T) {
	indexOf := func(s *Service, coll string, q dbservice.Query) *dbservice.IndexDef {
		t.Helper()
		p, err := s.Explain(t.Context(), coll, q)
		if err != nil {
			t.Fatal(err)
		}
		return p.Index
	}
	s := newServer(t)
	coll := dbtest.Collection(t)
	// IDs whose raw order differs from ICU order, mixed values.
	var ids []string
	for i, id := range []string{"b", "A", "_z", "-1", "a", "Z", "0", "__q", "c"} {
		v := "x"
		if i%3 == 2 {
			v = "y"
		}
		if _, err := s.Save(t.Context(), coll, id, dbservice.Doc{"k": v}); err != nil {
			t.Fatal(err)
		}
		if v == "x" {
			ids = append(ids, id)
		}
	}
	if err := s.EnsureIndex(t.Context(), coll, "k"); err != nil {
		t.Fatal(err)
	}
	q, _ := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{dbservice.Where("k", dbservice.Eq, "x")}})
	if ix := indexOf(s, coll, q); ix == nil || !slices.Equal(ix.Fields, []string{"k"}) {
		t.Fatalf("index = %+v, want the index on k", ix)
	}
	deleted := false
	walk := func() []string {
		var got []string
		q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("k", dbservice.Eq, "x")}, Limit: 2}
		for {
			p, err := s.Query(t.Context(), coll, q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			for _, d := range p.Docs {
				got = append(got, d["_id"].(string))
			}
			if len(p.Docs) > 0 && p.Stats.Index == "" && !deleted {
				t.Fatal("a page of the walk did not read the index")
			}
			if p.Next == "" {
				return got
			}
			q.Cursor = p.Next
		}
	}
	got := walk()
	sorted := slices.Clone(ids)
	sort.Strings(sorted)
	if !slices.Equal(got, sorted) {
		t.Fatalf("through the index: %q, want %q (each once, in ID byte order)", got, sorted)
	}

	t.Run("a fresh Service finds the index by listing the database", func(t *testing.T) {
		fresh := newServer(t)
		if indexOf(fresh, coll, q) == nil {
			t.Fatal("a fresh Service does not use the existing index")
		}
	})
	t.Run("an index deleted behind its back is noticed and paging stays exact", func(t *testing.T) {
		db := s.db(s.dbName(coll))
		id := "_design/" + indexName([]string{"k"})
		rev, err := db.GetRev(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delete(t.Context(), id, rev); err != nil {
			t.Fatal(err)
		}
		deleted = true
		if again := walk(); !slices.Equal(slices.Sorted(slices.Values(again)), sorted) {
			t.Fatalf("after the index went: %q, want each of %q once", again, sorted)
		}
		if indexOf(s, coll, q) != nil {
			t.Fatal("the Service still relies on the deleted index")
		}
	})
}

// TestInWithNullAfterAnIndexExists: CouchDB 3.5 answers a Mango $in that
// holds null with a 500 (function_clause) once the database has a JSON
// index; the provider leaves such an In to the client.
func TestInWithNullAfterAnIndexExists(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	for id, v := range map[string]any{"a": nil, "b": 10.0, "c": "x"} {
		if _, err := s.Save(ctx, coll, id, dbservice.Doc{"v": v, "t": "red"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EnsureIndex(ctx, coll, "t"); err != nil {
		t.Fatal(err)
	}
	p, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("v", dbservice.In, []any{nil, 10})}})
	if err != nil {
		t.Fatalf("In with null: %v", err)
	}
	got := []string{}
	for _, d := range p.Docs {
		got = append(got, d["_id"].(string))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("In [null, 10] = %v, want [a b]", got)
	}
}

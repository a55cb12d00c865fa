package dbtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
)

func testRoundTrip(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	when := time.Date(2026, 11, 22, 23, 40, 12, 123456789, time.FixedZone("CET", 3600))
	in := dbservice.Doc{
		"str":        "hello",
		"empty":      "",
		"unicode":    "héllo 世界 🚀 ñ",
		"long":       strings.Repeat("é", 10000),
		"int":        42,
		"neg":        int64(-7),
		"uint8":      uint8(200),
		"float":      3.25,
		"tenth":      0.1,
		"float32":    float32(0.5),
		"maxSafe":    int64(1 << 53),
		"minSafe":    -(int64(1) << 53),
		"large":      1.5e100,
		"small":      2.5e-100,
		"zero":       0,
		"yes":        true,
		"no":         false,
		"nothing":    nil,
		"nested":     map[string]any{"a": map[string]any{"b": map[string]any{"c": "deep"}}, "n": 1, "_meta": "kept"},
		"emptyMap":   map[string]any{},
		"emptyList":  []any{},
		"list":       []any{"x", 1, true, nil, map[string]any{"k": "v"}, []any{1, []any{"two"}}},
		"strings":    []string{"a", "b"},
		"typedMap":   map[string]int{"one": 1},
		"when":       when,
		"spaced key": "ok",
		"ünïcødé":    "ok",
		"_secret":    "system fields are dropped",
		"_id":        "not-the-id",
	}
	want := dbservice.Doc{
		"str":        "hello",
		"empty":      "",
		"unicode":    "héllo 世界 🚀 ñ",
		"long":       strings.Repeat("é", 10000),
		"int":        float64(42),
		"neg":        float64(-7),
		"uint8":      float64(200),
		"float":      3.25,
		"tenth":      0.1,
		"float32":    0.5,
		"maxSafe":    float64(9007199254740992),
		"minSafe":    float64(-9007199254740992),
		"large":      1.5e100,
		"small":      2.5e-100,
		"zero":       float64(0),
		"yes":        true,
		"no":         false,
		"nothing":    nil,
		"nested":     map[string]any{"a": map[string]any{"b": map[string]any{"c": "deep"}}, "n": float64(1), "_meta": "kept"},
		"emptyMap":   map[string]any{},
		"emptyList":  []any{},
		"list":       []any{"x", float64(1), true, nil, map[string]any{"k": "v"}, []any{float64(1), []any{"two"}}},
		"strings":    []any{"a", "b"},
		"typedMap":   map[string]any{"one": float64(1)},
		"when":       "2026-11-22T22:40:12.123456789Z",
		"spaced key": "ok",
		"ünïcødé":    "ok",
	}
	rev := mustSave(t, s, coll, "round-trip", in)
	got := mustGet(t, s, coll, "round-trip")
	if got["_id"] != "round-trip" {
		t.Fatalf("_id = %#v, want %q", got["_id"], "round-trip")
	}
	if got["_rev"] != rev {
		t.Fatalf("_rev = %#v, want the revision Save returned (%q)", got["_rev"], rev)
	}
	wantBody(t, "round trip", got, want)

	// Neither the caller's input nor a returned document shares memory with
	// what is stored.
	in["str"] = "changed after save"
	in["nested"].(map[string]any)["n"] = 99
	got["str"] = "changed after get"
	got["list"].([]any)[0] = "changed"
	wantBody(t, "after mutating caller copies", mustGet(t, s, coll, "round-trip"), want)
}

func testNotFound(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "present", dbservice.Doc{"a": 1})
	_, err := s.Get(ctx(t), coll, "absent")
	wantErr(t, "Get of a missing document", err, dbservice.ErrNotFound)
	_, err = s.Get(ctx(t), Collection(t), "absent")
	wantErr(t, "Get in a collection never written", err, dbservice.ErrNotFound)
	err = s.Delete(ctx(t), coll, "absent")
	wantErr(t, "Delete of a missing document", err, dbservice.ErrNotFound)
	p, err := s.Query(ctx(t), Collection(t), dbservice.Query{})
	if err != nil || len(p.Docs) != 0 || p.Next != "" {
		t.Fatalf("Query of a collection never written = %d docs, next %q, err %v; want empty, no error", len(p.Docs), p.Next, err)
	}
}

func testUpsert(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	r1 := mustSave(t, s, coll, "u", dbservice.Doc{"a": 1, "stale": "old"})
	r2 := mustSave(t, s, coll, "u", dbservice.Doc{"a": 2})
	if r1 == r2 {
		t.Fatalf("a second Save returned the same revision %q", r1)
	}
	got := mustGet(t, s, coll, "u")
	wantBody(t, "after the second Save", got, dbservice.Doc{"a": float64(2)})
	if got["_rev"] != r2 {
		t.Fatalf("_rev = %v, want %v", got["_rev"], r2)
	}
}

func testIfAbsent(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "once", dbservice.Doc{"v": "first"}, dbservice.IfAbsent())
	_, err := s.Save(ctx(t), coll, "once", dbservice.Doc{"v": "second"}, dbservice.IfAbsent())
	wantErr(t, "IfAbsent on an existing document", err, dbservice.ErrConflict)
	wantBody(t, "after the refused IfAbsent", mustGet(t, s, coll, "once"), dbservice.Doc{"v": "first"})
}

func testIfRev(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	r1 := mustSave(t, s, coll, "r", dbservice.Doc{"v": float64(1)})
	r2 := mustSave(t, s, coll, "r", dbservice.Doc{"v": float64(2)}, dbservice.IfRev(r1))
	_, err := s.Save(ctx(t), coll, "r", dbservice.Doc{"v": float64(3)}, dbservice.IfRev(r1))
	wantErr(t, "Save with a stale IfRev", err, dbservice.ErrConflict)
	got := mustGet(t, s, coll, "r")
	wantBody(t, "after the stale Save", got, dbservice.Doc{"v": float64(2)})
	if got["_rev"] != r2 {
		t.Fatalf("_rev = %v, want %v", got["_rev"], r2)
	}

	_, err = s.Save(ctx(t), coll, "missing", dbservice.Doc{"v": 1}, dbservice.IfRev(r2))
	wantErr(t, "IfRev on a missing document", err, dbservice.ErrConflict)
	_, err = s.Get(ctx(t), coll, "missing")
	wantErr(t, "Get after a refused IfRev create", err, dbservice.ErrNotFound)

	_, err = s.Save(ctx(t), coll, "r", dbservice.Doc{"v": 4}, dbservice.IfRev("1-notarevision"))
	wantErr(t, "IfRev with a revision never issued", err, dbservice.ErrConflict)

	err = s.Delete(ctx(t), coll, "r", dbservice.IfRev(r1))
	wantErr(t, "Delete with a stale IfRev", err, dbservice.ErrConflict)
	if err := s.Delete(ctx(t), coll, "r", dbservice.IfRev(r2)); err != nil {
		t.Fatalf("Delete with the current IfRev: %v", err)
	}
	mustSave(t, s, coll, "r", dbservice.Doc{"v": 5})
	_, err = s.Save(ctx(t), coll, "r", dbservice.Doc{"v": 6}, dbservice.IfRev(r2))
	wantErr(t, "IfRev with a revision from before a delete", err, dbservice.ErrConflict)
}

func testDelete(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "d", dbservice.Doc{"v": "old"})
	mustSave(t, s, coll, "keep", dbservice.Doc{"v": "keep"})
	if err := s.Delete(ctx(t), coll, "d"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Get(ctx(t), coll, "d")
	wantErr(t, "Get after Delete", err, dbservice.ErrNotFound)
	wantErr(t, "a second Delete", s.Delete(ctx(t), coll, "d"), dbservice.ErrNotFound)
	wantOnce(t, "Query after Delete", ids(walk(t, s, coll, dbservice.Query{})), []string{"keep"})
	mustSave(t, s, coll, "d", dbservice.Doc{"v": "new"})
	wantBody(t, "re-created document", mustGet(t, s, coll, "d"), dbservice.Doc{"v": "new"})
}

func testPaging(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	const n = 250
	var want []string
	for i := range n {
		mustSave(t, s, coll, idN(i), dbservice.Doc{"n": i})
		want = append(want, idN(i))
	}
	for _, limit := range []int{1, 7, 100} {
		docs := walk(t, s, coll, dbservice.Query{Limit: limit})
		wantOnce(t, fmt.Sprintf("pages of %d", limit), ids(docs), want)
		for _, d := range docs {
			if idN(int(d["n"].(float64))) != d["_id"] {
				t.Fatalf("document %v carries the body of another (n=%v)", d["_id"], d["n"])
			}
		}
	}
	var got []string
	for d, err := range dbservice.All(ctx(t), s, coll, dbservice.Query{Limit: 100}) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		got = append(got, d["_id"].(string))
	}
	wantOnce(t, "All", got, want)
}

func testPagingConcurrentWrites(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	const n = 60
	original := map[string]bool{}
	for i := range n {
		mustSave(t, s, coll, idN(i), dbservice.Doc{"n": i, "version": 1})
		original[idN(i)] = true
	}
	seen := map[string]int{}
	deleted := map[string]bool{}
	q := dbservice.Query{Limit: 7}
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("more than 100 pages for 60 documents")
		}
		p, err := s.Query(ctx(t), coll, q)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		for _, d := range p.Docs {
			seen[d["_id"].(string)]++
		}
		if p.Next == "" {
			break
		}
		// Between pages: update a document already seen and one not yet
		// seen, add new documents at both ends of the ID order, delete one
		// not yet seen.
		for id := range original {
			if seen[id] > 0 && !deleted[id] {
				mustSave(t, s, coll, id, dbservice.Doc{"n": -1, "version": page + 2})
				break
			}
		}
		for id := range original {
			if seen[id] == 0 && !deleted[id] {
				mustSave(t, s, coll, id, dbservice.Doc{"n": -2, "version": page + 2})
				break
			}
		}
		mustSave(t, s, coll, fmt.Sprintf("aaa-new-%d", page), dbservice.Doc{"new": true})
		mustSave(t, s, coll, fmt.Sprintf("zzz-new-%d", page), dbservice.Doc{"new": true})
		if page%3 == 0 {
			for id := range original {
				if seen[id] == 0 && !deleted[id] {
					if err := s.Delete(ctx(t), coll, id); err != nil {
						t.Fatalf("Delete: %v", err)
					}
					deleted[id] = true
					break
				}
			}
		}
		q.Cursor = p.Next
	}
	for id := range original {
		if !deleted[id] && seen[id] != 1 {
			t.Errorf("%s returned %d times across concurrent writes, want once", id, seen[id])
		}
	}
	for id, k := range seen {
		if k > 1 {
			t.Errorf("%s returned %d times", id, k)
		}
		if deleted[id] && k > 0 {
			t.Errorf("%s was deleted before its page and still returned", id)
		}
	}
}

// condDocs is the data set of the conditions case; the expectations in
// testConditions are worked out by hand from it.
var condDocs = map[string]dbservice.Doc{
	"a1": {"name": "alice", "age": 30, "active": true, "owner": map[string]any{"id": "u1", "tier": "gold"}, "tags": []any{"x", "y"}, "score": 10, "note": nil, "v": 10},
	"a2": {"name": "Bob", "age": 25, "active": false, "owner": map[string]any{"id": "u2", "tier": "silver"}, "score": 5.5, "v": "10"},
	"a3": {"name": "carol", "age": 35, "active": true, "owner": map[string]any{"id": "u1", "tier": "silver"}, "note": "hi", "v": true},
	"a4": {"name": "dave", "age": "40", "active": "true", "owner": map[string]any{"id": "u3"}, "score": -1},
	"a5": {"name": "Émile", "age": 40, "owner": "u4", "note": nil},
	"a6": {"name": "frank"},
}

func testConditions(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	for id, d := range condDocs {
		mustSave(t, s, coll, id, d)
	}
	W := dbservice.Where
	cases := []struct {
		name  string
		where []dbservice.Cond
		want  []string
	}{
		{"eq on a string", []dbservice.Cond{W("name", dbservice.Eq, "alice")}, []string{"a1"}},
		{"eq on a number skips the same digits as text", []dbservice.Cond{W("age", dbservice.Eq, 40)}, []string{"a5"}},
		{"eq on text skips the same digits as a number", []dbservice.Cond{W("age", dbservice.Eq, "40")}, []string{"a4"}},
		{"eq on a bool skips the text true", []dbservice.Cond{W("active", dbservice.Eq, true)}, []string{"a1", "a3"}},
		{"eq nil matches explicit nulls only", []dbservice.Cond{W("note", dbservice.Eq, nil)}, []string{"a1", "a5"}},
		{"eq on a fraction", []dbservice.Cond{W("score", dbservice.Eq, 5.5)}, []string{"a2"}},
		{"ne needs the field present and not null", []dbservice.Cond{W("active", dbservice.Ne, true)}, []string{"a2", "a4"}},
		{"ne skips nulls and equal values", []dbservice.Cond{W("note", dbservice.Ne, "hi")}, nil},
		{"ne nil lists present non-null values", []dbservice.Cond{W("note", dbservice.Ne, nil)}, []string{"a3"}},
		{"gt on numbers skips text", []dbservice.Cond{W("age", dbservice.Gt, 30)}, []string{"a3", "a5"}},
		{"gte on numbers", []dbservice.Cond{W("age", dbservice.Gte, 30)}, []string{"a1", "a3", "a5"}},
		{"lt on numbers", []dbservice.Cond{W("age", dbservice.Lt, 30)}, []string{"a2"}},
		{"lte on numbers", []dbservice.Cond{W("age", dbservice.Lte, 30)}, []string{"a1", "a2"}},
		{"lte on negative numbers", []dbservice.Cond{W("score", dbservice.Lte, -1)}, []string{"a4"}},
		{"gt on text skips numbers", []dbservice.Cond{W("age", dbservice.Gt, "30")}, []string{"a4"}},
		{"strings order by UTF-8 bytes, upper case first", []dbservice.Cond{W("name", dbservice.Lt, "alice")}, []string{"a2"}},
		{"gt on strings puts accented letters last", []dbservice.Cond{W("name", dbservice.Gt, "Bob")}, []string{"a1", "a3", "a4", "a5", "a6"}},
		{"gte on strings", []dbservice.Cond{W("name", dbservice.Gte, "dave")}, []string{"a4", "a5", "a6"}},
		{"gt beyond ASCII", []dbservice.Cond{W("name", dbservice.Gt, "zzz")}, []string{"a5"}},
		{"in on strings", []dbservice.Cond{W("name", dbservice.In, []string{"alice", "carol", "zed"})}, []string{"a1", "a3"}},
		{"in with mixed types", []dbservice.Cond{W("age", dbservice.In, []any{25, "40"})}, []string{"a2", "a4"}},
		{"exists counts nulls as present", []dbservice.Cond{W("note", dbservice.Exists, true)}, []string{"a1", "a3", "a5"}},
		{"exists false lists documents without the field", []dbservice.Cond{W("note", dbservice.Exists, false)}, []string{"a2", "a4", "a6"}},
		{"exists on a nested path", []dbservice.Cond{W("owner.tier", dbservice.Exists, true)}, []string{"a1", "a2", "a3"}},
		{"eq on a nested path skips non-objects", []dbservice.Cond{W("owner.id", dbservice.Eq, "u1")}, []string{"a1", "a3"}},
		{"two nested conditions are ANDed", []dbservice.Cond{W("owner.tier", dbservice.Eq, "silver"), W("owner.id", dbservice.Eq, "u1")}, []string{"a3"}},
		{"a range and an equality are ANDed", []dbservice.Cond{W("score", dbservice.Gt, 0), W("active", dbservice.Eq, true)}, []string{"a1"}},
		{"arrays never equal a scalar", []dbservice.Cond{W("tags", dbservice.Eq, "x")}, nil},
		{"gt on a number skips bools and text", []dbservice.Cond{W("v", dbservice.Gt, 5)}, []string{"a1"}},
		{"eq true skips the number 1 and text", []dbservice.Cond{W("v", dbservice.Eq, true)}, []string{"a3"}},
		{"in on _id", []dbservice.Cond{W("_id", dbservice.In, []string{"a1", "a3", "nope"})}, []string{"a1", "a3"}},
		{"eq on _id", []dbservice.Cond{W("_id", dbservice.Eq, "a2")}, []string{"a2"}},
		{"no match at all", []dbservice.Cond{W("name", dbservice.Eq, "nobody")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, limit := range []int{2, 100} {
				got := walk(t, s, coll, dbservice.Query{Where: c.where, Limit: limit})
				wantOnce(t, fmt.Sprintf("%s (pages of %d)", c.name, limit), ids(got), c.want)
				for _, d := range got {
					wantBody(t, "matched document", d, normalized(t, condDocs[d["_id"].(string)]))
				}
			}
		})
	}
}

// normalized is the stored form of a condDocs entry: numbers as float64.
func normalized(t *testing.T, d dbservice.Doc) dbservice.Doc {
	t.Helper()
	n, err := dbservice.NormalizeDoc(d, validateDefaults)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testProjection(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "p1", dbservice.Doc{"name": "alice", "age": 30, "owner": map[string]any{"id": "u1", "tier": "gold"}, "secret": "s"})
	mustSave(t, s, coll, "p2", dbservice.Doc{"name": "bob", "age": 20})
	got := walk(t, s, coll, dbservice.Query{Fields: []string{"name", "owner.id", "missing"}})
	wantOnce(t, "projection", ids(got), []string{"p1", "p2"})
	for _, d := range got {
		if d["_rev"] == nil || d["_rev"] == "" {
			t.Fatalf("projected document %v has no _rev", d["_id"])
		}
		want := dbservice.Doc{"name": "alice", "owner": map[string]any{"id": "u1"}}
		if d["_id"] == "p2" {
			want = dbservice.Doc{"name": "bob"}
		}
		wantBody(t, "projected "+d["_id"].(string), d, want)
	}
	got = walk(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("age", dbservice.Gt, 25)}, Fields: []string{"age"}})
	wantOnce(t, "projection with a condition", ids(got), []string{"p1"})
	wantBody(t, "projected with a condition", got[0], dbservice.Doc{"age": float64(30)})
}

var hostileIDs = []string{
	"", "../etc/passwd", "a/b", "$where", "a b", "a.b", strings.Repeat("a", 101),
	"__id__", "a\x00b", "\xff\xfe", "'; DROP TABLE x; --", "ü", ".", "..", "a\nb", "{\"$gt\":\"\"}",
}

var hostileCollections = []string{
	"", "ab", "Agents", "_users", "a/b", "$cmd", "agents;drop", strings.Repeat("a", 65), "a b c", "1abc", "__x__", "agents\x00",
}

func hostileDocs() map[string]dbservice.Doc {
	deep := dbservice.Doc{}
	cur := deep
	for range 25 {
		next := map[string]any{}
		cur["d"] = next
		cur = next
	}
	return map[string]dbservice.Doc{
		"operator key":           {"$where": "sleep(1000)"},
		"nested operator key":    {"name": map[string]any{"$gt": ""}},
		"operator key in a list": {"list": []any{map[string]any{"$ne": 1}}},
		"NaN":                    {"x": math.NaN()},
		"infinity":               {"x": math.Inf(1)},
		"integer beyond 2^53":    {"x": int64(1<<53 + 1)},
		"huge unsigned":          {"x": uint64(1<<60 + 1)},
		"channel":                {"x": make(chan int)},
		"function":               {"x": func() {}},
		"complex":                {"x": complex(1, 2)},
		"non-string map keys":    {"x": map[int]string{1: "a"}},
		"invalid UTF-8 value":    {"x": "\xff\xfe"},
		"invalid UTF-8 key":      {"\xff": 1},
		"dotted key":             {"a.b": 1},
		"empty key":              {"": 1},
		"control char in key":    {"k\x00": 1},
		"reserved key":           {"x": map[string]any{"__name__": 1}},
		"too deep":               deep,
		"string too long":        {"x": strings.Repeat("a", 10001)},
	}
}

func testHostile(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "existing", dbservice.Doc{"v": "kept"})
	for _, id := range hostileIDs {
		_, err := s.Get(ctx(t), coll, id)
		wantErr(t, fmt.Sprintf("Get(%q)", id), err, dbservice.ErrInvalid)
		_, err = s.Save(ctx(t), coll, id, dbservice.Doc{"v": 1})
		wantErr(t, fmt.Sprintf("Save(%q)", id), err, dbservice.ErrInvalid)
		err = s.Delete(ctx(t), coll, id)
		wantErr(t, fmt.Sprintf("Delete(%q)", id), err, dbservice.ErrInvalid)
	}
	for _, c := range hostileCollections {
		_, err := s.Get(ctx(t), c, "x")
		wantErr(t, fmt.Sprintf("Get in collection %q", c), err, dbservice.ErrInvalid)
		_, err = s.Save(ctx(t), c, "x", dbservice.Doc{"v": 1})
		wantErr(t, fmt.Sprintf("Save in collection %q", c), err, dbservice.ErrInvalid)
		_, err = s.Query(ctx(t), c, dbservice.Query{})
		wantErr(t, fmt.Sprintf("Query of collection %q", c), err, dbservice.ErrInvalid)
		err = s.EnsureIndex(ctx(t), c, "name")
		wantErr(t, fmt.Sprintf("EnsureIndex on collection %q", c), err, dbservice.ErrInvalid)
	}
	for name, doc := range hostileDocs() {
		_, err := s.Save(ctx(t), coll, "fresh", doc)
		wantErr(t, "Save of a document with "+name, err, dbservice.ErrInvalid)
		_, err = s.Save(ctx(t), coll, "existing", doc)
		wantErr(t, "overwrite with a document with "+name, err, dbservice.ErrInvalid)
	}
	_, err := s.Save(ctx(t), coll, "fresh", dbservice.Doc{"v": 1}, dbservice.IfAbsent(), dbservice.IfRev("1-x"))
	wantErr(t, "IfAbsent with IfRev", err, dbservice.ErrInvalid)
	_, err = s.Save(ctx(t), coll, "existing", dbservice.Doc{"v": 1}, dbservice.IfRev("rev with \"quotes\""))
	wantErr(t, "a malformed revision", err, dbservice.ErrInvalid)

	_, err = s.Get(ctx(t), coll, "fresh")
	wantErr(t, "Get after refused writes", err, dbservice.ErrNotFound)
	wantBody(t, "document after refused overwrites", mustGet(t, s, coll, "existing"), dbservice.Doc{"v": "kept"})
	wantOnce(t, "collection after refused writes", ids(walk(t, s, coll, dbservice.Query{})), []string{"existing"})
}

func testHostileQueries(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	for i := range 3 {
		mustSave(t, s, coll, idN(i), dbservice.Doc{"name": "n", "n": i})
	}
	first, err := s.Query(ctx(t), coll, dbservice.Query{Limit: 1})
	if err != nil || first.Next == "" {
		t.Fatalf("Query with Limit 1 over 3 documents: next %q, err %v; want a cursor", first.Next, err)
	}
	other := Collection(t)
	mustSave(t, s, other, "o", dbservice.Doc{"name": "n"})
	W := dbservice.Where
	bad := []struct {
		name  string
		coll  string
		query dbservice.Query
	}{
		{"operator as field", coll, dbservice.Query{Where: []dbservice.Cond{W("$where", dbservice.Eq, "x")}}},
		{"empty path segment", coll, dbservice.Query{Where: []dbservice.Cond{W("a..b", dbservice.Eq, "x")}}},
		{"empty field", coll, dbservice.Query{Where: []dbservice.Cond{W("", dbservice.Eq, "x")}}},
		{"system field", coll, dbservice.Query{Where: []dbservice.Cond{W("_rev", dbservice.Eq, "x")}}},
		{"reserved field", coll, dbservice.Query{Where: []dbservice.Cond{W("__name__", dbservice.Eq, "x")}}},
		{"operator in a path", coll, dbservice.Query{Where: []dbservice.Cond{W("a.$gt", dbservice.Eq, "x")}}},
		{"path too deep", coll, dbservice.Query{Where: []dbservice.Cond{W(strings.Repeat("a.", 11)+"a", dbservice.Eq, "x")}}},
		{"unknown operator", coll, dbservice.Query{Where: []dbservice.Cond{W("name", "$regex", ".*")}}},
		{"empty operator", coll, dbservice.Query{Where: []dbservice.Cond{W("name", "", "x")}}},
		{"operator object as value", coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.Eq, map[string]any{"$gt": ""})}}},
		{"list as eq value", coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.Eq, []any{"n"})}}},
		{"in without a list", coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.In, "n")}}},
		{"in with an empty list", coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.In, []any{})}}},
		{"in with 31 values", coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.In, make([]any, 31))}}},
		{"in with an object", coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.In, []any{map[string]any{"$ne": 1}})}}},
		{"exists with a string", coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.Exists, "yes")}}},
		{"gt with a bool", coll, dbservice.Query{Where: []dbservice.Cond{W("n", dbservice.Gt, true)}}},
		{"lt with nil", coll, dbservice.Query{Where: []dbservice.Cond{W("n", dbservice.Lt, nil)}}},
		{"NaN value", coll, dbservice.Query{Where: []dbservice.Cond{W("n", dbservice.Eq, math.NaN())}}},
		{"negative limit", coll, dbservice.Query{Limit: -1}},
		{"limit over 1000", coll, dbservice.Query{Limit: 1001}},
		{"projection of an operator", coll, dbservice.Query{Fields: []string{"$where"}}},
		{"cursor with foreign characters", coll, dbservice.Query{Cursor: "!!!"}},
		{"cursor of garbage", coll, dbservice.Query{Cursor: "Zm9vYmFy"}},
		{"cursor too long", coll, dbservice.Query{Cursor: strings.Repeat("A", 5000)}},
		{"truncated cursor", coll, dbservice.Query{Limit: 1, Cursor: first.Next[:len(first.Next)-6]}},
		{"cursor from another collection", other, dbservice.Query{Limit: 1, Cursor: first.Next}},
		{"cursor from another query", coll, dbservice.Query{Limit: 1, Cursor: first.Next, Where: []dbservice.Cond{W("name", dbservice.Eq, "n")}}},
	}
	for _, b := range bad {
		_, err := s.Query(ctx(t), b.coll, b.query)
		wantErr(t, "Query with "+b.name, err, dbservice.ErrInvalid)
	}
	wantErr(t, "EnsureIndex without fields", s.EnsureIndex(ctx(t), coll), dbservice.ErrInvalid)
	wantErr(t, "EnsureIndex on an operator", s.EnsureIndex(ctx(t), coll, "$where"), dbservice.ErrInvalid)
}

func testEnsureIndex(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	for range 2 {
		if err := s.EnsureIndex(ctx(t), coll, "name"); err != nil {
			t.Fatalf("EnsureIndex(name): %v", err)
		}
		if err := s.EnsureIndex(ctx(t), coll, "owner.tier", "age"); err != nil {
			t.Fatalf("EnsureIndex(owner.tier, age): %v", err)
		}
	}
	mustSave(t, s, coll, "i1", dbservice.Doc{"name": "x", "age": 3, "owner": map[string]any{"tier": "gold"}})
	mustSave(t, s, coll, "i2", dbservice.Doc{"name": "y", "age": 4})
	got := walk(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("name", dbservice.Eq, "x")}})
	wantOnce(t, "query on an indexed field", ids(got), []string{"i1"})
	got = walk(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("owner.tier", dbservice.Eq, "gold"), dbservice.Where("age", dbservice.Gte, 3)}})
	wantOnce(t, "query on a compound index", ids(got), []string{"i1"})
}

func testConcurrentIncrements(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "counter", dbservice.Doc{"n": 0})
	const workers, increments, maxAttempts = 8, 25, 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for range workers {
		wg.Go(func() {
			for range increments {
				for attempt := 0; ; attempt++ {
					if attempt == maxAttempts {
						t.Errorf("an increment did not succeed in %d attempts", maxAttempts)
						return
					}
					d, err := s.Get(context.Background(), coll, "counter")
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					rev, _ := d["_rev"].(string)
					_, err = s.Save(context.Background(), coll, "counter", dbservice.Doc{"n": d["n"].(float64) + 1}, dbservice.IfRev(rev))
					if err == nil {
						break
					}
					if !errors.Is(err, dbservice.ErrConflict) {
						t.Errorf("Save with IfRev: %v", err)
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := mustGet(t, s, coll, "counter")["n"]
	if got != float64(workers*increments) {
		t.Fatalf("counter = %v after %d IfRev increments, want %d (updates were lost)", got, workers*increments, workers*increments)
	}
	t.Logf("%d conflicts retried", conflicts)
}

func testConcurrentIfAbsent(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	const workers = 8
	var wg sync.WaitGroup
	results := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			_, results[i] = s.Save(context.Background(), coll, "one", dbservice.Doc{"winner": i}, dbservice.IfAbsent())
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("workers %d and %d both created the document with IfAbsent", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, dbservice.ErrConflict):
			t.Fatalf("worker %d: %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no worker created the document")
	}
	wantBody(t, "the winner's document", mustGet(t, s, coll, "one"), dbservice.Doc{"winner": float64(winner)})
}

func testCancelled(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "exists", dbservice.Doc{"v": 1})
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(c, coll, "exists")
	wantErr(t, "Get", err, context.Canceled)
	_, err = s.Save(c, coll, "new", dbservice.Doc{"v": 1})
	wantErr(t, "Save", err, context.Canceled)
	wantErr(t, "Delete", s.Delete(c, coll, "exists"), context.Canceled)
	_, err = s.Query(c, coll, dbservice.Query{})
	wantErr(t, "Query", err, context.Canceled)
	wantErr(t, "EnsureIndex", s.EnsureIndex(c, coll, "v"), context.Canceled)
	wantErr(t, "Ping", s.Ping(c), context.Canceled)
	_, err = s.Get(ctx(t), coll, "new")
	wantErr(t, "Get of a document saved with a cancelled context", err, dbservice.ErrNotFound)
	mustGet(t, s, coll, "exists")
}

func testIsolation(t *testing.T, s dbservice.Service) {
	a, b := Collection(t), Collection(t)
	mustSave(t, s, a, "same", dbservice.Doc{"in": "a"})
	mustSave(t, s, b, "same", dbservice.Doc{"in": "b"})
	mustSave(t, s, b, "only-b", dbservice.Doc{"in": "b"})
	wantBody(t, "collection a", mustGet(t, s, a, "same"), dbservice.Doc{"in": "a"})
	wantBody(t, "collection b", mustGet(t, s, b, "same"), dbservice.Doc{"in": "b"})
	wantOnce(t, "query of a", ids(walk(t, s, a, dbservice.Query{})), []string{"same"})
	if err := s.Delete(ctx(t), a, "same"); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "collection b after deleting in a", mustGet(t, s, b, "same"), dbservice.Doc{"in": "b"})
	_, err := s.Get(ctx(t), a, "only-b")
	wantErr(t, "Get across collections", err, dbservice.ErrNotFound)
}

type typedAgent struct {
	ID      string    `json:"_id,omitempty"`
	Rev     string    `json:"_rev,omitempty"`
	Name    string    `json:"name"`
	Skills  []string  `json:"skills"`
	Created time.Time `json:"created"`
	Owner   struct {
		ID string `json:"id"`
	} `json:"owner"`
	Runs int `json:"runs"`
}

func testTyped(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	in := typedAgent{ID: "ignored", Name: "gofannon", Skills: []string{"search", "summarize"}, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Runs: 7}
	in.Owner.ID = "u1"
	rev, err := dbservice.SaveAs(ctx(t), s, coll, "agent-1", in)
	if err != nil {
		t.Fatalf("SaveAs: %v", err)
	}
	out, err := dbservice.GetAs[typedAgent](ctx(t), s, coll, "agent-1")
	if err != nil {
		t.Fatalf("GetAs: %v", err)
	}
	if out.ID != "agent-1" || out.Rev != rev {
		t.Fatalf("GetAs ID/Rev = %q/%q, want agent-1/%q", out.ID, out.Rev, rev)
	}
	in.ID, in.Rev = out.ID, out.Rev
	if !out.Created.Equal(in.Created) {
		t.Fatalf("Created = %v, want %v", out.Created, in.Created)
	}
	out.Created = in.Created
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("GetAs = %+v, want %+v", out, in)
	}
	_, err = dbservice.SaveAs(ctx(t), s, coll, "agent-2", []string{"not", "an", "object"})
	wantErr(t, "SaveAs of a non-object", err, dbservice.ErrInvalid)
}

func testErrorHygiene(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	canary := "canary-" + Collection(t)
	_, err := s.Save(ctx(t), coll, "doc", dbservice.Doc{"password": canary, "bad": math.NaN()})
	wantErr(t, "Save of an invalid document", err, dbservice.ErrInvalid)
	checkErr(t, err, "save", coll, canary)

	mustSave(t, s, coll, "doc", dbservice.Doc{"password": canary})
	_, err = s.Save(ctx(t), coll, "doc", dbservice.Doc{"password": canary}, dbservice.IfAbsent())
	wantErr(t, "IfAbsent on an existing document", err, dbservice.ErrConflict)
	checkErr(t, err, "save", coll, canary)

	_, err = s.Get(ctx(t), coll, "absent")
	wantErr(t, "Get of a missing document", err, dbservice.ErrNotFound)
	checkErr(t, err, "get", coll, canary)
	var e *dbservice.Error
	if errors.As(err, &e); e.ID != "absent" {
		t.Fatalf("*Error.ID = %q, want %q", e.ID, "absent")
	}

	// Errors may quote a short prefix of a refused value, never all of it.
	long := strings.Repeat("x", 30) + canary + "/" + strings.Repeat("x", 500)
	_, err = s.Get(ctx(t), coll, long)
	wantErr(t, "Get of a hostile ID", err, dbservice.ErrInvalid)
	if msg := err.Error(); strings.Contains(msg, canary) || len(msg) > 400 {
		t.Fatalf("error for a hostile ID echoes it (%d bytes): %s", len(msg), msg)
	}
}

func checkErr(t *testing.T, err error, op, coll, canary string) {
	t.Helper()
	var e *dbservice.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, want *dbservice.Error", err, err)
	}
	if e.Op != op || e.Collection != coll || e.Provider == "" {
		t.Fatalf("*Error{Op: %q, Collection: %q, Provider: %q}, want Op %q, Collection %q, a provider name", e.Op, e.Collection, e.Provider, op, coll)
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(text, canary) {
			t.Fatalf("error text contains document content: %s", text)
		}
	}
}

func testClose(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "x", dbservice.Doc{"v": 1})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	_, err := s.Get(ctx(t), coll, "x")
	wantErr(t, "Get after Close", err, dbservice.ErrClosed)
	_, err = s.Save(ctx(t), coll, "x", dbservice.Doc{"v": 2})
	wantErr(t, "Save after Close", err, dbservice.ErrClosed)
	_, err = s.Query(ctx(t), coll, dbservice.Query{})
	wantErr(t, "Query after Close", err, dbservice.ErrClosed)
	wantErr(t, "Ping after Close", s.Ping(ctx(t)), dbservice.ErrClosed)
}

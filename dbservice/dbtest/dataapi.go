package dbtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// The data API: Update, GetMany, DeleteMany, Count, expiry, Contains and
// Prefix.

func testUpdateMutations(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	rev := mustSave(t, s, coll, "u", dbservice.Doc{
		"name":  "ada",
		"n":     1,
		"tags":  []any{"a", "b"},
		"drop":  "me",
		"inner": map[string]any{"keep": true, "old": 1},
		"list":  []any{1, "1", true, nil, map[string]any{"k": "v"}},
	})
	rev2, err := s.Update(ctx(t), coll, "u", []dbservice.Mutation{
		dbservice.Set("name", "grace"),
		dbservice.Set("inner.new", map[string]any{"deep": []any{1, 2}}),
		dbservice.Set("made.on.the.way", "x"),
		dbservice.Unset("drop"),
		dbservice.Unset("inner.old"),
		dbservice.Unset("absent.parent.field"),
		dbservice.Increment("n", 2.5),
		dbservice.Increment("fresh", -3),
		dbservice.Append("tags", "b", "c", "c", "d"),
		dbservice.Append("newtags", "x", "x", 1),
		dbservice.Remove("list", "1", nil, map[string]any{"k": "v"}, "absent"),
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if rev2 == "" || rev2 == rev {
		t.Fatalf("Update returned revision %q after %q, want a new one", rev2, rev)
	}
	got := mustGet(t, s, coll, "u")
	if got["_rev"] != rev2 {
		t.Fatalf("_rev after Update = %v, want the revision Update returned (%q)", got["_rev"], rev2)
	}
	wantBody(t, "after Update", got, dbservice.Doc{
		"name":    "grace",
		"n":       3.5,
		"fresh":   float64(-3),
		"tags":    []any{"a", "b", "c", "d"},
		"newtags": []any{"x", float64(1)},
		"inner":   map[string]any{"keep": true, "new": map[string]any{"deep": []any{float64(1), float64(2)}}},
		"made":    map[string]any{"on": map[string]any{"the": map[string]any{"way": "x"}}},
		"list":    []any{float64(1), true},
	})

	// Removing every element leaves an empty array, and a Set replaces a
	// whole value of another type.
	if _, err := s.Update(ctx(t), coll, "u", []dbservice.Mutation{
		dbservice.Remove("tags", "a", "b", "c", "d"),
		dbservice.Set("n", "now text"),
	}); err != nil {
		t.Fatalf("second Update: %v", err)
	}
	got = mustGet(t, s, coll, "u")
	if tags, ok := got["tags"].([]any); !ok || len(tags) != 0 {
		t.Fatalf("tags after removing every element = %#v, want an empty array", got["tags"])
	}
	if got["n"] != "now text" {
		t.Fatalf("n after Set = %#v, want the text", got["n"])
	}
}

func testUpdateConditions(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	// The first version differs from the second: Firestore keeps the
	// revision of a write that changes nothing.
	stale := mustSave(t, s, coll, "c", dbservice.Doc{"s": "text", "n": 0, "obj": map[string]any{"a": 1}, "arr": []any{1}})
	rev := mustSave(t, s, coll, "c", dbservice.Doc{"s": "text", "n": 1, "obj": map[string]any{"a": 1}, "arr": []any{1}})
	refused := []struct {
		what string
		mods []dbservice.Mutation
	}{
		{"an increment of a string", []dbservice.Mutation{dbservice.Increment("s", 1)}},
		{"an increment of an object", []dbservice.Mutation{dbservice.Increment("obj", 1)}},
		{"an append to a number", []dbservice.Mutation{dbservice.Append("n", 1)}},
		{"a remove from a string", []dbservice.Mutation{dbservice.Remove("s", "t")}},
		{"a set through a number", []dbservice.Mutation{dbservice.Set("n.x", 1)}},
		{"a set through an array", []dbservice.Mutation{dbservice.Set("arr.x", 1)}},
		{"a good mutation before a bad one", []dbservice.Mutation{dbservice.Set("ok", 1), dbservice.Increment("s", 1)}},
	}
	for _, c := range refused {
		_, err := s.Update(ctx(t), coll, "c", c.mods)
		wantErr(t, c.what, err, dbservice.ErrInvalid)
		if got := mustGet(t, s, coll, "c"); got["_rev"] != rev {
			t.Fatalf("%s: the document changed (revision %v, was %q); a refused Update must write nothing", c.what, got["_rev"], rev)
		}
	}

	_, err := s.Update(ctx(t), coll, "missing", []dbservice.Mutation{dbservice.Set("a", 1)})
	wantErr(t, "Update of a missing document", err, dbservice.ErrNotFound)
	if _, err := s.Get(ctx(t), coll, "missing"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("a refused Update created the document: Get = %v", err)
	}
	if _, err := s.Update(ctx(t), coll, "created", []dbservice.Mutation{dbservice.Set("a.b", 1), dbservice.Increment("n", 2), dbservice.Append("l", "x")}, dbservice.Upsert()); err != nil {
		t.Fatalf("Update with Upsert of a missing document: %v", err)
	}
	wantBody(t, "document made by Upsert", mustGet(t, s, coll, "created"), dbservice.Doc{
		"a": map[string]any{"b": float64(1)}, "n": float64(2), "l": []any{"x"},
	})

	_, err = s.Update(ctx(t), coll, "c", []dbservice.Mutation{dbservice.Set("a", 1)}, dbservice.IfRev(stale))
	wantErr(t, "Update with a stale IfRev", err, dbservice.ErrConflict)
	rev2, err := s.Update(ctx(t), coll, "c", []dbservice.Mutation{dbservice.Set("a", 1)}, dbservice.IfRev(rev))
	if err != nil {
		t.Fatalf("Update with the current IfRev: %v", err)
	}
	_, err = s.Update(ctx(t), coll, "c", []dbservice.Mutation{dbservice.Set("a", 2)}, dbservice.IfRev(rev))
	wantErr(t, "Update with the revision it replaced", err, dbservice.ErrConflict)
	_, err = s.Update(ctx(t), coll, "missing", []dbservice.Mutation{dbservice.Set("a", 1)}, dbservice.IfRev(rev2))
	if !errors.Is(err, dbservice.ErrConflict) && !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Update of a missing document with IfRev: %v, want ErrNotFound or ErrConflict", err)
	}
	_, err = s.Update(ctx(t), coll, "c", []dbservice.Mutation{dbservice.Set("a", 1)}, dbservice.IfAbsent())
	wantErr(t, "Update with IfAbsent", err, dbservice.ErrInvalid)
	_, err = s.Update(ctx(t), coll, "c", []dbservice.Mutation{dbservice.Set("a", 1)}, dbservice.Upsert(), dbservice.IfRev(rev2))
	wantErr(t, "Upsert with IfRev", err, dbservice.ErrInvalid)
	_, err = s.Save(ctx(t), coll, "c", dbservice.Doc{"a": 1}, dbservice.Upsert())
	wantErr(t, "Save with Upsert", err, dbservice.ErrInvalid)
	if got := mustGet(t, s, coll, "c"); got["_rev"] != rev2 || got["a"] != float64(1) {
		t.Fatalf("after refused writes: a = %v, rev %v; want 1 at %q", got["a"], got["_rev"], rev2)
	}
}

func testHostileMutations(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	const canary = "canary-9d1f0b7e"
	hrev := mustSave(t, s, coll, "h", dbservice.Doc{"a": map[string]any{"b": 1}, "n": 1})
	many := make([]dbservice.Mutation, dbservice.MaxMutations+1)
	for i := range many {
		many[i] = dbservice.Set(fmt.Sprintf("f%d", i), 1)
	}
	bigList := make([]any, validate.MaxInValues+1)
	for i := range bigList {
		bigList[i] = i
	}
	cases := []struct {
		what string
		id   string
		mods []dbservice.Mutation
	}{
		{"no mutations", "h", nil},
		{"more than MaxMutations", "h", many},
		{"an operator key in a set value", "h", []dbservice.Mutation{dbservice.Set("x", map[string]any{"$where": canary})}},
		{"an operator key deep in an appended value", "h", []dbservice.Mutation{dbservice.Append("x", map[string]any{"k": map[string]any{"$gt": canary}})}},
		{"a path into _rev", "h", []dbservice.Mutation{dbservice.Set("_rev", canary)}},
		{"a path into _id", "h", []dbservice.Mutation{dbservice.Set("_id", canary)}},
		{"a path into a system field", "h", []dbservice.Mutation{dbservice.Unset("_expires")}},
		{"an operator path", "h", []dbservice.Mutation{dbservice.Set("$set", canary)}},
		{"a path with an empty name", "h", []dbservice.Mutation{dbservice.Set("a..b", canary)}},
		{"overlapping paths", "h", []dbservice.Mutation{dbservice.Set("a", 1), dbservice.Set("a.b", 2)}},
		{"the same path twice", "h", []dbservice.Mutation{dbservice.Increment("n", 1), dbservice.Increment("n", 1)}},
		{"an increment by text", "h", []dbservice.Mutation{dbservice.Increment("n", canary)}},
		{"an increment by NaN", "h", []dbservice.Mutation{dbservice.Increment("n", nanValue())}},
		{"an increment by an inexact integer", "h", []dbservice.Mutation{dbservice.Increment("n", int64(1)<<53+1)}},
		{"an unknown kind", "h", []dbservice.Mutation{{Kind: "rename", Path: "n", Value: canary}}},
		{"an append of nothing", "h", []dbservice.Mutation{dbservice.Append("x")}},
		{"an append of too many values", "h", []dbservice.Mutation{dbservice.Append("x", bigList...)}},
		{"an oversize string", "h", []dbservice.Mutation{dbservice.Set("x", strings.Repeat("é", validate.DefaultMaxStringLen+1))}},
		{"a hostile ID", "../h", []dbservice.Mutation{dbservice.Set("x", 1)}},
	}
	for _, c := range cases {
		_, err := s.Update(ctx(t), coll, c.id, c.mods)
		wantErr(t, c.what, err, dbservice.ErrInvalid)
		if strings.Contains(err.Error(), canary) {
			t.Fatalf("%s: the error quotes the value: %v", c.what, err)
		}
	}
	// A result larger than the document limit is refused too and writes
	// nothing: 200 KiB stored, 200 KiB more set.
	chunk := func(tag string) map[string]any {
		m := map[string]any{}
		for i := range 20 {
			m[fmt.Sprintf("%s%d", tag, i)] = strings.Repeat("x", 10000)
		}
		return m
	}
	rev := mustSave(t, s, coll, "big", dbservice.Doc{"a": chunk("a")})
	_, err := s.Update(ctx(t), coll, "big", []dbservice.Mutation{dbservice.Set("b", chunk("b")), dbservice.Set("c", chunk("c"))})
	wantErr(t, "an Update whose result exceeds the document limit", err, dbservice.ErrInvalid)
	if got := mustGet(t, s, coll, "big"); got["_rev"] != rev || got["b"] != nil {
		t.Fatalf("a refused oversize Update wrote (rev %v, was %q)", got["_rev"], rev)
	}
	if got := mustGet(t, s, coll, "h"); got["x"] != nil || got["n"] != float64(1) || got["_rev"] != hrev {
		t.Fatalf("a refused Update wrote: %v", body(got))
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func testConcurrentUpdates(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "counter", dbservice.Doc{"n": 0, "seen": []any{}})
	const workers, increments = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range increments {
				_, err := s.Update(context.Background(), coll, "counter", []dbservice.Mutation{
					dbservice.Increment("n", 1),
					dbservice.Append("seen", fmt.Sprintf("%d-%d", w, i)),
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := mustGet(t, s, coll, "counter")
	if got["n"] != float64(workers*increments) {
		t.Fatalf("counter = %v after %d concurrent Update increments, want %d (updates were lost)", got["n"], workers*increments, workers*increments)
	}
	if seen, _ := got["seen"].([]any); len(seen) != workers*increments {
		t.Fatalf("the appended list holds %d values, want %d", len(seen), workers*increments)
	}
}

func testGetMany(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	items := make([]dbservice.BulkItem, 250)
	all := make([]string, len(items))
	for i := range items {
		items[i] = dbservice.BulkItem{ID: idN(i), Doc: dbservice.Doc{"i": i}}
		all[i] = idN(i)
	}
	saveAll(t, s, coll, items)

	ask := []string{idN(7), "nope-1", idN(3), idN(249), "nope-2", idN(0)}
	docs, missing, err := s.GetMany(ctx(t), coll, ask)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if got := idsInOrder(docs); !slices.Equal(got, []string{idN(7), idN(3), idN(249), idN(0)}) {
		t.Fatalf("GetMany found %v, want the present IDs in the order asked", got)
	}
	if !slices.Equal(missing, []string{"nope-1", "nope-2"}) {
		t.Fatalf("GetMany missing = %v, want the absent IDs in the order asked", missing)
	}
	for _, d := range docs {
		want := mustGet(t, s, coll, d["_id"].(string))
		if d["_rev"] != want["_rev"] {
			t.Fatalf("GetMany %v: _rev %v, Get says %v", d["_id"], d["_rev"], want["_rev"])
		}
		wantBody(t, "GetMany document", d, body(want))
	}

	// More IDs than one backend call takes (DynamoDB: 100).
	slices.Reverse(all)
	docs, missing, err = s.GetMany(ctx(t), coll, all)
	if err != nil || len(missing) != 0 {
		t.Fatalf("GetMany of 250 = %d docs, missing %v, err %v", len(docs), missing, err)
	}
	if !slices.Equal(idsInOrder(docs), all) {
		t.Fatal("GetMany of 250 IDs did not return them in the order asked")
	}

	docs, missing, err = s.GetMany(ctx(t), coll, nil)
	if err != nil || len(docs) != 0 || len(missing) != 0 {
		t.Fatalf("GetMany of no IDs = %d docs, missing %v, err %v; want nothing", len(docs), missing, err)
	}
	docs, missing, err = s.GetMany(ctx(t), Collection(t), []string{"a", "b"})
	if err != nil || len(docs) != 0 || !slices.Equal(missing, []string{"a", "b"}) {
		t.Fatalf("GetMany in a collection never written = %d docs, missing %v, err %v", len(docs), missing, err)
	}

	tooMany := make([]string, dbservice.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("id-%d", i)
	}
	for what, bad := range map[string][]string{
		"an invalid ID among good ones": {idN(1), "../etc", idN(2)},
		"an empty ID":                   {idN(1), ""},
		"an ID twice":                   {idN(1), idN(1)},
		"more than MaxBatch IDs":        tooMany,
		"an operator as ID":             {"$gt"},
	} {
		_, _, err := s.GetMany(ctx(t), coll, bad)
		wantErr(t, "GetMany with "+what, err, dbservice.ErrInvalid)
	}
}

func testDeleteMany(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	items := make([]dbservice.BulkItem, 60)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: idN(i), Doc: dbservice.Doc{"i": i}}
	}
	saveAll(t, s, coll, items)

	err := s.DeleteMany(ctx(t), coll, []string{idN(1), "../x", idN(2)})
	wantErr(t, "DeleteMany with an invalid ID", err, dbservice.ErrInvalid)
	if got := walkIDs(t, s, coll, dbservice.Query{}); len(got) != 60 {
		t.Fatalf("a refused DeleteMany deleted documents: %d left of 60", len(got))
	}

	var del []string
	for i := 0; i < 60; i += 2 {
		del = append(del, idN(i))
	}
	del = append(del, "never-1", "never-2")
	if err := s.DeleteMany(ctx(t), coll, del); err != nil {
		t.Fatalf("DeleteMany: %v", err)
	}
	var want []string
	for i := 1; i < 60; i += 2 {
		want = append(want, idN(i))
	}
	wantOnce(t, "documents left after DeleteMany", walkIDs(t, s, coll, dbservice.Query{}), want)
	for _, id := range del[:3] {
		if _, err := s.Get(ctx(t), coll, id); !errors.Is(err, dbservice.ErrNotFound) {
			t.Fatalf("Get of %s after DeleteMany = %v, want ErrNotFound", id, err)
		}
	}
	if err := s.DeleteMany(ctx(t), coll, del); err != nil {
		t.Fatalf("a repeated DeleteMany: %v, want success (it skips missing IDs)", err)
	}
	if err := s.DeleteMany(ctx(t), coll, nil); err != nil {
		t.Fatalf("DeleteMany of no IDs: %v", err)
	}
}

func testCount(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	items := make([]dbservice.BulkItem, 120)
	for i := range items {
		d := dbservice.Doc{"i": i, "team": fmt.Sprintf("t%d", i%4), "tags": []any{fmt.Sprintf("g%d", i%3), "all"}}
		if i%5 == 0 {
			d["name"] = fmt.Sprintf("n%03d", i)
		}
		items[i] = dbservice.BulkItem{ID: idN(i), Doc: d}
	}
	saveAll(t, s, coll, items)
	W := dbservice.Where
	cases := []struct {
		what  string
		where []dbservice.Cond
		want  int
	}{
		{"every document", nil, 120},
		{"an equality", []dbservice.Cond{W("team", dbservice.Eq, "t1")}, 30},
		{"a range", []dbservice.Cond{W("i", dbservice.Gte, 100)}, 20},
		{"an equality and a range", []dbservice.Cond{W("team", dbservice.Eq, "t2"), W("i", dbservice.Lt, 50)}, 12},
		{"a contains", []dbservice.Cond{W("tags", dbservice.Contains, "g0")}, 40},
		{"a prefix", []dbservice.Cond{W("name", dbservice.Prefix, "n1")}, 4},
		{"no match", []dbservice.Cond{W("team", dbservice.Eq, "nobody")}, 0},
		{"an _id equality", []dbservice.Cond{W("_id", dbservice.Eq, idN(7))}, 1},
		{"an _id list and a field", []dbservice.Cond{W("_id", dbservice.In, []string{idN(1), idN(2), idN(5), "nope"}), W("team", dbservice.Eq, "t1")}, 2},
	}
	for _, c := range cases {
		n, err := s.Count(ctx(t), coll, c.where)
		if err != nil || n != c.want {
			t.Fatalf("Count of %s = %d, %v; want %d", c.what, n, err, c.want)
		}
		if q := walkIDs(t, s, coll, dbservice.Query{Where: c.where}); len(q) != n {
			t.Fatalf("Count of %s = %d but the query returns %d", c.what, n, len(q))
		}
	}
	n, err := s.Count(ctx(t), Collection(t), nil)
	if err != nil || n != 0 {
		t.Fatalf("Count of a collection never written = %d, %v", n, err)
	}

	// Past the scan budget a count is a lower bound, flagged by its error.
	n, err = s.Count(dbservice.WithScanBudget(ctx(t), 50), coll, nil)
	wantErr(t, "Count past the scan budget", err, dbservice.ErrBudgetExceeded)
	if n > 120 {
		t.Fatalf("Count past the budget = %d, more than the 120 documents", n)
	}
	n, err = s.Count(dbservice.WithScanBudget(ctx(t), 500), coll, nil)
	if err != nil || n != 120 {
		t.Fatalf("Count within a budget of 500 = %d, %v; want 120", n, err)
	}

	_, err = s.Count(ctx(t), coll, []dbservice.Cond{W("$where", dbservice.Eq, 1)})
	wantErr(t, "Count with an operator field", err, dbservice.ErrInvalid)
	_, err = s.Count(ctx(t), coll, []dbservice.Cond{W("i", "$regex", ".*")})
	wantErr(t, "Count with an unknown operator", err, dbservice.ErrInvalid)
}

func testContainsPrefix(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	docs := map[string]dbservice.Doc{
		"p1": {"tags": []any{"go", "db", 1, true}, "name": "alpha"},
		"p2": {"tags": []any{"rust", nil, "Go"}, "name": "alphabet"},
		"p3": {"tags": []any{[]any{"go"}, map[string]any{"go": 1}, 1.5}, "name": "Alpha"},
		"p4": {"tags": "go", "name": "al-pha"},
		"p5": {"tags": []any{}, "name": "älpha"},
		"p6": {"name": 12, "tags": []any{"1"}},
		"p7": {"name": "al", "tags": []any{false, "db"}},
		"p8": {"name": "al.pha/x%_*", "tags": []any{"db", "db"}},
	}
	for id, d := range docs {
		mustSave(t, s, coll, id, d)
	}
	W := dbservice.Where
	cases := []struct {
		what string
		cond dbservice.Cond
		want []string
	}{
		{"contains a string", W("tags", dbservice.Contains, "go"), []string{"p1"}},
		{"contains is case sensitive", W("tags", dbservice.Contains, "Go"), []string{"p2"}},
		{"contains a number, not its text", W("tags", dbservice.Contains, 1), []string{"p1"}},
		{"contains text, not the number", W("tags", dbservice.Contains, "1"), []string{"p6"}},
		{"contains a fraction", W("tags", dbservice.Contains, 1.5), []string{"p3"}},
		{"contains true", W("tags", dbservice.Contains, true), []string{"p1"}},
		{"contains false", W("tags", dbservice.Contains, false), []string{"p7"}},
		{"contains null", W("tags", dbservice.Contains, nil), []string{"p2"}},
		{"contains a repeated value once", W("tags", dbservice.Contains, "db"), []string{"p1", "p7", "p8"}},
		{"contains nothing", W("tags", dbservice.Contains, "none"), nil},
		{"prefix of strings only", W("name", dbservice.Prefix, "al"), []string{"p1", "p2", "p4", "p7", "p8"}},
		{"prefix is the whole string", W("name", dbservice.Prefix, "alpha"), []string{"p1", "p2"}},
		{"prefix is case sensitive", W("name", dbservice.Prefix, "Al"), []string{"p3"}},
		{"prefix beyond ASCII", W("name", dbservice.Prefix, "ä"), []string{"p5"}},
		{"prefix with punctuation", W("name", dbservice.Prefix, "al."), []string{"p8"}},
		{"prefix with pattern characters is literal", W("name", dbservice.Prefix, "al.pha/x%_"), []string{"p8"}},
		{"empty prefix matches every string", W("name", dbservice.Prefix, ""), []string{"p1", "p2", "p3", "p4", "p5", "p7", "p8"}},
		{"prefix longer than every value", W("name", dbservice.Prefix, "alphabets"), nil},
	}
	for _, c := range cases {
		for _, limit := range []int{2, 100} {
			got := walk(t, s, coll, dbservice.Query{Where: []dbservice.Cond{c.cond}, Limit: limit})
			wantOnce(t, fmt.Sprintf("%s (pages of %d)", c.what, limit), ids(got), c.want)
		}
	}
	// Both combine with the other conditions and with an index.
	if err := s.EnsureIndex(ctx(t), coll, "name"); err != nil {
		t.Fatalf("EnsureIndex: %v", err)
	}
	got := walk(t, s, coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.Prefix, "alp"), W("tags", dbservice.Contains, "Go")}})
	wantOnce(t, "prefix and contains together, indexed", ids(got), []string{"p2"})
	got = walk(t, s, coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.Prefix, "al")}, OrderBy: []dbservice.Order{dbservice.Desc("name")}})
	wantSeq(t, "prefix ordered by the same field", idsInOrder(got), []string{"p2", "p1", "p8", "p4", "p7"})

	_, err := s.Query(ctx(t), coll, dbservice.Query{Where: []dbservice.Cond{W("name", dbservice.Prefix, 1)}})
	wantErr(t, "prefix of a number", err, dbservice.ErrInvalid)
	_, err = s.Query(ctx(t), coll, dbservice.Query{Where: []dbservice.Cond{W("tags", dbservice.Contains, []any{"go"})}})
	wantErr(t, "contains an array", err, dbservice.ErrInvalid)
}

func testExpiry(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	_, err := s.Save(ctx(t), coll, "past", dbservice.Doc{"a": 1}, dbservice.ExpiresAt(time.Now().Add(-time.Second)))
	wantErr(t, "an expiry in the past", err, dbservice.ErrInvalid)
	_, err = s.Save(ctx(t), coll, "zero", dbservice.Doc{"a": 1}, dbservice.ExpiresAt(time.Time{}))
	wantErr(t, "a zero expiry", err, dbservice.ErrInvalid)
	err = s.Delete(ctx(t), coll, "x", dbservice.TTL(time.Hour))
	wantErr(t, "a Delete with an expiry", err, dbservice.ErrInvalid)

	// The expiry is set well ahead of the server round trips of the setup
	// and the test waits for the process clock to pass it: the contract is
	// that the documents are gone from that instant, on the caller's clock.
	// A setup that outlasts its window (a loaded machine, a cluster) proves
	// nothing either way, so it is run again, in a fresh collection, with a
	// window twice as long.
	for window := 4 * time.Second; ; window *= 2 {
		if expirySetup(t, s, Collection(t), window) {
			return
		}
		if window >= 32*time.Second {
			t.Fatalf("the setup took longer than the expiry it set, even with %v", window)
		}
		t.Logf("the setup took longer than its %v expiry window; again with %v", window, 2*window)
	}
}

// expirySetup is testExpiry in coll with documents expiring window from
// now. It returns false, having checked nothing after the expiry, when the
// setup outlasted the window.
func expirySetup(t *testing.T, s dbservice.Service, coll string, window time.Duration) bool {
	far := time.Now().Add(time.Hour)
	exp := time.Now().Add(window)
	revs := map[string]string{}
	for _, id := range []string{"gone-get", "gone-absent", "gone-rev", "gone-update", "gone-delete"} {
		revs[id] = mustSave(t, s, coll, id, dbservice.Doc{"kind": "short", "id": id}, dbservice.ExpiresAt(exp))
	}
	mustSave(t, s, coll, "kept", dbservice.Doc{"kind": "none"})
	mustSave(t, s, coll, "later", dbservice.Doc{"kind": "long"}, dbservice.ExpiresAt(far))
	mustSave(t, s, coll, "cleared", dbservice.Doc{"kind": "long"}, dbservice.ExpiresAt(far))
	if _, err := s.Update(ctx(t), coll, "later", []dbservice.Mutation{dbservice.Set("touched", true)}); err != nil {
		t.Fatalf("Update of a document with an expiry: %v", err)
	}
	mustSave(t, s, coll, "cleared", dbservice.Doc{"kind": "none"})
	got, err := s.Get(ctx(t), coll, "gone-get")
	if errors.Is(err, dbservice.ErrNotFound) && time.Now().After(exp) {
		return false
	}
	if err != nil {
		t.Fatalf("Get(%s/gone-get) before its expiry: %v", coll, err)
	}
	if want := validate.FormatTime(exp.UTC().Truncate(time.Microsecond)); got[dbservice.ExpiresField] != want {
		t.Fatalf("%s before expiry = %v, want %q", dbservice.ExpiresField, got[dbservice.ExpiresField], want)
	}
	if got := mustGet(t, s, coll, "later"); got[dbservice.ExpiresField] != validate.FormatTime(far.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("an Update without ExpiresAt changed the expiry to %v", got[dbservice.ExpiresField])
	}
	if got := mustGet(t, s, coll, "cleared"); got[dbservice.ExpiresField] != nil {
		t.Fatalf("a Save without ExpiresAt kept the expiry %v", got[dbservice.ExpiresField])
	}
	if time.Now().After(exp) {
		return false
	}
	time.Sleep(time.Until(exp) + 20*time.Millisecond)

	if _, err := s.Get(ctx(t), coll, "gone-get"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get of an expired document = %v, want ErrNotFound", err)
	}
	docs, missing, err := s.GetMany(ctx(t), coll, []string{"gone-get", "kept", "gone-rev"})
	if err != nil || !slices.Equal(idsInOrder(docs), []string{"kept"}) || !slices.Equal(missing, []string{"gone-get", "gone-rev"}) {
		t.Fatalf("GetMany after expiry = %v, missing %v, err %v; want only kept", idsInOrder(docs), missing, err)
	}
	wantOnce(t, "Query after expiry", walkIDs(t, s, coll, dbservice.Query{}), []string{"kept", "later", "cleared"})
	wantOnce(t, "Query on a field after expiry", walkIDs(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("kind", dbservice.Eq, "short")}}), nil)
	if n, err := s.Count(ctx(t), coll, nil); err != nil || n != 3 {
		t.Fatalf("Count after expiry = %d, %v; want 3", n, err)
	}
	if _, err := s.Save(ctx(t), coll, "gone-absent", dbservice.Doc{"new": true}, dbservice.IfAbsent()); err != nil {
		t.Fatalf("IfAbsent over an expired document: %v, want success (it is absent)", err)
	}
	if got := mustGet(t, s, coll, "gone-absent"); got["new"] != true || got[dbservice.ExpiresField] != nil || got["kind"] != nil {
		t.Fatalf("the document made over an expired one = %v", body(got))
	}
	_, err = s.Save(ctx(t), coll, "gone-rev", dbservice.Doc{"a": 1}, dbservice.IfRev(revs["gone-rev"]))
	wantErr(t, "IfRev with the revision of an expired document", err, dbservice.ErrConflict)
	_, err = s.Update(ctx(t), coll, "gone-update", []dbservice.Mutation{dbservice.Set("a", 1)})
	wantErr(t, "Update of an expired document", err, dbservice.ErrNotFound)
	err = s.Delete(ctx(t), coll, "gone-delete")
	wantErr(t, "Delete of an expired document", err, dbservice.ErrNotFound)
	if _, err := s.Update(ctx(t), coll, "gone-update", []dbservice.Mutation{dbservice.Increment("n", 1)}, dbservice.Upsert()); err != nil {
		t.Fatalf("Upsert over an expired document: %v", err)
	}
	if got := mustGet(t, s, coll, "gone-update"); got["n"] != float64(1) || got["kind"] != nil || got[dbservice.ExpiresField] != nil {
		t.Fatalf("Upsert over an expired document kept its old content: %v", body(got))
	}

	if sw, ok := sweeperOf(s); ok {
		if _, err := sw.SweepExpired(ctx(t), coll, 0); err != nil {
			t.Fatalf("SweepExpired: %v", err)
		}
		wantOnce(t, "Query after the sweep", walkIDs(t, s, coll, dbservice.Query{}), []string{"kept", "later", "cleared", "gone-absent", "gone-update"})
	}
	return true
}

// sweeperOf finds a Sweeper under any middleware.
func sweeperOf(s dbservice.Service) (dbservice.Sweeper, bool) {
	for range 32 {
		if sw, ok := s.(dbservice.Sweeper); ok {
			return sw, true
		}
		w, ok := s.(dbservice.Wrapper)
		if !ok {
			return nil, false
		}
		s = w.Unwrap()
	}
	return nil, false
}

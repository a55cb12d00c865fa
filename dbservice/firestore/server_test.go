package firestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

func TestRefusedInputSendsNothing(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec, func(c *Config) {
		// Baseline limits off, so that Firestore's own limits are what
		// refuses the oversize documents below.
		c.Limits = validate.Limits{MaxStringLen: -1, MaxDepth: -1, MaxDocBytes: -1}
	})
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "existing", dbservice.Doc{"v": "kept"}); err != nil {
		t.Fatal(err)
	}
	if rec.total() == 0 {
		t.Fatal("the counter saw no RPC for a Save: it counts nothing")
	}
	rec.reset()

	nestedMaps := func(n int) any {
		var v any = 1.0
		for range n {
			v = map[string]any{"m": v}
		}
		return v
	}
	q, err := dbservice.CheckQuery(dbservice.Query{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := dbservice.ProcessCursorSigner().Encode(coll, q, cursorState{After: "../other/doc"})
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{}
	for _, id := range []string{
		"../etc/passwd", "a/b", "other-collection/doc", strings.Repeat("../", 10) + "x", ".", "..",
		"__name__", "__x__", strings.Repeat("a", 1501), "a\x00b", "",
	} {
		calls = append(calls,
			struct {
				name string
				call func() error
			}{fmt.Sprintf("Get(%.20q)", id), func() error { _, err := s.Get(ctx, coll, id); return err }},
			struct {
				name string
				call func() error
			}{fmt.Sprintf("Save(%.20q)", id), func() error { _, err := s.Save(ctx, coll, id, dbservice.Doc{"v": 1}); return err }},
			struct {
				name string
				call func() error
			}{fmt.Sprintf("Delete(%.20q)", id), func() error { return s.Delete(ctx, coll, id) }},
			struct {
				name string
				call func() error
			}{fmt.Sprintf("SaveMany with %.20q", id), func() error {
				return s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "fine", Doc: dbservice.Doc{"v": 1}}, {ID: id, Doc: dbservice.Doc{"v": 1}}})
			}},
		)
	}
	docs := map[string]dbservice.Doc{
		"a reserved nested field name":             {"m": map[string]any{"__x__": 1}},
		"a document over 1 MiB":                    {"a": strings.Repeat("a", 700000), "b": strings.Repeat("b", 700000)},
		"a string over Firestore's value limit":    {"a": strings.Repeat("a", maxValueBytes+1)},
		"21 levels of maps":                        {"f": nestedMaps(21)},
		"11 arrays in arrays (21 levels wrapped)":  {"f": nest(1.0, 11, false)},
		"an operator key":                          {"$where": "1"},
		"NaN":                                      {"x": math.NaN()},
		"a key with a dot, the wrapper's own form": {"securedb.array": []any{1}},
	}
	for name, doc := range docs {
		calls = append(calls,
			struct {
				name string
				call func() error
			}{"Save of " + name, func() error { _, err := s.Save(ctx, coll, "fresh", doc); return err }},
			struct {
				name string
				call func() error
			}{"overwrite with " + name, func() error { _, err := s.Save(ctx, coll, "existing", doc); return err }},
			struct {
				name string
				call func() error
			}{"SaveMany with " + name, func() error {
				return s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "fine", Doc: dbservice.Doc{"v": 1}}, {ID: "bad", Doc: doc}})
			}},
		)
	}
	for _, c := range []struct {
		name string
		coll string
		q    dbservice.Query
	}{
		{"a forged cursor pointing into another collection", coll, dbservice.Query{Limit: 1, Cursor: forged}},
		{"a condition on a reserved field", coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("__name__", dbservice.Eq, "x")}}},
		{"an operator as field", coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("$where", dbservice.Eq, "x")}}},
		{"a projection of a path with a slash", coll, dbservice.Query{Fields: []string{"a/b"}}},
		{"a collection with a slash", "a/b", dbservice.Query{}},
		{"a reserved collection", "__x__", dbservice.Query{}},
	} {
		calls = append(calls, struct {
			name string
			call func() error
		}{"Query with " + c.name, func() error { _, err := s.Query(ctx, c.coll, c.q); return err }})
	}
	calls = append(calls,
		struct {
			name string
			call func() error
		}{"EnsureIndex on a reserved field", func() error { return s.EnsureIndex(ctx, coll, "__name__") }},
		struct {
			name string
			call func() error
		}{"EnsureIndex on a valid field (single-field indexes exist)", func() error {
			if err := s.EnsureIndex(ctx, coll, "name", "owner.id"); err != nil {
				return err
			}
			return dbservice.ErrInvalid
		}},
	)

	for _, c := range calls {
		err := c.call()
		if !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("%s = %v, want ErrInvalid", c.name, err)
		}
	}
	if n := rec.total(); n != 0 {
		t.Fatalf("refused input sent %d RPCs: %v", n, rec.snapshot())
	}
	d, err := s.Get(ctx, coll, "existing")
	if err != nil || d["v"] != "kept" {
		t.Fatalf("the document after refused overwrites = %v, %v", d, err)
	}
	if _, err := s.Get(ctx, coll, "fresh"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get of a document only refused writes named = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, coll, "fine"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("SaveMany with one bad item wrote another: %v", err)
	}
}

func TestIfRevRaceOnOneDocumentHasOneWinner(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	for round := range 5 {
		rev, err := s.Save(ctx, coll, "contested", dbservice.Doc{"round": round})
		if err != nil {
			t.Fatal(err)
		}
		const racers = 8
		errs := make([]error, racers)
		revs := make([]string, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				revs[i], errs[i] = s.Save(context.Background(), coll, "contested", dbservice.Doc{"round": round, "winner": i}, dbservice.IfRev(rev))
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both won with the same revision", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, dbservice.ErrConflict):
				t.Fatalf("round %d: racer %d: %v, want ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		d, err := s.Get(ctx, coll, "contested")
		if err != nil {
			t.Fatal(err)
		}
		if d["winner"] != float64(winner) || d["_rev"] != revs[winner] {
			t.Fatalf("round %d: stored %v, want the winner %d's document and revision %s", round, d, winner, revs[winner])
		}
	}
}

func TestPagingIsExactlyOnceOver1000Documents(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	const n = 1000
	items := make([]dbservice.BulkItem, n)
	want := make([]string, n)
	for i := range items {
		want[i] = fmt.Sprintf("doc-%04d", i)
		items[i] = dbservice.BulkItem{ID: want[i], Doc: dbservice.Doc{"n": i, "even": i%2 == 0}}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatalf("SaveMany: %v", err)
	}
	cases := []struct {
		name  string
		where []dbservice.Cond
		keep  func(i int) bool
	}{
		{"every document", nil, func(int) bool { return true }},
		{"an equality sent to Firestore", []dbservice.Cond{dbservice.Where("even", dbservice.Eq, true)}, func(i int) bool { return i%2 == 0 }},
		{"a range filtered on the client", []dbservice.Cond{dbservice.Where("n", dbservice.Gte, 900)}, func(i int) bool { return i >= 900 }},
		{"both", []dbservice.Cond{dbservice.Where("even", dbservice.Eq, false), dbservice.Where("n", dbservice.Lt, 10)}, func(i int) bool { return i%2 == 1 && i < 10 }},
	}
	for _, c := range cases {
		var wantIDs []string
		for i, id := range want {
			if c.keep(i) {
				wantIDs = append(wantIDs, id)
			}
		}
		for _, limit := range []int{1000, 333, 7} {
			t.Run(fmt.Sprintf("%s in pages of %d", c.name, limit), func(t *testing.T) {
				var got []string
				q := dbservice.Query{Where: c.where, Limit: limit}
				for pages := 0; ; pages++ {
					if pages > n+1 {
						t.Fatal("the cursor does not advance")
					}
					p, err := s.Query(ctx, coll, q)
					if err != nil {
						t.Fatalf("Query: %v", err)
					}
					if len(p.Docs) > limit {
						t.Fatalf("a page of %d documents exceeds Limit %d", len(p.Docs), limit)
					}
					for _, d := range p.Docs {
						got = append(got, d["_id"].(string))
					}
					if p.Next == "" {
						break
					}
					q.Cursor = p.Next
				}
				if !slices.Equal(got, wantIDs) {
					t.Fatalf("got %d documents, want %d, each once, in ID order", len(got), len(wantIDs))
				}
			})
		}
	}

	// An equality Firestore evaluates reads one chunk: one RunQuery.
	rec.reset()
	p, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("n", dbservice.Eq, 500)}})
	if err != nil || len(p.Docs) != 1 || p.Next != "" {
		t.Fatalf("Query n == 500 = %d docs, next %q, %v", len(p.Docs), p.Next, err)
	}
	if got := rec.snapshot(); got["/google.firestore.v1.Firestore/RunQuery"] != 1 || rec.total() != 1 {
		t.Fatalf("an equality query sent %v, want one RunQuery", got)
	}
}

// referenceDocs mixes every type at the paths the queries below read, with
// fields missing, null, nested and in arrays.
var referenceDocs = map[string]dbservice.Doc{
	"r01": {"s": "alpha", "n": 1, "b": true, "o": map[string]any{"k": "x", "n": 1}, "arr": []any{1, []any{2}}},
	"r02": {"s": "Beta", "n": 2.5, "b": false, "o": map[string]any{"k": "y"}, "nul": nil},
	"r03": {"s": "émile", "n": -3, "b": "true", "o": "not a map", "nul": "set"},
	"r04": {"s": 4, "n": "4", "b": nil, "o": map[string]any{"k": nil, "n": 2}},
	"r05": {"s": nil, "n": nil, "o": map[string]any{}, "arr": []any{}},
	"r06": {"n": 0, "s": "", "o": map[string]any{"k": map[string]any{"deep": true}}},
	"r07": {},
	"r08": {"s": "zeta", "n": 1e300, "b": true, "arr": []any{"s"}, "o": map[string]any{"k": "x", "n": 3}},
	"r09": {"s": "alpha", "n": 1, "b": true, "o": map[string]any{"k": "x", "n": 1}},
	"r10": {"s": []any{"alpha"}, "n": map[string]any{"n": 1}, "b": []any{true}},
}

// TestQueriesAgreeWithTheReferenceProvider runs the same queries on the
// memory provider (the reference) and on Firestore: the walks must hold the
// same documents (in ID order after sorting: a range is read in the order
// of its field).
func TestQueriesAgreeWithTheReferenceProvider(t *testing.T) {
	s := newServer(t)
	ref := memory.New()
	ctx, coll := t.Context(), dbtest.Collection(t)
	for id, d := range referenceDocs {
		if _, err := s.Save(ctx, coll, id, d); err != nil {
			t.Fatal(err)
		}
		if _, err := ref.Save(ctx, coll, id, d); err != nil {
			t.Fatal(err)
		}
	}
	W := dbservice.Where
	var queries [][]dbservice.Cond
	for _, field := range []string{"s", "n", "b", "nul", "o", "o.k", "o.n", "o.k.deep", "arr", "missing", "_id"} {
		for _, v := range []any{"alpha", "x", "", 1, -3, 2.5, "4", true, nil} {
			for _, op := range []dbservice.Op{dbservice.Eq, dbservice.Ne, dbservice.Gt, dbservice.Gte, dbservice.Lt, dbservice.Lte} {
				if _, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{W(field, op, v)}}); err == nil {
					queries = append(queries, []dbservice.Cond{W(field, op, v)})
				}
			}
		}
		queries = append(queries,
			[]dbservice.Cond{W(field, dbservice.Exists, true)},
			[]dbservice.Cond{W(field, dbservice.Exists, false)},
			[]dbservice.Cond{W(field, dbservice.In, []any{"alpha", 1, true})},
			[]dbservice.Cond{W(field, dbservice.In, []any{nil, "x"})},
			[]dbservice.Cond{W(field, dbservice.In, []any{"r01", "r04", "nope", "a/b"})},
		)
	}
	queries = append(queries,
		[]dbservice.Cond{W("o.k", dbservice.Eq, "x"), W("n", dbservice.Lt, 2)},
		[]dbservice.Cond{W("s", dbservice.In, []any{"alpha", "zeta"}), W("o.n", dbservice.In, []any{1, 3}), W("b", dbservice.Eq, true)},
		[]dbservice.Cond{W("_id", dbservice.Gt, "r03"), W("b", dbservice.Ne, false)},
		[]dbservice.Cond{W("_id", dbservice.Eq, "r01"), W("s", dbservice.Eq, "alpha")},
		[]dbservice.Cond{W("_id", dbservice.Eq, "a/b")},
		[]dbservice.Cond{W("_id", dbservice.Eq, 1)},
	)
	shapes := []dbservice.Query{{Limit: 2}, {Limit: 100, Fields: []string{"o.k", "s"}}, {Limit: 1, Fields: []string{"_id"}}}
	for _, where := range queries {
		for _, q := range shapes {
			q.Where = where
			want := walkAll(t, ref, coll, q)
			got := walkAll(t, s, coll, q)
			byID := func(a, b dbservice.Doc) int { return strings.Compare(a["_id"].(string), b["_id"].(string)) }
			slices.SortFunc(want, byID)
			slices.SortFunc(got, byID)
			if !reflect.DeepEqual(bodies(got), bodies(want)) {
				t.Errorf("Query(where %v, limit %d, fields %v):\n got  %v\n want %v", where, q.Limit, q.Fields, bodies(got), bodies(want))
			}
		}
	}
	t.Logf("%d queries agree", len(queries)*len(shapes))
}

func walkAll(t *testing.T, s dbservice.Service, coll string, q dbservice.Query) []dbservice.Doc {
	t.Helper()
	var out []dbservice.Doc
	for d, err := range dbservice.All(t.Context(), s, coll, q) {
		if err != nil {
			t.Fatalf("All(%v): %v", q.Where, err)
		}
		out = append(out, d)
	}
	return out
}

// bodies drops the revisions, which differ between providers.
func bodies(docs []dbservice.Doc) []dbservice.Doc {
	out := make([]dbservice.Doc, len(docs))
	for i, d := range docs {
		c := dbservice.Clone(d)
		if c["_rev"] == nil || c["_rev"] == "" {
			c["_rev"] = "missing"
		} else {
			delete(c, "_rev")
		}
		out[i] = c
	}
	return out
}

func TestNestedArraysAreStoredAsWrapperMaps(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	doc := dbservice.Doc{"list": []any{1, []any{"two", []any{3}}, []any{}}, "grid": []any{[]any{1, 2}, []any{3, 4}}}
	if _, err := s.Save(ctx, coll, "nested", doc); err != nil {
		t.Fatal(err)
	}
	snap, err := s.client.Collection(s.prefix + coll).Doc("nested").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := snap.Data()
	wantStored := map[string]any{
		"list": []any{1.0, map[string]any{arrayKey: []any{"two", map[string]any{arrayKey: []any{3.0}}}}, map[string]any{arrayKey: []any{}}},
		"grid": []any{map[string]any{arrayKey: []any{1.0, 2.0}}, map[string]any{arrayKey: []any{3.0, 4.0}}},
	}
	if !reflect.DeepEqual(stored, wantStored) {
		t.Fatalf("Firestore holds %#v, want %#v", stored, wantStored)
	}
	want, _ := dbservice.NormalizeDoc(doc, validate.Limits{})
	got, err := s.Get(ctx, coll, "nested")
	if err != nil {
		t.Fatal(err)
	}
	delete(got, "_id")
	delete(got, "_rev")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Get = %#v, want %#v", got, want)
	}
	p, err := s.Query(ctx, coll, dbservice.Query{Fields: []string{"grid"}})
	if err != nil || len(p.Docs) != 1 || !reflect.DeepEqual(p.Docs[0]["grid"], want["grid"]) {
		t.Fatalf("Query with a projection = %v, %v", p.Docs, err)
	}
}

func TestTheRevisionIsTheUpdateTime(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	rev, err := s.Save(ctx, coll, "r", dbservice.Doc{"v": 1})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.client.Collection(s.prefix + coll).Doc("r").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := decodeRev(rev); !ok || !got.Equal(snap.UpdateTime) {
		t.Fatalf("revision %q decodes to %v, want the update time %v", rev, got, snap.UpdateTime)
	}
	// Firestore keeps the update time when a write changes nothing.
	again, err := s.Save(ctx, coll, "r", dbservice.Doc{"v": 1})
	if err != nil || again != rev {
		t.Fatalf("saving identical contents gave revision %q (%v), want the unchanged %q", again, err, rev)
	}
	if _, err := s.Save(ctx, coll, "r", dbservice.Doc{"v": 2}, dbservice.IfRev(again)); err != nil {
		t.Fatalf("IfRev with the unchanged revision: %v", err)
	}
}

func TestConditionalDeletesTellMissingFromStale(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	old, err := s.Save(ctx, coll, "d", dbservice.Doc{"v": 1})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.Save(ctx, coll, "d", dbservice.Doc{"v": 2})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		id   string
		rev  string
		want error
	}{
		{"a stale revision is a conflict", "d", old, dbservice.ErrConflict},
		{"a revision never issued is a conflict", "d", "1-notarevision", dbservice.ErrConflict},
		{"a revision of a missing document is not found", "missing", cur, dbservice.ErrNotFound},
		{"a garbage revision of a missing document is not found", "missing", "1-notarevision", dbservice.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Delete(ctx, coll, c.id, dbservice.IfRev(c.rev)); !errors.Is(err, c.want) {
				t.Fatalf("Delete = %v, want %v", err, c.want)
			}
		})
	}
	if err := s.Delete(ctx, coll, "d", dbservice.IfRev(cur)); err != nil {
		t.Fatalf("Delete with the current revision: %v", err)
	}
}

func TestSaveManyWritesEveryItemOnceTheLastWins(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if err := s.SaveMany(ctx, coll, nil); err != nil {
		t.Fatalf("SaveMany of nothing: %v", err)
	}
	if _, err := s.Save(ctx, coll, "b", dbservice.Doc{"stale": true}); err != nil {
		t.Fatal(err)
	}
	items := []dbservice.BulkItem{
		{ID: "a", Doc: dbservice.Doc{"v": 1}},
		{ID: "b", Doc: dbservice.Doc{"v": 2, "list": []any{[]any{1}}}},
		{ID: "a", Doc: dbservice.Doc{"v": 3}},
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatalf("SaveMany: %v", err)
	}
	for id, want := range map[string]dbservice.Doc{"a": {"v": 3.0}, "b": {"v": 2.0, "list": []any{[]any{1.0}}}} {
		got, err := s.Get(ctx, coll, id)
		if err != nil {
			t.Fatal(err)
		}
		delete(got, "_id")
		delete(got, "_rev")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s = %v, want %v (replaced whole, last item wins)", id, got, want)
		}
	}
}

func TestPingAnswersWithoutTouchingData(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got := rec.snapshot(); rec.total() != 1 || got["/google.firestore.v1.Firestore/BatchGetDocuments"] != 1 {
		t.Fatalf("Ping sent %v, want one read", got)
	}
}

package couchdb

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// cornerValues are values whose IndexKey the JavaScript map function must
// reproduce byte for byte: escapes, characters on both sides of the
// UTF-16/UTF-8 order difference, every number class, nesting.
func cornerValues() []any {
	strs := []any{"", "\x00", "\x01", "\x02", "a\x00b", "a\x01", "é", "\uffff", "😀", "\ue000", "\U0010ffff", "Zebra", "alpha", "a.b", `\`, `"q"`}
	nums := []any{0.0, math.Copysign(0, -1), 5e-324, -5e-324, 2.2250738585072014e-308, -1e300, 1e300, math.MaxFloat64, -math.MaxFloat64, float64(1 << 53), -float64(1 << 53), 1.5, -1.5, 42.0, -42.0}
	others := []any{nil, true, false,
		[]any{}, []any{"x", 1.0}, []any{[]any{}, []any{nil}}, []any{"\x00"},
		map[string]any{}, map[string]any{"b": 1.0, "a": 2.0},
		map[string]any{"\ue000": 1.0, "😀": 2.0, "é": 3.0, "z": []any{map[string]any{"\uffff": nil}}},
		map[string]any{"k": map[string]any{"\U0001f600": "\ue000"}},
	}
	return slices.Concat(strs, nums, others)
}

// TestViewKeysAreIndexKeys: the keys the server's map function emits are
// dbservice.IndexKey of the value and then of the ID, byte for byte, and
// the view returns them in Compare's order (raw collation).
func TestViewKeysAreIndexKeys(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	vals := cornerValues()
	want := map[string]string{}
	ids := []string{}
	for i, v := range vals {
		id := fmt.Sprintf("d%03d", i)
		if i%5 == 0 {
			id = "_" + id // stored as ~_...: the key holds the library's ID
		}
		if _, err := s.Save(ctx, coll, id, dbservice.Doc{"v": v, "n": map[string]any{"v": v}}); err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
		ids = append(ids, id)
		want[id] = dbservice.IndexKey(v) + dbservice.IndexKey(id)
	}
	if _, err := s.Save(ctx, coll, "nofield", dbservice.Doc{"w": 1.0}); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"v", "n.v"} {
		t.Run(field, func(t *testing.T) {
			if err := s.EnsureIndex(ctx, coll, field); err != nil {
				t.Fatal(err)
			}
			var keys []string
			byID := map[string]string{}
			_, _, err := s.viewRows(ctx, s.dbName(coll), indexName([]string{field}), map[string]any{}, func(r viewRow) bool {
				keys = append(keys, r.key)
				id, _ := userID(r.id)
				byID[id] = r.key
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(vals) {
				t.Fatalf("view has %d rows, want %d (one per document holding the field)", len(keys), len(vals))
			}
			for i, id := range ids {
				if byID[id] != want[id] {
					t.Errorf("value %d (%#v): view key %q, IndexKey %q", i, vals[i], byID[id], want[id])
				}
			}
			// Raw collation orders the rows as Compare orders (value, ID).
			order := slices.Clone(ids)
			slices.SortFunc(order, func(a, b string) int {
				ia, ib := slices.Index(ids, a), slices.Index(ids, b)
				if c := dbservice.Compare(vals[ia], vals[ib]); c != 0 {
					return c
				}
				return strings.Compare(a, b)
			})
			for i, id := range order {
				if keys[i] != want[id] {
					t.Fatalf("row %d is %q, want the key of %s (%#v)", i, keys[i], id, vals[slices.Index(ids, id)])
				}
			}
		})
	}
}

// TestIndexedPagingIsExactlyOnceAndLinear walks an order an index serves
// in pages of 1, 7, 10 and 100, both directions: every document once, in
// Compare's order, every page read through the index, and the whole walk
// reads about one row per document (plus one a page), not n²/limit as
// sorting every page would.
func TestIndexedPagingIsExactlyOnceAndLinear(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	const n = 260
	items := make([]dbservice.BulkItem, 0, n+10)
	type row struct {
		id    string
		score any
	}
	var rows []row
	for i := range n {
		var score any = float64((i * 37) % 50)
		if i%13 == 0 {
			score = fmt.Sprintf("s%02d\u00e9", i%7) // strings order after numbers
		}
		id := fmt.Sprintf("p%03d", (i*101)%n)
		rows = append(rows, row{id, score})
		items = append(items, dbservice.BulkItem{ID: id, Doc: dbservice.Doc{"score": score, "g": float64(i % 2)}})
	}
	for i := range 10 { // no score: not in the index, not in the answer
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("z%d", i), Doc: dbservice.Doc{"g": 0.0}})
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndex(ctx, coll, "score"); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := dbservice.Compare(a.score, b.score); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	want := make([]string, len(rows))
	for i, r := range rows {
		want[i] = r.id
	}
	walk := func(q dbservice.Query) (ids []string, reads, pages int) {
		for {
			p, err := s.Query(ctx, coll, q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if p.Stats.Index == "" {
				t.Fatalf("a page was not read through the index: %+v", p.Stats)
			}
			pages++
			reads += p.Stats.Read
			for _, d := range p.Docs {
				ids = append(ids, d["_id"].(string))
			}
			if p.Next == "" {
				return ids, reads, pages
			}
			q.Cursor = p.Next
		}
	}
	for _, limit := range []int{1, 7, 10, 100} {
		for _, desc := range []bool{false, true} {
			o, exp := dbservice.Asc("score"), want
			if desc {
				o, exp = dbservice.Desc("score"), slices.Clone(want)
				slices.Reverse(exp)
			}
			got, reads, pages := walk(dbservice.Query{OrderBy: []dbservice.Order{o}, Limit: limit})
			if !slices.Equal(got, exp) {
				t.Fatalf("limit %d desc %v: got %d ids %q..., want %d", limit, desc, len(got), got[:min(5, len(got))], len(exp))
			}
			// Each page reads its documents, one more to know there is a
			// next page, and skips the previous page's last row.
			if reads > n+2*pages {
				t.Errorf("limit %d desc %v: %d rows read over %d pages for %d documents", limit, desc, reads, pages, n)
			}
		}
	}
	// An equality and a range on the field after it, through a pair index.
	if err := s.EnsureIndex(ctx, coll, "g", "score"); err != nil {
		t.Fatal(err)
	}
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("g", dbservice.Eq, 1), dbservice.Where("score", dbservice.Gte, 10), dbservice.Where("score", dbservice.Lt, 20)}, OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 7}
	g := map[string]any{}
	for _, it := range items {
		g[it.ID] = it.Doc["g"]
	}
	var exp []string
	for _, r := range slices.Backward(rows) {
		if f, ok := r.score.(float64); ok && f >= 10 && f < 20 && g[r.id] == 1.0 {
			exp = append(exp, r.id)
		}
	}
	got, reads, pages := walk(q)
	if !slices.Equal(got, exp) {
		t.Fatalf("g = 1, 10 <= score < 20, score desc: got %q, want %q", got, exp)
	}
	if reads > len(exp)+2*pages {
		t.Errorf("eq+range: %d rows read over %d pages for %d matches", reads, pages, len(exp))
	}
	plan, err := s.Explain(ctx, coll, q)
	if err != nil {
		t.Fatal(err)
	}
	if !dbservice.Served(q, plan) || plan.Index.Name != indexName([]string{"g", "score"}) {
		t.Fatalf("Explain = %+v, want served by the pair index", plan)
	}
}

// TestIndexedPagesStayWithinTheBudget: an index path whose residual
// rejects most rows stops each call at the scan budget with a cursor, and
// following the cursors finds every match once. Policy.RequireIndex
// accepts the served query and refuses an order no index serves.
func TestIndexedPagesStayWithinTheBudget(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	var want []string
	for i := range 120 {
		id := fmt.Sprintf("b%03d", i)
		items = append(items, dbservice.BulkItem{ID: id, Doc: dbservice.Doc{"g": float64(i % 2), "rare": i%25 == 0}})
		if i%2 == 0 && i%25 == 0 {
			want = append(want, id)
		}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndex(ctx, coll, "g"); err != nil {
		t.Fatal(err)
	}
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("g", dbservice.Eq, 0), dbservice.Where("rare", dbservice.Eq, true)}, Limit: 5}
	const budget = 10
	var got []string
	short := false
	for {
		p, err := s.Query(dbservice.WithScanBudget(ctx, budget), coll, q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Stats.Read > budget || p.Stats.Index == "" {
			t.Fatalf("a page read %d rows (budget %d), index %q", p.Stats.Read, budget, p.Stats.Index)
		}
		short = short || p.Stats.BudgetReached && p.Next != "" && len(p.Docs) < q.Limit
		for _, d := range p.Docs {
			got = append(got, d["_id"].(string))
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if !slices.Equal(got, want) || !short {
		t.Fatalf("got %q (a page cut short by the budget: %v), want %q", got, short, want)
	}

	g := dbservice.Guard(s, dbservice.Policy{RequireIndex: true})
	if _, err := g.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("g", dbservice.Eq, 1)}, OrderBy: []dbservice.Order{dbservice.Asc("_id")}}); err != nil {
		t.Fatalf("RequireIndex refused a served query: %v", err)
	}
	if _, err := g.Query(ctx, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("rare")}}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("RequireIndex let an unserved order through: %v", err)
	}
}

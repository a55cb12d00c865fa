package dbtest

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// orderedValues lists one value of each shape in the documented order
// across types (null < false < true < numbers < strings by UTF-8 bytes <
// arrays < objects), smallest first. It is written out by hand so that the
// expectation does not come from the code under test.
func orderedValues() []any {
	return []any{
		nil,
		false,
		true,
		-5.0,
		0.0,
		2.5,
		10.0,
		"",
		"A",
		"Z",
		"a",
		"a b",
		"ab",
		"é",  // 0xC3 0xA9
		"日本", // 0xE6 ...
		[]any{},
		[]any{1.0},
		[]any{1.0, 2.0},
		[]any{"a"},
		map[string]any{},
		map[string]any{"a": 1.0},
		map[string]any{"a": 1.0, "c": 0.0},
		map[string]any{"a": 2.0},
		map[string]any{"b": 0.0},
	}
}

func testOrderAcrossTypes(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	vals := orderedValues()
	// IDs run against the value order, so ID order cannot pass for it.
	want := make([]string, len(vals))
	for i, v := range vals {
		id := fmt.Sprintf("v%02d", len(vals)-i)
		want[i] = id
		mustSave(t, s, coll, id, dbservice.Doc{"v": v, "k": "x"})
	}
	mustSave(t, s, coll, "missing", dbservice.Doc{"k": "x"})
	mustSave(t, s, coll, "nested", dbservice.Doc{"k": "x", "w": map[string]any{"v": 1.0}})

	got := walkIDs(t, s, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("v")}, Limit: 5})
	wantSeq(t, "ascending", got, want)
	got = walkIDs(t, s, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc("v")}, Limit: 7})
	wantSeq(t, "descending", got, reversed(want))
	// With a condition and a projection that leaves the sort field out.
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("k", dbservice.Eq, "x")}, OrderBy: []dbservice.Order{dbservice.Asc("v")}, Fields: []string{"k"}}
	docs := walk(t, s, coll, q)
	wantSeq(t, "with a condition and a projection", idsInOrder(docs), want)
	for _, d := range docs {
		if _, ok := d["v"]; ok {
			t.Fatalf("projection to k returned the sort field: %v", d)
		}
	}
	// A nested sort field.
	got = walkIDs(t, s, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("w.v")}})
	wantSeq(t, "nested sort field", got, []string{"nested"})
}

func testOrderTwoFields(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	rows := []struct {
		id    string
		team  string
		score float64
	}{
		{"a1", "red", 3}, {"a2", "blue", 3}, {"a3", "red", 1}, {"a4", "blue", 7},
		{"a5", "red", 3}, {"a6", "green", 0}, {"a7", "blue", 3}, {"a8", "red", 9},
	}
	for _, r := range rows {
		mustSave(t, s, coll, r.id, dbservice.Doc{"team": r.team, "score": r.score})
	}
	cases := []struct {
		name  string
		order []dbservice.Order
		want  []string
	}{
		{"team asc, score asc", []dbservice.Order{dbservice.Asc("team"), dbservice.Asc("score")},
			[]string{"a2", "a7", "a4", "a6", "a3", "a1", "a5", "a8"}},
		{"team asc, score desc (ties by _id desc)", []dbservice.Order{dbservice.Asc("team"), dbservice.Desc("score")},
			[]string{"a4", "a7", "a2", "a6", "a8", "a5", "a1", "a3"}},
		{"score desc, team asc", []dbservice.Order{dbservice.Desc("score"), dbservice.Asc("team")},
			[]string{"a8", "a4", "a2", "a7", "a1", "a5", "a3", "a6"}},
		{"score asc (ties by _id asc)", []dbservice.Order{dbservice.Asc("score")},
			[]string{"a6", "a3", "a1", "a2", "a5", "a7", "a4", "a8"}},
		{"score desc, _id asc", []dbservice.Order{dbservice.Desc("score"), dbservice.Asc("_id")},
			[]string{"a8", "a4", "a1", "a2", "a5", "a7", "a3", "a6"}},
	}
	for _, c := range cases {
		for _, limit := range []int{1, 3, 100} {
			got := walkIDs(t, s, coll, dbservice.Query{OrderBy: c.order, Limit: limit})
			wantSeq(t, fmt.Sprintf("%s, pages of %d", c.name, limit), got, c.want)
		}
	}
	// Top 2 with a range condition on the sort field.
	p, err := s.Query(ctx(t), coll, dbservice.Query{
		Where:   []dbservice.Cond{dbservice.Where("score", dbservice.Gt, 1)},
		OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 2,
	})
	if err != nil {
		t.Fatalf("top 2: %v", err)
	}
	wantSeq(t, "top 2 with score > 1", idsInOrder(p.Docs), []string{"a8", "a4"})
	if p.Next == "" {
		t.Fatal("top 2 of 6 matches has no Next")
	}
}

func testOrderedPaging(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	const n = 260
	type row struct {
		id    string
		score int
	}
	var rows []row
	items := make([]dbservice.BulkItem, n)
	for i := range n {
		r := row{idN(i), (i * 37) % 50}
		rows = append(rows, r)
		doc := dbservice.Doc{"rank": r.score, "i": i}
		if i%10 == 0 {
			doc["odd"] = "yes"
		}
		items[i] = dbservice.BulkItem{ID: r.id, Doc: doc}
	}
	saveAll(t, s, coll, items)
	// The reference order, computed with Go's own sort on ints and IDs.
	sort.Slice(rows, func(a, b int) bool {
		if rows[a].score != rows[b].score {
			return rows[a].score < rows[b].score
		}
		return rows[a].id < rows[b].id
	})
	var want []string
	for _, r := range rows {
		want = append(want, r.id)
	}
	walk := func(how string, limits ...int) {
		for _, limit := range limits {
			got := walkIDs(t, s, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("rank")}, Limit: limit})
			wantSeq(t, fmt.Sprintf("rank asc, %s, pages of %d", how, limit), got, want)
			got = walkIDs(t, s, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc("rank")}, Limit: limit})
			wantSeq(t, fmt.Sprintf("rank desc, %s, pages of %d", how, limit), got, reversed(want))
		}
	}
	// Without an index every page sorts every candidate, so pages of one
	// (520 calls that each read all 260 documents) are walked only once
	// the index serves the order.
	walk("no index", 7, 100)
	if err := s.EnsureIndex(ctx(t), coll, "rank"); err != nil {
		t.Fatalf("EnsureIndex(rank): %v", err)
	}
	walk("index on rank", 1, 7, 100)
	var viaAll []string
	for d, err := range dbservice.All(ctx(t), s, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("rank")}, Limit: 50}) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		viaAll = append(viaAll, d["_id"].(string))
	}
	wantSeq(t, "All with OrderBy", viaAll, want)
	// A cursor of an ordered query does not fit the same query in the
	// other direction.
	p, err := s.Query(ctx(t), coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("rank")}, Limit: 3})
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %v (next %q)", err, p.Next)
	}
	_, err = s.Query(ctx(t), coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc("rank")}, Limit: 3, Cursor: p.Next})
	wantErr(t, "cursor of the ascending query on the descending one", err, dbservice.ErrInvalid)
}

func testOrderedQueryOverBudget(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	items := make([]dbservice.BulkItem, 60)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: idN(i), Doc: dbservice.Doc{"score": i % 7}}
	}
	saveAll(t, s, coll, items)
	c := dbservice.WithScanBudget(ctx(t), 20)
	q := dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("score")}, Limit: 5}
	page, err := s.Query(c, coll, q)
	if ex, ok := s.(dbservice.Explainer); ok {
		if plan, perr := ex.Explain(ctx(t), coll, q); perr == nil && plan.Index != nil && plan.Ordered {
			// An index in the query's order serves it: the page is the
			// first five in order, read within the budget.
			if err != nil || len(page.Docs) != 5 || page.Stats.Read > 20 || page.Docs[4]["score"] != 0.0 {
				t.Fatalf("an ordering an index serves, under a budget of 20: %d docs, %d read, %v", len(page.Docs), page.Stats.Read, err)
			}
			return
		}
	}
	wantErr(t, "an ordering over more candidates than the budget", err, dbservice.ErrBudgetExceeded)
	wantErr(t, "ErrBudgetExceeded", err, dbservice.ErrInvalid)
	// Within the budget the same query works.
	p, err := s.Query(dbservice.WithScanBudget(ctx(t), 1000), coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("score")}, Limit: 5})
	if err != nil || len(p.Docs) != 5 {
		t.Fatalf("within budget: %d docs, %v", len(p.Docs), err)
	}
}

func testScanBudget(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	const n, every, budget = 2000, 97, 300
	items := make([]dbservice.BulkItem, n)
	var want []string
	for i := range n {
		// The matches are the documents without "miss": no backend's index
		// serves an absence, so every provider has to scan for them.
		doc := dbservice.Doc{"i": i}
		if i%every == 0 {
			want = append(want, idN(i))
		} else {
			doc["miss"] = true
		}
		items[i] = dbservice.BulkItem{ID: idN(i), Doc: doc}
	}
	saveAll(t, s, coll, items)
	bctx := dbservice.WithScanBudget(ctx(t), budget)
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("miss", dbservice.Exists, false)}, Limit: 10}
	var (
		got          []string
		short, calls int
		reached      bool
	)
	for {
		calls++
		if calls > 1000 {
			t.Fatal("more than 1000 calls: the cursor does not advance")
		}
		p, err := s.Query(bctx, coll, q)
		if err != nil {
			t.Fatalf("Query under a budget of %d: %v", budget, err)
		}
		if p.Stats.Read > budget {
			t.Fatalf("one call read %d documents, budget %d", p.Stats.Read, budget)
		}
		if p.Stats.Returned != len(p.Docs) {
			t.Fatalf("Stats.Returned = %d, page has %d", p.Stats.Returned, len(p.Docs))
		}
		if p.Stats.Read < len(p.Docs) {
			t.Fatalf("Stats.Read = %d for %d returned documents", p.Stats.Read, len(p.Docs))
		}
		reached = reached || p.Stats.BudgetReached
		got = append(got, ids(p.Docs)...)
		if p.Next == "" {
			break
		}
		if len(p.Docs) < q.Limit {
			short++
		}
		q.Cursor = p.Next
	}
	wantOnce(t, "every match across budgeted pages", got, want)
	if short == 0 || !reached {
		t.Fatalf("a sparse filter over %d documents under a budget of %d gave no short page (short %d, budget reached %v)", n, budget, short, reached)
	}
	var viaAll []string
	for d, err := range dbservice.All(bctx, s, coll, dbservice.Query{Where: q.Where, Limit: 10}) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		viaAll = append(viaAll, d["_id"].(string))
	}
	wantOnce(t, "All under a budget", viaAll, want)
}

// saveAll writes items with the provider's bulk path when it has one.
func saveAll(t *testing.T, s dbservice.Service, coll string, items []dbservice.BulkItem) {
	t.Helper()
	if bw, ok := s.(dbservice.BulkWriter); ok {
		for chunk := range slices.Chunk(items, 500) {
			if err := bw.SaveMany(ctx(t), coll, chunk); err != nil {
				t.Fatalf("SaveMany: %v", err)
			}
		}
		return
	}
	for _, it := range items {
		mustSave(t, s, coll, it.ID, it.Doc)
	}
}

func walkIDs(t *testing.T, s dbservice.Service, coll string, q dbservice.Query) []string {
	t.Helper()
	return idsInOrder(walk(t, s, coll, q))
}

func idsInOrder(docs []dbservice.Doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i], _ = d["_id"].(string)
	}
	return out
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func wantSeq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// timedDoc stores a time through SaveAs, as a service with typed records
// would.
type timedDoc struct {
	At   time.Time `json:"at"`
	Note string    `json:"note"`
}

func testTimeRanges(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	cet, pst := time.FixedZone("CET", 3600), time.FixedZone("PST", -8*3600)
	// Fractions and zones vary so that RFC 3339 text with a variable
	// fraction or an offset would misorder them; chrono below is their
	// order in time, worked out by hand.
	times := []time.Time{
		time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 1, 0, 30, 0, 0, cet), // 2025-12-31T23:30Z, earlier still
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 500000000, time.UTC),
		time.Date(2026, 1, 1, 1, 30, 0, 0, cet),    // 00:30Z
		time.Date(2025, 12, 31, 16, 45, 0, 0, pst), // 00:45Z
		time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC),
	}
	chrono := []int{1, 0, 2, 3, 4, 5, 6, 7}
	for i, at := range times {
		id := fmt.Sprintf("t%d", i)
		if i%2 == 0 {
			mustSave(t, s, coll, id, dbservice.Doc{"at": at})
		} else if _, err := dbservice.SaveAs(ctx(t), s, coll, id, timedDoc{At: at, Note: "typed"}); err != nil {
			t.Fatalf("SaveAs(%s): %v", id, err)
		}
	}
	line := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := func(is ...int) []string {
		out := make([]string, len(is))
		for k, i := range is {
			out[k] = fmt.Sprintf("t%d", i)
		}
		return out
	}
	got := walkIDs(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("at", dbservice.Gt, line)}, OrderBy: []dbservice.Order{dbservice.Asc("at")}})
	wantSeq(t, "at > 2026-01-01T00:00:00Z", got, ids(3, 4, 5, 6, 7))
	got = walkIDs(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("at", dbservice.Lt, line)}, OrderBy: []dbservice.Order{dbservice.Asc("at")}})
	wantSeq(t, "at < 2026-01-01T00:00:00Z", got, ids(1, 0))
	got = walkIDs(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("at", dbservice.Eq, line)}})
	wantSeq(t, "at == 2026-01-01T00:00:00Z", got, ids(2))
	got = walkIDs(t, s, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc("at")}, Limit: 3})
	want := ids(chrono...)
	wantSeq(t, "ordered by time, descending", got, reversed(want))
	// Stored text is UTC with nine fraction digits, through Save and SaveAs.
	for _, id := range []string{"t5", "t6"} {
		if at := mustGet(t, s, coll, id)["at"]; at != validate.FormatTime(times[id[1]-'0']) {
			t.Fatalf("%s stored %v, want %s", id, at, validate.FormatTime(times[id[1]-'0']))
		}
	}
}

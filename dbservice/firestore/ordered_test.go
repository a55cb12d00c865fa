package firestore

import (
	"fmt"
	"slices"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// orderedItems are n documents with a score holding duplicates (and, for
// every tenth, a string, which sorts after every number), a team, and no
// score at all in every thirteenth.
func orderedItems(n int) []dbservice.BulkItem {
	teams := []string{"red", "blue", "green"}
	items := make([]dbservice.BulkItem, n)
	for i := range items {
		d := dbservice.Doc{"team": teams[i%3], "i": float64(i)}
		switch {
		case i%13 == 0:
		case i%10 == 0:
			d["score"] = fmt.Sprintf("s%02d", i%7)
		default:
			d["score"] = float64(i * 37 % 101)
		}
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("d%04d", i), Doc: d}
	}
	return items
}

// expected is the answer of q over items by the reference semantics:
// Match, then the documents holding every sort key, in CompareDocs order.
func expected(items []dbservice.BulkItem, q dbservice.Query) []string {
	q.Limit = 1
	q, err := dbservice.CheckQuery(q)
	if err != nil {
		panic(err)
	}
	keys := dbservice.SortKeys(q)
	var docs []dbservice.Doc
	for _, it := range items {
		d := dbservice.Clone(it.Doc)
		d["_id"] = it.ID
		if !dbservice.Match(d, q.Where) {
			continue
		}
		holds := true
		for _, k := range keys {
			if _, ok := dbservice.Lookup(d, k.Field); !ok {
				holds = false
			}
		}
		if holds {
			docs = append(docs, d)
		}
	}
	slices.SortFunc(docs, func(a, b dbservice.Doc) int { return dbservice.CompareDocs(a, b, keys) })
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d["_id"].(string)
	}
	return ids
}

// walk follows q page by page, requiring every page to be served by the
// index named index and to read at most limit+1 documents per returned
// one plus one chunk (the answer, not the collection).
func walk(t *testing.T, s *Service, coll string, q dbservice.Query, index string) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("more than 1000 pages")
		}
		p, err := s.Query(t.Context(), coll, q)
		if err != nil {
			t.Fatalf("%v: %v", q.OrderBy, err)
		}
		if p.Stats.Index != index {
			t.Fatalf("page %d of %v served by %q, want %q", pages, q, p.Stats.Index, index)
		}
		for _, d := range p.Docs {
			ids = append(ids, d["_id"].(string))
		}
		if p.Next == "" {
			return ids
		}
		q.Cursor = p.Next
	}
}

// TestOrderedPagingThroughTheIndexIsExactlyOnce walks orders Firestore
// serves (one field, both directions; a range read in its field's order;
// an equality with a declared composite index) at page sizes 1, 7 and
// 100: every page comes from the index and the walk is the reference
// order, each document once.
func TestOrderedPagingThroughTheIndexIsExactlyOnce(t *testing.T) {
	s := newServer(t)
	coll := dbtest.Collection(t)
	items := orderedItems(260)
	if err := s.SaveMany(t.Context(), coll, items); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndex(t.Context(), coll, "team", "score"); err != nil {
		t.Fatal(err)
	}
	red := dbservice.Where("team", dbservice.Eq, "red")
	cases := []struct {
		q     dbservice.Query
		index string
		set   bool // an unordered query: compare as a set
	}{
		{dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("score")}}, "single-field score", false},
		{dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc("score")}}, "single-field score", false},
		{dbservice.Query{Where: []dbservice.Cond{dbservice.Where("score", dbservice.Gte, 40)}}, "single-field score", true},
		{dbservice.Query{Where: []dbservice.Cond{red}, OrderBy: []dbservice.Order{dbservice.Desc("score")}}, "composite team+score", false},
		{dbservice.Query{Where: []dbservice.Cond{red, dbservice.Where("score", dbservice.Lt, 50)}, OrderBy: []dbservice.Order{dbservice.Asc("score")}}, "composite team+score", false},
	}
	for _, c := range cases {
		want := expected(items, c.q)
		if len(want) < 20 {
			t.Fatalf("%v: only %d documents; the test needs more", c.q, len(want))
		}
		for _, limit := range []int{1, 7, 100} {
			q := c.q
			q.Limit = limit
			got := walk(t, s, coll, q, c.index)
			if c.set {
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%v limit %d:\n got  %v\n want %v", c.q, limit, got, want)
			}
		}
	}
}

// TestAWalkSurvivesAnIndexDeclaredBetweenPages: an ordered walk that
// starts sorted on the client continues through the index once it is
// declared (both issue the same cursor), and an unordered walk keeps the
// order its first page took.
func TestAWalkSurvivesAnIndexDeclaredBetweenPages(t *testing.T) {
	s := newServer(t)
	coll := dbtest.Collection(t)
	items := orderedItems(120)
	if err := s.SaveMany(t.Context(), coll, items); err != nil {
		t.Fatal(err)
	}
	blue := dbservice.Where("team", dbservice.Eq, "blue")
	for _, q := range []dbservice.Query{
		{Where: []dbservice.Cond{blue}, OrderBy: []dbservice.Order{dbservice.Asc("score")}, Limit: 6},
		{Where: []dbservice.Cond{blue, dbservice.Where("score", dbservice.Gt, 10)}, Limit: 6},
	} {
		s := newServer(t)
		first, err := s.Query(t.Context(), coll, q)
		if err != nil || first.Next == "" || first.Stats.Index != "" {
			t.Fatalf("first page: %v, next %q, index %q", err, first.Next, first.Stats.Index)
		}
		if err := s.EnsureIndex(t.Context(), coll, "team", "score"); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range first.Docs {
			got = append(got, d["_id"].(string))
		}
		q.Cursor = first.Next
		for q.Cursor != "" {
			p, err := s.Query(t.Context(), coll, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range p.Docs {
				got = append(got, d["_id"].(string))
			}
			q.Cursor = p.Next
		}
		q.Cursor = ""
		want := expected(items, q)
		if len(q.OrderBy) == 0 {
			slices.Sort(got)
			slices.Sort(want)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%v:\n got  %v\n want %v", q, got, want)
		}
	}
}

// TestRangeTopFiveReadsTheAnswer: the top five scores above 900 of 2,000
// documents are read from the index, not found among the collection; an
// unordered range reads its matches only; and a residual condition that
// matches nothing stops at the budget with a page that continues instead
// of a refusal.
func TestRangeTopFiveReadsTheAnswer(t *testing.T) {
	s := newServer(t)
	coll := dbtest.Collection(t)
	items := make([]dbservice.BulkItem, 2000)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("d%04d", i), Doc: dbservice.Doc{"score": float64(i * 7919 % 1000), "team": "t"}}
	}
	if err := s.SaveMany(t.Context(), coll, items); err != nil {
		t.Fatal(err)
	}
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("score", dbservice.Gt, 900)}, OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 5}
	p, err := s.Query(t.Context(), coll, q)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(items, q)[:5]
	var got []string
	for _, d := range p.Docs {
		got = append(got, d["_id"].(string))
	}
	if !slices.Equal(got, want) || p.Stats.Read > 6 || p.Stats.Index != "single-field score" {
		t.Fatalf("top five: %v (want %v), %d read, index %q", got, want, p.Stats.Read, p.Stats.Index)
	}

	// score >= 990: 20 documents (two per score).
	q = dbservice.Query{Where: []dbservice.Cond{dbservice.Where("score", dbservice.Gte, 990)}, Limit: 100}
	p, err = s.Query(t.Context(), coll, q)
	if err != nil || len(p.Docs) != 20 || p.Stats.Read != 20 || p.Next != "" {
		t.Fatalf("unordered range: %d docs, %d read, next %q, %v", len(p.Docs), p.Stats.Read, p.Next, err)
	}

	// A residual that matches nothing: the budget bounds the read, and
	// the page continues.
	q = dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Exists, false)}, OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 5}
	p, err = s.Query(dbservice.WithScanBudget(t.Context(), 300), coll, q)
	if err != nil || len(p.Docs) != 0 || p.Stats.Read != 300 || !p.Stats.BudgetReached || p.Next == "" {
		t.Fatalf("over the budget: %d docs, %d read, reached %v, next %q, %v", len(p.Docs), p.Stats.Read, p.Stats.BudgetReached, p.Next, err)
	}
}

// TestExplainTellsWhatTheIndexServes: Policy.RequireIndex relies on
// Served(q, Explain(q)); an equality with an order is served only once
// its composite index is declared, and then names it.
func TestExplainTellsWhatTheIndexServes(t *testing.T) {
	s := newServer(t)
	coll := dbtest.Collection(t)
	eqOrder := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "red")}, OrderBy: []dbservice.Order{dbservice.Asc("score")}, Limit: 5}
	topFive := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("score", dbservice.Gt, 900)}, OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 5}
	mixed := dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("team"), dbservice.Desc("score")}, Limit: 5}
	served := func(q dbservice.Query) (bool, string) {
		t.Helper()
		p, err := s.Explain(t.Context(), coll, q)
		if err != nil {
			t.Fatal(err)
		}
		name := ""
		if p.Index != nil {
			name = p.Index.Name
		}
		return dbservice.Served(q, p), name
	}
	if ok, name := served(topFive); !ok || name != "single-field score" {
		t.Fatalf("top five: served %v by %q", ok, name)
	}
	if ok, _ := served(eqOrder); ok {
		t.Fatal("an equality with an order is served before its index is declared")
	}
	if err := s.EnsureIndex(t.Context(), coll, "team", "score"); err != nil {
		t.Fatal(err)
	}
	if ok, name := served(eqOrder); !ok || name != "composite team+score" {
		t.Fatalf("after EnsureIndex(team, score): served %v by %q", ok, name)
	}
	if ok, _ := served(mixed); ok {
		t.Fatal("an order of mixed directions is served: no declared index has them")
	}
}

package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// indexDocs are 300 documents whose indexed fields hold every kind of
// value: mixed types, missing fields, nested objects and arrays, non-ASCII
// and punctuation text, U+0000 and U+0001, -0 and a subnormal number,
// and values whose index keys pass DynamoDB's key size limits.
func indexDocs() []dbservice.BulkItem {
	long := strings.Repeat("ä", 1100)     // 2200 bytes: past the partition key limit
	longSort := strings.Repeat("z", 1030) // past the sort key limit
	texts := []string{"Ärger", "a\x00b", "a\x01b", "a", "a b", "é!", "日本", "a\x00", "[x]"}
	var items []dbservice.BulkItem
	for i := range 300 {
		doc := dbservice.Doc{"i": float64(i)}
		switch {
		case i%23 == 0: // no team
		case i%17 == 0:
			doc["team"] = float64(i % 3)
		case i%29 == 0:
			doc["team"] = map[string]any{"a": float64(i % 2)}
		case i%31 == 0:
			doc["team"] = []any{"t1", float64(i % 2)}
		case i%37 == 0:
			doc["team"] = long
		case i%41 == 0:
			doc["team"] = nil
		default:
			doc["team"] = fmt.Sprintf("t%d", i%5)
		}
		switch {
		case i%19 == 0: // no score
		case i%13 == 0:
			doc["score"] = texts[i%len(texts)]
		case i%43 == 0:
			doc["score"] = longSort + fmt.Sprint(i%2)
		case i%47 == 0:
			doc["score"] = math.Copysign(0, -1)
		case i%53 == 0:
			doc["score"] = 1e-100 // DynamoDB refuses subnormal numbers (magnitude below 1E-130)
		case i%59 == 0:
			doc["score"] = true
		default:
			doc["score"] = float64((i * 7) % 101)
		}
		doc["o"] = map[string]any{"k": texts[i%len(texts)]}
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("d%03d", i), Doc: doc})
	}
	return items
}

// walkPages reads every page of q at page size limit and returns the IDs
// in the order returned and the Stats of the first page.
func walkPages(t *testing.T, s dbservice.Service, coll string, q dbservice.Query, limit int) ([]string, dbservice.Stats) {
	t.Helper()
	q.Limit = limit
	var ids []string
	var first dbservice.Stats
	for pages := 0; ; pages++ {
		if pages > 400 {
			t.Fatalf("%s: more than 400 pages", short(q))
		}
		p, err := s.Query(context.Background(), coll, q)
		if err != nil {
			t.Fatalf("%s: %v", short(q), err)
		}
		if pages == 0 {
			first = p.Stats
		}
		for _, d := range p.Docs {
			ids = append(ids, d["_id"].(string))
		}
		if p.Next == "" {
			return ids, first
		}
		q.Cursor = p.Next
	}
}

// TestIndexesServeQueriesLikeMemory runs with single-field indexes of one
// partition (the default: one Query) and of four (every partition read in
// parallel and merged).
func TestIndexesServeQueriesLikeMemory(t *testing.T) {
	for _, shards := range []int{DefaultIndexShards, 4} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			t.Parallel()
			indexesServeQueriesLikeMemory(t, shards)
		})
	}
}

func indexesServeQueriesLikeMemory(t *testing.T, shards int) {
	s := newServer(t, nil, func(c *Config) { c.IndexShards = shards })
	ref := memory.New()
	ctx, coll := context.Background(), dbtest.Collection(t)
	t.Cleanup(func() { dropTableT(t, s, s.table(coll)) })
	items := indexDocs()
	// Half the documents exist before the indexes (the backfill serves
	// them), half are written after (each write maintains them).
	for _, part := range [][]dbservice.BulkItem{items[:150], items[150:]} {
		if err := s.SaveMany(ctx, coll, part); err != nil {
			t.Fatal(err)
		}
		if err := ref.SaveMany(ctx, coll, part); err != nil {
			t.Fatal(err)
		}
		if len(part) == 150 {
			for _, f := range [][]string{{"team"}, {"score"}, {"team", "score"}, {"o.k"}} {
				if err := s.EnsureIndex(ctx, coll, f...); err != nil {
					t.Fatalf("EnsureIndex(%q): %v", f, err)
				}
			}
		}
	}
	// Updates through both paths: UpdateItem (a field no index reads) and
	// read-modify-write (an indexed field).
	for i := 0; i < 300; i += 11 {
		id := fmt.Sprintf("d%03d", i)
		mods := []dbservice.Mutation{dbservice.Set("extra", float64(i))}
		if i%2 == 0 {
			mods = append(mods, dbservice.Set("score", float64(1000+i)))
		}
		if _, err := s.Update(ctx, coll, id, mods); err != nil {
			t.Fatal(err)
		}
		if _, err := ref.Update(ctx, coll, id, mods); err != nil {
			t.Fatal(err)
		}
	}
	W := dbservice.Where
	long := strings.Repeat("ä", 1100)
	queries := []dbservice.Query{
		{Where: []dbservice.Cond{W("team", dbservice.Eq, "t3")}},
		{Where: []dbservice.Cond{W("team", dbservice.Eq, long)}},
		{Where: []dbservice.Cond{W("team", dbservice.Eq, 1)}},
		{Where: []dbservice.Cond{W("team", dbservice.Eq, nil)}},
		{Where: []dbservice.Cond{W("team", dbservice.Eq, "nobody")}},
		{Where: []dbservice.Cond{W("score", dbservice.Gt, 50)}, OrderBy: []dbservice.Order{dbservice.Desc("score")}},
		{Where: []dbservice.Cond{W("score", dbservice.Lte, 20)}},
		{Where: []dbservice.Cond{W("score", dbservice.Eq, 0)}},
		{Where: []dbservice.Cond{W("score", dbservice.Gte, "a")}, OrderBy: []dbservice.Order{dbservice.Asc("score")}},
		{OrderBy: []dbservice.Order{dbservice.Asc("score")}},
		{OrderBy: []dbservice.Order{dbservice.Desc("score")}},
		{Where: []dbservice.Cond{W("team", dbservice.Eq, "t3"), W("score", dbservice.Gt, 30)}},
		{Where: []dbservice.Cond{W("team", dbservice.Eq, "t2")}, OrderBy: []dbservice.Order{dbservice.Desc("score")}},
		{Where: []dbservice.Cond{W("team", dbservice.Eq, "t1"), W("score", dbservice.Lt, 60), W("i", dbservice.Gt, 100)},
			OrderBy: []dbservice.Order{dbservice.Asc("score")}},
		{Where: []dbservice.Cond{W("o.k", dbservice.Prefix, "a")}, OrderBy: []dbservice.Order{dbservice.Asc("o.k")}},
	}
	for i, q := range queries {
		ordered := len(q.OrderBy) > 0
		want, _ := walkPages(t, ref, coll, q, 1000)
		sizes := []int{7, 100}
		if i%3 == 0 || i == 10 {
			sizes = append(sizes, 1) // pages of one document, kept to a few queries for time
		}
		for _, limit := range sizes {
			got, st := walkPages(t, s, coll, q, limit)
			if st.Index == "" {
				t.Errorf("%s: not served by an index", short(q))
			}
			if limit == 7 && st.Read > 7*3+16 {
				t.Errorf("%s: the first page of 7 read %d documents", short(q), st.Read)
			}
			if !ordered {
				slices.Sort(got)
				want := slices.Sorted(slices.Values(want))
				if !slices.Equal(got, want) {
					t.Errorf("%s, pages of %d:\n got %v\nwant %v", short(q), limit, got, want)
				}
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, pages of %d:\n got %v\nwant %v", short(q), limit, got, want)
			}
		}
	}
}

func TestIndexBackfillKeepsConcurrentWrites(t *testing.T) {
	s := newServer(t, nil)
	// Another process: its list of indexes is older than the new index
	// until IndexRefresh passes.
	other := newServer(t, nil)
	ref := memory.New()
	ctx, coll := context.Background(), dbtest.Collection(t)
	t.Cleanup(func() { dropTableT(t, s, s.table(coll)) })
	var items []dbservice.BulkItem
	for i := range 200 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("b%03d", i), Doc: dbservice.Doc{"g": fmt.Sprintf("g%d", i%4), "n": float64(i)}})
	}
	for _, svc := range []dbservice.BulkWriter{s, ref} {
		if err := svc.SaveMany(ctx, coll, items); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.EnsureIndex(ctx, coll, "g", "n") }()
	// Write until the index is built: new documents and changes of the
	// indexed fields, from the Service that has not seen the index.
	var err error
	writes := 0
write:
	for i := 0; ; i++ {
		select {
		case err = <-done:
			break write
		default:
		}
		id := fmt.Sprintf("b%03d", i%400)
		doc := dbservice.Doc{"g": fmt.Sprintf("g%d", i%3), "n": float64(1000 + i)}
		if werr := saveThroughLocalGap(t, other, coll, id, doc); werr != nil {
			t.Fatal(werr)
		}
		if _, werr := ref.Save(ctx, coll, id, doc); werr != nil {
			t.Fatal(werr)
		}
		writes++
	}
	t.Logf("%d writes while the index was built", writes)
	if writes == 0 {
		t.Fatal("no write ran while the index was built")
	}
	if err != nil {
		t.Fatalf("EnsureIndex: %v", err)
	}
	for g := range 4 {
		q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("g", dbservice.Eq, fmt.Sprintf("g%d", g))},
			OrderBy: []dbservice.Order{dbservice.Asc("n")}}
		want, _ := walkPages(t, ref, coll, q, 1000)
		got, st := walkPages(t, s, coll, q, 50)
		if st.Index == "" {
			t.Fatalf("g%d: not served by the index", g)
		}
		if !slices.Equal(got, want) {
			t.Errorf("g%d:\n got %v\nwant %v", g, got, want)
		}
	}
}

func TestIndexLimitAndInput(t *testing.T) {
	s := newServer(t, nil, func(c *Config) { c.IndexRefresh = time.Millisecond })
	ctx, coll := context.Background(), dbtest.Collection(t)
	t.Cleanup(func() { dropTableT(t, s, s.table(coll)) })
	for i := range MaxIndexes {
		if err := s.EnsureIndex(ctx, coll, fmt.Sprintf("f%d", i)); err != nil {
			t.Fatalf("index %d: %v", i+1, err)
		}
	}
	// An index that exists is no new index.
	if err := s.EnsureIndex(ctx, coll, "f3"); err != nil {
		t.Fatalf("existing index: %v", err)
	}
	err := s.EnsureIndex(ctx, coll, "one", "more")
	if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), "20 indexes") {
		t.Fatalf("21st index: %v, want ErrInvalid naming the limit", err)
	}
	for _, fields := range [][]string{nil, {"a", "a"}, {"_id"}, {strings.Repeat("x.", 60) + "x", "y"}} {
		if err := s.EnsureIndex(ctx, coll, fields...); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("EnsureIndex(%q) = %v, want ErrInvalid", fields, err)
		}
	}
	// Values of every type in indexed fields: no write is refused.
	for i, v := range []any{"x", 1.5, true, nil, []any{1, "a"}, map[string]any{"z": 1}, strings.Repeat("é", 1500)} {
		if _, err := s.Save(ctx, coll, fmt.Sprintf("v%d", i), dbservice.Doc{"f0": v, "f1": v}); err != nil {
			t.Errorf("Save of %T: %v", v, err)
		}
	}
}

// saveThroughLocalGap saves doc, trying again (up to 10 calls, each with
// the SDK's own retries and backoff) while DynamoDB Local answers
// InternalFailure (ErrUnavailable). DynamoDB Local lists a new index
// before it has added the index's columns to its SQLite table, up to a
// second later (its job scheduler runs once a second); a PutItem holding
// the index's key attributes in that gap fails with "no column named
// indexKey_0" in its log. Real DynamoDB has no such gap. The index's
// correctness, what the test checks, does not depend on it: the write is
// applied once it succeeds, and only then mirrored in the reference.
func saveThroughLocalGap(t *testing.T, s *Service, coll, id string, doc dbservice.Doc) error {
	t.Helper()
	var err error
	for range 10 {
		if _, err = s.Save(context.Background(), coll, id, doc); !errors.Is(err, dbservice.ErrUnavailable) {
			return err
		}
		t.Logf("save %s answered %v; again", id, err)
	}
	return err
}

func dropTableT(t *testing.T, s *Service, table string) {
	if _, err := s.client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil && errorCode(err) != codeNotFound {
		t.Logf("cleanup of %s: %v", table, err)
	}
}

// short describes q in at most 120 bytes.
func short(q dbservice.Query) string {
	d := fmt.Sprint(q)
	if len(d) > 120 {
		d = d[:120] + "…"
	}
	return d
}

// TestConcurrentEnsureIndexFromTwoServices has two Services (two
// processes) create the same two indexes of one table at once: DynamoDB
// creates one index of a table at a time, and the same index cannot be
// created twice, so three of the four calls meet a busy table or an index
// that another call made. Every call succeeds, and both Services' queries
// read the indexes with memory's answers.
func TestConcurrentEnsureIndexFromTwoServices(t *testing.T) {
	a, b := newServer(t, nil), newServer(t, nil)
	ref := memory.New()
	ctx, coll := context.Background(), dbtest.Collection(t)
	t.Cleanup(func() { dropTableT(t, a, a.table(coll)) })
	var items []dbservice.BulkItem
	for i := range 60 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("c%02d", i), Doc: dbservice.Doc{"g": fmt.Sprintf("g%d", i%3), "n": float64(i % 7)}})
	}
	for _, svc := range []dbservice.BulkWriter{a, ref} {
		if err := svc.SaveMany(ctx, coll, items); err != nil {
			t.Fatal(err)
		}
	}
	calls := [][]string{{"n"}, {"g", "n"}}
	errs := make(chan error, 4)
	for _, s := range []*Service{a, b} {
		for _, f := range calls {
			go func() { errs <- s.EnsureIndex(ctx, coll, f...) }()
		}
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("EnsureIndex: %v", err)
		}
	}
	queries := []dbservice.Query{
		{Where: []dbservice.Cond{dbservice.Where("n", dbservice.Gte, 3)}, OrderBy: []dbservice.Order{dbservice.Asc("n")}},
		{Where: []dbservice.Cond{dbservice.Where("g", dbservice.Eq, "g1"), dbservice.Where("n", dbservice.Lt, 5)}, OrderBy: []dbservice.Order{dbservice.Desc("n")}},
	}
	for _, q := range queries {
		want, _ := walkPages(t, ref, coll, q, 1000)
		for name, s := range map[string]*Service{"a": a, "b": b} {
			got, st := walkPages(t, s, coll, q, 7)
			if st.Index == "" {
				t.Errorf("%s: %s: not served by an index", name, short(q))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s:\n got %v\nwant %v", name, short(q), got, want)
			}
		}
	}
}

// TestIndexCreationPastItsBoundIsUnavailable bounds index creation below
// what it needs: EnsureIndex answers ErrUnavailable, and queries do not
// read the index, whose backfill has not run, neither in this process nor
// in another one once the index is ACTIVE. The next EnsureIndex finishes
// the same index, and queries then read it with every document.
func TestIndexCreationPastItsBoundIsUnavailable(t *testing.T) {
	s := newServer(t, nil)
	ref := memory.New()
	ctx, coll := context.Background(), dbtest.Collection(t)
	t.Cleanup(func() { dropTableT(t, s, s.table(coll)) })
	var items []dbservice.BulkItem
	for i := range 40 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("u%02d", i), Doc: dbservice.Doc{"n": float64(i % 9)}})
	}
	for _, svc := range []dbservice.BulkWriter{s, ref} {
		if err := svc.SaveMany(ctx, coll, items); err != nil {
			t.Fatal(err)
		}
	}
	// The bound leaves time to create the index, not to wait an hour's
	// IndexRefresh before its backfill.
	s.ixTimeout, s.ixRefresh = 5*time.Second, time.Hour
	err := s.EnsureIndex(ctx, coll, "n")
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("EnsureIndex past its bound = %v, want ErrUnavailable", err)
	}
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("n", dbservice.Gt, 4)}, OrderBy: []dbservice.Order{dbservice.Asc("n")}}
	want, _ := walkPages(t, ref, coll, q, 1000)
	got, st := walkPages(t, s, coll, q, 1000)
	if st.Index != "" {
		t.Errorf("an index that is not backfilled served a query: %+v", st)
	}
	if !slices.Equal(got, want) {
		t.Errorf("before the index is finished:\n got %v\nwant %v", got, want)
	}
	// Another process, once the index is ACTIVE but not backfilled: it
	// does not read it either (no marker yet).
	waitActive(t, s, s.table(coll))
	other := newServer(t, nil)
	got, st = walkPages(t, other, coll, q, 1000)
	if st.Index != "" {
		t.Errorf("another process read an ACTIVE index that is not backfilled: %+v", st)
	}
	if !slices.Equal(got, want) {
		t.Errorf("another process, before the index is finished:\n got %v\nwant %v", got, want)
	}
	s.ixTimeout, s.ixRefresh = createTimeout, serverConfig(t).IndexRefresh
	if err := s.EnsureIndex(ctx, coll, "n"); err != nil {
		t.Fatalf("EnsureIndex again: %v", err)
	}
	// This Service, and a process started now, read the finished index.
	for name, svc := range map[string]*Service{"the builder": s, "a new process": newServer(t, nil)} {
		got, st = walkPages(t, svc, coll, q, 7)
		if st.Index == "" {
			t.Errorf("%s: the finished index does not serve the query", name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s, after the index is finished:\n got %v\nwant %v", name, got, want)
		}
	}
	// The marker that records the backfill is no document: Count leaves
	// it out, and a scan by pages of one (each call evaluates two items)
	// stops on it once, right after the document before it, and goes on.
	if n, err := s.Count(ctx, coll, nil); err != nil || n != len(items) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(items))
	}
	all, _ := walkPages(t, s, coll, dbservice.Query{}, 1)
	slices.Sort(all)
	wantAll, _ := walkPages(t, ref, coll, dbservice.Query{}, 1000)
	if !slices.Equal(all, slices.Sorted(slices.Values(wantAll))) {
		t.Errorf("a scan by pages of one:\n got %v\nwant %v", all, wantAll)
	}
}

// waitActive waits until every index of table is ACTIVE (DynamoDB
// creates them in the background), for at most a minute.
func waitActive(t *testing.T, s *Service, table string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := s.settled(context.Background(), table)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 && !slices.ContainsFunc(list, func(ix index) bool { return !ix.active }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexes of %s not ACTIVE after a minute: %+v", table, list)
		}
		time.Sleep(50 * time.Millisecond) // polls the server's state, asserts nothing
	}
}

// TestIndexCreationWaitsForTheTablesLease: while another process holds the
// table's creation lease, EnsureIndex calls no UpdateTable (DynamoDB Local
// loses or never finishes an index two processes add at once); a lease
// older than leaseTTL, whose holder stopped, is taken over.
func TestIndexCreationWaitsForTheTablesLease(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec)
	ctx, coll := context.Background(), dbtest.Collection(t)
	t.Cleanup(func() { dropTableT(t, s, s.table(coll)) })
	if _, err := s.Save(ctx, coll, "a", dbservice.Doc{"v": 1.0}); err != nil {
		t.Fatal(err)
	}
	hold := func(at time.Time) {
		t.Helper()
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table(coll)), Item: map[string]types.AttributeValue{
			idAttr: &types.AttributeValueMemberS{Value: leaseID},
			"_at":  &types.AttributeValueMemberN{Value: fmt.Sprint(at.UnixMilli())}, "_token": &types.AttributeValueMemberS{Value: "other"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	hold(time.Now())
	rec.reset()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.EnsureIndex(short, coll, "v"); err == nil {
		t.Fatal("EnsureIndex succeeded while another process held the lease")
	}
	if n := rec.count("UpdateTable"); n != 0 {
		t.Fatalf("EnsureIndex called UpdateTable %d times under another process's lease", n)
	}
	hold(time.Now().Add(-leaseTTL - time.Second))
	if err := s.EnsureIndex(ctx, coll, "v"); err != nil {
		t.Fatalf("EnsureIndex with a stale lease: %v", err)
	}
	if n := rec.count("UpdateTable"); n != 1 {
		t.Fatalf("UpdateTable called %d times, want 1", n)
	}
	p, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("v", dbservice.Gte, 0)}})
	if err != nil || len(p.Docs) != 1 || p.Stats.Index == "" {
		t.Fatalf("query after EnsureIndex: %d docs, index %q, %v (the lease item must not be returned)", len(p.Docs), p.Stats.Index, err)
	}
	if n, err := s.Count(ctx, coll, nil); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1 (the lease item is not a document)", n, err)
	}
}

// TestIndexAttributeNames: a new index's key attributes are short (they
// travel with every item), attributes that hold the same keys are one
// attribute, and an attribute whose digest starts like another's that
// holds something else gets a name of its own.
func TestIndexAttributeNames(t *testing.T) {
	mk := func(shards int, fields ...string) index {
		t.Helper()
		ix, err := newIndex(fields, shards)
		if err != nil {
			t.Fatal(err)
		}
		return ix
	}
	a := mk(DefaultIndexShards, "team")
	if len(a.hashAttr) != 7 || len(a.sortAttr) != 7 || !strings.HasPrefix(a.hashAttr, indexAttrPrefix) || a.hashAttr == a.sortAttr {
		t.Fatalf("attributes %q, %q; want 7 bytes each, distinct, starting %q", a.hashAttr, a.sortAttr, indexAttrPrefix)
	}
	score, teamScore, four := mk(DefaultIndexShards, "score"), mk(0, "team", "score"), mk(4, "score")
	for _, c := range []struct {
		what       string
		same, want bool
	}{
		{"one-shard indexes' hash", a.hashAttr == score.hashAttr, true},
		{"[score] and [team, score] sort", score.sortAttr == teamScore.sortAttr, true},
		{"[team] and [score] sort", a.sortAttr == score.sortAttr, false},
		{"one and four shards' hash", score.hashAttr == four.hashAttr, false},
		{"four shards' and one shard's sort on score", score.sortAttr == four.sortAttr, true},
		{"[team, score] hash and [team] hash", teamScore.hashAttr == a.hashAttr, false},
		{"[team, score] hash and [team, name] hash", teamScore.hashAttr == mk(0, "team", "name").hashAttr, true},
		{"[team, score] and [team, score, name] sort", teamScore.sortAttr == mk(0, "team", "score", "name").sortAttr, false},
	} {
		if c.same != c.want {
			t.Errorf("%s: shared = %v, want %v", c.what, c.same, c.want)
		}
	}
	// Sharing keeps the names: next to each other they stay as they are.
	if got := teamScore.withTagFree([]index{a, score}); got.hashAttr != teamScore.hashAttr || got.sortAttr != teamScore.sortAttr {
		t.Fatalf("[team, score] next to [score] took %q, %q; want %q, %q", got.hashAttr, got.sortAttr, teamScore.hashAttr, teamScore.sortAttr)
	}
	// Find an index whose sort attribute's four digest digits are a's.
	var b index
	for i := 0; ; i++ {
		if i > 1<<22 {
			t.Fatal("no colliding name found")
		}
		if c := mk(DefaultIndexShards, "f"+strconv.Itoa(i)); c.sortAttr == a.sortAttr {
			b = c
			break
		}
	}
	b = b.withTagFree([]index{a})
	if b.sortAttr == a.sortAttr || len(b.sortAttr) != 8 || b.hashAttr != a.hashAttr {
		t.Fatalf("colliding index got %q, %q next to %q, %q; want a sort attribute of its own one digit longer, and the shared hash", b.hashAttr, b.sortAttr, a.hashAttr, a.sortAttr)
	}
	if again := a.withTagFree([]index{a, b}); again.hashAttr != a.hashAttr || again.sortAttr != a.sortAttr {
		t.Fatalf("an index next to itself changed its attributes to %q, %q", again.hashAttr, again.sortAttr)
	}
	// An index of the version before names its attributes after itself,
	// and holds the same printable keys: a new index may share with it
	// only where the names and what they hold agree, which they never do
	// by name here.
	old, ok := parseIndex(strings.Replace(score.name, ".s1q.", ".s1p.", 1))
	if !ok || !old.printable || old.shared || old.hashAttr == score.hashAttr {
		t.Fatalf("the version before's index read back as %+v", old)
	}
}

// TestIndexOfAnEarlierVersionKeepsServing: an index created by an
// earlier version (the 19-byte attribute names and IndexKey text of the
// first ones, or the printable keys of the version before, named after
// the index) is read by the names its key schema records: EnsureIndex
// finishes it, writes maintain those attributes in its own form and
// queries are served by it.
func TestIndexOfAnEarlierVersionKeepsServing(t *testing.T) {
	for _, form := range []string{"", "p"} {
		t.Run("kind=s1"+form, func(t *testing.T) {
			t.Parallel()
			earlierIndexKeepsServing(t, form)
		})
	}
}

func earlierIndexKeepsServing(t *testing.T, form string) {
	s := newServer(t, nil)
	ctx, coll := context.Background(), dbtest.Collection(t)
	table := s.table(coll)
	t.Cleanup(func() { dropTableT(t, s, table) })
	if _, err := s.Save(ctx, coll, "before", dbservice.Doc{"team": "red"}); err != nil {
		t.Fatal(err)
	}
	current, err := newIndex([]string{"team"}, DefaultIndexShards)
	if err != nil {
		t.Fatal(err)
	}
	ix, ok := parseIndex(strings.Replace(current.name, ".s1q.", ".s1"+form+".", 1))
	if !ok || ix.printable != (form == "p") || ix.shared {
		t.Fatalf("an earlier version's index name is not read back as one: %+v", ix)
	}
	sum := sha256.Sum256([]byte(ix.name))
	tag := indexAttrPrefix + hex.EncodeToString(sum[:8])
	hash, sort := tag+"h", tag+"s"
	str := types.ScalarAttributeTypeS
	_, err = s.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(hash), AttributeType: str}, {AttributeName: aws.String(sort), AttributeType: str}},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
			IndexName: aws.String(ix.name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(sort), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, s, table)
	if err := s.EnsureIndex(ctx, coll, "team"); err != nil {
		t.Fatalf("EnsureIndex of an existing index: %v", err)
	}
	if _, err := s.Save(ctx, coll, "after", dbservice.Doc{"team": "red"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"before", "after"} {
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(id)})
		if err != nil {
			t.Fatal(err)
		}
		var attrs []string
		for k := range out.Item {
			if strings.HasPrefix(k, indexAttrPrefix) {
				attrs = append(attrs, k)
			}
		}
		if slices.Sort(attrs); !slices.Equal(attrs, []string{hash, sort}) {
			t.Fatalf("%s: index attributes %v; want the index's own %s and %s only", id, attrs, hash, sort)
		}
		want := dbservice.IndexKey("red") + dbservice.IndexKey(id)
		if form == "p" {
			want = printableKey(want)
		}
		if got := out.Item[sort].(*types.AttributeValueMemberS).Value; got != want {
			t.Fatalf("%s: sort key %q, want the earlier version's form %q", id, got, want)
		}
	}
	p, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "red")}})
	if err != nil || len(p.Docs) != 2 || p.Stats.Index != ix.name {
		t.Fatalf("Query = %d docs, index %q, %v; want both documents from %s", len(p.Docs), p.Stats.Index, err, ix.name)
	}
}

// TestPrintableKeysKeepTheOrder: printableKey keeps the order and the
// prefix-freeness of IndexKey text, writes no byte below 0x20 (which
// DynamoDB's JSON would escape), and an index of this version stores its
// keys in that form.
func TestPrintableKeysKeepTheOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"\x00", "\x01", "\x02", "\x1f", " ", "!", "\"", "a", "z", "é", "\x7f", "\u00ff", "€"}
	word := func() string {
		var b strings.Builder
		for range rng.IntN(5) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	value := func() any {
		switch rng.IntN(5) {
		case 0:
			return rng.NormFloat64() * 1e6
		case 1:
			return []any{word(), 1.5}
		case 2:
			return map[string]any{word(): word()}
		case 3:
			return rng.IntN(2) == 0
		}
		return word()
	}
	for range 20000 {
		a, b := dbservice.IndexKey(value())+dbservice.IndexKey(word()), dbservice.IndexKey(value())+dbservice.IndexKey(word())
		pa, pb := printableKey(a), printableKey(b)
		if strings.Compare(pa, pb) != strings.Compare(a, b) {
			t.Fatalf("order of %q, %q not kept: %q, %q", a, b, pa, pb)
		}
		if strings.HasPrefix(pb, pa) != strings.HasPrefix(b, a) {
			t.Fatalf("prefix relation of %q, %q not kept", a, b)
		}
		if !utf8.ValidString(pa) || strings.ContainsFunc(pa, func(r rune) bool { return r < 0x20 }) {
			t.Fatalf("printableKey(%q) = %q: a control byte or invalid UTF-8", a, pa)
		}
		// Only what the values themselves hold needs JSON's escapes.
		if strings.Count(pa, `"`)+strings.Count(pa, `\`) != strings.Count(a, `"`)+strings.Count(a, `\`) {
			t.Fatalf("printableKey(%q) = %q adds a quote or a backslash", a, pa)
		}
	}
	ix, err := newIndex([]string{"team"}, DefaultIndexShards)
	if err != nil || !ix.printable {
		t.Fatalf("a new index is not printable: %+v, %v", ix, err)
	}
	_, sort, _ := ix.attrs("d1", dbservice.Doc{"team": "red"})
	if want := printableKey(dbservice.IndexKey("red") + dbservice.IndexKey("d1")); sort != want || strings.Contains(sort, "\x01") {
		t.Fatalf("stored sort key %q, want %q", sort, want)
	}
}

// TestIndexKeysCountInTheItemSize: DynamoDB counts index attributes in an
// item's 400 KB. An item they take exactly to the limit is stored (the
// counting agrees with DynamoDB's), one byte more is ErrInvalid before
// anything is written: for Save, Update and SaveMany, whose other items
// are not written either.
func TestIndexKeysCountInTheItemSize(t *testing.T) {
	// The default Limits keep documents to 256 KB, which leaves room for
	// any index keys; a service that raises them meets DynamoDB's limit.
	s := newServer(t, nil, func(c *Config) { c.Limits = validate.Limits{MaxDocBytes: -1, MaxStringLen: -1} })
	ctx, coll := context.Background(), dbtest.Collection(t)
	t.Cleanup(func() { dropTableT(t, s, s.table(coll)) })
	for _, f := range [][]string{{"n"}, {"team", "n"}} {
		if err := s.EnsureIndex(ctx, coll, f...); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.indexes(ctx, s.table(coll))
	if err != nil || len(list) != 2 {
		t.Fatalf("indexes: %v, %v", list, err)
	}
	// size is the filler that makes the item of id exactly the limit.
	size := func(id string) int {
		doc := dbservice.Doc{"team": "red", "n": 1.0}
		attrs := map[string]int{}
		for _, ix := range list {
			h, sk, ok := ix.attrs(id, doc)
			if !ok {
				t.Fatalf("%s: not in the index", id)
			}
			attrs[ix.hashAttr], attrs[ix.sortAttr] = len(h), len(sk)
		}
		if len(attrs) != 3 {
			t.Fatalf("index attributes %v; want three: [n]'s hash, the sort both share, [team, n]'s hash", attrs)
		}
		n := MaxItemBytes - (len(idAttr) + len(id) + len(revAttr) + len(newRev()) + len("team") + len("red") + len("n") + 2 + len("s"))
		for name, v := range attrs {
			n -= len(name) + v
		}
		return n
	}
	doc := func(id string, over int) dbservice.Doc {
		return dbservice.Doc{"team": "red", "n": 1.0, "s": strings.Repeat("a", size(id)+over)}
	}
	if _, err := s.Save(ctx, coll, "at-limit", doc("at-limit", 0)); err != nil {
		t.Fatalf("an item of exactly %d bytes with its index keys: %v", MaxItemBytes, err)
	}
	if p, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "red")}, Fields: []string{"team"}}); err != nil || len(p.Docs) != 1 {
		t.Fatalf("the item at the limit in its index: %d docs, %v", len(p.Docs), err)
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), "with its index keys") {
			t.Fatalf("%s one byte over with its index keys: %v; want ErrInvalid naming the index keys", what, err)
		}
	}
	_, err = s.Save(ctx, coll, "over", doc("over", 1))
	refused("Save", err)
	// The filler of "at-limit" one byte longer, through read-modify-write
	// (n is indexed).
	_, err = s.Update(ctx, coll, "at-limit", []dbservice.Mutation{dbservice.Set("n", 1.0), dbservice.Set("s", strings.Repeat("a", size("at-limit")+1))})
	refused("Update", err)
	err = s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "small", Doc: dbservice.Doc{"team": "red"}}, {ID: "over", Doc: doc("over", 1)}})
	refused("SaveMany", err)
	for _, id := range []string{"over", "small"} {
		if _, err := s.Get(ctx, coll, id); !errors.Is(err, dbservice.ErrNotFound) {
			t.Fatalf("Get(%s) after the refusals: %v; want ErrNotFound (nothing written)", id, err)
		}
	}
	if got, err := s.Get(ctx, coll, "at-limit"); err != nil || len(got["s"].(string)) != size("at-limit") {
		t.Fatalf("the item at the limit changed: %v", err)
	}
}

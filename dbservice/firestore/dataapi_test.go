package firestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// rpcName is the gRPC method of the Firestore service named m.
func rpcName(m string) string { return "/google.firestore.v1.Firestore/" + m }

// TestUpdateIsOneReadAndOneConditionalWrite checks the native path: a
// BatchGetDocuments and a Commit, whatever the mutations, and that the
// write is a field update, not a replacement: a field written by another
// writer after Update's read would survive (shown here by the field being
// untouched) and the untouched fields keep their stored types (an int64
// another writer stored stays an integer in Firestore).
func TestUpdateIsOneReadAndOneConditionalWrite(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	raw := s.collection(coll).Doc("u")
	if _, err := raw.Set(ctx, map[string]any{"n": int64(5), "keep": int64(7), "tags": []any{"a"}, "m": map[string]any{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	rev, err := s.Update(ctx, coll, "u", []dbservice.Mutation{
		dbservice.Increment("n", 2),
		dbservice.Append("tags", "b", "a"),
		dbservice.Set("m.z", true),
		dbservice.Unset("gone"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.snapshot()
	if got[rpcName("BatchGetDocuments")] != 1 || got[rpcName("Commit")] != 1 || rec.total() != 2 {
		t.Fatalf("Update sent %v, want one BatchGetDocuments and one Commit", got)
	}
	snap, err := raw.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if encodeRev(snap.UpdateTime) != rev {
		t.Fatalf("Update returned rev %s, the document's update time is %s", rev, encodeRev(snap.UpdateTime))
	}
	data := snap.Data()
	if data["keep"] != int64(7) {
		t.Fatalf("an untouched field was rewritten: keep = %#v", data["keep"])
	}
	if data["n"] != 7.0 || !slices.Equal(data["tags"].([]any), []any{"a", "b"}) {
		t.Fatalf("stored %v", data)
	}
	if m := data["m"].(map[string]any); m["x"] != "y" || m["z"] != true {
		t.Fatalf("nested Set replaced its map: %v", m)
	}
}

// TestUpdateRefusesWhatFirestoreTransformsWouldOverwrite: Firestore's
// Increment and ArrayUnion would silently replace a string; the contract
// refuses, and nothing is written.
func TestUpdateRefusesWhatFirestoreTransformsWouldOverwrite(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	rev, err := s.Save(ctx, coll, "u", dbservice.Doc{"s": "text", "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []dbservice.Mutation{
		dbservice.Increment("s", 1),
		dbservice.Append("s", "x"),
		dbservice.Remove("n", 1),
		dbservice.Set("s.inner", 1),
	} {
		if _, err := s.Update(ctx, coll, "u", []dbservice.Mutation{dbservice.Increment("n", 1), m}); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("%s %s: %v, want ErrInvalid", m.Kind, m.Path, err)
		}
	}
	d, err := s.Get(ctx, coll, "u")
	if err != nil || d["_rev"] != rev || d["n"] != 1.0 || d["s"] != "text" {
		t.Fatalf("after refused updates: %v, %v (rev %s)", d, err, rev)
	}
}

// TestUpdateResultOverTheLimitIsRefusedBeforeTheWrite: the result of the
// mutations is checked like a saved document, with the read of the
// current document the only request.
func TestUpdateResultOverTheLimitIsRefusedBeforeTheWrite(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	big := strings.Repeat("x", 9000)
	doc := dbservice.Doc{}
	for i := range 28 {
		doc[fmt.Sprintf("f%02d", i)] = big
	}
	if _, err := s.Save(ctx, coll, "u", doc); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	_, err := s.Update(ctx, coll, "u", []dbservice.Mutation{dbservice.Set("more", big), dbservice.Set("evenmore", big)})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("Update past the document size limit: %v, want ErrInvalid", err)
	}
	if got := rec.snapshot(); got[rpcName("Commit")] != 0 {
		t.Fatalf("a refused result was sent: %v", got)
	}
}

// TestConcurrentIncrementsAreNeverLost: 8 goroutines × 25 increments with
// no IfRev end at exactly 200; the log of attempts shows the
// precondition made writers retry.
func TestConcurrentIncrementsAreNeverLost(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "c", dbservice.Doc{"n": 0}); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if _, err := s.Update(ctx, coll, "c", []dbservice.Mutation{dbservice.Increment("n", 1)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d, err := s.Get(ctx, coll, "c")
	if err != nil || d["n"] != 200.0 {
		t.Fatalf("after 8×25 increments: %v, %v", d, err)
	}
	got := rec.snapshot()
	t.Logf("200 increments in %v: %d commits, %d reads", time.Since(start).Round(time.Millisecond), got[rpcName("Commit")], got[rpcName("BatchGetDocuments")])
}

// TestRefusedBatchesSendNothing: an invalid ID anywhere in a GetMany or
// DeleteMany, a hostile mutation or an invalid count condition is
// ErrInvalid before any request, and deletes nothing.
func TestRefusedBatchesSendNothing(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "a", dbservice.Doc{"v": 1}); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	for _, ids := range [][]string{
		{"a", "../b"}, {"a", "a"}, {"a", "__x__"}, {"a", strings.Repeat("z", 101)}, {"a", "x/y"},
	} {
		if _, _, err := s.GetMany(ctx, coll, ids); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("GetMany(%q): %v, want ErrInvalid", ids, err)
		}
		if err := s.DeleteMany(ctx, coll, ids); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("DeleteMany(%q): %v, want ErrInvalid", ids, err)
		}
	}
	for _, mods := range [][]dbservice.Mutation{
		{dbservice.Increment("v", "1")},
		{dbservice.Set("_expires", "2000-01-01T00:00:00.000000Z")},
		{dbservice.Set("x", map[string]any{"$where": "1"})},
		{dbservice.Set("x", 1), dbservice.Unset("x")},
	} {
		if _, err := s.Update(ctx, coll, "a", mods); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("Update %v: %v, want ErrInvalid", mods, err)
		}
	}
	for _, where := range [][]dbservice.Cond{
		{dbservice.Where("$x", dbservice.Eq, 1)},
		{dbservice.Where("_expires", dbservice.Lt, "z")},
		{dbservice.Where("tags", dbservice.Contains, []any{1})},
		{dbservice.Where("s", dbservice.Prefix, 1)},
	} {
		if _, err := s.Count(ctx, coll, where); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("Count %v: %v, want ErrInvalid", where, err)
		}
	}
	if n := rec.total(); n != 0 {
		t.Fatalf("refused calls sent %d requests: %v", n, rec.snapshot())
	}
	if _, err := s.Get(ctx, coll, "a"); err != nil {
		t.Fatalf("the document a refused DeleteMany named is gone: %v", err)
	}
}

// TestGetManyIsOneRequest: 100 IDs, some missing, one expired, are one
// BatchGetDocuments; found documents come in the order of ids.
func TestGetManyIsOneRequest(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	var ids, wantFound, wantMissing []string
	for i := range 100 {
		id := fmt.Sprintf("d%03d", 99-i)
		ids = append(ids, id)
		if i%3 == 0 {
			wantMissing = append(wantMissing, id)
			continue
		}
		items = append(items, dbservice.BulkItem{ID: id, Doc: dbservice.Doc{"i": i}})
		wantFound = append(wantFound, id)
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	expiredAt(t, s, coll, wantFound[0], time.Now().Add(-time.Second))
	wantMissing = append([]string{wantFound[0]}, wantMissing...)
	wantFound = wantFound[1:]
	rec.reset()
	docs, missing, err := s.GetMany(ctx, coll, ids)
	if err != nil {
		t.Fatal(err)
	}
	if n := rec.snapshot()[rpcName("BatchGetDocuments")]; n != 1 || rec.total() != 1 {
		t.Fatalf("GetMany(100) sent %v", rec.snapshot())
	}
	var found []string
	for _, d := range docs {
		found = append(found, d["_id"].(string))
	}
	slices.Sort(wantMissing)
	slices.Reverse(wantMissing) // ids run from d099 down
	if !slices.Equal(found, wantFound) || !slices.Equal(missing, wantMissing) {
		t.Fatalf("found %v\nmissing %v\nwant found %v\nwant missing %v", found, missing, wantFound, wantMissing)
	}
}

// expiredAt stores the expiry t in a document with the raw client, as
// Save with ExpiresAt would have before t passed: the way to have an
// expired document without waiting.
func expiredAt(t *testing.T, s *Service, coll, id string, at time.Time) {
	t.Helper()
	var c *firestore.Client
	if !dbservice.As(s, &c) {
		t.Fatal("As(*firestore.Client) is false")
	}
	if _, err := c.Collection(s.prefix+coll).Doc(id).Set(t.Context(), map[string]any{expiresField: at}, firestore.MergeAll); err != nil {
		t.Fatal(err)
	}
}

// TestAnExpiredDocumentIsAbsentForEveryOperation, before Firestore's TTL
// deletion (the emulator has none) has removed it.
func TestAnExpiredDocumentIsAbsentForEveryOperation(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	for _, id := range []string{"gone", "live"} {
		if _, err := s.Save(ctx, coll, id, dbservice.Doc{"k": "v", "tags": []any{"t"}}, dbservice.TTL(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Get(ctx, coll, "gone")
	if err != nil {
		t.Fatal(err)
	}
	staleRev := d["_rev"].(string)
	if _, err := time.Parse(time.RFC3339Nano, d[dbservice.ExpiresField].(string)); err != nil {
		t.Fatalf("a document with an expiry carries %v", d)
	}
	expiredAt(t, s, coll, "gone", time.Now().Add(-time.Millisecond))
	if _, err := s.Get(ctx, coll, "gone"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get of an expired document: %v", err)
	}
	if docs, missing, err := s.GetMany(ctx, coll, []string{"gone", "live"}); err != nil || len(docs) != 1 || !slices.Equal(missing, []string{"gone"}) {
		t.Fatalf("GetMany: %v %v %v", docs, missing, err)
	}
	for _, where := range [][]dbservice.Cond{
		nil,
		{dbservice.Where("k", dbservice.Eq, "v")},
		{dbservice.Where("tags", dbservice.Contains, "t")},
		{dbservice.Where("k", dbservice.Prefix, "")},
		{dbservice.Where("k", dbservice.Gte, "a")},
	} {
		p, err := s.Query(ctx, coll, dbservice.Query{Where: where, Fields: []string{"k"}})
		if err != nil || len(p.Docs) != 1 || p.Docs[0]["_id"] != "live" || p.Docs[0][dbservice.ExpiresField] == nil {
			t.Fatalf("Query %v: %v, %v", where, p.Docs, err)
		}
		if n, err := s.Count(ctx, coll, where); err != nil || n != 1 {
			t.Fatalf("Count %v = %d, %v", where, n, err)
		}
	}
	if _, err := s.Update(ctx, coll, "gone", []dbservice.Mutation{dbservice.Set("k", "w")}); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Update: %v", err)
	}
	if err := s.Delete(ctx, coll, "gone"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Save(ctx, coll, "gone", dbservice.Doc{"k": "again"}, dbservice.IfRev(staleRev)); !errors.Is(err, dbservice.ErrConflict) {
		t.Fatalf("Save IfRev of the expired revision: %v", err)
	}
	if _, err := s.Save(ctx, coll, "gone", dbservice.Doc{"k": "new"}, dbservice.IfAbsent()); err != nil {
		t.Fatalf("Save IfAbsent over an expired document: %v", err)
	}
	d, err = s.Get(ctx, coll, "gone")
	if err != nil || d["k"] != "new" || d["tags"] != nil || d[dbservice.ExpiresField] != nil {
		t.Fatalf("the document created over the expired one: %v, %v", d, err)
	}
	// Upsert over an expired document starts from an empty one.
	expiredAt(t, s, coll, "gone", time.Now().Add(-time.Millisecond))
	if _, err := s.Update(ctx, coll, "gone", []dbservice.Mutation{dbservice.Increment("n", 1)}, dbservice.Upsert()); err != nil {
		t.Fatal(err)
	}
	if d, err = s.Get(ctx, coll, "gone"); err != nil || d["n"] != 1.0 || d["k"] != nil || d[dbservice.ExpiresField] != nil {
		t.Fatalf("upserted over an expired document: %v, %v", d, err)
	}
	// An Update keeps the expiry; with ExpiresAt it replaces it.
	if _, err := s.Update(ctx, coll, "live", []dbservice.Mutation{dbservice.Set("k", "w")}); err != nil {
		t.Fatal(err)
	}
	before := d
	if d, err = s.Get(ctx, coll, "live"); err != nil || d[dbservice.ExpiresField] == nil {
		t.Fatalf("Update dropped the expiry: %v, %v (was %v)", d, err, before)
	}
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Microsecond)
	if _, err := s.Update(ctx, coll, "live", []dbservice.Mutation{dbservice.Set("k", "x")}, dbservice.ExpiresAt(at)); err != nil {
		t.Fatal(err)
	}
	if d, err = s.Get(ctx, coll, "live"); err != nil || d[dbservice.ExpiresField] != validate.FormatTime(at) {
		t.Fatalf("Update with ExpiresAt(%v): %v, %v", at, d, err)
	}
}

// TestCountIsTheAggregationUnderTheBudget: the native count() is the only
// request (two: matches and expired matches), it agrees with the
// reference, and past the budget it is a lower bound with
// ErrBudgetExceeded.
func TestCountIsTheAggregationUnderTheBudget(t *testing.T) {
	rec := newRPCCounter()
	s := newCounted(t, rec, func(c *Config) { c.ScanBudget = 50 })
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	for i := range 120 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("d%03d", i), Doc: dbservice.Doc{"g": i % 4, "tags": []any{fmt.Sprint(i % 3)}}})
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	expiredAt(t, s, coll, "d000", time.Now().Add(-time.Second))
	expiredAt(t, s, coll, "d004", time.Now().Add(-time.Second))
	rec.reset()
	// g == 0: d000, d004, ..., d116 are 30, two of them expired.
	n, err := s.Count(ctx, coll, []dbservice.Cond{dbservice.Where("g", dbservice.Eq, 0)})
	if err != nil || n != 28 {
		t.Fatalf("Count(g == 0) = %d, %v; want 28", n, err)
	}
	if got := rec.snapshot(); got[rpcName("RunAggregationQuery")] != 2 || rec.total() != 2 {
		t.Fatalf("Count sent %v, want two RunAggregationQuery", got)
	}
	// g == 0 and tags contains "0": i%4 == 0 and i%3 == 0, i.e. i%12 == 0:
	// 10 documents, d000 expired.
	n, err = s.Count(ctx, coll, []dbservice.Cond{dbservice.Where("g", dbservice.Eq, 0), dbservice.Where("tags", dbservice.Contains, "0")})
	if err != nil || n != 9 {
		t.Fatalf("Count(g == 0, tags ∋ 0) = %d, %v; want 9", n, err)
	}
	rec.reset()
	n, err = s.Count(ctx, coll, nil)
	if !errors.Is(err, dbservice.ErrBudgetExceeded) || n < 1 || n > 118 {
		t.Fatalf("Count of 118 under a budget of 50 = %d, %v; want a lower bound with ErrBudgetExceeded", n, err)
	}
	if got := rec.snapshot(); got[rpcName("RunAggregationQuery")] != 2 || rec.total() != 2 {
		t.Fatalf("a count past the budget sent %v", got)
	}
	// A range is counted by pages read in the order of its field, so it
	// reads only its 30 matches.
	n, err = s.Count(ctx, coll, []dbservice.Cond{dbservice.Where("g", dbservice.Gte, 3)})
	if err != nil || n != 30 {
		t.Fatalf("Count(g >= 3) under a budget of 50 = %d, %v; want 30", n, err)
	}
	// A condition Firestore cannot decide is counted by pages, under the
	// same budget.
	n, err = s.Count(ctx, coll, []dbservice.Cond{dbservice.Where("g", dbservice.Exists, false)})
	if !errors.Is(err, dbservice.ErrBudgetExceeded) || n != 0 {
		t.Fatalf("Count(g absent) under a budget of 50 = %d, %v", n, err)
	}
}

// prefixProbe holds strings at the edges of UTF-8 byte order: code
// points around every encoding length, the surrogate gap, U+FFFF and
// U+10FFFF, and strings whose last byte +1 is not valid UTF-8.
var prefixProbe = []string{
	"", "a", "ab", "abc", "ab\x00", "ab\x7f", "ab\u0080", "ab\u07ff", "ab\u0800", "ab\ud7ff", "ab\ue000",
	"ab\uffff", "ab\U00010000", "ab\U0010ffff", "ab\U0010ffffz", "ac", "b", "\U0010ffff", "\U0010ffff\U0010ffff",
	"\U0010ffff\U0010ffffa", "a\u00bf", "a\u00c0", "a\u00bfz", "é", "éa", "f", "A", "Ab",
}

// TestPrefixCountIsExactInByteOrder: Count with Prefix, sent as a range,
// gives the reference's answer for every probe string as prefix; Query
// (Prefix on the client) agrees.
func TestPrefixCountIsExactInByteOrder(t *testing.T) {
	s := newServer(t)
	mem := memory.New()
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	for i, v := range prefixProbe {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("p%02d", i), Doc: dbservice.Doc{"s": v}})
	}
	items = append(items, dbservice.BulkItem{ID: "num", Doc: dbservice.Doc{"s": 1}}, dbservice.BulkItem{ID: "nul", Doc: dbservice.Doc{"s": nil}})
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	if err := mem.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	for _, p := range prefixProbe {
		where := []dbservice.Cond{dbservice.Where("s", dbservice.Prefix, p)}
		want, err := mem.Count(ctx, coll, where)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Count(ctx, coll, where)
		if err != nil || got != want {
			t.Errorf("Count(prefix %q) = %d, %v; the reference says %d", p, got, err, want)
		}
		page, err := s.Query(ctx, coll, dbservice.Query{Where: where, Limit: 100})
		if err != nil || len(page.Docs) != want {
			t.Errorf("Query(prefix %q) = %d docs, %v; want %d", p, len(page.Docs), err, want)
		}
	}
}

// TestContainsIsPushedDownAndExact: array-contains reads only the
// matches, agrees with Match on numbers stored as integers by another
// writer, and Explain says which index serves it.
func TestContainsIsPushedDownAndExact(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	for i := range 40 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("d%02d", i), Doc: dbservice.Doc{"tags": []any{fmt.Sprint(i % 10), float64(i % 5), i%2 == 0}}})
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	if _, err := s.collection(coll).Doc("raw").Set(ctx, map[string]any{"tags": []any{int64(3), "x"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    any
		want int
	}{{"3", 4}, {3.0, 9}, {true, 20}, {"x", 1}, {"none", 0}} {
		q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("tags", dbservice.Contains, c.v)}}
		page, err := s.Query(ctx, coll, q)
		if err != nil || len(page.Docs) != c.want || page.Stats.Read != c.want {
			t.Fatalf("Contains %v: %d docs, %d read, %v; want %d read and returned", c.v, len(page.Docs), page.Stats.Read, err, c.want)
		}
		plan, err := s.Explain(ctx, coll, q)
		if err != nil || plan.Index == nil || !strings.Contains(plan.Index.Name, "array-contains") {
			t.Fatalf("Explain of Contains: %+v, %v", plan, err)
		}
	}
	// nil stays on the client, and Explain says so.
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("tags", dbservice.Contains, nil)}}
	if plan, err := s.Explain(ctx, coll, q); err != nil || plan.Index != nil {
		t.Fatalf("Explain of Contains nil: %+v, %v", plan, err)
	}
}

// TestAsReachesTheClient: the escape hatch gives the provider's own client
// and nothing else.
func TestAsReachesTheClient(t *testing.T) {
	s := newServer(t)
	var c *firestore.Client
	if !dbservice.As(dbservice.Guard(s, dbservice.Policy{}), &c) || c != s.client {
		t.Fatal("As through Guard did not give the client")
	}
	var wrong *string
	if s.As(&wrong) || s.As(nil) {
		t.Fatal("As accepted a target of another type")
	}
}

// TestFieldUpdatesUseTheNamesOfEscapedPaths: a name holding "." is one
// Firestore path segment, never two.
func TestFieldUpdatesUseTheNamesOfEscapedPaths(t *testing.T) {
	data := map[string]any{"files": map[string]any{"main.py": "print()"}}
	ups := fieldUpdates(data, []dbservice.Mutation{
		{Kind: dbservice.MutSet, Path: dbservice.Path("files", "main.py")},
		{Kind: dbservice.MutUnset, Path: dbservice.Path("files", "a.b")},
		{Kind: dbservice.MutUnset, Path: dbservice.Path("files", "main.py", "inner")},
	})
	if len(ups) != 2 || !slices.Equal(ups[0].FieldPath, firestore.FieldPath{"files", "main.py"}) || ups[0].Value != "print()" ||
		!slices.Equal(ups[1].FieldPath, firestore.FieldPath{"files", "a.b"}) || ups[1].Value != firestore.Delete {
		t.Fatalf("fieldUpdates = %+v", ups)
	}
	if fp := fieldPath(dbservice.Path("files", "main.py")); !slices.Equal(fp, firestore.FieldPath{"files", "main.py"}) {
		t.Fatalf("fieldPath = %v", fp)
	}
}

// refuseAggregations makes the emulator answer like production Firestore
// without a composite index: count() aggregations whose request matches
// refuse fail with FailedPrecondition, before they are sent.
func refuseAggregations(refuse func(text string) bool) []option.ClientOption {
	return []option.ClientOption{option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			cs, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil || method != rpcName("RunAggregationQuery") {
				return cs, err
			}
			return &refusingStream{ClientStream: cs, refuse: refuse}, nil
		}))}
}

type refusingStream struct {
	grpc.ClientStream
	refuse func(string) bool
}

func (r *refusingStream) SendMsg(m any) error {
	if req, ok := m.(*firestorepb.RunAggregationQueryRequest); ok && r.refuse(prototext.Format(req)) {
		return status.Error(codes.FailedPrecondition, "The query requires an index.")
	}
	return r.ClientStream.SendMsg(m)
}

// TestCountWithoutACompositeIndex: where the filters and the expiry range
// together need a composite index, Count finds the expired documents with
// the expiry's own index (one RunQuery); with more expired documents than
// the budget, or filters that need an index themselves, it walks the
// pages. The answer is the same every way.
func TestCountWithoutACompositeIndex(t *testing.T) {
	withExpiryAndMore := func(text string) bool {
		return strings.Contains(text, `"_expires"`) && strings.Contains(text, `"g"`)
	}
	withG := func(text string) bool { return strings.Contains(text, `"g"`) }
	for _, c := range []struct {
		name            string
		refuse          func(string) bool
		budget          int
		wantAgg, wantRQ int
	}{
		{"expired found by their own index", withExpiryAndMore, 100, 2, 1},
		{"more expired than the budget", withExpiryAndMore, 5, 2, 2},
		{"the filters need an index", withG, 100, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRPCCounter()
			s := newCounted(t, rec, func(cfg *Config) {
				cfg.ScanBudget = c.budget
				cfg.ClientOptions = append(cfg.ClientOptions, refuseAggregations(c.refuse)...)
			})
			ctx, coll := t.Context(), dbtest.Collection(t)
			var items []dbservice.BulkItem
			for i := range 40 {
				items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("d%02d", i), Doc: dbservice.Doc{"g": i % 2}})
			}
			if err := s.SaveMany(ctx, coll, items); err != nil {
				t.Fatal(err)
			}
			// Eight expired documents, half of them with g == 0.
			for i := range 8 {
				expiredAt(t, s, coll, fmt.Sprintf("d%02d", i), time.Now().Add(-time.Second))
			}
			rec.reset()
			n, err := s.Count(ctx, coll, []dbservice.Cond{dbservice.Where("g", dbservice.Eq, 0)})
			got := rec.snapshot()
			if c.budget < 20 {
				// The walk stops at the budget: a lower bound.
				if !errors.Is(err, dbservice.ErrBudgetExceeded) || n > 16 {
					t.Fatalf("Count = %d, %v; want a lower bound of 16 with ErrBudgetExceeded", n, err)
				}
			} else if err != nil || n != 16 {
				t.Fatalf("Count = %d, %v; want 16", n, err)
			}
			if got[rpcName("RunAggregationQuery")] != c.wantAgg || got[rpcName("RunQuery")] != c.wantRQ {
				t.Fatalf("Count sent %v; want %d RunAggregationQuery and %d RunQuery", got, c.wantAgg, c.wantRQ)
			}
		})
	}
}

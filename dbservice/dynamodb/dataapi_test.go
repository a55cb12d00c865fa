package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

type muts = []dbservice.Mutation

// TestUpdateIsOneUpdateItem: Set, Unset, Increment and Append of
// scalars the list does not hold are one UpdateItem and nothing else, and
// give the document ApplyMutations gives.
func TestUpdateIsOneUpdateItem(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec, cachedIndexes)
	ctx, coll := t.Context(), dbtest.Collection(t)
	start := dbservice.Doc{"n": 1, "owner": dbservice.Doc{"id": "u1", "tier": "gold", "seen": []any{"z"}}, "gone": true, "tags": []any{"a"}}
	if _, err := s.Save(ctx, coll, "d", start); err != nil {
		t.Fatal(err)
	}
	mods := muts{dbservice.Increment("n", 41), dbservice.Set("owner.id", "u2"), dbservice.Unset("gone"), dbservice.Increment("fresh", 2.5),
		dbservice.Append("tags", "x", 1, "x", true), dbservice.Append("owner.seen", "y")}
	rec.reset()
	rev, err := s.Update(ctx, coll, "d", mods)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.names(); !reflect.DeepEqual(got, []string{"UpdateItem"}) {
		t.Fatalf("operations %v, want exactly one UpdateItem", got)
	}
	got, err := s.Get(ctx, coll, "d")
	if err != nil {
		t.Fatal(err)
	}
	want := wantApplied(t, start, mods)
	if got["_rev"] != rev || !reflect.DeepEqual(body(got), want) {
		t.Fatalf("after Update: %v (rev %v), want %v (rev %s)", body(got), got["_rev"], want, rev)
	}
}

func wantApplied(t *testing.T, doc dbservice.Doc, mods muts) dbservice.Doc {
	t.Helper()
	nd, err := dbservice.NormalizeDoc(doc, validate.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := dbservice.CheckMutations(mods, validate.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := dbservice.ApplyMutations(nd, cm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUpdateFallsBackWhereUpdateItemCannot: a Set under maps that do not
// exist yet, an Append and a Remove (union semantics over lists) take the
// conditional read-modify-write (GetItem, then PutItem on the revision
// read), and still give ApplyMutations' document.
func TestUpdateFallsBackWhereUpdateItemCannot(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec, cachedIndexes)
	ctx, coll := t.Context(), dbtest.Collection(t)
	start := dbservice.Doc{"tags": []any{"a", "b", "a"}, "n": 1}
	cases := []struct {
		name string
		mods muts
		ops  []string
	}{
		{"set under missing maps", muts{dbservice.Set("x.y.z", 1), dbservice.Increment("n", 1)}, []string{"GetItem", "PutItem", "UpdateItem"}},
		{"increment under a missing map", muts{dbservice.Increment("c.hits", 1)}, []string{"GetItem", "PutItem", "UpdateItem"}},
		{"append of a value already there", muts{dbservice.Append("tags", "b", "c", "c", 2.0)}, []string{"GetItem", "PutItem", "UpdateItem"}},
		{"append of an object", muts{dbservice.Append("tags", map[string]any{"k": "v"})}, []string{"GetItem", "PutItem"}},
		{"remove takes every copy", muts{dbservice.Remove("tags", "a", "zz")}, []string{"GetItem", "PutItem"}},
		{"append of null creates the array", muts{dbservice.Append("list", true, nil)}, []string{"GetItem", "PutItem"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Save(ctx, coll, "d", start); err != nil {
				t.Fatal(err)
			}
			rec.reset()
			if _, err := s.Update(ctx, coll, "d", c.mods); err != nil {
				t.Fatal(err)
			}
			if got := rec.names(); !reflect.DeepEqual(got, c.ops) {
				t.Fatalf("operations %v, want %v", got, c.ops)
			}
			got, err := s.Get(ctx, coll, "d")
			if err != nil {
				t.Fatal(err)
			}
			if want := wantApplied(t, start, c.mods); !reflect.DeepEqual(body(got), want) {
				t.Fatalf("after Update: %v, want %v", body(got), want)
			}
		})
	}
}

// TestUpdateRefusalsComeFromTheCondition: an increment of a string and a
// Set through a number fail the UpdateItem's condition on the server,
// and the provider reports ErrInvalid from the item DynamoDB hands back,
// without a second request and without changing anything.
func TestUpdateRefusalsComeFromTheCondition(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	rev, err := s.Save(ctx, coll, "d", dbservice.Doc{"s": "text", "n": 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, mods := range []muts{
		{dbservice.Increment("s", 1)},
		{dbservice.Set("n.deeper", 1)},
		{dbservice.Increment("n", 1), dbservice.Increment("s", 1)},
	} {
		rec.reset()
		_, err := s.Update(ctx, coll, "d", mods)
		if !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("Update %v: %v, want ErrInvalid", mods, err)
		}
		if got := rec.names(); !reflect.DeepEqual(got, []string{"UpdateItem"}) {
			t.Fatalf("Update %v sent %v, want only the one UpdateItem", mods, got)
		}
	}
	got, err := s.Get(ctx, coll, "d")
	if err != nil {
		t.Fatal(err)
	}
	if got["_rev"] != rev || got["n"] != 5.0 {
		t.Fatalf("document changed by refused updates: %v", got)
	}
	// What validation refuses never reaches the server.
	rec.reset()
	for _, mods := range []muts{
		{dbservice.Set("x", map[string]any{"$where": "1"})},
		{dbservice.Set("deep"+strings.Repeat(".d", 25), 1)},
		{dbservice.Increment("n", 1e200)},
		{dbservice.Append("l", 1e-200)},
	} {
		if _, err := s.Update(ctx, coll, "d", mods); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("Update %v: %v, want ErrInvalid", mods, err)
		}
	}
	if n := rec.total(); n != 0 {
		t.Fatalf("%d requests for refused mutations, want 0", n)
	}
	// IfRev and a missing document are told apart the same way.
	if _, err := s.Update(ctx, coll, "d", muts{dbservice.Increment("n", 1)}, dbservice.IfRev("stale-rev-0000")); !errors.Is(err, dbservice.ErrConflict) {
		t.Fatalf("stale IfRev: %v, want ErrConflict", err)
	}
	if _, err := s.Update(ctx, coll, "missing", muts{dbservice.Increment("n", 1)}); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("missing document: %v, want ErrNotFound", err)
	}
}

// TestConcurrentAppendsLoseNone: 8 goroutines × 5 Appends of objects
// take the read-modify-write path at once; its bounded loop on the
// revision keeps every value.
func TestConcurrentAppendsLoseNone(t *testing.T) {
	s := newServer(t, nil)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "d", dbservice.Doc{"vals": []any{}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range errs {
		wg.Go(func() {
			for i := range 5 {
				if _, err := s.Update(ctx, coll, "d", muts{dbservice.Append("vals", map[string]any{"g": g, "i": i})}); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", g, err)
		}
	}
	got, err := s.Get(ctx, coll, "d")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got["vals"].([]any)); n != 40 {
		t.Fatalf("%d values after 40 concurrent appends, want 40", n)
	}
}

// TestUpdateUpsertAndExpiry: Upsert creates a missing document natively;
// an Update without ExpiresAt keeps the expiry and one with it moves it;
// an Upsert over an expired item (still stored, as DynamoDB deletes
// lazily) starts from an empty document.
func TestUpdateUpsertAndExpiry(t *testing.T) {
	s := newServer(t, nil)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Update(ctx, coll, "new", muts{dbservice.Increment("n", 1)}, dbservice.Upsert()); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	if _, err := s.Save(ctx, coll, "e", dbservice.Doc{"n": 1}, dbservice.ExpiresAt(at)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, coll, "e", muts{dbservice.Increment("n", 1)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, coll, "e")
	if err != nil {
		t.Fatal(err)
	}
	if got[dbservice.ExpiresField] != formatTime(at) || got["n"] != 2.0 {
		t.Fatalf("after an Update without ExpiresAt: %v, want n 2 and the expiry kept", got)
	}
	later := at.Add(time.Hour)
	if _, err := s.Update(ctx, coll, "e", muts{dbservice.Set("m", 1)}, dbservice.ExpiresAt(later)); err != nil {
		t.Fatal(err)
	}
	raw := rawItem(t, s, coll, "e")
	if v := raw[ttlAttr].(*types.AttributeValueMemberN).Value; v != fmt.Sprint(later.Unix()+1) {
		t.Fatalf("TTL attribute %s, want %d (epoch seconds, rounded up)", v, later.Unix()+1)
	}

	putExpired(t, s, coll, "old", dbservice.Doc{"stale": true, "n": 7})
	if _, err := s.Update(ctx, coll, "old", muts{dbservice.Increment("n", 1)}); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Update of an expired document: %v, want ErrNotFound", err)
	}
	if _, err := s.Update(ctx, coll, "old", muts{dbservice.Increment("n", 1)}, dbservice.Upsert()); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(ctx, coll, "old")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(body(got), dbservice.Doc{"n": 1.0}) || got[dbservice.ExpiresField] != nil {
		t.Fatalf("Upsert over an expired document: %v, want only n 1 and no expiry", got)
	}
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func rawItem(t *testing.T, s *Service, coll, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := s.client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(s.table(coll)), Key: key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// putExpired stores, with the raw SDK, the item of a document whose
// expiry passed a minute ago: what a table holds until DynamoDB's TTL
// gets to it, which may take days (and DynamoDB Local may never).
func putExpired(t *testing.T, s *Service, coll, id string, doc dbservice.Doc) {
	t.Helper()
	if err := s.EnsureIndex(t.Context(), coll, "x"); err != nil { // creates the table
		t.Fatal(err)
	}
	nd, err := dbservice.NormalizeDoc(doc, validate.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	item, _, err := encodeItem(id, newRev(), nd, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(s.table(coll)), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredItemsAreNeverReturned: an item whose expiry passed, still in
// the table, is absent for every read and write of the contract.
func TestExpiredItemsAreNeverReturned(t *testing.T) {
	s := newServer(t, nil)
	ctx, coll := t.Context(), dbtest.Collection(t)
	putExpired(t, s, coll, "gone", dbservice.Doc{"k": "v"})
	if _, err := s.Save(ctx, coll, "live", dbservice.Doc{"k": "v"}, dbservice.TTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, coll, "gone"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
	docs, missing, err := s.GetMany(ctx, coll, []string{"gone", "live"})
	if err != nil || len(docs) != 1 || docs[0]["_id"] != "live" || !reflect.DeepEqual(missing, []string{"gone"}) {
		t.Fatalf("GetMany = %v, %v, %v; want live found and gone missing", docs, missing, err)
	}
	page, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("k", dbservice.Eq, "v")}})
	if err != nil || len(page.Docs) != 1 || page.Docs[0]["_id"] != "live" || page.Docs[0][dbservice.ExpiresField] == nil {
		t.Fatalf("Query = %v, %v; want only live, with its expiry", page.Docs, err)
	}
	page, err = s.Query(ctx, coll, dbservice.Query{Fields: []string{"k"}})
	if err != nil || len(page.Docs) != 1 || page.Docs[0][dbservice.ExpiresField] == nil {
		t.Fatalf("projected Query = %v, %v; want live with its expiry", page.Docs, err)
	}
	if n, err := s.Count(ctx, coll, nil); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
	if err := s.Delete(ctx, coll, "gone"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Save(ctx, coll, "gone", dbservice.Doc{"k": "new"}, dbservice.IfAbsent()); err != nil {
		t.Fatalf("IfAbsent over an expired document: %v, want success", err)
	}
	if raw := rawItem(t, s, coll, "gone"); raw[ttlAttr] != nil || raw[expiresAttr] != nil {
		t.Fatalf("a Save without ExpiresAt kept the expiry attributes: %v", raw)
	}
}

// TestTablesExpireNatively: a table the provider creates has DynamoDB's
// time to live enabled on the TTL attribute.
func TestTablesExpireNatively(t *testing.T) {
	s := newServer(t, nil)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "d", dbservice.Doc{}, dbservice.TTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	out, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table(coll))})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TimeToLiveDescription
	if d == nil || aws.ToString(d.AttributeName) != ttlAttr || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("time to live = %+v, want ENABLED on %s", d, ttlAttr)
	}
}

// TestGetManyAndDeleteManyBatch: 250 IDs are three BatchGetItem calls
// (100 keys each at most) and 60 deletions three BatchWriteItem calls (25
// each); found documents come in the order of ids; an invalid ID anywhere
// sends nothing.
func TestGetManyAndDeleteManyBatch(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	items := make([]dbservice.BulkItem, 120)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("d%03d", i), Doc: dbservice.Doc{"i": i}}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 250)
	for i := range ids {
		ids[i] = fmt.Sprintf("d%03d", 249-i) // descending: the answer must follow ids, not the table
	}
	rec.reset()
	docs, missing, err := s.GetMany(ctx, coll, ids)
	if err != nil {
		t.Fatal(err)
	}
	if n := rec.count("BatchGetItem"); n != 3 {
		t.Fatalf("%d BatchGetItem calls for 250 IDs, want 3", n)
	}
	if len(docs) != 120 || len(missing) != 130 || docs[0]["_id"] != "d119" || docs[119]["_id"] != "d000" || missing[0] != "d249" {
		t.Fatalf("GetMany: %d found (first %v), %d missing (first %v)", len(docs), docs[0]["_id"], len(missing), missing[0])
	}
	rec.reset()
	for _, bad := range [][]string{{"d001", "../etc"}, {"d001", "d001"}} {
		if err := s.DeleteMany(ctx, coll, bad); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("DeleteMany(%q): %v, want ErrInvalid", bad, err)
		}
		if _, _, err := s.GetMany(ctx, coll, bad); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("GetMany(%q): %v, want ErrInvalid", bad, err)
		}
	}
	if n := rec.total(); n != 0 {
		t.Fatalf("%d requests for invalid batches, want 0", n)
	}
	if err := s.DeleteMany(ctx, coll, ids[130:190]); err != nil { // d119..d060
		t.Fatal(err)
	}
	if n := rec.count("BatchWriteItem"); n != 3 {
		t.Fatalf("%d BatchWriteItem calls for 60 deletions, want 3", n)
	}
	if n, err := s.Count(ctx, coll, nil); err != nil || n != 60 {
		t.Fatalf("Count after DeleteMany = %d, %v; want 60", n, err)
	}
}

// TestCountIsServerSideUnderTheBudget: Count sends Scans with Select
// COUNT (no item crosses the network), and past the scan budget returns
// the lower bound it reached with ErrBudgetExceeded.
func TestCountIsServerSideUnderTheBudget(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec, func(c *Config) { c.ScanBudget = 50 })
	ctx, coll := t.Context(), dbtest.Collection(t)
	items := make([]dbservice.BulkItem, 120)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("d%03d", i), Doc: dbservice.Doc{"even": i%2 == 0, "tags": []any{"t", i}, "name": fmt.Sprintf("n%03d", i)}}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	n, err := s.Count(ctx, coll, []dbservice.Cond{dbservice.Where("even", dbservice.Eq, true)})
	if !errors.Is(err, dbservice.ErrBudgetExceeded) || n < 1 || n > 50 {
		t.Fatalf("Count past the budget = %d, %v; want a lower bound ≤ 50 and ErrBudgetExceeded", n, err)
	}
	rec.mu.Lock()
	for _, in := range rec.inputs {
		scan, ok := in.(*dynamodb.ScanInput)
		if !ok || scan.Select != types.SelectCount || aws.ToInt32(scan.Limit) > 50 {
			t.Fatalf("Count sent %T %+v, want Scans with Select COUNT within the budget", in, in)
		}
	}
	rec.mu.Unlock()

	big := newServer(t, nil)
	for _, c := range []struct {
		where []dbservice.Cond
		want  int
	}{
		{nil, 120},
		{[]dbservice.Cond{dbservice.Where("even", dbservice.Eq, true)}, 60},
		{[]dbservice.Cond{dbservice.Where("tags", dbservice.Contains, 7)}, 1},
		{[]dbservice.Cond{dbservice.Where("tags", dbservice.Contains, "t")}, 120},
		{[]dbservice.Cond{dbservice.Where("name", dbservice.Contains, "n")}, 0}, // a string is not an array
		{[]dbservice.Cond{dbservice.Where("name", dbservice.Prefix, "n01")}, 10},
		{[]dbservice.Cond{dbservice.Where("i", dbservice.Lt, 1e200)}, 0}, // not exact on the server: walked
	} {
		n, err := big.Count(ctx, coll, c.where)
		if err != nil || n != c.want {
			t.Fatalf("Count(%v) = %d, %v; want %d", c.where, n, err, c.want)
		}
	}
}

// TestAsReachesTheClient: dbservice.As finds the SDK client under Guard.
func TestAsReachesTheClient(t *testing.T) {
	s := newServer(t, nil)
	g := dbservice.Guard(s, dbservice.DefaultPolicy())
	var c *dynamodb.Client
	if !dbservice.As(g, &c) || c != s.client {
		t.Fatal("As did not reach the provider's *dynamodb.Client through Guard")
	}
	var wrong *int
	if dbservice.As(g, &wrong) {
		t.Fatal("As set a target of another type")
	}
}

// unprocessedKeysInjector makes the real server's BatchGetItem answers
// look throttled: for the first left calls, half of the keys asked are
// taken out of Responses and handed back as UnprocessedKeys, as DynamoDB
// does under throttling or past its 16 MB answer limit.
type unprocessedKeysInjector struct {
	mu    sync.Mutex
	left  int
	calls int
}

func (u *unprocessedKeysInjector) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("injectUnprocessedKeys",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				bg, ok := out.Result.(*dynamodb.BatchGetItemOutput)
				if err != nil || !ok {
					return out, md, err
				}
				u.mu.Lock()
				defer u.mu.Unlock()
				u.calls++
				if u.left == 0 {
					return out, md, err
				}
				u.left--
				bg.UnprocessedKeys = map[string]types.KeysAndAttributes{}
				for table, ka := range in.Parameters.(*dynamodb.BatchGetItemInput).RequestItems {
					held := map[string]bool{}
					keys := ka.Keys[:(len(ka.Keys)+1)/2]
					for _, k := range keys {
						held[k[idAttr].(*types.AttributeValueMemberS).Value] = true
					}
					bg.UnprocessedKeys[table] = types.KeysAndAttributes{Keys: keys, ConsistentRead: ka.ConsistentRead}
					bg.Responses[table] = slices.DeleteFunc(bg.Responses[table], func(item map[string]types.AttributeValue) bool {
						return held[item[idAttr].(*types.AttributeValueMemberS).Value]
					})
				}
				return out, md, err
			}), middleware.After)
	})
}

// TestGetManyRetriesUnprocessedKeys: keys BatchGetItem leaves unprocessed
// are asked again until none are left, and a bounded number of times.
func TestGetManyRetriesUnprocessedKeys(t *testing.T) {
	defer func(d time.Duration) { unprocessedDelay = d }(unprocessedDelay)
	unprocessedDelay = time.Millisecond

	t.Run("every document comes back", func(t *testing.T) {
		inj := &unprocessedKeysInjector{left: 3}
		s := newServer(t, nil, func(c *Config) { c.ClientOptions = append(c.ClientOptions, inj.install) })
		ctx, coll := t.Context(), dbtest.Collection(t)
		var ids []string
		for i := range 40 {
			ids = append(ids, fmt.Sprintf("d%02d", i))
			if _, err := s.Save(ctx, coll, ids[i], dbservice.Doc{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
		docs, missing, err := s.GetMany(ctx, coll, ids)
		if err != nil || len(docs) != 40 || len(missing) != 0 {
			t.Fatalf("GetMany = %d docs, missing %v, %v; want all 40", len(docs), missing, err)
		}
		if inj.calls != 1+3 {
			t.Fatalf("%d BatchGetItem calls, want 1 plus 3 for the unprocessed keys", inj.calls)
		}
	})
	t.Run("keys that stay unprocessed give up", func(t *testing.T) {
		inj := &unprocessedKeysInjector{left: 1000}
		s := newServer(t, nil, func(c *Config) { c.ClientOptions = append(c.ClientOptions, inj.install) })
		ctx, coll := t.Context(), dbtest.Collection(t)
		if _, err := s.Save(ctx, coll, "a", dbservice.Doc{}); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.GetMany(ctx, coll, []string{"a"})
		if !errors.Is(err, dbservice.ErrUnavailable) {
			t.Fatalf("GetMany: %v, want ErrUnavailable", err)
		}
		if inj.calls != unprocessedAttempts {
			t.Fatalf("%d BatchGetItem calls, want %d", inj.calls, unprocessedAttempts)
		}
	})
}

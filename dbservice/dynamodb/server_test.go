package dynamodb

import (
	"context"
	"errors"
	"fmt"
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

func TestTablesAreCreatedWithSecureSettings(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec, func(c *Config) { c.KMSKeyID = "alias/securedb-test" })
	coll := dbtest.Collection(t)
	ctx := t.Context()

	// Eight first writers at once share one creation.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.Save(ctx, coll, fmt.Sprintf("d%d", i), dbservice.Doc{"i": i}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	creates := rec.createInputs()
	if len(creates) != 1 {
		t.Fatalf("%d CreateTable calls for one new table, want 1", len(creates))
	}
	in := creates[0]
	if aws.ToString(in.TableName) != s.table(coll) || in.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("CreateTable(%s, billing %s), want %s with PAY_PER_REQUEST", aws.ToString(in.TableName), in.BillingMode, s.table(coll))
	}
	sse := in.SSESpecification
	if sse == nil || !aws.ToBool(sse.Enabled) || sse.SSEType != types.SSETypeKms || aws.ToString(sse.KMSMasterKeyId) != "alias/securedb-test" {
		t.Fatalf("CreateTable SSESpecification = %+v, want enabled, KMS, key alias/securedb-test", sse)
	}
	if n := rec.count("UpdateContinuousBackups"); n != 1 {
		t.Fatalf("%d UpdateContinuousBackups calls after creating a table, want 1", n)
	}

	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table(coll))})
	if err != nil {
		t.Fatal(err)
	}
	tbl := out.Table
	if tbl.TableStatus != types.TableStatusActive {
		t.Fatalf("table status %s, want ACTIVE", tbl.TableStatus)
	}
	if len(tbl.KeySchema) != 1 || aws.ToString(tbl.KeySchema[0].AttributeName) != "_id" || tbl.KeySchema[0].KeyType != types.KeyTypeHash {
		t.Fatalf("key schema %+v, want _id HASH only", tbl.KeySchema)
	}
	if len(tbl.AttributeDefinitions) != 1 || tbl.AttributeDefinitions[0].AttributeType != types.ScalarAttributeTypeS {
		t.Fatalf("attribute definitions %+v, want _id S only", tbl.AttributeDefinitions)
	}
	if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("billing %+v, want PAY_PER_REQUEST", tbl.BillingModeSummary)
	}
	switch d := tbl.SSEDescription; {
	case d != nil && (d.Status != types.SSEStatusEnabled || d.SSEType != types.SSETypeKms):
		t.Fatalf("SSE described as %s/%s, want ENABLED/KMS", d.Status, d.SSEType)
	case d == nil && !isLoopback(s.endpoint.Hostname()):
		t.Fatal("the server describes no SSE for a table created with SSE")
	case d == nil:
		// DynamoDB Local accepts SSESpecification and describes none;
		// CheckPosture reports that as a warning (see the posture test).
		t.Log("DynamoDB Local describes no SSE (SSEDescription is nil)")
	}
}

func TestKnownTablesCostNoExtraCalls(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "warm", dbservice.Doc{"v": 1}); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	rev, err := s.Save(ctx, coll, "a", dbservice.Doc{"v": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, coll, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, coll, dbservice.Query{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, coll, "a", dbservice.IfRev(rev)); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"PutItem": 1, "GetItem": 1, "Scan": 1, "DeleteItem": 1}
	for op, n := range want {
		if rec.count(op) != n {
			t.Errorf("%s called %d times, want %d", op, rec.count(op), n)
		}
	}
	if rec.total() != 4 {
		t.Fatalf("calls on a known table: %v (%d), want one per operation", rec.names(), rec.total())
	}
}

func TestATableDeletedBehindTheServicesBackIsCreatedAgain(t *testing.T) {
	s := newServer(t, nil)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "a", dbservice.Doc{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.table(coll))}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, coll, "a")
	if !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get after the table was deleted: %v, want ErrNotFound", err)
	}
	if _, err := s.Save(ctx, coll, "b", dbservice.Doc{"v": 2}); err != nil {
		t.Fatalf("Save after the table was deleted: %v", err)
	}
	if d, err := s.Get(ctx, coll, "b"); err != nil || d["v"] != 2.0 {
		t.Fatalf("Get = %v, %v; want the new document", d, err)
	}
}

func TestConditionalWritesRaceToOneWinner(t *testing.T) {
	s := newServer(t, nil)
	ctx, coll := t.Context(), dbtest.Collection(t)
	rev, err := s.Save(ctx, coll, "doc", dbservice.Doc{"v": 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sixteen saves with the same revision: one wins", func(t *testing.T) {
		const n = 16
		var wg sync.WaitGroup
		revs, errs := make([]string, n), make([]error, n)
		for i := range n {
			wg.Go(func() { revs[i], errs[i] = s.Save(ctx, coll, "doc", dbservice.Doc{"v": i + 1}, dbservice.IfRev(rev)) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("saves %d and %d both won with the same revision", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, dbservice.ErrConflict):
				t.Fatalf("save %d: %v, want ErrConflict", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no save won")
		}
		d, err := s.Get(ctx, coll, "doc")
		if err != nil || d["v"] != float64(winner+1) || d["_rev"] != revs[winner] {
			t.Fatalf("stored %v (%v), want the winner's body and revision", d, err)
		}
		rev = revs[winner]
	})
	t.Run("a delete and a save with the same revision: one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		var delErr, saveErr error
		wg.Go(func() { delErr = s.Delete(ctx, coll, "doc", dbservice.IfRev(rev)) })
		wg.Go(func() { _, saveErr = s.Save(ctx, coll, "doc", dbservice.Doc{"v": "saved"}, dbservice.IfRev(rev)) })
		wg.Wait()
		if (delErr == nil) == (saveErr == nil) {
			t.Fatalf("delete: %v, save: %v; want exactly one to win", delErr, saveErr)
		}
		_, err := s.Get(ctx, coll, "doc")
		switch {
		case delErr == nil && !errors.Is(err, dbservice.ErrNotFound):
			t.Fatalf("delete won but Get = %v", err)
		case saveErr == nil && err != nil:
			t.Fatalf("save won but Get = %v", err)
		}
		lost := delErr
		if lost == nil {
			lost = saveErr
		}
		if !errors.Is(lost, dbservice.ErrConflict) && !errors.Is(lost, dbservice.ErrNotFound) {
			t.Fatalf("the loser got %v, want ErrConflict (or ErrNotFound for a delete after a save)", lost)
		}
	})
}

func TestSparseMatchesStillFillPages(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	const n, every = 5000, 500
	items := make([]dbservice.BulkItem, n)
	var want []string
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("doc-%05d", i), Doc: dbservice.Doc{"n": i, "pad": strings.Repeat("x", 50)}}
		if i%every == every/2 {
			items[i].Doc["hit"] = true
			want = append(want, items[i].ID)
		}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 3, 4, 10, 100} {
		t.Run(fmt.Sprintf("pages of %d", limit), func(t *testing.T) {
			rec.reset()
			q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("hit", dbservice.Eq, true)}, Fields: []string{"n"}, Limit: limit}
			seen := map[string]int{}
			var sizes []int
			for {
				p, err := s.Query(ctx, coll, q)
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(p.Docs))
				for _, d := range p.Docs {
					seen[d["_id"].(string)]++
					if len(d) != 3 {
						t.Fatalf("projected document %v has fields beyond _id, _rev, n", d)
					}
				}
				if p.Next == "" {
					break
				}
				q.Cursor = p.Next
			}
			for i, size := range sizes {
				if size > limit || (i < len(sizes)-1 && size != limit) {
					t.Fatalf("page sizes %v: every page but the last must hold exactly %d", sizes, limit)
				}
			}
			for _, id := range want {
				if seen[id] != 1 {
					t.Fatalf("%s returned %d times, want once", id, seen[id])
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("%d documents returned, want %d", len(seen), len(want))
			}
			t.Logf("page sizes %v in %d Scan calls", sizes, rec.count("Scan"))
		})
	}
}

func TestRefusedItemsSendNothing(t *testing.T) {
	rec := newRecorder()
	loose := validate.Limits{MaxDocBytes: -1, MaxStringLen: -1, MaxDepth: 40}
	s := newServer(t, rec, func(c *Config) { c.Limits = loose })
	ctx, coll := t.Context(), dbtest.Collection(t)
	big := func(n int) dbservice.Doc {
		doc := dbservice.Doc{}
		for i := 0; n > 0; i++ {
			k := fmt.Sprintf("f%02d", i)
			size := min(n-len(k), 10000)
			doc[k] = strings.Repeat("a", size)
			n -= len(k) + size
		}
		return doc
	}
	// _id "edge" and _rev (16 characters) take 3+4+4+16 bytes of the limit.
	fixed := len(idAttr) + len("edge") + len(revAttr) + 16
	refused := map[string]dbservice.Doc{
		"an item one byte over 400 KB": big(MaxItemBytes - fixed + 1),
		"an item of 1 MB":              big(1 << 20),
		"32 nested maps":               {"d": nested(32, "x", false)},
		"a number below 1E-130":        {"n": 1e-131},
		"a number of 1E+126":           {"n": 1e126},
	}
	for name, doc := range refused {
		t.Run(name+" is refused before any request", func(t *testing.T) {
			rec.reset()
			_, err := s.Save(ctx, coll, "edge", doc)
			if !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("Save: %v, want ErrInvalid", err)
			}
			err = s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "ok", Doc: dbservice.Doc{"v": 1}}, {ID: "edge", Doc: doc}})
			if !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("SaveMany: %v, want ErrInvalid", err)
			}
			if rec.total() != 0 {
				t.Fatalf("refused input still sent %v", rec.names())
			}
		})
	}
	accepted := map[string]dbservice.Doc{
		"an item of exactly 400 KB": big(MaxItemBytes - fixed),
		"31 nested maps":            {"d": nested(31, "x", false)},
		"31 nested lists":           {"d": nested(31, "x", true)},
		"the extreme numbers":       {"tiny": 1e-130, "huge": 9.99999999999999e125, "neg": -1e-130},
	}
	for name, doc := range accepted {
		t.Run(name+" is stored", func(t *testing.T) {
			if _, err := s.Save(ctx, coll, "edge", doc); err != nil {
				t.Fatalf("Save: %v", err)
			}
			got, err := s.Get(ctx, coll, "edge")
			if err != nil {
				t.Fatal(err)
			}
			want, _ := dbservice.NormalizeDoc(doc, loose)
			delete(got, "_id")
			delete(got, "_rev")
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatal("the stored document differs from the one saved")
			}
		})
	}
	if _, err := s.Get(ctx, coll, "ok"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get of the valid item of a refused SaveMany: %v, want ErrNotFound", err)
	}
}

// unprocessedInjector makes the first n BatchWriteItem answers hand back
// half of their requests as unprocessed, as DynamoDB does when throttling.
// The server did write them; resending is an idempotent upsert.
type unprocessedInjector struct {
	mu    sync.Mutex
	left  int
	calls int
}

func (u *unprocessedInjector) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("injectUnprocessed",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				bw, ok := out.Result.(*dynamodb.BatchWriteItemOutput)
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
				bw.UnprocessedItems = map[string][]types.WriteRequest{}
				for table, reqs := range in.Parameters.(*dynamodb.BatchWriteItemInput).RequestItems {
					bw.UnprocessedItems[table] = reqs[:(len(reqs)+1)/2]
				}
				return out, md, err
			}), middleware.After)
	})
}

func TestSaveManyDeduplicatesAndRetriesUnprocessedItems(t *testing.T) {
	defer func(d time.Duration) { unprocessedDelay = d }(unprocessedDelay)
	unprocessedDelay = time.Millisecond

	t.Run("duplicates keep the last document and unprocessed items are resent", func(t *testing.T) {
		inj := &unprocessedInjector{left: 3}
		s := newServer(t, nil, func(c *Config) { c.ClientOptions = append(c.ClientOptions, inj.install) })
		ctx, coll := t.Context(), dbtest.Collection(t)
		var items []dbservice.BulkItem
		for i := range 60 {
			items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("d%02d", i%40), Doc: dbservice.Doc{"i": i}})
		}
		if err := s.SaveMany(ctx, coll, items); err != nil {
			t.Fatal(err)
		}
		if inj.calls != 2+3 {
			t.Fatalf("%d BatchWriteItem calls, want 2 batches of 40 unique items plus 3 resends", inj.calls)
		}
		for i := range 40 {
			d, err := s.Get(ctx, coll, fmt.Sprintf("d%02d", i))
			want := float64(i)
			if i < 20 {
				want = float64(i + 40) // the later duplicate wins
			}
			if err != nil || d["i"] != want {
				t.Fatalf("d%02d = %v (%v), want i=%v", i, d, err, want)
			}
		}
	})
	t.Run("items that stay unprocessed give up after a bounded number of calls", func(t *testing.T) {
		inj := &unprocessedInjector{left: 1000}
		s := newServer(t, nil, func(c *Config) { c.ClientOptions = append(c.ClientOptions, inj.install) })
		err := s.SaveMany(t.Context(), dbtest.Collection(t), []dbservice.BulkItem{{ID: "a", Doc: dbservice.Doc{}}})
		if !errors.Is(err, dbservice.ErrUnavailable) {
			t.Fatalf("SaveMany: %v, want ErrUnavailable", err)
		}
		if inj.calls != unprocessedAttempts {
			t.Fatalf("%d BatchWriteItem calls, want %d", inj.calls, unprocessedAttempts)
		}
	})
}

func TestWithoutCreateMissingNothingIsCreated(t *testing.T) {
	// With indexes (the default), EnsureIndex on a missing table says so
	// and creates neither the table nor an index.
	rec := newRecorder()
	s := newServer(t, rec, func(c *Config) { c.CreateMissing = aws.Bool(false) })
	ctx, coll := t.Context(), dbtest.Collection(t)
	if err := s.EnsureIndex(ctx, coll, "name"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("EnsureIndex on a missing table: %v, want ErrNotFound", err)
	}
	if got := rec.names(); strings.Join(got, ",") != "DescribeTable,PutItem" {
		t.Fatalf("EnsureIndex called %v, want DescribeTable and PutItem (the creation lease, refused: no table)", got)
	}
	// ScanOnly: EnsureIndex only checks its fields, and sends nothing.
	rec = newRecorder()
	s = newServer(t, rec, func(c *Config) { c.CreateMissing = aws.Bool(false); c.ScanOnly = true })
	if err := s.EnsureIndex(ctx, coll, "name"); err != nil {
		t.Fatalf("EnsureIndex: %v", err)
	}
	_, err := s.Save(ctx, coll, "a", dbservice.Doc{"v": 1})
	if !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Save to a missing table: %v, want ErrNotFound", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// The write asks for the table's indexes (other processes' indexes
	// are maintained by ScanOnly writes too): DescribeTable finds none.
	if got := rec.names(); strings.Join(got, ",") != "DescribeLimits,DescribeTable,PutItem" {
		t.Fatalf("calls %v, want only DescribeTable, PutItem and DescribeLimits", got)
	}
}

func TestPolicyCoversExactlyTheCallsMade(t *testing.T) {
	rec := newRecorder()
	var tables []string
	var mu sync.Mutex
	dbtest.Run(t, func(t *testing.T) dbservice.Service {
		s := newServer(t, rec)
		t.Cleanup(func() {
			mu.Lock()
			tables = append(tables, s.knownTables()...)
			mu.Unlock()
		})
		return s
	})
	s := newServer(t, rec)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if err := s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "a", Doc: dbservice.Doc{}}}); err != nil {
		t.Fatal(err)
	}
	// The data API's own operations, whatever dbtest.Run exercised.
	if _, err := s.Update(ctx, coll, "a", []dbservice.Mutation{dbservice.Increment("n", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetMany(ctx, coll, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	s.CheckPosture(ctx)

	policy, err := LeastPrivilegePolicy("us-east-1", "123456789012", runPrefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	allowed := policyActions(t, parsePolicy(t, policy))
	called := rec.names()
	if strings.Join(called, ",") != strings.Join(allowed, ",") {
		t.Fatalf("operations called: %v\npolicy allows:     %v\nwant the same set", called, allowed)
	}
	for _, table := range tables {
		if !strings.HasPrefix(table, runPrefix) {
			t.Fatalf("table %s is outside the policy's resources", table)
		}
	}
}

func TestPostureOnTheTestServer(t *testing.T) {
	s := newServer(t, nil)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "a", dbservice.Doc{"v": 1}); err != nil {
		t.Fatal(err)
	}
	findings := s.CheckPosture(ctx)
	byID := map[string]dbservice.Finding{}
	for _, f := range findings {
		t.Logf("%-18s %-4s %s | fix: %s", f.ID, f.Status, f.Detail, f.Fix)
		byID[f.ID] = f
	}
	type want struct {
		status dbservice.Status
		detail string
	}
	wants := map[string]want{
		"tls":             {dbservice.Pass, "over HTTPS"},
		"secrets-manager": {dbservice.Pass, "no long-term access key"},
		"backups":         {dbservice.Pass, "point-in-time recovery enabled"},
		"least-privilege": {dbservice.Skip, "cannot be read"},
	}
	local := isLoopback(s.endpoint.Hostname())
	if local {
		wants["tls"] = want{dbservice.Warn, "plain HTTP to loopback"}
	}
	if s.pitrMissing.Load() {
		wants["backups"] = want{dbservice.Warn, "no point-in-time recovery API"}
	}
	for id, w := range wants {
		f, ok := byID[id]
		if !ok || f.Status != w.status || !strings.Contains(f.Detail, w.detail) {
			t.Errorf("finding %s = %+v, want status %s with %q", id, f, w.status, w.detail)
		}
	}
	if f := byID["encryption-at-rest"]; f.Status != dbservice.Pass && !(local && f.Status == dbservice.Warn && strings.Contains(f.Detail, "no SSE description")) {
		t.Errorf("finding encryption-at-rest = %+v, want pass, or a warning that the server describes no SSE", f)
	}
	for _, f := range findings {
		if f.Status != dbservice.Pass && f.Fix == "" {
			t.Errorf("finding %s (%s) has no Fix", f.ID, f.Status)
		}
	}

	t.Run("a long-term access key in the environment is a warning that does not show it", func(t *testing.T) {
		const canary = "AKIACANARY7Q2W3E4R5T"
		t.Setenv("AWS_ACCESS_KEY_ID", canary)
		for _, f := range s.CheckPosture(ctx) {
			if strings.Contains(fmt.Sprintf("%+v", f), canary[4:]) {
				t.Fatalf("finding %s shows the key: %+v", f.ID, f)
			}
			if f.ID == "secrets-manager" && f.Status != dbservice.Warn {
				t.Fatalf("secrets-manager = %s with an AKIA key in the environment, want warn", f.Status)
			}
		}
	})
}

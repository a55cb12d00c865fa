package memory_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// The suite is only worth something if it fails for a provider that is
// wrong. Each bug below breaks one promise of the contract; TestSuiteCatchesBugs
// runs the whole suite against memory with that bug, in a child process of
// this test binary, and requires the case that guards the promise to fail.

type broken struct {
	*memory.Service
	bug string

	mu    sync.Mutex
	cache map[string]dbservice.Doc
	index map[string]bool

	// waiting pairs up concurrent updates for the update-unlocked bug.
	waiting chan struct{}
}

var bugs = []struct {
	name  string
	cases []string // cases that must fail
}{
	{"drop-nulls", []string{"RoundTripKeepsEveryJSONType"}},
	{"missing-is-empty", []string{"MissingDocumentsAreNotFound"}},
	{"save-merges", []string{"SaveReplacesTheWholeDocument"}},
	{"ignore-ifabsent", []string{"IfAbsentRefusesAnExistingDocument", "ConcurrentIfAbsentHasOneWinner"}},
	{"ignore-ifrev", []string{"IfRevRefusesAStaleRevision"}},
	{"delete-missing-ok", []string{"DeleteRemovesOnce"}},
	{"cursor-skips", []string{"PagingReturnsEveryDocumentExactlyOnce"}},
	{"offset-cursor", []string{"PagingSurvivesConcurrentWrites"}},
	{"gt-is-gte", []string{"ConditionsFollowTheReferenceSemantics"}},
	{"ignore-fields", []string{"ProjectionReturnsOnlyTheFields"}},
	{"rewrite-bad-ids", []string{"HostileInputIsRefusedAndWritesNothing"}},
	{"drop-unknown-ops", []string{"HostileQueriesAreRefused"}},
	{"index-once", []string{"EnsureIndexIsIdempotent"}},
	{"stale-get", []string{"ConcurrentIfRevIncrementsLoseNothing"}},
	{"ignore-context", []string{"CancelledContextStopsTheCall"}},
	{"one-namespace", []string{"CollectionsAreIsolated"}},
	{"rev-renamed", []string{"TypedHelpersRoundTrip"}},
	{"errors-quote-docs", []string{"ErrorsAreTypedAndLeakNothing"}},
	{"close-noop", []string{"CloseMakesCallsFailWithErrClosed"}},
	{"order-by-text", []string{"OrderByFollowsTheOrderAcrossTypes"}},
	{"ties-always-asc", []string{"OrderByTwoFieldsBreaksTiesByID"}},
	{"ordered-cursor-skips", []string{"OrderedPagingReturnsEveryDocumentOnceInOrder"}},
	{"ignore-budget", []string{"OrderedQueryOverTheBudgetIsRefused", "ScanBudgetBoundsEveryCallAndAllFindsEveryMatch"}},
	{"time-with-offset", []string{"TimeRangesCompareInstants"}},
	{"round-numbers", []string{"BackupKeepsEveryNumber"}},
	{"empty-ifrev-unconditional", []string{"EmptyIfRevIsRefused"}},
	{"unkeyed-cursors", []string{"ForgedCursorsAreRefused"}},
}

func TestSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite once per bug in child processes; skipped with -short")
	}
	covered := map[string]bool{}
	for _, b := range bugs {
		for _, c := range b.cases {
			covered[c] = true
		}
	}
	for _, c := range dbtest.Cases() {
		if !covered[c.Name] {
			t.Errorf("no deliberate bug shows that case %s can fail", c.Name)
		}
	}
	for _, b := range bugs {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			// The child runs only the cases that must catch the bug: the
			// assertion is about them, and the whole suite once per bug
			// would cost minutes of the 2-core test run.
			quoted := make([]string, len(b.cases))
			for i, c := range b.cases {
				quoted[i] = regexp.QuoteMeta(c)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenProvider$/^("+strings.Join(quoted, "|")+")$", "-test.count=1")
			cmd.Env = append(os.Environ(), "DBTEST_BUG="+b.name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite with bug %s did not fail (err %v); output:\n%s", b.name, err, tail(out))
			}
			for _, c := range b.cases {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenProvider/"+c+" ") {
					t.Errorf("bug %s: case %s did not fail; output:\n%s", b.name, c, tail(out))
				}
			}
		})
	}
}

// TestDifferentialCatchesBugs proves that dbtest.Differential can fail:
// against memory with a deliberate bug in conditions or in ordering, it
// must disagree with the reference.
func TestDifferentialCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the differential test in child processes; skipped with -short")
	}
	for _, bug := range []string{"gt-is-gte", "order-by-text", "ties-always-asc", "ordered-cursor-skips"} {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenDifferential$", "-test.count=1")
			cmd.Env = append(os.Environ(), "DBTEST_BUG="+bug)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(string(out), "disagrees with the reference") {
				t.Fatalf("the differential test passed a provider with bug %s (err %v); output:\n%s", bug, err, tail(out))
			}
		})
	}
}

// TestBrokenDifferential is the child half of TestDifferentialCatchesBugs.
func TestBrokenDifferential(t *testing.T) {
	bug := os.Getenv("DBTEST_BUG")
	if bug == "" {
		t.Skip("child process of TestDifferentialCatchesBugs only")
	}
	s := &broken{Service: memory.New(), bug: bug, cache: map[string]dbservice.Doc{}, index: map[string]bool{}}
	dbtest.Differential(t, s, dbtest.DifferentialOptions{Queries: 300, Replay: 12})
}

func roundNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 15, 64), 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = roundNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = roundNumbers(e)
		}
	}
	return v
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// TestBrokenProvider is the child half of TestSuiteCatchesBugs; it does
// nothing unless DBTEST_BUG names a bug.
func TestBrokenProvider(t *testing.T) {
	bug := os.Getenv("DBTEST_BUG")
	if bug == "" {
		t.Skip("child process of TestSuiteCatchesBugs only")
	}
	dbtest.Run(t, func(t *testing.T) dbservice.Service {
		return &broken{Service: memory.New(), bug: bug, cache: map[string]dbservice.Doc{}, index: map[string]bool{}}
	})
}

func (b *broken) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	switch b.bug {
	case "ignore-context":
		ctx = context.Background()
	case "one-namespace":
		coll = "shared"
	case "stale-get":
		b.mu.Lock()
		defer b.mu.Unlock()
		if d, ok := b.cache[coll+"/"+id]; ok {
			return dbservice.Clone(d), nil
		}
	case "rewrite-bad-ids":
		id = rewriteID(id)
	}
	d, err := b.Service.Get(ctx, coll, id)
	switch {
	case err != nil && b.bug == "missing-is-empty" && errors.Is(err, dbservice.ErrNotFound):
		return dbservice.Doc{}, nil
	case err != nil:
		return nil, err
	case b.bug == "drop-nulls":
		for k, v := range d {
			if v == nil {
				delete(d, k)
			}
		}
	case b.bug == "stale-get":
		b.cache[coll+"/"+id] = dbservice.Clone(d)
	case b.bug == "rev-renamed":
		d["rev"] = d["_rev"]
		delete(d, "_rev")
	}
	return d, nil
}

func (b *broken) Save(ctx context.Context, coll, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	if b.bug == "expiry-ignored" {
		o, err := dbservice.ApplyWriteOptions(opts...)
		if err != nil {
			return "", err
		}
		opts = nil
		if o.IfRev != "" {
			opts = append(opts, dbservice.IfRev(o.IfRev))
		}
		if o.IfAbsent {
			opts = append(opts, dbservice.IfAbsent())
		}
	}
	o, _ := dbservice.ApplyWriteOptions(opts...)
	switch b.bug {
	case "ignore-context":
		ctx = context.Background()
	case "one-namespace":
		coll = "shared"
	case "time-with-offset":
		// Times stored the way encoding/json writes them: a variable
		// fraction and the value's own zone.
		doc = dbservice.Clone(doc)
		for k, v := range doc {
			if at, ok := v.(time.Time); ok {
				doc[k] = at.Format(time.RFC3339Nano)
			}
		}
	case "ignore-ifabsent":
		if o.IfAbsent {
			opts = nil
		}
	case "ignore-ifrev":
		if o.IfRev != "" {
			opts = nil
		}
	case "save-merges":
		if cur, err := b.Service.Get(ctx, coll, id); err == nil {
			merged := dbservice.Doc{}
			for k, v := range cur {
				merged[k] = v
			}
			for k, v := range doc {
				merged[k] = v
			}
			doc = merged
		}
	case "rewrite-bad-ids":
		id = rewriteID(id)
	case "empty-ifrev-unconditional":
		if _, err := dbservice.ApplyWriteOptions(opts...); err != nil && o.IfRev == "" {
			opts = nil
		}
	case "round-numbers":
		// A backend that keeps 15 significant digits, as a decimal type
		// would: simple numbers survive, arbitrary float64s do not.
		if d, err := dbservice.NormalizeDoc(doc, validate.Limits{}); err == nil {
			doc = roundNumbers(d).(dbservice.Doc)
		}
	}
	rev, err := b.Service.Save(ctx, coll, id, doc, opts...)
	if err != nil && b.bug == "errors-quote-docs" {
		return "", fmt.Errorf("%w (document %v)", err, doc)
	}
	return rev, err
}

func (b *broken) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	switch b.bug {
	case "ignore-context":
		ctx = context.Background()
	case "one-namespace":
		coll = "shared"
	case "rewrite-bad-ids":
		id = rewriteID(id)
	}
	err := b.Service.Delete(ctx, coll, id, opts...)
	if b.bug == "delete-missing-ok" && errors.Is(err, dbservice.ErrNotFound) {
		return nil
	}
	return err
}

type offsetState struct {
	Offset int `json:"o"`
}

func (b *broken) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	if b.bug == "prefix-as-gte" {
		q.Where = slices.Clone(q.Where)
		for i, c := range q.Where {
			if c.Op == dbservice.Prefix {
				q.Where[i].Op = dbservice.Gte
			}
		}
	}
	switch b.bug {
	case "ignore-context":
		ctx = context.Background()
	case "one-namespace":
		coll = "shared"
	case "ignore-fields":
		q.Fields = nil
	case "gt-is-gte":
		q.Where = append([]dbservice.Cond(nil), q.Where...)
		for i, c := range q.Where {
			if c.Op == dbservice.Gt {
				q.Where[i].Op = dbservice.Gte
			}
		}
	case "drop-unknown-ops":
		var kept []dbservice.Cond
		for _, c := range q.Where {
			if _, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{c}}); err == nil {
				kept = append(kept, c)
			}
		}
		q.Where = kept
	case "offset-cursor":
		return b.offsetQuery(ctx, coll, q)
	case "ties-always-asc":
		if n := len(q.OrderBy); n > 0 && q.OrderBy[n-1].Field != "_id" {
			q.OrderBy = append(slices.Clone(q.OrderBy), dbservice.Asc("_id"))
		}
	case "ignore-budget":
		ctx = context.WithoutCancel(context.Background())
	case "unkeyed-cursors":
		return b.unkeyedQuery(ctx, coll, q)
	}
	p, err := b.Service.Query(ctx, coll, q)
	if err == nil && b.bug == "cursor-skips" && q.Cursor != "" && len(p.Docs) > 0 {
		p.Docs = p.Docs[1:]
	}
	if err == nil && b.bug == "ordered-cursor-skips" && len(q.OrderBy) > 0 && q.Cursor != "" && len(p.Docs) > 0 {
		p.Docs = p.Docs[1:]
	}
	if err == nil && b.bug == "order-by-text" && len(q.OrderBy) > 0 {
		// Sorting by the printed value: numbers as text, types interleaved.
		f := q.OrderBy[0].Field
		slices.SortStableFunc(p.Docs, func(x, y dbservice.Doc) int {
			vx, _ := dbservice.Lookup(x, f)
			vy, _ := dbservice.Lookup(y, f)
			return strings.Compare(fmt.Sprint(vx), fmt.Sprint(vy))
		})
	}
	return p, err
}

// unkeyedQuery speaks the cursors this library issued before they were
// signed: base64url(JSON{"q": unkeyed hash of the query, "s": state}),
// which anyone can mint.
func (b *broken) unkeyedQuery(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	type envelope struct {
		Q string          `json:"q"`
		S json.RawMessage `json:"s"`
	}
	nq, err := dbservice.CheckQuery(q)
	if err != nil {
		return dbservice.Page{}, err
	}
	fp := func() string {
		h := sha256.New()
		h.Write([]byte(coll))
		h.Write([]byte{0})
		j, _ := json.Marshal(struct {
			W []dbservice.Cond
			F []string
		}{nq.Where, nq.Fields})
		h.Write(j)
		return hex.EncodeToString(h.Sum(nil)[:12])
	}
	signer := dbservice.ProcessCursorSigner()
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		var env envelope
		if err != nil || json.Unmarshal(raw, &env) != nil || env.Q != fp() {
			return dbservice.Page{}, &validate.Error{Field: "query.cursor", Reason: "not a cursor"}
		}
		var st map[string]any
		if err := json.Unmarshal(env.S, &st); err != nil {
			return dbservice.Page{}, &validate.Error{Field: "query.cursor", Reason: "not a cursor"}
		}
		if q.Cursor, err = signer.Encode(coll, nq, map[string]any{"a": st["a"]}); err != nil {
			return dbservice.Page{}, err
		}
	}
	p, err := b.Service.Query(ctx, coll, q)
	if err != nil || p.Next == "" {
		return p, err
	}
	var st map[string]any
	if err := signer.Decode(coll, nq, p.Next, &st); err != nil {
		return dbservice.Page{}, err
	}
	s, _ := json.Marshal(st)
	env, _ := json.Marshal(envelope{Q: fp(), S: s})
	p.Next = base64.RawURLEncoding.EncodeToString(env)
	return p, nil
}

// offsetQuery pages by position, the classic bug that repeats or skips
// documents when others are inserted meanwhile.
func (b *broken) offsetQuery(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	var st offsetState
	if q.Cursor != "" {
		if err := dbservice.ProcessCursorSigner().Decode(coll, dbservice.Query{}, q.Cursor, &st); err != nil {
			return dbservice.Page{}, err
		}
	}
	limit := q.Limit
	if limit == 0 {
		limit = dbservice.DefaultLimit
	}
	var all []dbservice.Doc
	for d, err := range dbservice.All(ctx, b.Service, coll, dbservice.Query{Where: q.Where, Fields: q.Fields, Limit: dbservice.MaxLimit}) {
		if err != nil {
			return dbservice.Page{}, err
		}
		all = append(all, d)
	}
	if st.Offset > len(all) {
		st.Offset = len(all)
	}
	end := min(st.Offset+limit, len(all))
	p := dbservice.Page{Docs: all[st.Offset:end]}
	if end < len(all) {
		p.Next, _ = dbservice.ProcessCursorSigner().Encode(coll, dbservice.Query{}, offsetState{Offset: end})
	}
	return p, nil
}

func (b *broken) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if b.bug == "ignore-context" {
		ctx = context.Background()
	}
	if b.bug == "index-once" {
		b.mu.Lock()
		defer b.mu.Unlock()
		key := coll + "/" + strings.Join(fields, ",")
		if b.index[key] {
			return errors.New("index already exists")
		}
		b.index[key] = true
	}
	return b.Service.EnsureIndex(ctx, coll, fields...)
}

func (b *broken) Ping(ctx context.Context) error {
	if b.bug == "ignore-context" {
		ctx = context.Background()
	}
	return b.Service.Ping(ctx)
}

func (b *broken) Close() error {
	if b.bug == "close-noop" {
		return nil
	}
	return b.Service.Close()
}

func rewriteID(id string) string {
	if dbservice.CheckID(id) == nil {
		return id
	}
	return fmt.Sprintf("x%x", id)[:min(60, 1+2*len(id))] + "x"
}

package couchdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

// TestUpdateConcurrentIncrementsLoseNone: 8 goroutines each increment one
// field 25 times with no IfRev; the conditional loop must lose none.
func TestUpdateConcurrentIncrementsLoseNone(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "counter", dbservice.Doc{"n": 0}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*25)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if _, err := s.Update(ctx, coll, "counter", []dbservice.Mutation{dbservice.Increment("n", 1)}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	d, err := s.Get(ctx, coll, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if d["n"] != float64(200) {
		t.Fatalf("n = %v after 200 increments", d["n"])
	}
}

// TestUpdateAcrossServicesLosesNone: Services that do not share the
// in-process turns (as separate processes would) race on the server, and
// the conditional loop still loses no increment.
func TestUpdateAcrossServicesLosesNone(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "counter", dbservice.Doc{"n": 0}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*10)
	for range 4 {
		other := newServer(t)
		wg.Go(func() {
			for range 10 {
				if _, err := other.Update(ctx, coll, "counter", []dbservice.Mutation{dbservice.Increment("n", 1)}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	if d, err := s.Get(ctx, coll, "counter"); err != nil || d["n"] != float64(40) {
		t.Fatalf("n = %v, %v after 40 increments from 4 Services", d["n"], err)
	}
}

// TestUpdateIsOneReadAndOneWrite: an uncontended Update costs a GET and a
// PUT of the document, and matches ApplyMutations on what was stored.
func TestUpdateIsOneReadAndOneWrite(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, func(c *Config) { c.Transport = rec })
	ctx, coll := t.Context(), dbtest.Collection(t)
	stored := dbservice.Doc{"n": 1, "tags": []any{"a"}, "owner": map[string]any{"id": "u1"}}
	if _, err := s.Save(ctx, coll, "d", stored); err != nil {
		t.Fatal(err)
	}
	mods := []dbservice.Mutation{
		dbservice.Increment("n", 2), dbservice.Append("tags", "b", "a"),
		dbservice.Set("owner.tier", "gold"), dbservice.Unset("missing"),
	}
	rec.reset()
	rev, err := s.Update(ctx, coll, "d", mods)
	if err != nil {
		t.Fatal(err)
	}
	path := "/" + s.dbName(coll) + "/d"
	if got, gets, puts := rec.count("", ""), rec.count(http.MethodGet, path), rec.count(http.MethodPut, path); got != 2 || gets != 1 || puts != 1 {
		t.Errorf("Update sent %d requests (%d GET, %d PUT of the document), want one of each", got, gets, puts)
	}
	got, err := s.Get(ctx, coll, "d")
	if err != nil {
		t.Fatal(err)
	}
	checked, err := dbservice.CheckMutations(mods, validate.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	norm, _ := dbservice.NormalizeDoc(stored, validate.Limits{})
	want, err := dbservice.ApplyMutations(norm, checked)
	if err != nil {
		t.Fatal(err)
	}
	want["_id"], want["_rev"] = "d", rev
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored %v, want %v", got, want)
	}
}

// TestUpdateIfRevRunsOnce: with IfRev the loop does not retry a conflict,
// and a refused mutation writes nothing.
func TestUpdateIfRevRunsOnce(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, func(c *Config) { c.Transport = rec })
	ctx, coll := t.Context(), dbtest.Collection(t)
	old, err := s.Save(ctx, coll, "d", dbservice.Doc{"n": 1, "s": "text"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, coll, "d", dbservice.Doc{"n": 2, "s": "text"}); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	_, err = s.Update(ctx, coll, "d", []dbservice.Mutation{dbservice.Increment("n", 1)}, dbservice.IfRev(old))
	if !errors.Is(err, dbservice.ErrConflict) {
		t.Fatalf("stale IfRev: %v, want ErrConflict", err)
	}
	if n := rec.count(http.MethodPut, ""); n != 0 {
		t.Errorf("a stale IfRev sent %d PUTs", n)
	}
	_, err = s.Update(ctx, coll, "d", []dbservice.Mutation{dbservice.Set("n", 9), dbservice.Increment("s", 1)})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("increment of a string: %v, want ErrInvalid", err)
	}
	if n := rec.count(http.MethodPut, ""); n != 0 {
		t.Errorf("a refused Update sent %d PUTs", n)
	}
	if d, _ := s.Get(ctx, coll, "d"); d["n"] != float64(2) {
		t.Errorf("n = %v after a refused Update, want 2", d["n"])
	}
}

// TestGetManyIsOneRequest: 100 IDs take one _all_docs request; an invalid
// ID anywhere takes none; deleted and never-written IDs are missing, in
// the order asked.
func TestGetManyIsOneRequest(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, func(c *Config) { c.Transport = rec })
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	var ids []string
	for i := range 100 {
		id := fmt.Sprintf("d%03d", i)
		ids = append(ids, id)
		if i%10 != 3 {
			items = append(items, dbservice.BulkItem{ID: id, Doc: dbservice.Doc{"i": i}})
		}
	}
	items = append(items, dbservice.BulkItem{ID: "_under", Doc: dbservice.Doc{"i": -1}})
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, coll, "d005"); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, "_under")
	rec.reset()
	docs, missing, err := s.GetMany(ctx, coll, ids)
	if err != nil {
		t.Fatal(err)
	}
	if n := rec.count("", ""); n != 1 || rec.count(http.MethodPost, "/"+s.dbName(coll)+"/_all_docs") != 1 {
		t.Errorf("GetMany(101) sent %d requests, want one POST _all_docs", n)
	}
	wantMissing := []string{"d003", "d005", "d013", "d023", "d033", "d043", "d053", "d063", "d073", "d083", "d093"}
	if fmt.Sprint(missing) != fmt.Sprint(wantMissing) {
		t.Errorf("missing %v, want %v", missing, wantMissing)
	}
	if len(docs) != 90 || docs[0]["_id"] != "d000" || docs[89]["_id"] != "_under" || docs[89]["i"] != float64(-1) {
		t.Errorf("got %d docs, first %v, last %v", len(docs), docs[0]["_id"], docs[len(docs)-1])
	}
	rec.reset()
	bad := append(append([]string(nil), ids[:50]...), "bad id")
	if _, _, err := s.GetMany(ctx, coll, bad); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("invalid ID: %v, want ErrInvalid", err)
	}
	if err := s.DeleteMany(ctx, coll, bad); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("invalid ID: %v, want ErrInvalid", err)
	}
	if n := rec.count("", ""); n != 0 {
		t.Errorf("an invalid ID still sent %d requests", n)
	}
}

// TestDeleteManyIsTwoRequests: one _all_docs for the revisions, one
// _bulk_docs; missing IDs are skipped; the documents are gone.
func TestDeleteManyIsTwoRequests(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, func(c *Config) { c.Transport = rec })
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	var ids []string
	for i := range 50 {
		id := fmt.Sprintf("d%02d", i)
		items = append(items, dbservice.BulkItem{ID: id, Doc: dbservice.Doc{"i": i}})
		ids = append(ids, id)
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	if err := s.DeleteMany(ctx, coll, append(ids[:40:40], "never")); err != nil {
		t.Fatal(err)
	}
	db := "/" + s.dbName(coll)
	if n := rec.count("", ""); n != 2 || rec.count(http.MethodPost, db+"/_bulk_docs") != 1 {
		t.Errorf("DeleteMany(41) sent %d requests, want _all_docs and _bulk_docs", n)
	}
	rec.reset()
	n, err := s.Count(ctx, coll, nil)
	if err != nil || n != 10 {
		t.Fatalf("Count after DeleteMany = %d, %v; want 10", n, err)
	}
	if got := rec.count("", ""); got != 1 || rec.count(http.MethodPost, db+"/_find") != 1 {
		t.Errorf("Count without conditions sent %d requests, want one _find", got)
	}
}

// putRaw writes a document as stored, through the native client: how a
// test makes a document that has already expired without waiting.
func putRaw(t *testing.T, s *Service, coll, id string, doc map[string]any) string {
	t.Helper()
	var c *kivik.Client
	if !dbservice.As(s, &c) {
		t.Fatal("As(*kivik.Client) = false")
	}
	db := c.DB(s.dbName(coll))
	if rev, err := db.GetRev(t.Context(), couchID(id)); err == nil {
		doc["_rev"] = rev
	}
	rev, err := db.Put(t.Context(), couchID(id), doc)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// TestExpiredDocumentIsAbsentEverywhere: a stored document whose expiry
// has passed is never returned and is absent for every write, a live one
// with an expiry carries _expires, and SweepExpired deletes only the
// expired ones.
func TestExpiredDocumentIsAbsentEverywhere(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	if _, err := s.Save(ctx, coll, "live", dbservice.Doc{"k": "v", "tags": []any{"x"}}, dbservice.ExpiresAt(future)); err != nil {
		t.Fatal(err)
	}
	past := validate.FormatTime(time.Now().Add(-time.Second))
	for _, id := range []string{"gone1", "gone2", "gone3", "_gone4"} {
		putRaw(t, s, coll, id, map[string]any{"k": "v", "tags": []any{"x"}, expiresKey: past})
	}
	goneRev := putRaw(t, s, coll, "gone1", map[string]any{"k": "v", "tags": []any{"x"}, expiresKey: past})

	d, err := s.Get(ctx, coll, "live")
	if err != nil {
		t.Fatal(err)
	}
	if d[dbservice.ExpiresField] != validate.FormatTime(future) || d[expiresKey] != nil {
		t.Errorf("live document reads %v, want _expires %s and no stored field", d, validate.FormatTime(future))
	}
	if _, err := s.Get(ctx, coll, "gone1"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Errorf("Get expired: %v, want ErrNotFound", err)
	}
	docs, missing, err := s.GetMany(ctx, coll, []string{"gone1", "live", "_gone4"})
	if err != nil || len(docs) != 1 || fmt.Sprint(missing) != "[gone1 _gone4]" {
		t.Errorf("GetMany = %d docs, missing %v, %v", len(docs), missing, err)
	}
	for _, where := range [][]dbservice.Cond{nil, {dbservice.Where("k", dbservice.Eq, "v")}, {dbservice.Where("tags", dbservice.Contains, "x")}} {
		page, err := s.Query(ctx, coll, dbservice.Query{Where: where, Fields: []string{"k"}})
		if err != nil || len(page.Docs) != 1 || page.Docs[0]["_id"] != "live" || page.Docs[0][dbservice.ExpiresField] != validate.FormatTime(future) {
			t.Errorf("Query %v = %v, %v; want only the live document, with its _expires", where, page.Docs, err)
		}
		if n, err := s.Count(ctx, coll, where); err != nil || n != 1 {
			t.Errorf("Count %v = %d, %v; want 1", where, n, err)
		}
	}
	if _, err := s.Update(ctx, coll, "gone1", []dbservice.Mutation{dbservice.Set("k", "w")}); !errors.Is(err, dbservice.ErrNotFound) {
		t.Errorf("Update expired: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, coll, "gone1"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Errorf("Delete expired: %v, want ErrNotFound", err)
	}
	if _, err := s.Save(ctx, coll, "gone1", dbservice.Doc{"k": "w"}, dbservice.IfRev(goneRev)); !errors.Is(err, dbservice.ErrConflict) {
		t.Errorf("Save IfRev of an expired revision: %v, want ErrConflict", err)
	}
	if _, err := s.Save(ctx, coll, "gone2", dbservice.Doc{"k": "new"}, dbservice.IfAbsent()); err != nil {
		t.Errorf("Save IfAbsent over an expired document: %v", err)
	}
	if d, err := s.Get(ctx, coll, "gone2"); err != nil || d["k"] != "new" || d[dbservice.ExpiresField] != nil {
		t.Errorf("after IfAbsent over expired: %v, %v", d, err)
	}
	if _, err := s.Update(ctx, coll, "gone3", []dbservice.Mutation{dbservice.Increment("n", 1)}, dbservice.Upsert()); err != nil {
		t.Errorf("Upsert over an expired document: %v", err)
	}
	if d, err := s.Get(ctx, coll, "gone3"); err != nil || fmt.Sprint(d["n"], d["k"], d[dbservice.ExpiresField]) != "1 <nil> <nil>" {
		t.Errorf("after Upsert over expired: %v, %v; want a new document {n: 1}", d, err)
	}
	// An Update without ExpiresAt keeps the expiry.
	if _, err := s.Update(ctx, coll, "live", []dbservice.Mutation{dbservice.Set("k", "w")}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Get(ctx, coll, "live"); d[dbservice.ExpiresField] != validate.FormatTime(future) {
		t.Errorf("Update dropped the expiry: %v", d)
	}
	n, err := s.SweepExpired(ctx, coll, 0)
	if err != nil || n != 2 {
		t.Errorf("SweepExpired = %d, %v; want gone1 and _gone4", n, err)
	}
	var c *kivik.Client
	dbservice.As(s, &c)
	for _, id := range []string{"gone1", "_gone4"} {
		if _, err := c.DB(s.dbName(coll)).GetRev(ctx, couchID(id)); kivik.HTTPStatus(err) != http.StatusNotFound {
			t.Errorf("%s still stored after the sweep: %v", id, err)
		}
	}
	if _, err := s.Get(ctx, coll, "live"); err != nil {
		t.Errorf("the sweep touched a live document: %v", err)
	}
}

// TestExpiryFieldCannotBeWritten: the stored field's name is refused in a
// caller's document and as a query or mutation path, so only the provider
// sets it.
func TestExpiryFieldCannotBeWritten(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "d", dbservice.Doc{expiresKey: "9999"}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Save with the expiry field: %v, want ErrInvalid", err)
	}
	if _, err := s.Update(ctx, coll, "d", []dbservice.Mutation{dbservice.Set(expiresKey, "9999")}, dbservice.Upsert()); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Update of the expiry field: %v, want ErrInvalid", err)
	}
	if _, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where(expiresKey, dbservice.Exists, true)}}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Query on the expiry field: %v, want ErrInvalid", err)
	}
}

// TestPrefixBeginsWithIsNotBytePrefix is why Prefix is not pushed down as
// Mango's $beginsWith: CouchDB compares collated text, and "e\u0301x"
// (e, combining acute) does not begin with "e" for it, though its bytes
// do; Query must still return it.
func TestPrefixBeginsWithIsNotBytePrefix(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	for id, v := range map[string]any{"decomposed": "e\u0301x", "plain": "ex", "upper": "Ex", "other": "fx", "array": []any{"ex"}} {
		if _, err := s.Save(ctx, coll, id, dbservice.Doc{"s": v}); err != nil {
			t.Fatal(err)
		}
	}
	var native []string
	query := map[string]any{"selector": map[string]any{"s": map[string]any{"$beginsWith": "e"}}, "fields": []string{"_id"}}
	if _, _, _, _, _, err := s.find(ctx, s.dbName(coll), query, func(cid string, _ dbservice.Doc) bool {
		native = append(native, cid)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(native) != "[plain]" {
		t.Logf("CouchDB's $beginsWith \"e\" now selects %v", native)
	}
	page, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("s", dbservice.Prefix, "e")}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range page.Docs {
		got = append(got, d["_id"].(string))
	}
	if fmt.Sprint(got) != "[decomposed plain]" {
		t.Errorf("Prefix \"e\" = %v, want [decomposed plain]", got)
	}
}

// TestContainsNeverCrossesTypes: Contains pushed down as $elemMatch keeps
// Eq's typing: "1" never matches 1, null matches only null, and a scalar
// field is not an array.
func TestContainsNeverCrossesTypes(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	docs := map[string]any{"num": []any{1, 2}, "str": []any{"1", "x"}, "null": []any{nil}, "bool": []any{true}, "scalar": "1", "nested": []any{[]any{"1"}}}
	for id, v := range docs {
		if _, err := s.Save(ctx, coll, id, dbservice.Doc{"a": v}); err != nil {
			t.Fatal(err)
		}
	}
	for v, want := range map[any]string{"1": "[str]", 1: "[num]", nil: "[null]", true: "[bool]", "y": "[]"} {
		page, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("a", dbservice.Contains, v)}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range page.Docs {
			got = append(got, d["_id"].(string))
		}
		if fmt.Sprint(got) != want {
			t.Errorf("Contains %v = %v, want %s", v, got, want)
		}
	}
}

// TestMangoField: escaped names become Mango's `\.`; names Mango would
// misread are not expressible.
func TestMangoField(t *testing.T) {
	for _, c := range []struct {
		path, want string
		ok         bool
	}{
		{"a", "a", true},
		{"owner.tier", "owner.tier", true},
		{dbservice.Path("files", "main.py"), `files.main\.py`, true},
		{dbservice.Path("v1.2", "x"), `v1\.2.x`, true},
		{dbservice.Path("a", "$ref"), "", false},
		{dbservice.Path("$defs"), "", false},
		{dbservice.Path("back\\slash"), "", false},
	} {
		got, ok := mangoField(c.path)
		if got != c.want || ok != c.ok {
			t.Errorf("mangoField(%q) = %q, %v; want %q, %v", c.path, got, ok, c.want, c.ok)
		}
	}
	if top, ok := mangoTop(dbservice.Path("files.x", "main.py")); top != `files\.x` || !ok {
		t.Errorf("mangoTop = %q, %v", top, ok)
	}
}

// TestAsGivesTheClient: As fills a *kivik.Client and nothing else.
func TestAsGivesTheClient(t *testing.T) {
	s := newServer(t)
	var c *kivik.Client
	if !dbservice.As(dbservice.Guard(s, dbservice.Policy{}), &c) || c == nil {
		t.Fatal("As through Guard did not reach the client")
	}
	var other *http.Client
	if dbservice.As(s, &other) {
		t.Error("As filled an *http.Client")
	}
	if _, err := c.Ping(context.Background()); err != nil {
		t.Errorf("the native client does not answer: %v", err)
	}
}

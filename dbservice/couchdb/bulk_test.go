package couchdb

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func TestSaveManyUpserts(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, func(c *Config) { c.Transport = rec })
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "old", dbservice.Doc{"v": "old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, coll, "gone", dbservice.Doc{"v": "gone"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, coll, "gone"); err != nil {
		t.Fatal(err)
	}
	items := []dbservice.BulkItem{
		{ID: "old", Doc: dbservice.Doc{"v": "replaced"}},
		{ID: "gone", Doc: dbservice.Doc{"v": "back"}},
		{ID: "_reserved", Doc: dbservice.Doc{"v": "mapped"}},
		{ID: "twice", Doc: dbservice.Doc{"v": "first"}},
		{ID: "twice", Doc: dbservice.Doc{"v": "last"}},
	}
	for i := range 1200 { // more than one _bulk_docs chunk
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("n-%04d", i), Doc: dbservice.Doc{"n": i}})
	}
	rec.reset()
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatalf("SaveMany: %v", err)
	}
	if n := rec.count(http.MethodPost, "/"+s.dbName(coll)+"/_bulk_docs"); n != 2 {
		t.Fatalf("%d _bulk_docs requests for 1204 documents, want 2", n)
	}
	for id, want := range map[string]any{"old": "replaced", "gone": "back", "_reserved": "mapped", "twice": "last"} {
		d, err := s.Get(ctx, coll, id)
		if err != nil || d["v"] != want {
			t.Fatalf("Get(%s) = %v, %v; want v=%v", id, d, err, want)
		}
	}
	var count int
	for _, err := range dbservice.All(ctx, s, coll, dbservice.Query{Limit: 1000}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 1204 {
		t.Fatalf("%d documents after SaveMany, want 1204", count)
	}
	// The revisions SaveMany got are remembered: a Save after it takes one
	// request.
	rec.reset()
	if _, err := s.Save(ctx, coll, "n-0007", dbservice.Doc{"n": -7}); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("", ""); n != 1 {
		t.Fatalf("a Save after SaveMany took %d requests, want 1", n)
	}
}

func TestSaveManyWithOneBadItemWritesNothing(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, func(c *Config) { c.Transport = rec })
	ctx, coll := t.Context(), dbtest.Collection(t)
	err := s.SaveMany(ctx, coll, []dbservice.BulkItem{
		{ID: "ok", Doc: dbservice.Doc{"v": 1}},
		{ID: "bad", Doc: dbservice.Doc{"v": math.Inf(1)}},
	})
	var e *dbservice.Error
	if !errors.Is(err, dbservice.ErrInvalid) || !errors.As(err, &e) || e.ID != "bad" {
		t.Fatalf("SaveMany: %v, want ErrInvalid naming the bad item", err)
	}
	if n := rec.count("", ""); n != 0 {
		t.Fatalf("a refused SaveMany sent %d requests", n)
	}
}

// A restore drill: copy a CouchDB collection into memory and back into a
// fresh CouchDB collection (Import uses SaveMany), then verify all three
// hold the same documents.
func TestCopyToMemoryAndBackVerifies(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	var items []dbservice.BulkItem
	for i := range 150 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("d%03d", i), Doc: dbservice.Doc{"n": i, "nested": map[string]any{"x": []any{i, "y", nil}}}})
	}
	items = append(items, dbservice.BulkItem{ID: "_under", Doc: dbservice.Doc{"n": -1}})
	if err := s.SaveMany(ctx, coll, items); err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	if _, err := dbservice.Copy(ctx, s, mem, coll); err != nil {
		t.Fatalf("Copy to memory: %v", err)
	}
	back := newServer(t, func(c *Config) { c.Prefix = runPrefix + "restore_" })
	if _, err := dbservice.Copy(ctx, mem, back, coll); err != nil {
		t.Fatalf("Copy back: %v", err)
	}
	for _, pair := range [][2]dbservice.Service{{s, mem}, {s, back}} {
		r, err := dbservice.Verify(ctx, pair[0], pair[1], coll)
		if err != nil || !r.Equal() {
			t.Fatalf("Verify: %v, %v", r, err)
		}
	}
}

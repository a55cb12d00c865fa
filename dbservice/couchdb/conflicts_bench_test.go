package couchdb

import (
	"context"
	"net/http"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// BenchmarkSaveIfRev measures one uncontended conditional update, the
// operation conflict handling changes, on the single node and on the
// cluster.
func BenchmarkSaveIfRev(b *testing.B) {
	for _, c := range []struct {
		name string
		env  string
		make func(testing.TB) *Service
	}{
		{"SingleNode", EnvURL, func(tb testing.TB) *Service { return newServer(tb) }},
		{"Cluster", envClusterURL, newCluster},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := c.make(b)
			ctx, coll := b.Context(), dbtest.Collection(b)
			rev, err := s.Save(ctx, coll, "doc", dbservice.Doc{"n": 0})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				if rev, err = s.Save(ctx, coll, "doc", dbservice.Doc{"n": i}, dbservice.IfRev(rev)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAConditionalWriteCostsTheSameRequestsOnASingleNode pins the cost of
// conflict handling: on a single node an uncontended IfRev Save is one GET
// (the body, whose expiry decides whether the document still exists) and a
// PUT (the copies of the database are asked once, on first use), and on the
// cluster that GET, a leaf read and a PUT, never more.
func TestAConditionalWriteCostsTheSameRequestsOnASingleNode(t *testing.T) {
	for _, c := range []struct {
		name   string
		make   func(testing.TB, *recorder) *Service
		method string // the read before the PUT
		reads  int    // how many of them each Save makes
	}{
		{"SingleNode", func(tb testing.TB, rec *recorder) *Service {
			return newServer(tb, func(c *Config) { c.Transport = rec })
		}, http.MethodGet, 1},
		{"Cluster", func(tb testing.TB, rec *recorder) *Service {
			cfg := clusterConfig(tb)
			cfg.Transport = rec
			s, err := New(context.Background(), cfg)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { _ = s.Close() })
			return s
		}, http.MethodGet, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			s := c.make(t, rec)
			ctx, coll := t.Context(), dbtest.Collection(t)
			rev, err := s.Save(ctx, coll, "doc", dbservice.Doc{"n": 0})
			if err != nil {
				t.Fatal(err)
			}
			rec.reset()
			for i := range 5 {
				if rev, err = s.Save(ctx, coll, "doc", dbservice.Doc{"n": i}, dbservice.IfRev(rev)); err != nil {
					t.Fatal(err)
				}
			}
			path := "/" + s.dbName(coll) + "/doc"
			if rec.count("", "") != 5*(c.reads+1) || rec.count(c.method, path) != 5*c.reads || rec.count(http.MethodPut, path) != 5 {
				t.Fatalf("5 IfRev saves sent %d requests (%d %s, %d PUT), want %d %s and 5 PUT", rec.count("", ""), rec.count(c.method, path), c.method, rec.count(http.MethodPut, path), 5*c.reads, c.method)
			}
		})
	}
}

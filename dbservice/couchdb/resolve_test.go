package couchdb

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// failingOnce forwards to the cluster, but answers the first PUT of a
// document whose path ends in suffix with HTTP 500, after forwarding it
// (forward true: the copies took the write) or without (forward false).
// before, when set, runs after the forward and before the 500 is sent.
func failingOnce(t *testing.T, target, suffix string, forward bool, before func()) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit := false
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, suffix) {
			once.Do(func() { hit = true })
		}
		if !hit {
			rp.ServeHTTP(w, r)
			return
		}
		if forward {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			if rec.Code != http.StatusCreated {
				t.Errorf("the forwarded write was answered %d, want 201", rec.Code)
			}
		}
		if before != nil {
			before()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"unknown_error","reason":"function_clause"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// leafCount is how many leaf revisions (winner and conflicts, deleted
// ones included) the document has on the cluster.
func leafCount(t *testing.T, s *Service, db, id string) int {
	t.Helper()
	tr, err := s.readTree(t.Context(), db, id, 3)
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, l := range tr.leaves {
		if !l.deleted {
			live++
		}
	}
	return live
}

// wantOnlyLeaf fails t unless document "one" of coll (database db) is at
// revision rev with v, and is its only live leaf.
func wantOnlyLeaf(t *testing.T, direct *Service, coll, db, rev string, v any) {
	t.Helper()
	d, err := direct.Get(t.Context(), coll, "one")
	if err != nil || d["_rev"] != rev || d["v"] != v {
		t.Fatalf("Get = %v, %v; want v %v at %s", d, err, v, rev)
	}
	if n := leafCount(t, direct, db, "one"); n != 1 {
		t.Fatalf("%d live leaves, want 1", n)
	}
}

// TestClusterWriteAnswered500IsResolved sends a cluster write whose first
// answer is HTTP 500, as CouchDB 3.5 gives while a database is still being
// created on another node (see useDB), and checks that the Service finds
// out what happened instead of answering ErrUnavailable: the write taken
// by the copies succeeds with its revision (also when another writer has
// built on it meanwhile), a write no copy took succeeds when sent again,
// and one no copy took while a competitor won is ErrConflict. A live
// conflict revision is never left behind.
func TestClusterWriteAnswered500IsResolved(t *testing.T) {
	cfg := clusterConfig(t)
	direct := newCluster(t)
	ctx := t.Context()
	via := func(t *testing.T, srv *httptest.Server) *Service {
		c := cfg
		c.URL = srv.URL
		s, err := New(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	setup := func(t *testing.T) (coll, db string) {
		coll = dbtest.Collection(t)
		if _, err := direct.Save(ctx, coll, "other", dbservice.Doc{"v": 0}); err != nil {
			t.Fatal(err)
		}
		return coll, cfg.Prefix + coll
	}

	t.Run("TakenByTheCopies", func(t *testing.T) {
		coll, db := setup(t)
		s := via(t, failingOnce(t, cfg.URL, "/one", true, nil))
		rev, err := s.Save(ctx, coll, "one", dbservice.Doc{"v": 1}, dbservice.IfAbsent())
		if err != nil {
			t.Fatalf("Save: %v, want success: the copies took the write", err)
		}
		wantOnlyLeaf(t, direct, coll, db, rev, 1.0)
	})

	t.Run("TakenAndBuiltOn", func(t *testing.T) {
		coll, db := setup(t)
		start, err := direct.Save(ctx, coll, "one", dbservice.Doc{"v": 1})
		if err != nil {
			t.Fatal(err)
		}
		var later string
		s := via(t, failingOnce(t, cfg.URL, "/one", true, func() {
			d, err := direct.Get(ctx, coll, "one")
			if err != nil {
				t.Error(err)
				return
			}
			if later, err = direct.Save(ctx, coll, "one", dbservice.Doc{"v": 3}, dbservice.IfRev(d["_rev"].(string))); err != nil {
				t.Error(err)
			}
		}))
		rev, err := s.Save(ctx, coll, "one", dbservice.Doc{"v": 2}, dbservice.IfRev(start))
		if err != nil {
			t.Fatalf("Save: %v, want success: the copies took the write and another writer built on it", err)
		}
		d, err := direct.Get(ctx, coll, "one")
		if err != nil || d["_rev"] != later || d["v"] != 3.0 {
			t.Fatalf("Get = %v, %v; want the later write (v 3 at %s)", d, err, later)
		}
		if rev == start || rev == later || !strings.HasPrefix(rev, "2-") {
			t.Fatalf("Save returned %s, want the revision it wrote (generation 2, between %s and %s)", rev, start, later)
		}
		if n := leafCount(t, direct, db, "one"); n != 1 {
			t.Fatalf("%d live leaves, want 1", n)
		}
	})

	t.Run("NotTaken", func(t *testing.T) {
		coll, _ := setup(t)
		s := via(t, failingOnce(t, cfg.URL, "/one", false, nil))
		if _, err := s.Save(ctx, coll, "one", dbservice.Doc{"v": 1}, dbservice.IfAbsent()); err != nil {
			t.Fatalf("Save: %v, want success: sent again, the write is taken", err)
		}
		if d, err := direct.Get(ctx, coll, "one"); err != nil || d["v"] != 1.0 {
			t.Fatalf("Get = %v, %v", d, err)
		}
	})

	t.Run("NotTakenAndACompetitorWon", func(t *testing.T) {
		coll, db := setup(t)
		s := via(t, failingOnce(t, cfg.URL, "/one", false, func() {
			if _, err := direct.Save(context.Background(), coll, "one", dbservice.Doc{"v": "theirs"}, dbservice.IfAbsent()); err != nil {
				t.Error(err)
			}
		}))
		_, err := s.Save(ctx, coll, "one", dbservice.Doc{"v": "mine"}, dbservice.IfAbsent())
		if !errors.Is(err, dbservice.ErrConflict) {
			t.Fatalf("Save: %v, want ErrConflict: a competitor created the document", err)
		}
		if d, err := direct.Get(ctx, coll, "one"); err != nil || d["v"] != "theirs" {
			t.Fatalf("Get = %v, %v; want the competitor's document", d, err)
		}
		if n := leafCount(t, direct, db, "one"); n != 1 {
			t.Fatalf("%d live leaves, want 1", n)
		}
	})
}

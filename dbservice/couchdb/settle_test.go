package couchdb

import (
	"encoding/json"
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

// TestClusterSettleSeesAChildBuiltMeanwhile is the race the node-restart
// test once lost an increment to (it counted one more than it
// acknowledged): two writes U and S of one parent, S the winner by
// CouchDB's rule, and a third writer that read U before S reached any copy
// builds on U while U's writer settles. U's writer reads {U, S}, and its
// deletion of U is refused where U has the child; the child's branch is
// the longer one, so U stands and must be answered as written, not
// ErrConflict. Without the child U is lost: ErrConflict, with no live
// leaf of it left.
func TestClusterSettleSeesAChildBuiltMeanwhile(t *testing.T) {
	cfg := clusterConfig(t)
	direct := newCluster(t)
	ctx := t.Context()
	const u, s = "2-11111111111111111111111111111111", "2-ffffffffffffffffffffffffffffffff"
	// siblings makes the document one: parent P and its children U and S.
	siblings := func(t *testing.T) (coll, db string) {
		coll = dbtest.Collection(t)
		db = cfg.Prefix + coll
		p, err := direct.Save(ctx, coll, "one", dbservice.Doc{"v": 1})
		if err != nil {
			t.Fatal(err)
		}
		_, ph, _ := strings.Cut(p, "-")
		var docs []map[string]any
		for _, rev := range []string{u, s} {
			_, h, _ := strings.Cut(rev, "-")
			docs = append(docs, map[string]any{"_id": "one", "_rev": rev, "v": 2,
				"_revisions": map[string]any{"start": 2, "ids": []string{h, ph}}})
		}
		body, _ := json.Marshal(map[string]any{"docs": docs, "new_edits": false})
		resp, err := direct.rawDo(ctx, http.MethodPost, "/"+url.PathEscape(db)+"/_bulk_docs", url.Values{"w": {"3"}}, body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return coll, db
	}
	// via is a Service whose first read of all leaves of "one" is answered
	// as the copies gave it, after before has run.
	via := func(t *testing.T, before func()) *Service {
		target, _ := url.Parse(cfg.URL)
		rp := httputil.NewSingleHostReverseProxy(target)
		var once sync.Once
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hit := false
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/one") && r.URL.Query().Get("open_revs") == "all" {
				once.Do(func() { hit = true })
			}
			if !hit {
				rp.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			before()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		}))
		t.Cleanup(srv.Close)
		c := cfg
		c.URL = srv.URL
		sv, err := New(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sv.Close() })
		return sv
	}

	t.Run("BuiltOn", func(t *testing.T) {
		coll, db := siblings(t)
		var child string
		sv := via(t, func() {
			body, _ := json.Marshal(map[string]any{"_rev": u, "v": 3})
			resp, err := direct.rawDo(ctx, http.MethodPut, docPath(db, "one"), url.Values{"w": {"3"}}, body)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var out struct {
				Rev string `json:"rev"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			child = out.Rev
		})
		if err := sv.settle(ctx, db, "one", u, 3); err != nil {
			t.Fatalf("settle: %v, want success: a child of the write wins", err)
		}
		wantOnlyLeaf(t, direct, coll, db, child, 3.0)
	})

	t.Run("Lost", func(t *testing.T) {
		coll, db := siblings(t)
		sv := via(t, func() {})
		if err := sv.settle(ctx, db, "one", u, 3); !errors.Is(err, dbservice.ErrConflict) {
			t.Fatalf("settle: %v, want ErrConflict: the sibling wins", err)
		}
		d, err := direct.Get(ctx, coll, "one")
		if err != nil || d["_rev"] != s {
			t.Fatalf("Get = %v, %v; want the sibling %s", d, err, s)
		}
		if n := leafCount(t, direct, db, "one"); n != 1 {
			t.Fatalf("%d live leaves, want 1", n)
		}
	})
}

// TestClusterAcknowledgedWriteOutlivesALateSibling is the race the
// node-restart test once lost an acknowledged increment to (199 with 200
// acknowledged): a write G of parent P was settled as the only live leaf,
// then a copy still catching up accepted a sibling S of P from a writer
// that had read P before G, and S beat G on the hash. extend, which runs
// before a 202 write is acknowledged, gives G a child, so G's branch is
// the longer one: S's writer loses, and the document keeps G's content.
// Without the child the late sibling wins and G is undone.
func TestClusterAcknowledgedWriteOutlivesALateSibling(t *testing.T) {
	cfg := clusterConfig(t)
	direct := newCluster(t)
	ctx := t.Context()
	const g, s = "2-11111111111111111111111111111111", "2-ffffffffffffffffffffffffffffffff"
	// put stores revision rev of "one", a child of parent, as a copy
	// that replicates it would (new_edits=false).
	put := func(t *testing.T, db, parent, rev string, v int) {
		t.Helper()
		_, ph, _ := strings.Cut(parent, "-")
		_, h, _ := strings.Cut(rev, "-")
		doc := map[string]any{"_id": "one", "_rev": rev, "v": v,
			"_revisions": map[string]any{"start": 2, "ids": []string{h, ph}}}
		body, _ := json.Marshal(map[string]any{"docs": []any{doc}, "new_edits": false})
		resp, err := direct.rawDo(ctx, http.MethodPost, "/"+url.PathEscape(db)+"/_bulk_docs", url.Values{"w": {"3"}}, body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, extended := range []bool{true, false} {
		t.Run(map[bool]string{true: "Extended", false: "NotExtended"}[extended], func(t *testing.T) {
			coll := dbtest.Collection(t)
			db := cfg.Prefix + coll
			p, err := direct.Save(ctx, coll, "one", dbservice.Doc{"v": 1})
			if err != nil {
				t.Fatal(err)
			}
			put(t, db, p, g, 2) // the acknowledged write
			held := g
			if extended {
				held = direct.extend(ctx, db, "one", dbservice.Doc{"_id": "one", "v": 2}, g, 3)
				if !strings.HasPrefix(held, "3-") {
					t.Fatalf("extend = %q, want a child of %s", held, g)
				}
			}
			put(t, db, p, s, 99) // the late sibling, from a stale read of P
			err = direct.settle(ctx, db, "one", s, 3)
			d, gerr := direct.Get(ctx, coll, "one")
			if gerr != nil {
				t.Fatal(gerr)
			}
			if !extended {
				// The hazard extend closes: the sibling wins on the hash.
				if err != nil || d["v"] != 99.0 {
					t.Fatalf("without extend: settle of the sibling = %v, Get = %v; want the sibling to win", err, d)
				}
				return
			}
			if !errors.Is(err, dbservice.ErrConflict) {
				t.Fatalf("settle of the late sibling = %v, want ErrConflict", err)
			}
			if d["v"] != 2.0 || d["_rev"] != held {
				t.Fatalf("Get = %v; want the acknowledged content at %s", d, held)
			}
			if n := leafCount(t, direct, db, "one"); n != 1 {
				t.Fatalf("%d live leaves, want 1", n)
			}
			// The caller goes on from the revision it holds.
			if _, err := direct.Save(ctx, coll, "one", dbservice.Doc{"v": 3}, dbservice.IfRev(held)); err != nil {
				t.Fatalf("Save with IfRev(the held revision): %v", err)
			}
		})
	}
}

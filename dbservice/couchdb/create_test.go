package couchdb

import (
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

// creationRecorder forwards to a CouchDB server and records, for one
// database, how many PUT /db requests were sent and whether a request to
// one of its documents was sent before a PUT /db had been answered 201
// (or 202).
type creationRecorder struct {
	*httptest.Server
	db string

	mu      sync.Mutex
	creates int  // PUT /db requests
	created bool // a PUT /db was answered 201 or 202
	early   []string
}

func newCreationRecorder(t *testing.T, target, db string) *creationRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &creationRecorder{db: db}
	rp := httputil.NewSingleHostReverseProxy(u)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		path := strings.TrimPrefix(req.URL.Path, "/")
		isCreate := req.Method == http.MethodPut && path == db
		r.mu.Lock()
		switch {
		case isCreate:
			r.creates++
		case strings.HasPrefix(path, db+"/") && !r.created:
			r.early = append(r.early, req.Method+" /"+path)
		}
		r.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, req)
		// 202: created with a node of the shared cluster down (the
		// node-restart test of ./clustertest may run meanwhile).
		if isCreate && (sw.status == http.StatusCreated || sw.status == http.StatusAccepted) {
			r.mu.Lock()
			r.created = true
			r.mu.Unlock()
		}
	}))
	t.Cleanup(r.Close)
	return r
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// TestConcurrentFirstWritesCreateTheDatabaseOnce sends eight concurrent
// IfAbsent saves to a collection whose database does not exist yet, all
// through one Service, and checks on the wire that the Service asked to
// create the database once and sent no document request before CouchDB
// had answered that creation with 201. On a cluster a second creator's
// 412 comes before the creator has written the shard map to every node,
// and a document write that reaches a node without it is answered with
// HTTP 500 (CouchDB 3.5, fabric_doc_update: function_clause on
// database_does_not_exist), see useDB.
func TestConcurrentFirstWritesCreateTheDatabaseOnce(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  func(testing.TB) Config
	}{
		{"SingleNode", serverConfig},
		{"Cluster", clusterConfig},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg(t)
			coll := dbtest.Collection(t)
			rec := newCreationRecorder(t, cfg.URL, cfg.Prefix+coll)
			cfg.URL = rec.URL
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Log in first, so that the writers start together.
			if err := s.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
			const writers = 8
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					_, errs[i] = s.Save(t.Context(), coll, "one", dbservice.Doc{"winner": i}, dbservice.IfAbsent())
				})
			}
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, dbservice.ErrConflict):
					t.Errorf("writer %d: %v, want success or ErrConflict", i, err)
				}
			}
			if won != 1 {
				t.Errorf("%d writers created the document, want 1", won)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.creates != 1 {
				t.Errorf("the Service sent PUT /db %d times for one database, want once", rec.creates)
			}
			if len(rec.early) > 0 {
				t.Errorf("document requests sent before the database was created: %v", rec.early)
			}
		})
	}
}

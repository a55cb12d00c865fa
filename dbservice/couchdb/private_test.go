package couchdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// startPrivate starts a CouchDB of the test's own, so stopping or
// reconfiguring it disturbs no one.
func startPrivate(t *testing.T) *testenv.Server {
	t.Helper()
	testenv.Need(t, "couchdb", EnvURL)
	return testenv.StartServer(t, "couchdb")
}

// privateConfig is a Config for a private server with its admin credentials.
func privateConfig(t *testing.T, p *testenv.Server) Config {
	cfg := Config{URL: p.Env[EnvURL], User: p.Env[EnvUser], Password: p.Env[EnvPassword], Prefix: runPrefix}
	cfg.Logger = testLogger(t)
	return cfg
}

func TestServerStoppedMidRunThenRestarted(t *testing.T) {
	srv := startPrivate(t)
	baseline := runtime.NumGoroutine()
	s, err := New(t.Context(), privateConfig(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "before", dbservice.Doc{"v": 1}); err != nil {
		t.Fatalf("Save before the stop: %v", err)
	}

	srv.Stop()
	calls := map[string]func() error{
		"Get":    func() error { _, err := s.Get(ctx, coll, "before"); return err },
		"Save":   func() error { _, err := s.Save(ctx, coll, "during", dbservice.Doc{"v": 2}); return err },
		"Delete": func() error { return s.Delete(ctx, coll, "before") },
		"Query": func() error {
			_, err := s.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("v", dbservice.Eq, 1)}})
			return err
		},
		"EnsureIndex": func() error { return s.EnsureIndex(ctx, coll, "v") },
		"SaveMany":    func() error { return s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "m", Doc: dbservice.Doc{}}}) },
		"Ping":        func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		t.Run(name+" on a stopped server is ErrUnavailable", func(t *testing.T) {
			err := call()
			if !errors.Is(err, dbservice.ErrUnavailable) {
				t.Fatalf("%s: %v, want ErrUnavailable", name, err)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), srv.Env[EnvPassword]) {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
	t.Logf("while down: %v", calls["Get"]())

	if err := srv.Start("COUCHDB_RESTART=1"); err != nil {
		t.Fatalf("restarting: %v", err)
	}
	if d, err := s.Get(ctx, coll, "before"); err != nil || d["v"] != 1.0 {
		t.Fatalf("Get after the restart = %v, %v", d, err)
	}
	if _, err := s.Save(ctx, coll, "after", dbservice.Doc{"v": 3}); err != nil {
		t.Fatalf("Save after the restart: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "the Service's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

// TestAnonymousAccessIsReported configures the private server the way an
// exposed one looks. CouchDB 3 has no admin party any more (deleting the
// last admin at run time leaves anonymous requests without roles; 3.x
// refuses to start without an admin), so what remains to detect is
// anonymous listing (admin_only_all_dbs = false) and databases whose
// _security has no members, which anyone can read and write.
func TestAnonymousAccessIsReported(t *testing.T) {
	t.Parallel()
	srv := startPrivate(t)
	s, err := New(t.Context(), privateConfig(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	open, closed := dbtest.Collection(t), dbtest.Collection(t)
	for _, c := range []string{open, closed} {
		if _, err := s.Save(ctx, c, "doc", dbservice.Doc{"v": 1}); err != nil {
			t.Fatal(err)
		}
	}
	find := func(fs []dbservice.Finding, id string) dbservice.Finding {
		for _, f := range fs {
			if f.ID == id {
				return f
			}
		}
		t.Fatalf("no finding %q", id)
		return dbservice.Finding{}
	}

	before := s.CheckPosture(ctx)
	if f := find(before, "auth-enabled"); f.Status != dbservice.Pass {
		t.Fatalf("auth-enabled on a closed server = %+v, want pass", f)
	}

	setConfig(t, s, "chttpd", "admin_only_all_dbs", "false")
	if status, _, err := s.raw(ctx, s.authClient, http.MethodPut, "/"+s.dbName(open)+"/_security", `{}`); err != nil || status != http.StatusOK {
		t.Fatalf("emptying _security: %d, %v", status, err)
	}

	after := s.CheckPosture(ctx)
	auth := find(after, "auth-enabled")
	if auth.Status != dbservice.Fail || auth.Fix == "" ||
		!strings.Contains(auth.Detail, "list every database") ||
		!strings.Contains(auth.Detail, s.dbName(open)+": anyone can read it") ||
		!strings.Contains(auth.Detail, s.dbName(open)+": anyone can write to it") ||
		strings.Contains(auth.Detail, s.dbName(closed)) {
		t.Fatalf("auth-enabled = %+v, want a failure naming the listing and the open database only", auth)
	}
	sec := find(after, "security-rules")
	if sec.Status != dbservice.Warn || !strings.Contains(sec.Detail, s.dbName(open)+": _security has no members") {
		t.Fatalf("security-rules = %+v, want a warning for the open database (CouchDB 3)", sec)
	}
	// The write probe wrote nothing.
	p, err := s.Query(ctx, open, dbservice.Query{})
	if err != nil || len(p.Docs) != 1 {
		t.Fatalf("the open database holds %d documents after the probe (%v), want 1", len(p.Docs), err)
	}
	for _, f := range after {
		t.Logf("%-18s %-4s %s", f.ID, f.Status, f.Detail)
	}
}

func setConfig(t *testing.T, s *Service, section, key, value string) {
	t.Helper()
	status, _, err := s.raw(context.Background(), s.authClient, http.MethodPut, "/_node/_local/_config/"+section+"/"+key, strconv.Quote(value))
	if err != nil || status != http.StatusOK {
		t.Fatalf("setting [%s] %s: %d, %v", section, key, status, err)
	}
}

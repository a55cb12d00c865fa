package couchdb

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// faults are the two disturbances of the fault tests, on a private server:
// the serving process frozen (SIGSTOP) for 6 s and resumed, and killed
// (SIGKILL) and started again on its data. Each returns once the server
// answers again.
func faults(srv *testenv.Server) []struct {
	name  string
	fault func(t *testing.T)
} {
	return []struct {
		name  string
		fault func(t *testing.T)
	}{
		{"FrozenFor6s", func(*testing.T) {
			srv.Signal(syscall.SIGSTOP)
			time.Sleep(6 * time.Second) // the length of the freeze, not a wait for an event
			srv.Signal(syscall.SIGCONT)
		}},
		{"KilledAndRestarted", func(t *testing.T) {
			srv.Kill()
			if err := srv.Start("COUCHDB_RESTART=1"); err != nil {
				t.Fatalf("restarting: %v", err)
			}
		}},
	}
}

// runFaults runs dbtest.FaultIncrements under each fault with a fresh
// Service made by cfg, and checks the Service leaves no goroutine behind
// after Close. CouchDB keeps its data on disk, so a restart loses nothing
// and the invariants cover the whole run. Only the goroutines the Service
// and its probes started are counted (testenv.Labeled), so the test runs
// in parallel with others.
func runFaults(t *testing.T, srv *testenv.Server, cfg func() Config) {
	for _, f := range faults(srv) {
		t.Run(f.name, func(t *testing.T) {
			var res dbtest.FaultResult
			alive := testenv.Labeled(t, func(context.Context) {
				s, err := New(t.Context(), cfg())
				if err != nil {
					t.Fatal(err)
				}
				probeColl := dbtest.Collection(t)
				res = dbtest.FaultIncrements(t, s, func() { f.fault(t) }, false, func(ctx context.Context) error {
					// A write through a Service of its own: a fresh connection and login.
					p, err := New(ctx, cfg())
					if err != nil {
						return err
					}
					defer p.Close()
					_, err = p.Save(ctx, probeColl, "probe", dbservice.Doc{"at": time.Now().UnixMilli()})
					return err
				})
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			})
			testenv.WaitFor(t, 30*time.Second, "the Service's goroutines to end", func() bool { return alive() == 0 })
			t.Logf("couchdb %s: recovery %v", f.name, res.Recovery.Round(time.Millisecond))
		})
	}
}

func TestFaultsOnASingleNode(t *testing.T) {
	t.Parallel()
	srv := startPrivate(t)
	runFaults(t, srv, func() Config { return privateConfig(t, srv) })
}

// TestFaultsOnACluster freezes and kills node 1 of a private three-node
// cluster, the node the Service talks to.
func TestFaultsOnACluster(t *testing.T) {
	t.Parallel()
	testenv.Need(t, "couchdb-cluster", envClusterURL)
	srv := testenv.StartServer(t, "couchdb-cluster")
	runFaults(t, srv, func() Config {
		return Config{URL: srv.Env[envClusterURL], User: srv.Env[envClusterUser], Password: srv.Env[envClusterPassword], Prefix: runPrefix, Logger: testLogger(t)}
	})
}

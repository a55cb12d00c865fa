// Package clustertest runs the couchdb provider against the three-node
// test cluster of scripts/servers/couchdb-cluster.sh: the whole
// conformance suite, its concurrency cases repeated, and a node stopped and
// started again during concurrent IfRev increments. It is a package of its
// own so that `go test ./...` runs it in parallel with the couchdb
// package's tests.
package clustertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/couchdb"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// The variables scripts/servers/couchdb-cluster.sh exports.
const (
	envClusterURL      = "COUCHDB_CLUSTER_URL"
	envClusterUser     = "COUCHDB_CLUSTER_USER"
	envClusterPassword = "COUCHDB_CLUSTER_PASSWORD"
	envClusterNodes    = "COUCHDB_CLUSTER_NODE_URLS"
	envClusterDir      = "COUCHDB_CLUSTER_DIR"
	envServerScript    = "COUCHDB_SERVER_SCRIPT"
)

// clusterConfig is a Config for the cluster's first node, or skips (fails
// under SECUREDB_REQUIRE_SERVERS=1) without a cluster.
func clusterConfig(t testing.TB) couchdb.Config {
	t.Helper()
	v := testenv.Need(t, "couchdb-cluster", envClusterURL, envClusterUser, envClusterPassword)
	return couchdb.Config{URL: v[0], User: v[1], Password: v[2], Prefix: testenv.RunPrefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func newCluster(t testing.TB) *couchdb.Service {
	t.Helper()
	s, err := couchdb.New(context.Background(), clusterConfig(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// clusterRepeats is how often the concurrency cases run on the cluster:
// before conflict handling they failed in about one run in two, so five
// passing runs leave a 1-in-4 failure a (3/4)^5 = 24% chance, and the
// cases together far less.
const clusterRepeats = 5

// TestDBTestOnCluster runs the whole conformance suite against a real
// three-node cluster (n=3, q=2), the concurrency cases clusterRepeats
// times: two writes of the same revision reaching different shard copies
// are both accepted there, which is where a single node and a cluster
// differ. Every case and every repetition has its own Service and
// databases, so they run in parallel: most of their time is spent waiting
// for the cluster (a database is six shard files on three nodes), not
// computing.
func TestDBTestOnCluster(t *testing.T) {
	clusterConfig(t)
	concurrent := map[string]bool{
		"ConcurrentIfRevIncrementsLoseNothing": true,
		"ConcurrentIfAbsentHasOneWinner":       true,
		"PagingSurvivesConcurrentWrites":       true,
	}
	for _, c := range dbtest.Cases() {
		n := 1
		if concurrent[c.Name] {
			n = clusterRepeats
		}
		for i := range n {
			name := c.Name
			if n > 1 {
				name += "/run" + strconv.Itoa(i+1)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s := newCluster(t)
				c.Run(t, s)
			})
		}
	}
}

// TestIfAbsentFromSeparateServicesHasOneWinner is the IfAbsent race of
// the conformance suite between eight Services, as eight processes would
// run it, on a database none of them has seen: each creates the database,
// so seven of them get CouchDB's 412 while the creation is still going on
// and write at once, which CouchDB 3.5 can answer with HTTP 500 (see
// useDB in the couchdb package). Exactly one writer must win and every
// other get ErrConflict, clusterRepeats*2 times.
func TestIfAbsentFromSeparateServicesHasOneWinner(t *testing.T) {
	clusterConfig(t)
	for run := range clusterRepeats * 2 {
		t.Run("run"+strconv.Itoa(run+1), func(t *testing.T) {
			t.Parallel()
			ifAbsentFromSeparateServices(t)
		})
	}
}

// ifAbsentFromSeparateServices is one run of
// TestIfAbsentFromSeparateServicesHasOneWinner, on a database of its own.
func ifAbsentFromSeparateServices(t *testing.T) {
	const writers = 8
	coll := dbtest.Collection(t)
	services := make([]*couchdb.Service, writers)
	for i := range services {
		services[i] = newCluster(t)
		// Log in first, so that the writers start together.
		if err := services[i].Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Go(func() {
			_, errs[i] = s.Save(t.Context(), coll, "one", dbservice.Doc{"winner": i}, dbservice.IfAbsent())
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both created the document", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, dbservice.ErrConflict):
			t.Fatalf("writer %d: %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer created the document")
	}
	d, err := services[0].Get(t.Context(), coll, "one")
	if err != nil || d["winner"] != float64(winner) {
		t.Fatalf("Get = %v, %v; want the winner's document (writer %d)", d, err, winner)
	}
}

// clusterNode runs couchdb-server.sh on node n of the private cluster srv:
// "stop" kills it by its recorded PID, "node-start" starts it again with its
// name, cookie and data.
func clusterNode(t *testing.T, srv *testenv.Server, action string, n int) {
	t.Helper()
	dir, script := srv.Env[envClusterDir], srv.Env[envServerScript]
	args := []string{script, action, filepath.Join(dir, "node"+strconv.Itoa(n))}
	if action == "node-start" {
		args = []string{script, action, dir, strconv.Itoa(n)}
	}
	if out, err := exec.Command("bash", args...).CombinedOutput(); err != nil {
		t.Fatalf("couchdb-server.sh %s node %d: %v: %s", action, n, err, out)
	}
}

// TestClusterNodeRestartLosesNothing runs the 8 x 25 IfRev increments of
// the conformance suite while node 3 is stopped (by its PID) and started
// again: with two of three nodes the writes go on, every increment that was
// acknowledged is in the final count, and no other but those answered as
// ambiguous (ErrUnavailable: the write may or may not have happened; none
// answered ErrConflict), and after recovery every node, asked on its own
// port, serves the same revision. The cluster is a private one, so that
// the stopped node disturbs no other test.
func TestClusterNodeRestartLosesNothing(t *testing.T) {
	t.Parallel()
	clusterConfig(t)
	srv := testenv.StartServer(t, "couchdb-cluster")
	private := func() couchdb.Config {
		cfg := clusterConfig(t)
		cfg.URL, cfg.User, cfg.Password = srv.Env[envClusterURL], srv.Env[envClusterUser], srv.Env[envClusterPassword]
		return cfg
	}
	s, err := couchdb.New(t.Context(), private())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	urls := strings.Split(srv.Env[envClusterNodes], ",")
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "counter", dbservice.Doc{"n": 0}); err != nil {
		t.Fatal(err)
	}
	const workers, increments = 8, 25
	// ambiguous counts the Saves answered ErrUnavailable saying the write
	// may or may not have happened (copies disagreed and settling did not
	// finish): each may be in the count or not, and its worker tries again.
	var acked, whileDown, ambiguous atomic.Int64
	var down atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				for attempt := 0; ; attempt++ {
					if attempt == 1000 {
						t.Errorf("an increment did not succeed in 1000 attempts")
						return
					}
					d, err := s.Get(ctx, coll, "counter")
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					_, err = s.Save(ctx, coll, "counter", dbservice.Doc{"n": d["n"].(float64) + 1}, dbservice.IfRev(d["_rev"].(string)))
					if err == nil {
						acked.Add(1)
						if down.Load() {
							whileDown.Add(1)
						}
						break
					}
					if errors.Is(err, dbservice.ErrUnavailable) && strings.Contains(err.Error(), "may or may not have happened") {
						ambiguous.Add(1)
						continue
					}
					if !errors.Is(err, dbservice.ErrConflict) {
						t.Errorf("Save with IfRev: %v", err)
						return
					}
				}
			}
		})
	}
	waitAcked := func(n int64) {
		testenv.WaitFor(t, 120*time.Second, "increments to be acknowledged", func() bool { return acked.Load() >= n || t.Failed() })
	}
	waitAcked(40)
	clusterNode(t, srv, "stop", 3)
	down.Store(true)
	at := acked.Load()
	waitAcked(at + 40) // writes go on with two nodes
	down.Store(false)
	clusterNode(t, srv, "node-start", 3)
	wg.Wait()
	if t.Failed() {
		return
	}
	got, err := s.Get(ctx, coll, "counter")
	if err != nil {
		t.Fatal(err)
	}
	// Every acknowledged increment is in the count, and nothing else but
	// the ambiguous ones: a Save answered ErrConflict wrote nothing.
	if n, ok := got["n"].(float64); !ok || n < float64(acked.Load()) || n > float64(acked.Load()+ambiguous.Load()) || acked.Load() != workers*increments {
		t.Fatalf("counter = %v with %d acknowledged increments (want %d) and %d ambiguous ones: updates were lost or a refused one was written", got["n"], acked.Load(), workers*increments, ambiguous.Load())
	}
	// Every node, as coordinator of its own read, serves the same
	// revision once internal replication has caught up.
	want := got["_rev"]
	for i, u := range urls {
		cfg := private()
		cfg.URL = u
		ns, err := couchdb.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		var last dbservice.Doc
		testenv.WaitFor(t, 30*time.Second, "node "+strconv.Itoa(i+1)+" to serve the final revision", func() bool {
			last, err = ns.Get(ctx, coll, "counter")
			return err == nil && last["_rev"] == want && last["n"] == got["n"]
		})
	}
	t.Logf("%d increments acknowledged, %d of them while node 3 was down, %d ambiguous; every node serves %v", acked.Load(), whileDown.Load(), ambiguous.Load(), want)
}

// TestClusterUpdateAcrossServicesLosesNone: four Services (which do not
// share the in-process turns of Update) increment one document 10 times
// each on the cluster, no IfRev: Update's conditional writes take the
// settled cluster path, so the count ends at exactly 40.
func TestClusterUpdateAcrossServicesLosesNone(t *testing.T) {
	t.Parallel()
	s := newCluster(t)
	ctx, coll := context.Background(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "counter", dbservice.Doc{"n": 0}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 4 {
		other := newCluster(t)
		wg.Go(func() {
			for range 10 {
				if _, err := other.Update(ctx, coll, "counter", []dbservice.Mutation{dbservice.Increment("n", 1)}); err != nil {
					failed.Add(1)
					t.Errorf("Update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	d, err := s.Get(ctx, coll, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(40 - failed.Load()); d["n"] != want {
		t.Fatalf("n = %v after %v acknowledged increments", d["n"], want)
	}
}

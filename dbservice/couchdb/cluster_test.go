package couchdb

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
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

// clusterConfig is a Config for the three-node test cluster (its first
// node), or skips (fails under SECUREDB_REQUIRE_SERVERS=1) without one.
func clusterConfig(t testing.TB) Config {
	t.Helper()
	v := testenv.Need(t, "couchdb-cluster", envClusterURL, envClusterUser, envClusterPassword)
	return Config{URL: v[0], User: v[1], Password: v[2], Prefix: runPrefix, Logger: testLogger(t)}
}

func newCluster(t testing.TB) *Service {
	t.Helper()
	s, err := New(context.Background(), clusterConfig(t))
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
// differ.
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
				name += "/run" + string(rune('1'+i))
			}
			t.Run(name, func(t *testing.T) {
				s := newCluster(t)
				c.Run(t, s)
			})
		}
	}
}

// clusterNodeURLs are the URLs of every node, in node order.
func clusterNodeURLs(t testing.TB) []string {
	t.Helper()
	v := testenv.Need(t, "couchdb-cluster", envClusterNodes)
	return strings.Split(v[0], ",")
}

var _ = os.Getenv
var _ dbservice.Service = (*Service)(nil)

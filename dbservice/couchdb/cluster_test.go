package couchdb

import (
	"context"
	"testing"

	"github.com/securedb-go/securedb/internal/testenv"
)

// The variables scripts/servers/couchdb-cluster.sh exports.
const (
	envClusterURL      = "COUCHDB_CLUSTER_URL"
	envClusterUser     = "COUCHDB_CLUSTER_USER"
	envClusterPassword = "COUCHDB_CLUSTER_PASSWORD"
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

// The conformance suite on the shared cluster and the node-restart test
// (on a private one) are in ./clustertest, a package of their own, so that
// `go test ./...` runs them in parallel with this package's tests.

package dynamodb

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// The conformance suite and the differential queries use collections of
// their own and count no goroutines, so they run in parallel (after every
// serial test, among them the fault tests, which count goroutines): both
// mostly wait on the server.
func TestConformance(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return newServer(t, nil) })
}

// TestDifferentialAgainstMemory runs 2000 random queries (conditions,
// orderings, projections, limits) on the real server and on the memory
// provider, and requires the same answers: 1000 by Scan, then 1000 after
// EnsureIndex made the global secondary indexes of
// dbtest.DifferentialIndexes.
func TestDifferentialAgainstMemory(t *testing.T) {
	t.Parallel()
	dbtest.Differential(t, newServer(t, nil), dbtest.DifferentialOptions{Queries: 2000})
}

package firestore

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
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return newServer(t) })
}

// TestDifferentialAgainstMemory runs 1000 random queries (conditions,
// orderings, projections, limits; half of them after EnsureIndex) on the
// real server and on the memory provider, and requires the same answers.
func TestDifferentialAgainstMemory(t *testing.T) {
	t.Parallel()
	dbtest.Differential(t, newServer(t), dbtest.DifferentialOptions{})
}

// TestDifferentialWithCompositeIndexes: 1000 more random queries, half of
// them after composite indexes are declared, so that equalities with a
// range or an order are sent to Firestore in those indexes' order.
func TestDifferentialWithCompositeIndexes(t *testing.T) {
	dbtest.Differential(t, newServer(t), dbtest.DifferentialOptions{
		Indexes: [][]string{{"t", "s"}, {"t", "n"}, {"b", "n"}, {"t", "o.k"}, {"s", "n"}, {"b", "t", "s"}},
	})
}

package dynamodb

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return newServer(t, nil) })
}

// TestDifferentialAgainstMemory runs 1000 random queries (conditions,
// orderings, projections, limits; half of them after EnsureIndex) on the
// real server and on the memory provider, and requires the same answers.
func TestDifferentialAgainstMemory(t *testing.T) {
	dbtest.Differential(t, newServer(t, nil), dbtest.DifferentialOptions{})
}

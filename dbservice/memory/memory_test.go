package memory_test

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return memory.New() })
}

func TestConformanceBehindGuard(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) dbservice.Service {
		return dbservice.Guard(memory.New(), dbservice.Policy{})
	})
}

// TestIndexesAgreeWithScans runs random queries on a memory provider whose
// collection gains ordered indexes halfway through and on one without
// any: reading an index must give exactly the answers of a scan.
func TestIndexesAgreeWithScans(t *testing.T) {
	dbtest.Differential(t, memory.New(), dbtest.DifferentialOptions{Queries: 1500, Docs: 300})
}

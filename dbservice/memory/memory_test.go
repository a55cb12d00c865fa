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


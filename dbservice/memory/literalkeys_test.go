package memory_test

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

func TestLiteralKeys(t *testing.T) {
	dbtest.RunLiteralKeys(t, func(t *testing.T, lim validate.Limits) dbservice.Service {
		return memory.New(memory.WithLimits(lim))
	})
}

// The Guard's Policy.Limits carries the opt-in to its own checks: a Guard
// without it refuses escaped paths before the provider sees them, one with
// it over a provider with it passes the whole contract.
func TestLiteralKeysThroughGuard(t *testing.T) {
	dbtest.RunLiteralKeys(t, func(t *testing.T, lim validate.Limits) dbservice.Service {
		return dbservice.Guard(memory.New(memory.WithLimits(lim)), dbservice.Policy{Limits: lim})
	})
}

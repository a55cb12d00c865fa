package telemetry_test

import (
	"context"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/dbservice/telemetry"
)

// With no provider configured the layer costs no allocation: a Get
// through it allocates exactly what a Get without it does.
func TestNoProviderAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	allocs := func(s dbservice.Service) float64 {
		if _, err := s.Save(ctx, "agents", "a1", dbservice.Doc{"n": 1.0}); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(200, func() {
			if _, err := s.Get(ctx, "agents", "a1"); err != nil {
				t.Fatal(err)
			}
		})
	}
	bare := allocs(dbservice.Guard(memory.New(), dbservice.Policy{}))
	wrapped := allocs(telemetry.Wrap(dbservice.Guard(memory.New(), dbservice.Policy{}), telemetry.Options{}))
	if wrapped != bare {
		t.Errorf("a Get allocates %.0f times through the layer with no provider, %.0f without it", wrapped, bare)
	}
}

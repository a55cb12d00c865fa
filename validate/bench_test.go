package validate_test

import (
	"testing"

	"github.com/securedb-go/securedb/validate"
)

func BenchmarkNameChecks(b *testing.B) {
	for b.Loop() {
		_ = validate.IDRule{}.Check("agent-0001_x")
		_ = validate.CollectionName("agents_prod")
	}
}

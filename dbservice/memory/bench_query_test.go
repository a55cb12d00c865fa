package memory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// BenchmarkQueryShapes times issue 12's query shapes on the reference
// provider at 10k and 50k documents, after EnsureIndex of each shape's
// fields. There is no raw SDK to compare with: it reports the library's
// latency, documents read per call and the 50k/10k latency ratio.
func BenchmarkQueryShapes(b *testing.B) {
	ctx := context.Background()
	for _, size := range dbtest.QueryBenchSizes {
		s := memory.New()
		coll := fmt.Sprintf("qshapes%d", size)
		if err := s.SaveMany(ctx, coll, dbtest.QueryBenchItems(size)); err != nil {
			b.Fatal(err)
		}
		for _, shape := range dbtest.QueryShapes() {
			if err := s.EnsureIndex(ctx, coll, shape.Index...); err != nil {
				b.Fatal(err)
			}
		}
		for _, shape := range dbtest.QueryShapes() {
			b.Run(fmt.Sprintf("n=%d/%s", size, shape.Name), func(b *testing.B) {
				dbtest.BenchQueryShape(b, "memory", size, s, coll, shape, nil)
			})
		}
		_ = s.Close()
	}
}

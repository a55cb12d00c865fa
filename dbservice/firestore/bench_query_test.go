package firestore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// BenchmarkQueryShapes times issue 12's query shapes at 10k and 50k
// documents: the library's Query (after EnsureIndex of each shape's
// fields) against the Go client's Where(...).OrderBy(...).Limit(n) on the
// same collection, client and emulator in the same run. The emulator
// serves every query without composite indexes; production Firestore
// needs team+score for the eq-range shape.
func BenchmarkQueryShapes(b *testing.B) {
	s := newServer(b)
	ctx, run := context.Background(), dbtest.Collection(b)
	team, none := dbtest.QueryBenchTeam, dbtest.QueryBenchNoTeam
	for _, size := range dbtest.QueryBenchSizes {
		coll := fmt.Sprintf("%sq%d", run, size)
		if err := s.SaveMany(ctx, coll, dbtest.QueryBenchItems(size)); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { deleteAll(b, s, coll) })
		for _, shape := range dbtest.QueryShapes() {
			if err := s.EnsureIndex(ctx, coll, shape.Index...); err != nil {
				b.Fatal(err)
			}
		}
		c := s.collection(coll)
		raws := map[string]firestore.Query{
			"eq":            c.Where("team", "==", team).Limit(10),
			"range-top5":    c.Where("score", ">", 900).OrderBy("score", firestore.Desc).Limit(5),
			"eq-range":      c.Where("team", "==", team).Where("score", ">", 500).Limit(10),
			"orderby-limit": c.OrderBy("score", firestore.Desc).Limit(10),
			"no-match":      c.Where("team", "==", none).Limit(10),
		}
		for _, shape := range dbtest.QueryShapes() {
			q := raws[shape.Name]
			b.Run(fmt.Sprintf("n=%d/%s", size, shape.Name), func(b *testing.B) {
				dbtest.BenchQueryShape(b, "firestore", size, s, coll, shape, func(ctx context.Context) (int, int, error) {
					it := q.Documents(ctx)
					defer it.Stop()
					n := 0
					for {
						snap, err := it.Next()
						if errors.Is(err, iterator.Done) {
							return n, -1, nil
						}
						if err != nil {
							return n, -1, err
						}
						_ = snap.Data() // a raw caller reads the fields too
						n++
					}
				})
			})
		}
	}
}

// deleteAll removes every document of collection coll with a BulkWriter.
func deleteAll(b *testing.B, s *Service, coll string) {
	ctx := context.Background()
	refs := s.collection(coll).DocumentRefs(ctx)
	w := s.client.BulkWriter(ctx)
	defer w.End()
	for {
		ref, err := refs.Next()
		if errors.Is(err, iterator.Done) {
			return
		}
		if err == nil {
			_, err = w.Delete(ref)
		}
		if err != nil {
			b.Logf("cleanup of %s: %v", coll, err)
			return
		}
	}
}

package couchdb

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// BenchmarkSaveIfRev measures one uncontended conditional update, the
// operation conflict handling changes, on the single node and on the
// cluster.
func BenchmarkSaveIfRev(b *testing.B) {
	for _, c := range []struct {
		name string
		env  string
		make func(testing.TB) *Service
	}{
		{"SingleNode", EnvURL, func(tb testing.TB) *Service { return newServer(tb) }},
		{"Cluster", envClusterURL, newCluster},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := c.make(b)
			ctx, coll := b.Context(), dbtest.Collection(b)
			rev, err := s.Save(ctx, coll, "doc", dbservice.Doc{"n": 0})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				if rev, err = s.Save(ctx, coll, "doc", dbservice.Doc{"n": i}, dbservice.IfRev(rev)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

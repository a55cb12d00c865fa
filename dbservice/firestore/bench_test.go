package firestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// BenchmarkLibraryVsRawSDK compares Get and Save with the raw client's
// Doc().Get and Doc().Set on the same client, collection and emulator: the
// ratio is what validation, encoding and decoding cost (goal ≤ 1.05x).
func BenchmarkLibraryVsRawSDK(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	if _, err := s.Save(ctx, coll, "bench", dbtest.BenchDoc(1)); err != nil {
		b.Fatal(err)
	}
	raw := s.collection(coll).Doc("raw")
	if _, err := raw.Set(ctx, dbtest.BenchDoc(1)); err != nil {
		b.Fatal(err)
	}
	b.Run("Get", func(b *testing.B) {
		dbtest.Pair(b,
			func() error {
				snap, err := raw.Get(ctx)
				if err == nil {
					_ = snap.Data() // a raw caller reads the fields too
				}
				return err
			},
			func() error { _, err := s.Get(ctx, coll, "bench"); return err })
	})
	b.Run("Save", func(b *testing.B) {
		i := 0
		dbtest.Pair(b,
			func() error { i++; _, err := raw.Set(ctx, dbtest.BenchDoc(i)); return err },
			func() error { i++; _, err := s.Save(ctx, coll, "bench", dbtest.BenchDoc(i)); return err })
	})
}

// BenchmarkImport1000 writes 1000 documents with SaveMany (BulkWriter,
// which dbservice.Import uses) and with 1000 Saves, and reports how many
// times faster the bulk path is.
func BenchmarkImport1000(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	items := make([]dbservice.BulkItem, 1000)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("doc-%04d", i), Doc: dbtest.BenchDoc(i)}
	}
	var bulk, single time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if err := s.SaveMany(ctx, coll, items); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for _, it := range items {
			if _, err := s.Save(ctx, coll, it.ID, it.Doc); err != nil {
				b.Fatal(err)
			}
		}
		bulk += t1.Sub(t0)
		single += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(bulk.Milliseconds())/float64(n), "savemany-ms/op")
	b.ReportMetric(float64(single.Milliseconds())/float64(n), "save-loop-ms/op")
	b.ReportMetric(float64(single)/float64(bulk), "x-faster")
}

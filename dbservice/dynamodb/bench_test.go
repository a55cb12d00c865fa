package dynamodb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

// BenchmarkLibraryVsRawSDK compares Get and Save with the raw SDK's
// GetItem and PutItem on the same client, table and server: the ratio is
// what validation, encoding and conditions-free bookkeeping cost (goal
// ≤ 1.05x).
func BenchmarkLibraryVsRawSDK(b *testing.B) {
	s := newServer(b, nil)
	ctx, coll := context.Background(), dbtest.Collection(b)
	if _, err := s.Save(ctx, coll, "bench", dbtest.BenchDoc(1)); err != nil {
		b.Fatal(err)
	}
	table := aws.String(s.table(coll))
	nd, err := dbservice.NormalizeDoc(dbtest.BenchDoc(1), validate.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	item, _, err := encodeItem("raw", newRev(), nd, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item}); err != nil {
		b.Fatal(err)
	}
	b.Run("Get", func(b *testing.B) {
		dbtest.Pair(b,
			func() error {
				_, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("raw"), ConsistentRead: aws.Bool(true)})
				return err
			},
			func() error { _, err := s.Get(ctx, coll, "bench"); return err })
	})
	b.Run("Save", func(b *testing.B) {
		dbtest.Pair(b,
			func() error {
				_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item})
				return err
			},
			func() error { _, err := s.Save(ctx, coll, "bench", dbtest.BenchDoc(1)); return err })
	})
}

// BenchmarkImport1000 writes 1000 documents with SaveMany (BatchWriteItem,
// which dbservice.Import uses) and with 1000 Saves, and reports how many
// times faster the bulk path is (goal ≥ 10x).
func BenchmarkImport1000(b *testing.B) {
	s := newServer(b, nil)
	ctx, coll := context.Background(), dbtest.Collection(b)
	items := make([]dbservice.BulkItem, 1000)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("doc-%04d", i), Doc: dbtest.BenchDoc(i)}
	}
	if err := s.EnsureIndex(ctx, coll, "name"); err != nil { // creates the table outside the timing
		b.Fatal(err)
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

package dynamodb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// versus times the baseline and the data API call alternately in one
// loop (swapping which goes first, so drift on a shared machine hits both
// alike) and reports each one's ms/op and how many times faster the data
// API call is.
func versus(b *testing.B, baseline, fast func() error) {
	var baseT, fastT time.Duration
	n := 0
	for b.Loop() {
		first, second, firstT, secondT := baseline, fast, &baseT, &fastT
		if n%2 == 1 {
			first, second, firstT, secondT = fast, baseline, &fastT, &baseT
		}
		t0 := time.Now()
		if err := first(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := second(); err != nil {
			b.Fatal(err)
		}
		*firstT += t1.Sub(t0)
		*secondT += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(baseT.Microseconds())/1000/float64(n), "baseline-ms/op")
	b.ReportMetric(float64(fastT.Microseconds())/1000/float64(n), "dataapi-ms/op")
	b.ReportMetric(float64(baseT)/float64(fastT), "x-faster")
}

// BenchmarkDataAPI measures the data API's native operations against what
// a caller would write without them, on the same server: GetMany(100)
// (BatchGetItem) against 100 Gets (goal ≥ 10x), an Update increment
// (one UpdateItem) against Get + Save with IfRev, and Count (Scan with
// Select COUNT) against iterating All over 1000 documents. The Raw
// sub-benchmarks are the server's own floor for the same comparisons,
// through the SDK client alone: what DynamoDB Local makes of a batch and
// of an UpdateItem, whatever the library does.
func BenchmarkDataAPI(b *testing.B) {
	s := newServer(b, nil)
	ctx, coll := context.Background(), dbtest.Collection(b)
	items := make([]dbservice.BulkItem, 1000)
	ids := make([]string, 100)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("doc-%04d", i), Doc: dbtest.BenchDoc(i)}
	}
	for i := range ids {
		ids[i] = items[i*10].ID
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		b.Fatal(err)
	}
	b.Run("GetMany100", func(b *testing.B) {
		versus(b,
			func() error {
				for _, id := range ids {
					if _, err := s.Get(ctx, coll, id); err != nil {
						return err
					}
				}
				return nil
			},
			func() error {
				docs, _, err := s.GetMany(ctx, coll, ids)
				if err == nil && len(docs) != len(ids) {
					err = fmt.Errorf("GetMany found %d of %d", len(docs), len(ids))
				}
				return err
			})
	})
	table := aws.String(s.table(coll))
	b.Run("RawBatchGetItem100", func(b *testing.B) {
		keys := make([]map[string]types.AttributeValue, len(ids))
		for i, id := range ids {
			keys[i] = key(id)
		}
		versus(b,
			func() error {
				for _, k := range keys {
					if _, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k, ConsistentRead: aws.Bool(true)}); err != nil {
						return err
					}
				}
				return nil
			},
			func() error {
				_, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{*table: {Keys: keys, ConsistentRead: aws.Bool(true)}}})
				return err
			})
	})
	b.Run("RawUpdateItem", func(b *testing.B) {
		versus(b,
			func() error {
				out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("doc-0001"), ConsistentRead: aws.Bool(true)})
				if err != nil {
					return err
				}
				_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: out.Item})
				return err
			},
			func() error {
				_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key("doc-0001"),
					UpdateExpression:          aws.String("SET #r = #r + :one"),
					ExpressionAttributeNames:  map[string]string{"#r": "runs"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}})
				return err
			})
	})
	b.Run("UpdateIncrement", func(b *testing.B) {
		versus(b,
			func() error {
				doc, err := s.Get(ctx, coll, "doc-0000")
				if err != nil {
					return err
				}
				doc["runs"] = doc["runs"].(float64) + 1
				_, err = s.Save(ctx, coll, "doc-0000", doc, dbservice.IfRev(doc["_rev"].(string)))
				return err
			},
			func() error {
				_, err := s.Update(ctx, coll, "doc-0000", []dbservice.Mutation{dbservice.Increment("runs", 1)})
				return err
			})
	})
	b.Run("Count1000", func(b *testing.B) {
		where := []dbservice.Cond{dbservice.Where("active", dbservice.Eq, true)}
		versus(b,
			func() error {
				n := 0
				for _, err := range dbservice.All(ctx, s, coll, dbservice.Query{Where: where, Fields: []string{"_id"}, Limit: dbservice.MaxLimit}) {
					if err != nil {
						return err
					}
					n++
				}
				if n != 500 {
					return fmt.Errorf("All found %d, want 500", n)
				}
				return nil
			},
			func() error {
				n, err := s.Count(ctx, coll, where)
				if err == nil && n != 500 {
					err = fmt.Errorf("Count = %d, want 500", n)
				}
				return err
			})
	})
}

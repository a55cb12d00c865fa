package dynamodb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

// BenchmarkQueryShapes times the query shapes at 10k and 50k documents:
// the library's Query (after EnsureIndex of each shape's fields) against the SDK's Query on global secondary indexes of a second
// table holding the same items, on the same server in the same run. The
// raw table has a GSI team (hash) + score (range) for the equality shapes
// and a sparse constant-key GSI k="all" (hash) + score (range) for the
// shapes without an equality (range top-5 and order+limit), read in
// descending score order.
func BenchmarkQueryShapes(b *testing.B) {
	s := newServer(b, nil)
	// Queries go through a Service with the production IndexRefresh: the
	// tests' 500 ms (which s keeps, so that EnsureIndex does not wait a
	// minute before its backfill) would add a DescribeTable every 500 ms.
	reader := newServer(b, nil, func(c *Config) { c.IndexRefresh = DefaultIndexRefresh })
	ctx, run := context.Background(), dbtest.Collection(b)
	team, none := dbtest.QueryBenchTeam, dbtest.QueryBenchNoTeam
	for _, size := range dbtest.QueryBenchSizes {
		coll := fmt.Sprintf("%sq%d", run, size)
		items := dbtest.QueryBenchItems(size)
		// The indexes come first, so that the writes set their keys and
		// no backfill runs (it is tested, not timed, elsewhere).
		for _, shape := range dbtest.QueryShapes() {
			if err := s.EnsureIndex(ctx, coll, shape.Index...); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.SaveMany(ctx, coll, items); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { dropTable(b, s, s.table(coll)) })
		raw := s.table(coll + "raw")
		createRawTable(b, s, raw)
		b.Cleanup(func() { dropTable(b, s, raw) })
		putRaw(b, s, raw, items, nil)
		// The same items again, carrying the library's index attributes
		// too: the raw SDK's cost on items of the library's size.
		list, err := s.indexes(ctx, s.table(coll))
		if err != nil {
			b.Fatal(err)
		}
		wide := s.table(coll + "wide")
		createRawTable(b, s, wide)
		b.Cleanup(func() { dropTable(b, s, wide) })
		putRaw(b, s, wide, items, list)
		str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
		num := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
		byTeam := func(t string, extra string, vals map[string]types.AttributeValue) *dynamodb.QueryInput {
			vals[":t"] = str(t)
			return &dynamodb.QueryInput{TableName: aws.String(raw), IndexName: aws.String("team-score"),
				KeyConditionExpression: aws.String("team = :t" + extra), ExpressionAttributeValues: vals, Limit: aws.Int32(10)}
		}
		byScore := func(extra string, vals map[string]types.AttributeValue, limit int32) *dynamodb.QueryInput {
			vals[":k"] = str("all")
			return &dynamodb.QueryInput{TableName: aws.String(raw), IndexName: aws.String("all-score"),
				KeyConditionExpression: aws.String("k = :k" + extra), ExpressionAttributeValues: vals,
				ScanIndexForward: aws.Bool(false), Limit: aws.Int32(limit)}
		}
		raws := map[string]*dynamodb.QueryInput{
			"eq":            byTeam(team, "", map[string]types.AttributeValue{}),
			"range-top5":    byScore(" AND score > :s", map[string]types.AttributeValue{":s": num("900")}, 5),
			"eq-range":      byTeam(team, " AND score > :s", map[string]types.AttributeValue{":s": num("500")}),
			"orderby-limit": byScore("", map[string]types.AttributeValue{}, 10),
			"no-match":      byTeam(none, "", map[string]types.AttributeValue{}),
		}
		benchShardedVsScan(b, s, coll, raw, size, items)
		for _, shape := range dbtest.QueryShapes() {
			in := raws[shape.Name]
			wideIn := *in
			wideIn.TableName = aws.String(wide)
			b.Run(fmt.Sprintf("n=%d/%s/raw-wide-items", size, shape.Name), func(b *testing.B) {
				benchWideItems(b, s, in, &wideIn)
			})
		}
		for _, shape := range dbtest.QueryShapes() {
			in := raws[shape.Name]
			b.Run(fmt.Sprintf("n=%d/%s", size, shape.Name), func(b *testing.B) {
				dbtest.BenchQueryShape(b, "dynamodb", size, reader, coll, shape, func(ctx context.Context) (int, int, error) {
					out, err := s.client.Query(ctx, in)
					if err != nil {
						return 0, -1, err
					}
					return len(out.Items), int(out.ScannedCount), nil
				})
			})
		}
	}
}

// benchShardedVsScan times the shapes without an equality (range top-5,
// order + limit) on a single-field index of four partitions (Config.IndexShards
// 4, for collections written faster than one partition takes), read in
// parallel and merged, against what DynamoDB offers without an index: a
// Scan of the raw table that keeps the top items itself.
func benchShardedVsScan(b *testing.B, s *Service, coll, raw string, size int, items []dbservice.BulkItem) {
	ctx := context.Background()
	s4 := newServer(b, nil, func(c *Config) { c.IndexShards = 4 })
	coll4 := coll + "s4"
	if err := s4.EnsureIndex(ctx, coll4, "score"); err != nil {
		b.Fatal(err)
	}
	if err := s4.SaveMany(ctx, coll4, items); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dropTable(b, s4, s4.table(coll4)) })
	reader4 := newServer(b, nil, func(c *Config) { c.IndexShards, c.IndexRefresh = 4, DefaultIndexRefresh })
	for _, shape := range dbtest.QueryShapes() {
		if len(shape.Index) != 1 || shape.Index[0] != "score" {
			continue
		}
		var filter *string
		vals := map[string]types.AttributeValue{}
		if len(shape.Query.Where) > 0 {
			filter = aws.String("score > :s")
			vals[":s"] = &types.AttributeValueMemberN{Value: "900"}
		}
		shape.Name += "-shards4-vs-scan"
		b.Run(fmt.Sprintf("n=%d/%s", size, shape.Name), func(b *testing.B) {
			dbtest.BenchQueryShape(b, "dynamodb", size, reader4, coll4, shape, func(ctx context.Context) (int, int, error) {
				// The top Limit scores of every page the Scan returns.
				in := &dynamodb.ScanInput{TableName: aws.String(raw), FilterExpression: filter}
				if filter != nil {
					in.ExpressionAttributeValues = vals
				}
				var top []float64
				read := 0
				for {
					out, err := s.client.Scan(ctx, in)
					if err != nil {
						return 0, -1, err
					}
					read += int(out.ScannedCount)
					for _, item := range out.Items {
						n, _ := item["score"].(*types.AttributeValueMemberN)
						if n == nil {
							continue
						}
						v, _ := strconv.ParseFloat(n.Value, 64)
						top = append(top, v)
					}
					slices.SortFunc(top, func(a, b float64) int { return cmp.Compare(b, a) })
					top = top[:min(len(top), shape.Query.Limit)]
					if out.LastEvaluatedKey == nil {
						return len(top), read, nil
					}
					in.ExclusiveStartKey = out.LastEvaluatedKey
				}
			})
		})
	}
}

// createRawTable creates table with the two GSIs BenchmarkQueryShapes
// queries, and waits until it is ACTIVE.
func createRawTable(b *testing.B, s *Service, table string) {
	ctx := context.Background()
	gsi := func(name, hash string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{IndexName: aws.String(name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("score"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}
	}
	_, err := s.client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(idAttr), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("team"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("score"), AttributeType: types.ScalarAttributeTypeN}},
		KeySchema:              []types.KeySchemaElement{{AttributeName: aws.String(idAttr), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi("team-score", "team"), gsi("all-score", "k")},
	})
	if err != nil {
		b.Fatal(err)
	}
	w := dynamodb.NewTableExistsWaiter(s.client)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
}

// putRaw writes items to table with BatchWriteItem, encoded as the library
// encodes them plus the constant k="all" of the sparse GSI, and with the
// attributes of the library's indexes in list (none when list is nil).
func putRaw(b *testing.B, s *Service, table string, items []dbservice.BulkItem, list []index) {
	ctx := context.Background()
	var g errgroup.Group
	g.SetLimit(4)
	for i := 0; i < len(items); i += 25 {
		var reqs []types.WriteRequest
		for _, it := range items[i:min(i+25, len(items))] {
			nd, err := dbservice.NormalizeDoc(it.Doc, validate.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			item, _, err := encodeItem(it.ID, newRev(), nd, time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			if err := addIndexAttrs(item, 0, list, it.ID, nd); err != nil {
				b.Fatal(err)
			}
			item["k"] = &types.AttributeValueMemberS{Value: "all"}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
		g.Go(func() error {
			for len(reqs) > 0 {
				out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
				if err != nil {
					return err
				}
				reqs = out.UnprocessedItems[table]
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// dropTable deletes table, logging (not failing) when it cannot.
func dropTable(b *testing.B, s *Service, table string) {
	_, err := s.client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	var nf *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		b.Logf("cleanup of %s: %v", table, err)
	}
}

// benchWideItems times the raw SDK's query in on items as the raw SDK
// writes them against the same query wide on items that also carry the
// library's index attributes, alternating, and reports the ratio: the part
// of the library's cost that is the size of what DynamoDB stores and
// returns for each item, not the library's requests.
func benchWideItems(b *testing.B, s *Service, in, wide *dynamodb.QueryInput) {
	ctx := context.Background()
	var narrowT, wideT time.Duration
	var narrowBytes, wideBytes int
	size := func(items []map[string]types.AttributeValue) int {
		n := 0
		for _, it := range items {
			for k, v := range it {
				n += len(k)
				switch v := v.(type) {
				case *types.AttributeValueMemberS:
					n += len(v.Value)
				case *types.AttributeValueMemberN:
					n += len(v.Value)
				default:
					n += 8
				}
			}
		}
		return n
	}
	// One untimed call of each warms connections and server caches.
	for _, q := range []*dynamodb.QueryInput{in, wide} {
		if _, err := s.client.Query(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		out, err := s.client.Query(ctx, in)
		narrowT += time.Since(t)
		if err != nil {
			b.Fatal(err)
		}
		narrowBytes += size(out.Items)
		t = time.Now()
		out, err = s.client.Query(ctx, wide)
		wideT += time.Since(t)
		if err != nil {
			b.Fatal(err)
		}
		wideBytes += size(out.Items)
	}
	b.ReportMetric(float64(narrowT.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(wideT.Nanoseconds())/float64(b.N), "raw-wide-ns/op")
	b.ReportMetric(float64(wideT)/float64(narrowT), "x-wide-vs-raw")
	b.ReportMetric(float64(narrowBytes)/float64(b.N), "raw-bytes/op")
	b.ReportMetric(float64(wideBytes)/float64(b.N), "raw-wide-bytes/op")
}

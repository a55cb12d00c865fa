package dynamodb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/securedb-go/securedb/dbservice"
)

const (
	// batchSize is BatchWriteItem's limit of requests per call.
	batchSize = 25
	// batchParallel bounds the BatchWriteItem calls in flight per SaveMany.
	batchParallel = 8
	// unprocessedAttempts bounds the calls for one batch while DynamoDB
	// hands back UnprocessedItems (throttling); backoff doubles from
	// unprocessedDelay up to maxUnprocessedDelay, with jitter.
	unprocessedAttempts = 8
	maxUnprocessedDelay = 5 * time.Second
)

// unprocessedDelay is the first backoff; a variable so that tests of the
// retry bound need not wait seconds.
var unprocessedDelay = 50 * time.Millisecond

// SaveMany implements dbservice.BulkWriter with BatchWriteItem, 25 items a
// call, a few calls in flight. Every item is validated and encoded first,
// so one invalid item means nothing is sent. Items with the same ID are
// reduced to the last one (BatchWriteItem refuses duplicate keys in one
// call, and the last write is what a loop of Saves would leave).
//
// Each item is an unconditional upsert with a fresh revision. SaveMany is
// not atomic: if the server fails midway, some batches may be written; the
// returned error says so and the call can be repeated.
func (s *Service) SaveMany(ctx context.Context, coll string, items []dbservice.BulkItem) error {
	if err := s.precheck(ctx, "save-many", coll, "", false); err != nil {
		return err
	}
	reqs := make([]types.WriteRequest, 0, len(items))
	docs := make([]dbservice.BulkItem, 0, len(items)) // the normalized documents of reqs
	sizes := make([]int, 0, len(items))               // the sizes of reqs' items
	pos := make(map[string]int, len(items))
	for _, it := range items {
		if err := dbservice.CheckID(it.ID); err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		nd, err := dbservice.NormalizeDoc(it.Doc, s.limits)
		if err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		item, size, err := encodeItem(it.ID, newRev(), nd, time.Time{})
		if err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		req := types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
		if i, dup := pos[it.ID]; dup {
			reqs[i], docs[i], sizes[i] = req, dbservice.BulkItem{ID: it.ID, Doc: nd}, size
			continue
		}
		pos[it.ID] = len(reqs)
		reqs, docs, sizes = append(reqs, req), append(docs, dbservice.BulkItem{ID: it.ID, Doc: nd}), append(sizes, size)
	}
	if len(reqs) == 0 {
		return nil
	}
	// The index list is asked for only once every item is accepted, so
	// that refused input sends nothing.
	list, err := s.indexes(ctx, s.table(coll))
	if err != nil {
		return fail("save-many", coll, "", classify(ctx, err))
	}
	for i, req := range reqs {
		if err := addIndexAttrs(req.PutRequest.Item, sizes[i], list, docs[i].ID, docs[i].Doc); err != nil {
			return fail("save-many", coll, docs[i].ID, err)
		}
	}
	table := s.table(coll)
	err = s.write(ctx, coll, func() error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(batchParallel)
		for start := 0; start < len(reqs); start += batchSize {
			batch := reqs[start:min(start+batchSize, len(reqs))]
			g.Go(func() error { return s.batchWrite(gctx, table, batch) })
		}
		return g.Wait()
	})
	if err != nil {
		return fail("save-many", coll, "", classify(ctx, err))
	}
	return nil
}

// batchWrite writes one batch, resending what DynamoDB leaves unprocessed
// with exponential backoff, a bounded number of times. Errors are the
// SDK's (for classify) or already classified.
func (s *Service) batchWrite(ctx context.Context, table string, batch []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{table: batch}
	delay := unprocessedDelay
	for attempt := 1; ; attempt++ {
		out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return err
		}
		left := len(out.UnprocessedItems[table])
		if left == 0 {
			return nil
		}
		if attempt == unprocessedAttempts {
			return fmt.Errorf("%w: %d items still unprocessed after %d attempts (throttled)", dbservice.ErrUnavailable, left, attempt)
		}
		pending = out.UnprocessedItems
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, maxUnprocessedDelay)
	}
}

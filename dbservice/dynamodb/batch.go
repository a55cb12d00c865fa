package dynamodb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/securedb-go/securedb/dbservice"
)

// getBatchSize is BatchGetItem's limit of keys per call.
const getBatchSize = 100

// GetMany implements dbservice.Service with BatchGetItem: 100 keys a call
// (up to batchParallel calls in flight), strongly consistent, the keys
// DynamoDB leaves unprocessed (throttling, or the 16 MB answer limit)
// asked again with exponential backoff, at most unprocessedAttempts calls
// per batch, then ErrUnavailable. Every ID is checked before any request.
// Expired documents are missing.
func (s *Service) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	if err := s.precheck(ctx, "get-many", coll, "", false); err != nil {
		return nil, nil, err
	}
	if err := dbservice.CheckIDs(ids); err != nil {
		return nil, nil, fail("get-many", coll, "", err)
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	table := s.table(coll)
	var mu sync.Mutex
	found := make(map[string]dbservice.Doc, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchParallel)
	for start := 0; start < len(ids); start += getBatchSize {
		batch := ids[start:min(start+getBatchSize, len(ids))]
		g.Go(func() error {
			items, err := s.batchGet(gctx, table, batch)
			if err != nil {
				return err
			}
			now := time.Now()
			for _, item := range items {
				doc, err := decodeItem(item)
				if err != nil {
					return fmt.Errorf("%w: %s", dbservice.ErrUnavailable, err)
				}
				if dbservice.Expired(doc, now) {
					continue
				}
				mu.Lock()
				found[doc[idAttr].(string)] = doc
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if errorCode(err) == codeNotFound {
			return nil, append([]string(nil), ids...), nil // a collection never written is empty
		}
		return nil, nil, fail("get-many", coll, "", classify(ctx, err))
	}
	var docs []dbservice.Doc
	var missing []string
	for _, id := range ids {
		if d, ok := found[id]; ok {
			docs = append(docs, d)
		} else {
			missing = append(missing, id)
		}
	}
	return docs, missing, nil
}

// batchGet reads one batch of at most 100 keys, asking again for the keys
// DynamoDB leaves unprocessed, with exponential backoff, a bounded number
// of times.
func (s *Service) batchGet(ctx context.Context, table string, ids []string) ([]map[string]types.AttributeValue, error) {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = key(id)
	}
	pending := map[string]types.KeysAndAttributes{table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	var items []map[string]types.AttributeValue
	delay := unprocessedDelay
	for attempt := 1; ; attempt++ {
		out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, err
		}
		items = append(items, out.Responses[table]...)
		left := len(out.UnprocessedKeys[table].Keys)
		if left == 0 {
			return items, nil
		}
		if attempt == unprocessedAttempts {
			return nil, fmt.Errorf("%w: %d keys still unprocessed after %d attempts (throttled)", dbservice.ErrUnavailable, left, attempt)
		}
		pending = out.UnprocessedKeys
		if err := sleepCtx(ctx, delay/2+rand.N(delay/2+1)); err != nil {
			return nil, err
		}
		delay = min(2*delay, maxUnprocessedDelay)
	}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DeleteMany implements dbservice.Service with BatchWriteItem delete
// requests, 25 a call (up to batchParallel calls in flight), unprocessed
// items resent with backoff as in SaveMany. Deleting a missing or expired
// item is a no-op, so a retry after an error is safe. Every ID is checked
// before any request.
func (s *Service) DeleteMany(ctx context.Context, coll string, ids []string) error {
	if err := s.precheck(ctx, "delete-many", coll, "", false); err != nil {
		return err
	}
	if err := dbservice.CheckIDs(ids); err != nil {
		return fail("delete-many", coll, "", err)
	}
	if len(ids) == 0 {
		return nil
	}
	reqs := make([]types.WriteRequest, len(ids))
	for i, id := range ids {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(id)}}
	}
	table := s.table(coll)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchParallel)
	for start := 0; start < len(reqs); start += batchSize {
		batch := reqs[start:min(start+batchSize, len(reqs))]
		g.Go(func() error { return s.batchWrite(gctx, table, batch) })
	}
	if err := g.Wait(); err != nil {
		if errorCode(err) == codeNotFound {
			return nil // no table: nothing to delete
		}
		return fail("delete-many", coll, "", classify(ctx, err))
	}
	return nil
}

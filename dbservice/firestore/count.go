package firestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	firestorepb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
)

// Count implements dbservice.Service with Firestore's count() aggregation
// where the filters sent decide the answer (see buildFilters: _id, Eq, In,
// Contains and one Prefix, which a count, unlike a page, may send as a
// range). Each aggregation runs on the query with a Limit of budget+1, so
// it reads at most that many index entries (Firestore bills one read per
// 1000): the count of the matches, and, sent at the same time, the count
// of those whose expiry has passed by the process clock (Firestore's TTL
// deletion runs up to a day late), which is subtracted. A count above the budget returns the
// lower bound with CountBudgetError.
//
// Conditions Firestore cannot decide exactly (ranges, Ne, Exists, a
// second In or Contains) are counted by walking Query's pages
// (dbservice.CountPages) under the same budget. When the filters together
// with the expiry range need a composite index the database lacks
// (FailedPrecondition), the expired documents are found with the expiry
// field's own single-field index instead (at most budget of them, matched
// on the client); past that, and when the filters alone need an index,
// Count walks the pages, which need none.
func (s *Service) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	if err := s.precheck(ctx, "count", coll, "", false); err != nil {
		return 0, err
	}
	q, err := dbservice.CheckQueryWith(dbservice.Query{Where: where}, s.limits)
	if err != nil {
		return 0, fail("count", coll, "", err)
	}
	budget := dbservice.ScanBudget(ctx, s.budget)
	fq, exact, empty := s.buildFilters(coll, q.Where, true)
	if empty {
		return 0, nil
	}
	walk := func() (int, error) {
		return dbservice.CountPages(ctx, provider, coll, q.Where, budget, func(ctx context.Context, pq dbservice.Query) (dbservice.Page, error) {
			return s.Query(ctx, coll, pq)
		})
	}
	// Firestore refuses an aggregation that filters on the document ID
	// and ranges over the expiry (InvalidArgument); an _id equality or list
	// names at most 30 documents anyway, so a count with an _id condition
	// reads the pages instead.
	if !exact || slices.ContainsFunc(q.Where, func(c dbservice.Cond) bool { return c.Field == "_id" }) {
		return walk()
	}
	// The two counts run at once: a count costs the latency of one.
	now := time.Now()
	var expired int
	var expErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		expired, expErr = s.aggregateCount(ctx, fq.Where(expiresField, "<=", now).Limit(budget+1))
	}()
	matched, err := s.aggregateCount(ctx, fq.Limit(budget+1))
	<-done
	if err == nil && needsIndex(ctx, expErr) {
		// The filters with the expiry range need a composite index the
		// database lacks: find the expired documents with the expiry's
		// own single-field index instead.
		var all bool
		expired, all, expErr = s.expiredMatches(ctx, coll, q.Where, now, budget)
		if expErr == nil && !all {
			s.log.Debug("firestore: more expired documents than the budget; counting by pages", "provider", provider, "collection", coll)
			return walk()
		}
	}
	if err == nil {
		err = expErr
	}
	switch {
	case err == nil:
	case needsIndex(ctx, err):
		s.log.Debug("firestore: count needs a composite index; counting by pages", "provider", provider, "collection", coll)
		return walk()
	default:
		return 0, fail("count", coll, "", err)
	}
	n := matched - expired
	if matched > budget {
		// Both counts stop at budget+1, so their difference never exceeds
		// the true count: a lower bound.
		return n, dbservice.CountBudgetError(provider, coll, n)
	}
	return n, nil
}

// needsIndex reports whether a count failed only for want of an index.
func needsIndex(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && status.Code(err) == codes.FailedPrecondition
}

// expiredMatches counts the documents matching where whose expiry is at
// or before now, by reading the collection's expired documents (a range on
// the expiry alone, which its automatic single-field index serves; only
// the fields the conditions need) and matching them on the client. TTL
// deletion keeps their number to about a day's worth of expiries; all is
// false when there are more than budget of them.
func (s *Service) expiredMatches(ctx context.Context, coll string, where []dbservice.Cond, now time.Time, budget int) (n int, all bool, err error) {
	paths := []string{}
	for _, c := range where {
		paths = append(paths, c.Field)
	}
	fps := []firestore.FieldPath{{expiresField}}
	for _, p := range dbservice.DisjointPaths(paths) {
		if p != "_id" {
			fps = append(fps, fieldPath(p))
		}
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	it := s.collection(coll).Where(expiresField, "<=", now).SelectPaths(fps...).Limit(budget + 1).Documents(cctx)
	defer it.Stop()
	read := 0
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return n, true, nil
		}
		if err != nil {
			return 0, false, classify(ctx, cctx, err)
		}
		if read++; read > budget {
			return n, false, nil
		}
		doc, err := decodeSnapshot(snap)
		if err != nil {
			return 0, false, err
		}
		if dbservice.Match(doc, where) {
			n++
		}
	}
}

// aggregateCount runs a count() aggregation. Errors keep their gRPC status
// for Count's fallback; the rest are classified.
func (s *Service) aggregateCount(ctx context.Context, fq firestore.Query) (int, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	res, err := fq.NewAggregationQuery().WithCount("n").Get(cctx)
	if err != nil {
		if status.Code(err) == codes.FailedPrecondition && ctx.Err() == nil {
			return 0, err
		}
		return 0, classify(ctx, cctx, err)
	}
	v, ok := res["n"].(*firestorepb.Value)
	if !ok {
		return 0, fmt.Errorf("%w: count aggregation returned no count", dbservice.ErrUnavailable)
	}
	return int(v.GetIntegerValue()), nil
}

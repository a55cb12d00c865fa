package firestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
)

// errRetry marks an attempt of a read-then-write loop that lost a race with
// another writer: nothing was written, and the loop reads again.
var errRetry = errors.New("document changed between read and write")

// Update implements dbservice.Service as a read and a conditional write:
// it reads the document, applies the mutations with
// dbservice.ApplyMutations (so an increment of a non-number or an append
// to a non-array is ErrInvalid, where Firestore's own transforms would
// overwrite the field), checks the result against the limits of a saved
// document and Firestore's, and then sends DocumentRef.Update with only
// the mutated field paths (firestore.FieldPath, name by name; Unset as
// firestore.Delete) and the precondition LastUpdateTime of the version
// read. The precondition makes the write atomic: if another writer got
// in between, nothing is written and Update reads again (at most
// maxWriteAttempts times, with jittered backoff); with IfRev that is
// ErrConflict instead.
//
// A missing or expired document is ErrNotFound; with Upsert it is created
// (Create, which fails if another writer created it first, or a
// replacement of the expired version on its update time). Without
// ExpiresAt the stored expiry is kept; with it, it is replaced.
func (s *Service) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	if err := s.precheck(ctx, "update", coll, id, true); err != nil {
		return "", err
	}
	o, err := dbservice.ApplyUpdateOptions(opts...)
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	mods, err = dbservice.CheckMutations(mods, s.limits)
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	ref := s.collection(coll).Doc(id)
	cctx, cancel := s.call(ctx)
	defer cancel()
	delay := abortedDelay
	for attempt := 1; ; attempt++ {
		rev, err := s.updateOnce(cctx, coll, id, ref, mods, o)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, errRetry) {
			if ctx.Err() != nil || cctx.Err() != nil {
				return "", fail("update", coll, id, classify(ctx, cctx, err))
			}
			return "", fail("update", coll, id, err)
		}
		if attempt == maxWriteAttempts {
			s.log.Warn("firestore: update lost every race with concurrent writers", "provider", provider, "collection", coll, "attempts", attempt)
			return "", fail("update", coll, id, fmt.Errorf("%w: the document changed on each of %d attempts", dbservice.ErrUnavailable, attempt))
		}
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-cctx.Done():
			t.Stop()
			return "", fail("update", coll, id, classify(ctx, cctx, cctx.Err()))
		case <-t.C:
		}
		delay = min(2*delay, maxAbortedDelay/4)
	}
}

// updateOnce is one attempt of Update. Errors are classified already,
// except errRetry.
func (s *Service) updateOnce(ctx context.Context, coll, id string, ref *firestore.DocumentRef, mods []dbservice.Mutation, o dbservice.WriteOptions) (string, error) {
	snap, err := ref.Get(ctx)
	exists := err == nil
	if err != nil && status.Code(err) != codes.NotFound {
		return "", classify(ctx, ctx, err)
	}
	var base dbservice.Doc
	live := false
	if exists {
		doc, err := decodeSnapshot(snap)
		if err != nil {
			return "", err
		}
		if live = !dbservice.Expired(doc, time.Now()); live {
			base = doc
			delete(base, "_id")
			delete(base, "_rev")
			delete(base, expiresField)
		}
	}
	switch {
	case !live && !o.Upsert:
		return "", dbservice.ErrNotFound
	case o.IfRev != "" && encodeRev(snap.UpdateTime) != o.IfRev:
		return "", fmt.Errorf("%w: revision is not current", dbservice.ErrConflict)
	}
	nd, err := dbservice.ApplyMutations(base, mods)
	if err != nil {
		return "", err
	}
	// The result obeys the limits of a saved document, the caller's and
	// Firestore's, before anything is sent.
	if nd, err = dbservice.NormalizeDoc(nd, s.limits); err != nil {
		return "", err
	}
	data, err := encodeDoc(s.prefix+coll, id, nd)
	if err != nil {
		return "", err
	}
	var updated time.Time
	switch {
	case live:
		ups := fieldUpdates(data, mods)
		if !o.ExpiresAt.IsZero() {
			ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{expiresField}, Value: o.ExpiresAt})
		}
		if len(ups) == 0 {
			return encodeRev(snap.UpdateTime), nil // nothing to change
		}
		wr, err := ref.Update(ctx, ups, firestore.LastUpdateTime(snap.UpdateTime))
		if err != nil {
			return "", writeErr(ctx, err, o.IfRev != "")
		}
		updated = wr.UpdateTime
	case exists:
		setExpiry(data, o.ExpiresAt)
		if updated, err = s.replaceIf(ctx, ref, snap.UpdateTime, data); err != nil {
			return "", writeErr(ctx, err, false)
		}
	default:
		setExpiry(data, o.ExpiresAt)
		wr, err := ref.Create(ctx, data)
		if err != nil {
			return "", writeErr(ctx, err, false)
		}
		updated = wr.UpdateTime
	}
	return encodeRev(updated), nil
}

// writeErr classifies the failure of a conditional write: lost races
// (precondition failed, created or deleted meanwhile, aborted) are
// errRetry, or ErrConflict when the caller's IfRev was the condition.
func writeErr(ctx context.Context, err error, ifRev bool) error {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound, codes.Aborted:
		if ifRev {
			return fmt.Errorf("%w: revision is not current", dbservice.ErrConflict)
		}
		return errRetry
	}
	return classify(ctx, ctx, err)
}

// fieldUpdates returns, for each mutation, the Firestore update of its
// path in the encoded result: the value there, or firestore.Delete where
// the result has none. A mutation under a parent that is not a map in the
// result changed nothing (Unset or Remove there is a no-op) and is left
// out, so that Firestore never creates maps the reference did not.
func fieldUpdates(data map[string]any, mods []dbservice.Mutation) []firestore.Update {
	ups := make([]firestore.Update, 0, len(mods))
	for _, m := range mods {
		names := dbservice.SplitPath(m.Path)
		parent, ok := data, true
		for _, n := range names[:len(names)-1] {
			if parent, ok = parent[n].(map[string]any); !ok {
				break
			}
		}
		if !ok {
			continue
		}
		v, present := parent[names[len(names)-1]]
		if !present {
			v = firestore.Delete
		}
		ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath(names), Value: v})
	}
	return ups
}

// maxGetAll is how many documents one BatchGetDocuments request reads.
const maxGetAll = 500

// GetMany implements dbservice.Service with Client.GetAll
// (BatchGetDocuments, up to maxGetAll documents a request): one strongly
// consistent read of all the documents. Expired documents count as
// missing.
func (s *Service) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	if err := s.precheck(ctx, "get-many", coll, "", false); err != nil {
		return nil, nil, err
	}
	if err := checkIDs(ids); err != nil {
		return nil, nil, fail("get-many", coll, "", err)
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	col := s.collection(coll)
	cctx, cancel := s.call(ctx)
	defer cancel()
	var docs []dbservice.Doc
	var missing []string
	for start := 0; start < len(ids); start += maxGetAll {
		chunk := ids[start:min(start+maxGetAll, len(ids))]
		refs := make([]*firestore.DocumentRef, len(chunk))
		for i, id := range chunk {
			refs[i] = col.Doc(id)
		}
		snaps, err := s.client.GetAll(cctx, refs)
		if err != nil {
			return nil, nil, fail("get-many", coll, "", classify(ctx, cctx, err))
		}
		now := time.Now()
		for i, snap := range snaps {
			if !snap.Exists() {
				missing = append(missing, chunk[i])
				continue
			}
			doc, err := decodeSnapshot(snap)
			if err != nil {
				return nil, nil, fail("get-many", coll, chunk[i], err)
			}
			if dbservice.Expired(doc, now) {
				missing = append(missing, chunk[i])
				continue
			}
			docs = append(docs, doc)
		}
	}
	return docs, missing, nil
}

// checkIDs is dbservice.CheckIDs and Firestore's own ID rules.
func checkIDs(ids []string) error {
	if err := dbservice.CheckIDs(ids); err != nil {
		return err
	}
	for _, id := range ids {
		if err := checkNativeID("id", id); err != nil {
			return err
		}
	}
	return nil
}

// maxCommitWrites is the most writes one Firestore commit may carry.
const maxCommitWrites = 500

// DeleteMany implements dbservice.Service with batched writes: one commit
// of up to 500 unconditional deletes (a delete of a missing document
// succeeds), atomic within the commit; more IDs take more commits. An
// expired document is deleted like any other, which only reclaims it
// early.
func (s *Service) DeleteMany(ctx context.Context, coll string, ids []string) error {
	if err := s.precheck(ctx, "delete-many", coll, "", false); err != nil {
		return err
	}
	if err := checkIDs(ids); err != nil {
		return fail("delete-many", coll, "", err)
	}
	col := s.collection(coll)
	cctx, cancel := s.call(ctx)
	defer cancel()
	for start := 0; start < len(ids); start += maxCommitWrites {
		chunk := ids[start:min(start+maxCommitWrites, len(ids))]
		err := s.retryAborted(cctx, func(c context.Context) error {
			return s.client.RunTransaction(c, func(_ context.Context, tx *firestore.Transaction) error {
				for _, id := range chunk {
					if err := tx.Delete(col.Doc(id)); err != nil {
						return err
					}
				}
				return nil
			}, firestore.MaxAttempts(1))
		})
		if err != nil {
			cause := classify(ctx, cctx, err)
			if start > 0 && ctx.Err() == nil {
				cause = fmt.Errorf("%w (the first %d documents were deleted)", cause, start)
			}
			return fail("delete-many", coll, "", cause)
		}
	}
	return nil
}

// As implements the escape hatch of dbservice.As: a **firestore.Client
// target receives the provider's client. What is done with it bypasses
// validation, limits, the scan budget and the audit trail; the Service
// still owns the client and closes it.
func (s *Service) As(target any) bool {
	p, ok := target.(**firestore.Client)
	if !ok || p == nil {
		return false
	}
	*p = s.client
	return true
}

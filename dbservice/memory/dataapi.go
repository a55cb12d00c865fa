package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/securedb-go/securedb/dbservice"
)

var _ dbservice.Sweeper = (*Service)(nil)

// Update implements dbservice.Service: the mutations apply to the stored
// document under the write lock, so concurrent updates never lose one.
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", fail("update", coll, id, dbservice.ErrClosed)
	}
	cur := s.lookup(coll, id)
	var base dbservice.Doc
	expires := o.ExpiresAt
	switch {
	case cur == nil && !o.Upsert:
		return "", fail("update", coll, id, dbservice.ErrNotFound)
	case o.IfRev != "" && (cur == nil || cur.rev != o.IfRev):
		return "", fail("update", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
	case cur != nil:
		base = cur.doc
		if expires.IsZero() {
			expires = cur.expires
		}
	}
	nd, err := dbservice.ApplyMutations(base, mods)
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	// The result obeys the same limits as a saved document.
	if nd, err = dbservice.NormalizeDoc(nd, s.limits); err != nil {
		return "", fail("update", coll, id, err)
	}
	return s.put(coll, id, nd, expires), nil
}

// GetMany implements dbservice.Service.
func (s *Service) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	if err := s.precheck(ctx, "get-many", coll, "", false); err != nil {
		return nil, nil, err
	}
	if err := dbservice.CheckIDs(ids); err != nil {
		return nil, nil, fail("get-many", coll, "", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var docs []dbservice.Doc
	var missing []string
	for _, id := range ids {
		if e := s.lookup(coll, id); e != nil {
			docs = append(docs, e.out(id, nil))
		} else {
			missing = append(missing, id)
		}
	}
	return docs, missing, nil
}

// DeleteMany implements dbservice.Service. It is atomic here, which the
// contract does not promise.
func (s *Service) DeleteMany(ctx context.Context, coll string, ids []string) error {
	if err := s.precheck(ctx, "delete-many", coll, "", false); err != nil {
		return err
	}
	if err := dbservice.CheckIDs(ids); err != nil {
		return fail("delete-many", coll, "", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fail("delete-many", coll, "", dbservice.ErrClosed)
	}
	for _, id := range ids {
		if s.stored(coll, id) != nil {
			s.drop(coll, id)
		}
	}
	return nil
}

// Count implements dbservice.Service by walking the served plan's pages,
// as a query would, under one scan budget.
func (s *Service) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	if err := s.precheck(ctx, "count", coll, "", false); err != nil {
		return 0, err
	}
	if _, err := dbservice.CheckQueryWith(dbservice.Query{Where: where}, s.limits); err != nil {
		return 0, fail("count", coll, "", err)
	}
	return dbservice.CountPages(ctx, provider, coll, where, dbservice.ScanBudget(ctx, s.budget), func(ctx context.Context, q dbservice.Query) (dbservice.Page, error) {
		return s.Query(ctx, coll, q)
	})
}

// SweepExpired implements dbservice.Sweeper: expired documents are never
// returned, and this reclaims their memory, at most budget (0: the scan
// budget) per call.
func (s *Service) SweepExpired(ctx context.Context, coll string, budget int) (int, error) {
	if err := s.precheck(ctx, "sweep", coll, "", false); err != nil {
		return 0, err
	}
	if budget <= 0 {
		budget = dbservice.ScanBudget(ctx, s.budget)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.colls[coll]
	if c == nil || s.closed {
		return 0, nil
	}
	now := time.Now()
	var expired []string
	for _, id := range c.ids {
		if len(expired) == budget {
			break
		}
		if !c.docs[id].live(now) {
			expired = append(expired, id)
		}
	}
	for _, id := range expired {
		s.drop(coll, id)
	}
	return len(expired), nil
}

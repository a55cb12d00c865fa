package dbservice

import (
	"context"
	"time"
)

func (g *guard) Update(ctx context.Context, collection, id string, mods []Mutation, opts ...WriteOption) (rev string, err error) {
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "update", collection, id, time.Now(), &err, nil)
	if err = g.checkTarget("update", collection, id, true); err != nil {
		return "", err
	}
	if _, err = ApplyUpdateOptions(opts...); err != nil {
		return "", NewError("update", "guard", collection, id, err)
	}
	if _, err = CheckMutations(mods, g.p.Limits); err != nil {
		return "", NewError("update", "guard", collection, id, err)
	}
	return g.next.Update(ctx, collection, id, mods, opts...)
}

func (g *guard) GetMany(ctx context.Context, collection string, ids []string) (docs []Doc, missing []string, err error) {
	defer func() {
		if err != nil {
			docs, missing = nil, nil // a fail-closed trail that lost the record withholds the read
		}
	}()
	page := &Page{}
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "get-many", collection, "", time.Now(), &err, page)
	if err = g.checkIDs("get-many", collection, ids, false); err != nil {
		return nil, nil, err
	}
	docs, missing, err = g.next.GetMany(ctx, collection, ids)
	page.Docs = docs
	return docs, missing, err
}

func (g *guard) DeleteMany(ctx context.Context, collection string, ids []string) (err error) {
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "delete-many", collection, "", time.Now(), &err, nil)
	if err = g.checkIDs("delete-many", collection, ids, true); err != nil {
		return err
	}
	return g.next.DeleteMany(ctx, collection, ids)
}

func (g *guard) Count(ctx context.Context, collection string, where []Cond) (n int, err error) {
	defer func() {
		if err != nil {
			n = 0
		}
	}()
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "count", collection, "", time.Now(), &err, nil)
	if err = g.checkTarget("count", collection, "", false); err != nil {
		return 0, err
	}
	cq, err := CheckQueryWith(Query{Where: where}, g.p.Limits)
	if err != nil {
		return 0, NewError("count", "guard", collection, "", err)
	}
	if g.p.RequireIndex {
		if err = g.requireIndex(ctx, collection, cq); err != nil {
			return 0, err
		}
	}
	if g.p.ScanBudget > 0 {
		ctx = WithScanBudget(ctx, g.p.ScanBudget)
	}
	return g.next.Count(ctx, collection, where)
}

// checkIDs applies the collection checks once and the policy's ID rule to
// every ID of a batch, before any of it reaches the provider.
func (g *guard) checkIDs(op, collection string, ids []string, write bool) error {
	if err := g.checkTarget(op, collection, "", write); err != nil {
		return err
	}
	if err := CheckIDs(ids); err != nil {
		return NewError(op, "guard", collection, "", err)
	}
	for _, id := range ids {
		if err := g.p.IDs.Check(id); err != nil {
			return NewError(op, "guard", collection, id, err)
		}
	}
	return nil
}

package telemetry

import (
	"context"

	"github.com/securedb-go/securedb/dbservice"
)

// The data API gets a span and a duration point like every operation; the
// batch calls carry db.operation.batch.size, and GetMany the rows it
// returned.

func (s *service) Update(ctx context.Context, collection, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	if !s.t.live() {
		return s.next.Update(ctx, collection, id, mods, opts...)
	}
	ctx, c := s.begin(ctx, "update", collection)
	rev, err := s.next.Update(ctx, collection, id, mods, opts...)
	c.end(ctx, err)
	return rev, err
}

func (s *service) GetMany(ctx context.Context, collection string, ids []string) ([]dbservice.Doc, []string, error) {
	if !s.t.live() {
		return s.next.GetMany(ctx, collection, ids)
	}
	ctx, c := s.begin(ctx, "get-many", collection)
	c.batch = len(ids)
	docs, missing, err := s.next.GetMany(ctx, collection, ids)
	c.isQuery, c.returned = true, len(docs)
	c.end(ctx, err)
	return docs, missing, err
}

func (s *service) DeleteMany(ctx context.Context, collection string, ids []string) error {
	if !s.t.live() {
		return s.next.DeleteMany(ctx, collection, ids)
	}
	ctx, c := s.begin(ctx, "delete-many", collection)
	c.batch = len(ids)
	err := s.next.DeleteMany(ctx, collection, ids)
	c.end(ctx, err)
	return err
}

func (s *service) Count(ctx context.Context, collection string, where []dbservice.Cond) (int, error) {
	if !s.t.live() {
		return s.next.Count(ctx, collection, where)
	}
	ctx, c := s.begin(ctx, "count", collection)
	n, err := s.next.Count(ctx, collection, where)
	c.end(ctx, err)
	return n, err
}

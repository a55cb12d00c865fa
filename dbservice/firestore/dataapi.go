package firestore

import (
	"context"
	"errors"

	"github.com/securedb-go/securedb/dbservice"
)

// The data API below is being built (issue 15); until then each method says
// so with errors.ErrUnsupported.

// Update is not implemented yet.
func (s *Service) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	return "", dbservice.NewError("update", "firestore", coll, id, errors.ErrUnsupported)
}

// GetMany is not implemented yet.
func (s *Service) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	return nil, nil, dbservice.NewError("getmany", "firestore", coll, "", errors.ErrUnsupported)
}

// DeleteMany is not implemented yet.
func (s *Service) DeleteMany(ctx context.Context, coll string, ids []string) error {
	return dbservice.NewError("deletemany", "firestore", coll, "", errors.ErrUnsupported)
}

// Count is not implemented yet.
func (s *Service) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	return 0, dbservice.NewError("count", "firestore", coll, "", errors.ErrUnsupported)
}

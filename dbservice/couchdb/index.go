package couchdb

import (
	"context"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// EnsureIndex implements dbservice.Service with an ordered index on the
// fields: a JavaScript view with raw collation in its own design document
// (see view.go), built before EnsureIndex returns. Queries with
// equalities on its leading fields, a range on the next one, or an order
// that is its fields after those equalities read a key range of it instead
// of the collection (see dbservice.PlanQuery). "_id" may end the list;
// every index ends with the ID already. An index that exists already is
// left alone without a write, so an application user without database
// admin rights can call it for indexes Provision made. Creating one needs
// those rights (or a server admin) and creates the database first when
// CreateMissing allows. Building an index over a big database can outlast
// the call's timeout: CouchDB goes on building it, and calling EnsureIndex
// again waits for the rest.
func (s *Service) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if err := s.precheck(ctx, "ensure-index", coll, "", false); err != nil {
		return err
	}
	defer s.calls.leave()
	if err := dbservice.CheckFieldsWith(fields, s.cfg.Limits); err != nil {
		return fail("ensure-index", coll, "", err)
	}
	fields, ok := indexFields(fields)
	if !ok {
		return fail("ensure-index", coll, "", &validate.Error{Field: "fields", Reason: "_id can only be the last field of an index"})
	}
	if len(fields) == 0 {
		return nil // ID order is the collection's own
	}
	s.touch(coll)
	db := s.dbName(coll)
	err := s.do(func() error { return s.ensureView(ctx, db, fields) })
	if err != nil {
		return fail("ensure-index", coll, "", s.classify(ctx, err))
	}
	s.views.add(db, fields)
	return nil
}

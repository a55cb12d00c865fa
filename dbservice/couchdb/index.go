package couchdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// indexPrefix starts the name (and design document) of every index the
// provider makes, so it recognises its own.
const indexPrefix = "securedb-"

// indexName is the deterministic name of the index on fields: the same
// fields always give the same index, which makes EnsureIndex idempotent.
func indexName(fields []string) string {
	h := sha256.Sum256([]byte(strings.Join(fields, "\x00")))
	return indexPrefix + hex.EncodeToString(h[:8])
}

// EnsureIndex implements dbservice.Service with a Mango JSON index on the
// fields, in its own design document. An index that exists already is left
// alone without a write, so an application user without database admin
// rights can call it for indexes Provision made. Creating one needs those
// rights (or a server admin) and creates the database first when
// CreateMissing allows.
func (s *Service) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if err := s.precheck(ctx, "ensure-index", coll, "", false); err != nil {
		return err
	}
	defer s.calls.leave()
	if err := dbservice.CheckFieldsWith(fields, s.cfg.Limits); err != nil {
		return fail("ensure-index", coll, "", err)
	}
	for _, f := range fields {
		if _, ok := mangoField(f); !ok {
			return fail("ensure-index", coll, "", &validate.Error{Field: "fields", Reason: `couchdb cannot index a field whose name holds "\" or starts with "$" (Mango reads those as escapes and operators)`})
		}
	}
	s.touch(coll)
	db := s.dbName(coll)
	name := indexName(fields)
	err := s.do(func() error { return s.ensureIndex(ctx, db, name, fields) })
	if err != nil {
		return fail("ensure-index", coll, "", s.classify(ctx, err))
	}
	if len(fields) == 1 {
		s.indexes.add(db, fields[0], name)
	}
	return nil
}

func (s *Service) ensureIndex(ctx context.Context, db, name string, fields []string) error {
	if _, err := s.useDB(ctx, db, true); err != nil {
		return err
	}
	existing, err := s.db(db).GetIndexes(ctx)
	if err != nil {
		return err
	}
	for _, ix := range existing {
		if ix.Name == name && ix.DesignDoc == "_design/"+name {
			return nil
		}
	}
	// The paths were checked expressible by EnsureIndex: for those, the
	// Mango form is the path's own text, which indexFor relies on.
	mango := make([]string, len(fields))
	for i, f := range fields {
		mango[i], _ = mangoField(f)
	}
	err = s.db(db).CreateIndex(ctx, name, name, map[string]any{"fields": mango})
	// A database member gets 500 error_saving_ddoc ("... forbidden").
	if st := httpStatus(err); st == http.StatusForbidden || st == http.StatusUnauthorized && reasonOf(err) == reasonNotAdmin ||
		st == http.StatusInternalServerError && strings.Contains(reasonOf(err), "forbidden") {
		return fmt.Errorf("%w: creating an index on %s needs database admin rights; list it in Spec.Indexes and run couchdb.Provision with admin credentials", dbservice.ErrForbidden, db)
	}
	return err
}

// indexRef names a single-field index of ours.
type indexRef struct {
	field string
	name  string
}

// indexCache knows, per database, the provider's single-field indexes: a
// query with an equality on such a field reads that index, whose rows for
// one value come in _id order. Only single-field indexes qualify (a
// compound index orders by its other fields first), and only ours (another
// tool's index may be partial and miss documents).
type indexCache struct {
	mu sync.Mutex
	m  map[string]map[string]string // database -> field -> index name
}

// add records an index of a database already looked at; one not looked
// at yet is listed in full on its first query instead, which also finds
// the indexes Provision made.
func (c *indexCache) add(db, field, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[db] != nil {
		c.m[db][field] = name
	}
}

func (c *indexCache) forget(db, field string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m[db], field)
}

// known returns a copy of the indexes of db and whether db was looked at
// already.
func (c *indexCache) known(db string) (map[string]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[db]
	return maps.Clone(m), ok
}

// mark records that db was looked at, with no index found (yet).
func (c *indexCache) mark(db string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]map[string]string{}
	}
	if c.m[db] == nil {
		c.m[db] = map[string]string{}
	}
}

// indexFor picks an index for a query: one of ours on a field the query
// compares with Eq. The first time it meets a database it lists the
// database's indexes (a database Provision indexed, say); a failure to list
// them only means no index is used.
func (s *Service) indexFor(ctx context.Context, db string, where []dbservice.Cond) *indexRef {
	hasEq := false
	for _, c := range where {
		hasEq = hasEq || (c.Op == dbservice.Eq && c.Field != "_id")
	}
	if !hasEq {
		return nil
	}
	known, looked := s.indexes.known(db)
	if !looked {
		// A database that cannot be listed (missing, say) is looked at
		// again next time.
		if list, err := s.db(db).GetIndexes(ctx); err == nil {
			s.indexes.mark(db)
			for _, ix := range list {
				def, _ := ix.Definition.(map[string]any)
				fields, _ := def["fields"].([]any)
				if len(fields) != 1 || !strings.HasPrefix(ix.Name, indexPrefix) || def["partial_filter_selector"] != nil {
					continue
				}
				f, _ := fields[0].(map[string]any)
				for field, dir := range f {
					if dir == "asc" && ix.Name == indexName([]string{field}) {
						s.indexes.add(db, field, ix.Name)
					}
				}
			}
		}
		known, _ = s.indexes.known(db)
	}
	for _, c := range where {
		if name, ok := known[c.Field]; ok && c.Op == dbservice.Eq && c.Field != "_id" {
			return &indexRef{field: c.Field, name: name}
		}
	}
	return nil
}

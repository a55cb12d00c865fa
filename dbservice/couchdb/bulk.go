package couchdb

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-kivik/kivik/v4"

	"github.com/securedb-go/securedb/dbservice"
)

// bulkChunk is the most documents one _bulk_docs request carries.
const bulkChunk = 1000

// SaveMany implements dbservice.BulkWriter with _bulk_docs: every item is
// validated before anything is sent, then each chunk of up to 1000
// documents takes two requests (the current revisions from _all_docs, then
// _bulk_docs). Like Save, it is an upsert; documents that conflict with a
// concurrent writer are retried a bounded number of times. When an ID
// appears more than once the last item wins. CouchDB applies the documents
// one by one, so a failure part-way (the server going down) can leave the
// earlier chunks written.
func (s *Service) SaveMany(ctx context.Context, coll string, items []dbservice.BulkItem) error {
	if err := s.precheck(ctx, "save-many", coll, "", false); err != nil {
		return err
	}
	defer s.calls.leave()
	docs := make(map[string]dbservice.Doc, len(items))
	order := make([]string, 0, len(items))
	for _, it := range items {
		if err := dbservice.CheckID(it.ID); err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		nd, err := dbservice.NormalizeDoc(it.Doc, s.cfg.Limits)
		if err == nil {
			err = checkReserved(nd)
		}
		if err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		if _, dup := docs[it.ID]; !dup {
			order = append(order, it.ID)
		}
		docs[it.ID] = wireDoc(nd)
	}
	if len(order) == 0 {
		return nil
	}
	s.touch(coll)
	db := s.dbName(coll)
	for start := 0; start < len(order); start += bulkChunk {
		ids := order[start:min(start+bulkChunk, len(order))]
		err := s.do(func() error {
			if _, err := s.useDB(ctx, db, true); err != nil {
				return err
			}
			return s.bulkUpsert(ctx, db, ids, docs)
		})
		if err != nil {
			s.forgetOnTransportError(db, err)
			return fail("save-many", coll, "", s.classify(ctx, err))
		}
	}
	return nil
}

// bulkUpsert writes the documents of ids, each at its current revision.
func (s *Service) bulkUpsert(ctx context.Context, db string, ids []string, docs map[string]dbservice.Doc) error {
	pending := ids
	for range maxWriteAttempts {
		revs, err := s.currentRevs(ctx, db, pending)
		if isDBMissing(err) { // deleted since useDB saw it
			s.known.Delete(db)
			if err := s.ensureDB(ctx, db); err != nil {
				return err
			}
			revs, err = map[string]string{}, nil
		}
		if err != nil {
			return err
		}
		batch := make([]any, len(pending))
		for i, id := range pending {
			d := docs[id]
			d["_id"] = couchID(id)
			if rev := revs[couchID(id)]; rev != "" {
				d["_rev"] = rev
			} else {
				delete(d, "_rev")
			}
			batch[i] = d
		}
		// On a cluster, ask every copy (see conflicts.go): a document
		// two writers split between copies is settled by the next
		// conditional write of it, by CouchDB's winner rule.
		n, err := s.copiesOf(ctx, db)
		if err != nil {
			return err
		}
		var opts []kivik.Option
		if n > 1 {
			opts = append(opts, kivik.Param("w", n))
		}
		results, err := s.db(db).BulkDocs(ctx, batch, opts...)
		if err != nil {
			return err
		}
		var conflicted []string
		for _, r := range results {
			id, _ := userID(r.ID)
			switch {
			case r.Error == nil:
				s.revs.put(db, id, r.Rev)
			case kivik.HTTPStatus(r.Error) == http.StatusConflict:
				conflicted = append(conflicted, id)
			default:
				return statusCause(kivik.HTTPStatus(r.Error), "", "for document "+id)
			}
		}
		if len(conflicted) == 0 {
			return nil
		}
		pending = conflicted
	}
	return fmt.Errorf("%w: %d documents kept changing; gave up after %d attempts", dbservice.ErrConflict, len(pending), maxWriteAttempts)
}

// currentRevs returns the current revision of each live document among
// ids, keyed by CouchDB _id; deleted and missing documents are absent.
func (s *Service) currentRevs(ctx context.Context, db string, ids []string) (map[string]string, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = couchID(id)
	}
	rs := s.db(db).AllDocs(ctx, kivik.Params(map[string]any{"keys": keys}))
	defer rs.Close()
	revs := make(map[string]string, len(ids))
	for rs.Next() {
		var v struct {
			Rev     string `json:"rev"`
			Deleted bool   `json:"deleted"`
		}
		id, err := rs.ID()
		if err != nil || id == "" || rs.ScanValue(&v) != nil || v.Deleted {
			continue // a key with no document: an error row
		}
		revs[id] = v.Rev
	}
	return revs, rs.Err()
}

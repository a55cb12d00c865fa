package couchdb

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// Expiry on CouchDB, which has none of its own.
//
// The instant a document expires is stored in the top-level field
// expiresKey as validate.TimeLayout text (fixed width, UTC), so text order
// is time order for Mango's comparisons. CouchDB refuses top-level names
// starting with "_", a name starting with "$" would read as an operator in
// a Mango selector, and any other plain name could be a caller's field;
// the name starts with a control character instead, which validate refuses
// in every caller document (with or without literal keys), so no caller can
// write, read or query it. Reads present it as dbservice.ExpiresField.
//
// Every read checks the instant against the process clock, so an expired
// document is absent from the moment it expires: Get and Update answer
// ErrNotFound, GetMany lists it as missing, Query and Count skip it, and
// writes treat it as absent. SweepExpired reclaims the storage.

// expiresKey is the stored field that holds a document's expiry.
const expiresKey = "\x01securedb_expires"

// expiredRaw reports whether a document as CouchDB returned it has expired
// at now.
func expiredRaw(doc map[string]any, now time.Time) bool {
	s, ok := doc[expiresKey].(string)
	if !ok {
		return false
	}
	t, err := time.Parse(validate.TimeLayout, s)
	return err == nil && !now.Before(t)
}

// setExpiry stores the expiry t in a document about to be written; zero
// stores none.
func setExpiry(doc dbservice.Doc, t time.Time) {
	if t.IsZero() {
		delete(doc, expiresKey)
		return
	}
	doc[expiresKey] = validate.FormatTime(t)
}

var _ dbservice.Sweeper = (*Service)(nil)

// SweepExpired implements dbservice.Sweeper: one _find selects up to
// budget (0: the scan budget) documents whose expiry text orders at or
// before now, and one _bulk_docs deletes them at the revision read. A
// document rewritten in between conflicts and is left alone (the next
// sweep sees its new expiry, if any). Without an index on the expiry
// field the _find examines the collection's documents server-side; only
// the expired ones travel.
func (s *Service) SweepExpired(ctx context.Context, coll string, budget int) (int, error) {
	if err := s.precheck(ctx, "sweep", coll, "", false); err != nil {
		return 0, err
	}
	defer s.calls.leave()
	if budget <= 0 {
		budget = dbservice.ScanBudget(ctx, s.cfg.ScanBudget)
	}
	s.touch(coll)
	db := s.dbName(coll)
	var deleted int
	err := s.do(func() error {
		deleted = 0
		exists, err := s.useDB(ctx, db, false)
		if err != nil || !exists {
			return err
		}
		now := time.Now()
		var batch []any
		query := map[string]any{
			"selector": map[string]any{expiresKey: map[string]any{"$lte": validate.FormatTime(now)}},
			"fields":   []string{"_id", "_rev", expiresKey},
			"limit":    min(budget, maxBatch),
		}
		for len(batch) < budget {
			n, _, _, bookmark, _, err := s.find(ctx, db, query, func(cid string, doc dbservice.Doc) bool {
				rev, _ := doc["_rev"].(string)
				// Mango compared collated text; the clock decides.
				if cid != "" && rev != "" && expiredRaw(doc, now) {
					batch = append(batch, map[string]any{"_id": cid, "_rev": rev, "_deleted": true})
				}
				return true
			})
			if err != nil {
				return err
			}
			if n < query["limit"].(int) || bookmark == "" || bookmark == "nil" {
				break
			}
			query["bookmark"] = bookmark
			query["limit"] = min(budget-len(batch), maxBatch)
		}
		if len(batch) == 0 {
			return nil
		}
		results, err := s.bulkDocs(ctx, db, batch)
		if err != nil {
			return err
		}
		for _, r := range results {
			if r.Error == nil {
				deleted++
				if id, ok := userID(r.ID); ok {
					s.revs.drop(db, id)
				}
			}
		}
		return nil
	})
	if err != nil {
		s.forgetOnTransportError(db, err)
		return deleted, fail("sweep", coll, "", s.classify(ctx, err))
	}
	if deleted > 0 {
		s.log.Info("swept expired documents", "database", db, "deleted", deleted)
	}
	return deleted, nil
}

// bulkDocs sends one _bulk_docs request, asking every copy on a cluster
// (see conflicts.go).
func (s *Service) bulkDocs(ctx context.Context, db string, batch []any) ([]kivik.BulkResult, error) {
	n, err := s.copiesOf(ctx, db)
	if err != nil {
		return nil, err
	}
	var opts []kivik.Option
	if n > 1 {
		opts = append(opts, kivik.Param("w", n))
	}
	return s.db(db).BulkDocs(ctx, batch, opts...)
}

// overExpired writes doc in place of a document that exists but may have
// expired (a Save with IfAbsent that met one): it reads the document and,
// when it has expired, writes doc conditionally on the expired revision,
// through the cluster path when there are copies. ok is false when the
// document is live (or was rewritten meanwhile): the caller's conflict
// stands.
func (s *Service) overExpired(ctx context.Context, db, id string, doc dbservice.Doc, n int) (rev string, ok bool, err error) {
	raw, cur, found, err := s.readDoc(ctx, db, id)
	if err != nil || !found || !expiredRaw(raw, time.Now()) {
		return "", false, err
	}
	if n > 1 {
		rev, err = s.clusterPutIfRev(ctx, db, id, doc, cur, n)
	} else {
		rev, err = s.putWithDB(ctx, db, id, doc, cur)
		if httpStatus(err) == http.StatusConflict {
			err = errIfRev
		}
	}
	if errorsIsConflict(err) {
		return "", false, nil
	}
	return rev, err == nil, err
}

// readDoc reads a document as CouchDB stores it; found is false for a
// missing or deleted one.
func (s *Service) readDoc(ctx context.Context, db, id string) (doc map[string]any, rev string, found bool, err error) {
	err = scanDoc(s.db(db).Get(ctx, couchID(id)), &doc)
	switch {
	case httpStatus(err) == http.StatusNotFound:
		return nil, "", false, nil
	case err != nil:
		return nil, "", false, err
	}
	rev, _ = doc["_rev"].(string)
	if rev == "" {
		return nil, "", false, fmt.Errorf("%w: couchdb returned a document without a revision", dbservice.ErrUnavailable)
	}
	return doc, rev, true, nil
}

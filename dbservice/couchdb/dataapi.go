package couchdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// maxUpdateAttempts bounds Update's read-modify-write loop. It is higher
// than maxWriteAttempts because every writer of a hot counter rereads
// after each lost round: 8 Services incrementing one document 25 times
// each lost 23 of the 200 updates with a bound of 16 and 1 with 64
// (measured on one loaded CouchDB 3.5 node; a random pause between
// attempts did not help).
const maxUpdateAttempts = 128

// Update implements dbservice.Service. CouchDB has no partial update
// without a design document, so Update reads the document, applies the
// mutations with dbservice.ApplyMutations (the reference semantics), checks
// the result like a saved document and writes it conditionally on the
// revision read; a concurrent write makes it 409 and the loop reads again,
// up to maxUpdateAttempts. On a cluster the write goes through the same
// settled conditional path as Save with IfRev (see conflicts.go), so no
// update is lost there either. With IfRev the
// loop runs once: a different or changed revision is ErrConflict.
//
// An _update handler would not be atomic either (CouchDB runs it on the
// current revision and answers 409 on a race), needs design document rights
// and JavaScript on the server, and would apply the mutations outside this
// library's validation; the loop needs neither, and was faster besides
// (BenchmarkUpdateVsUpdateHandler: 57 ms per increment against the
// handler's 73 ms, on one loaded CouchDB 3.5 node).
func (s *Service) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	if err := s.precheck(ctx, "update", coll, id, true); err != nil {
		return "", err
	}
	defer s.calls.leave()
	o, err := dbservice.ApplyUpdateOptions(opts...)
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	mods, err = dbservice.CheckMutations(mods, s.cfg.Limits)
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	s.touch(coll)
	db := s.dbName(coll)
	var rev string
	err = s.do(func() error {
		exists, err := s.useDB(ctx, db, o.Upsert)
		switch {
		case err != nil:
			return err
		case !exists:
			return errNoDoc
		}
		n, err := s.copiesOf(ctx, db)
		if err != nil {
			return err
		}
		// Updates of one document by this Service take turns: racing each
		// other to the server, all but one would lose every round (8
		// goroutines on one counter: 1053 attempts for 200 updates racing,
		// 200 taking turns). Other processes still race; the loop handles
		// that.
		unlock, err := s.updates.lock(ctx, db, id)
		if err != nil {
			return err
		}
		defer unlock()
		for range maxUpdateAttempts {
			var retry bool
			rev, retry, err = s.updateOnce(ctx, db, id, mods, o, n)
			if !retry {
				return err
			}
		}
		return fmt.Errorf("%w: the document kept changing; gave up after %d attempts", dbservice.ErrConflict, maxUpdateAttempts)
	})
	if err != nil {
		s.revs.drop(db, id)
		s.forgetOnTransportError(db, err)
		return "", fail("update", coll, id, s.classify(ctx, err))
	}
	s.revs.put(db, id, rev)
	return rev, nil
}

// updateOnce is one round of Update: read, apply, write at the revision
// read. retry reports a lost race worth another round.
func (s *Service) updateOnce(ctx context.Context, db, id string, mods []dbservice.Mutation, o dbservice.WriteOptions, n int) (rev string, retry bool, err error) {
	raw, cur, found, err := s.readDoc(ctx, db, id)
	if err != nil {
		return "", false, err
	}
	live := found && !expiredRaw(raw, time.Now())
	switch {
	case !live && !o.Upsert:
		return "", false, errNoDoc
	case o.IfRev != "" && cur != o.IfRev:
		return "", false, errIfRev
	}
	var base dbservice.Doc
	expires := o.ExpiresAt
	if live {
		// An Update without ExpiresAt keeps the document's expiry.
		if t, err := time.Parse(validate.TimeLayout, fmt.Sprint(raw[expiresKey])); err == nil && expires.IsZero() {
			expires = t
		}
		base = clean(raw, id)
		delete(base, "_id")
		delete(base, "_rev")
		delete(base, dbservice.ExpiresField)
	}
	nd, err := dbservice.ApplyMutations(base, mods)
	if err != nil {
		return "", false, err
	}
	// The result obeys the limits of a saved document.
	if nd, err = dbservice.NormalizeDoc(nd, s.cfg.Limits); err != nil {
		return "", false, err
	}
	if err := checkReserved(nd); err != nil {
		return "", false, err
	}
	nd = wireDoc(nd)
	setExpiry(nd, expires)
	// An expired document is replaced at its revision, as a live one is:
	// the write stays conditional on what was read.
	switch {
	case n > 1 && found:
		rev, err = s.clusterPutIfRev(ctx, db, id, nd, cur, n)
	case n > 1:
		rev, err = s.clusterPut(ctx, db, id, nd, "", n)
	default:
		rev, err = s.putWithDB(ctx, db, id, nd, cur)
		if httpStatus(err) == http.StatusConflict {
			err = errIfRev
		}
	}
	if errorsIsConflict(err) {
		return "", o.IfRev == "", err
	}
	return rev, false, err
}

// keyLocks serializes work per document key over a fixed set of stripes
// (two documents may share one, which only makes them take turns). A
// waiter gives up when its context ends.
type keyLocks struct {
	once    sync.Once
	stripes [256]chan struct{}
}

func (k *keyLocks) lock(ctx context.Context, db, id string) (unlock func(), err error) {
	k.once.Do(func() {
		for i := range k.stripes {
			k.stripes[i] = make(chan struct{}, 1)
		}
	})
	h := fnv.New32a()
	_, _ = h.Write([]byte(db))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(id))
	c := k.stripes[h.Sum32()%uint32(len(k.stripes))]
	select {
	case c <- struct{}{}:
		return func() { <-c }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// GetMany implements dbservice.Service with one _all_docs request carrying
// the keys and include_docs (ids are at most dbservice.MaxBatch, what one
// request may carry). Deleted, missing and expired documents are missing.
func (s *Service) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	if err := s.precheck(ctx, "get-many", coll, "", false); err != nil {
		return nil, nil, err
	}
	defer s.calls.leave()
	if err := dbservice.CheckIDs(ids); err != nil {
		return nil, nil, fail("get-many", coll, "", err)
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	s.touch(coll)
	db := s.dbName(coll)
	var found map[string]dbservice.Doc
	err := s.do(func() error {
		found = nil
		exists, err := s.useDB(ctx, db, false)
		if err != nil || !exists {
			return err
		}
		found, err = s.allDocsByKey(ctx, db, ids)
		return err
	})
	if err != nil && !isDBMissing(err) {
		s.forgetOnTransportError(db, err)
		return nil, nil, fail("get-many", coll, "", s.classify(ctx, err))
	}
	var docs []dbservice.Doc
	var missing []string
	now := time.Now()
	for _, id := range ids {
		d := found[id]
		if d == nil || expiredRaw(d, now) {
			missing = append(missing, id)
			continue
		}
		d = clean(d, id)
		if rev, ok := d["_rev"].(string); ok {
			s.revs.put(db, id, rev)
		}
		docs = append(docs, d)
	}
	return docs, missing, nil
}

// allDocsByKey reads the live documents among ids in one POST _all_docs
// with include_docs, keyed by the caller's ID.
func (s *Service) allDocsByKey(ctx context.Context, db string, ids []string) (map[string]dbservice.Doc, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = couchID(id)
	}
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		return nil, err
	}
	resp, err := s.rawDo(ctx, http.MethodPost, "/"+url.PathEscape(db)+"/_all_docs", url.Values{"include_docs": {"true"}}, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Rows []struct {
			ID  string        `json:"id"`
			Doc dbservice.Doc `json:"doc"`
		} `json:"rows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%w: couchdb sent a malformed _all_docs answer", dbservice.ErrUnavailable)
	}
	found := make(map[string]dbservice.Doc, len(out.Rows))
	for _, r := range out.Rows {
		// A missing key is an error row without id; a deleted document
		// has a null doc.
		if id, ok := userID(r.ID); ok && r.Doc != nil {
			found[id] = r.Doc
		}
	}
	return found, nil
}

// DeleteMany implements dbservice.Service: one _all_docs request reads the
// current revisions (expired documents included: deleting them only
// reclaims them early), one _bulk_docs deletes those documents at those
// revisions (every copy asked on a cluster), and documents a concurrent
// writer changed meanwhile are read and deleted again, a bounded number of
// times.
func (s *Service) DeleteMany(ctx context.Context, coll string, ids []string) error {
	if err := s.precheck(ctx, "delete-many", coll, "", false); err != nil {
		return err
	}
	defer s.calls.leave()
	if err := dbservice.CheckIDs(ids); err != nil {
		return fail("delete-many", coll, "", err)
	}
	if len(ids) == 0 {
		return nil
	}
	s.touch(coll)
	db := s.dbName(coll)
	err := s.do(func() error {
		exists, err := s.useDB(ctx, db, false)
		if err != nil || !exists {
			return err
		}
		return s.bulkDelete(ctx, db, ids)
	})
	for _, id := range ids {
		s.revs.drop(db, id)
	}
	if err != nil && !isDBMissing(err) {
		s.forgetOnTransportError(db, err)
		return fail("delete-many", coll, "", s.classify(ctx, err))
	}
	return nil
}

func (s *Service) bulkDelete(ctx context.Context, db string, ids []string) error {
	pending := ids
	for range maxWriteAttempts {
		revs, err := s.currentRevs(ctx, db, pending)
		if err != nil {
			return err
		}
		batch := make([]any, 0, len(revs))
		for _, id := range pending {
			if rev := revs[couchID(id)]; rev != "" {
				batch = append(batch, map[string]any{"_id": couchID(id), "_rev": rev, "_deleted": true})
			}
		}
		if len(batch) == 0 {
			return nil
		}
		results, err := s.bulkDocs(ctx, db, batch)
		if err != nil {
			return err
		}
		var conflicted []string
		for _, r := range results {
			id, _ := userID(r.ID)
			switch st := kivik.HTTPStatus(r.Error); {
			case r.Error == nil, st == http.StatusNotFound:
			case st == http.StatusConflict:
				conflicted = append(conflicted, id)
			default:
				return statusCause(st, "", "for document "+id)
			}
		}
		if len(conflicted) == 0 {
			return nil
		}
		pending = conflicted
	}
	return fmt.Errorf("%w: %d documents kept changing; gave up after %d attempts", dbservice.ErrConflict, len(pending), maxWriteAttempts)
}

// Count implements dbservice.Service. Mango has no count, and a _count
// reduce view could neither skip documents by an expiry that depends on the
// clock nor evaluate arbitrary conditions, so documents are counted as
// they are read, under the scan budget. Without conditions that is _find
// over the _id index fetching only each row's _id and expiry, in pages of
// up to 1000 rows (0.39x and 0.67x the time of iterating All over 1000
// documents in two runs of BenchmarkCountVsAll); with conditions it walks Query's pages with only
// the fields the conditions need (dbservice.CountPages): _find requests,
// served by an index of ours for an equality.
func (s *Service) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	if err := s.precheck(ctx, "count", coll, "", false); err != nil {
		return 0, err
	}
	defer s.calls.leave()
	if _, err := dbservice.CheckQueryWith(dbservice.Query{Where: where}, s.cfg.Limits); err != nil {
		return 0, fail("count", coll, "", err)
	}
	budget := dbservice.ScanBudget(ctx, s.cfg.ScanBudget)
	if len(where) == 0 {
		s.touch(coll)
		db := s.dbName(coll)
		var n int
		err := s.do(func() error {
			n = 0
			exists, err := s.useDB(ctx, db, false)
			if err != nil || !exists {
				return err
			}
			n, err = s.countAll(ctx, db, budget)
			return err
		})
		switch {
		case errors.Is(err, dbservice.ErrBudgetExceeded):
			return n, dbservice.CountBudgetError(provider, coll, n)
		case err != nil && isDBMissing(err):
			return 0, nil
		case err != nil:
			s.forgetOnTransportError(db, err)
			return 0, fail("count", coll, "", s.classify(ctx, err))
		}
		return n, nil
	}
	return dbservice.CountPages(ctx, provider, coll, where, dbservice.ScanBudget(ctx, s.cfg.ScanBudget), func(ctx context.Context, q dbservice.Query) (dbservice.Page, error) {
		return s.Query(ctx, coll, q)
	})
}

// countAll counts the live documents of db with _find over the _id index,
// fetching only each row's _id and expiry (whole documents are what a
// Query page without conditions would fetch), at most budget rows.
func (s *Service) countAll(ctx context.Context, db string, budget int) (int, error) {
	query := map[string]any{
		"selector":        map[string]any{"_id": map[string]any{"$gt": nil}},
		"fields":          []string{"_id", expiresKey},
		"limit":           min(budget, maxBatch),
		"execution_stats": true,
	}
	n, read := 0, 0
	for {
		now := time.Now()
		rows, examined, _, bookmark, _, err := s.find(ctx, db, query, func(cid string, doc dbservice.Doc) bool {
			if _, ok := userID(cid); ok && !expiredRaw(doc, now) {
				n++
			}
			return true
		})
		if err != nil {
			return n, err
		}
		read += examined
		switch {
		case rows < query["limit"].(int) || bookmark == "" || bookmark == "nil":
			return n, nil
		case read >= budget:
			return n, dbservice.ErrBudgetExceeded
		}
		query["bookmark"] = bookmark
		query["limit"] = min(budget-read, maxBatch)
	}
}

// As implements the escape hatch of dbservice.As: a **kivik.Client target
// receives the Service's client. What is done with it bypasses every check
// of this library (validation, limits, the scan budget, audit), and it
// sees the stored form: IDs starting with "_" carry a "~" in front, and
// documents with an expiry carry it in a field of their own.
func (s *Service) As(target any) bool {
	if t, ok := target.(**kivik.Client); ok && t != nil {
		*t = s.client
		return true
	}
	return false
}

// mangoField translates a dotted path into Mango's field syntax from its
// names: "." inside a name is escaped as `\.`. Mango drops every "\" of a
// field and reads a name starting with "$" as an operator, so a path with
// such a name cannot be expressed; ok is false and the condition is left
// to dbservice.Match.
func mangoField(path string) (string, bool) {
	if !strings.ContainsAny(path, `\$`) {
		return path, true
	}
	names := dbservice.SplitPath(path)
	for i, n := range names {
		if strings.Contains(n, `\`) || strings.HasPrefix(n, "$") {
			return "", false
		}
		names[i] = strings.ReplaceAll(n, ".", `\.`)
	}
	return strings.Join(names, "."), true
}

// mangoTop is the Mango name of a path's first name, to fetch the whole
// top-level value; ok as for mangoField.
func mangoTop(path string) (string, bool) {
	return mangoField(dbservice.Path(dbservice.SplitPath(path)[0]))
}

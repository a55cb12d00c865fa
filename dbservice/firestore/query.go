package firestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// cursorState is the position an unordered page ends at: the ID of the
// last document returned or read (pages in document ID order), or, for a
// query read in the order of the field its range is on, that Field and
// the Pos (field value, ID) of the document. The next page starts after
// it whatever is written meanwhile. Ordered queries use the position
// cursor of dbservice.EncodePosition.
type cursorState struct {
	After string `json:"a,omitempty"`
	Field string `json:"k,omitempty"`
	Pos   []any  `json:"p,omitempty"`
}

// maxChunk caps how many documents one RunQuery request asks for while a
// page is filled by client-side filtering.
const maxChunk = 1000

// maxIndexedBytes is the longest value Firestore indexes in full; longer
// values are truncated in the index, so equality on them is left to the
// client.
const maxIndexedBytes = 1500

// Query implements dbservice.Service. The cursor is opaque and bound to
// the collection and query; every document is returned exactly once
// across pages, even with concurrent writes to other documents. Every
// document read still goes through dbservice.Match, and no call reads
// more than the scan budget (then the page continues where it stopped).
// Firestore answers in one of two ways:
//
//   - In the order of an index. A query with OrderBy (all keys in one
//     direction, _id only last) is sent as OrderBy of each key and then
//     of the document ID, with a range (Gt, Gte, Lt, Lte, Prefix as its
//     byte range) and one Ne on the first key, and continues with
//     StartAfter the last position (sort values and ID). An unordered
//     query with such a condition is read the same way in the order of
//     that field. Equalities are sent too when EnsureIndex declared an
//     index on them followed by the sort fields (a composite index);
//     without one, one sort field and no equality, in or array-contains
//     condition (the single-field index) is what Firestore serves.
//     Firestore's ranges, like Match's, never cross types, and != and
//     OrderBy, like Match and the ordered contract, leave out documents
//     without the field (and != those holding null). Strings are
//     compared by their UTF-8 bytes, as by dbservice.Compare.
//   - In document ID order (OrderBy(firestore.DocumentID), StartAfter the
//     last ID) otherwise, with the filters below; other conditions are
//     decided on the client, and an ordering is sorted there
//     (dbservice.SortedPage, ErrBudgetExceeded past the budget).
//     Eq (values of at most 1500 bytes) and one In without nil are sent
//     as == and in filters on the field path (quoted segment by segment
//     with firestore.FieldPath), and on "_id" as document ID filters.
//     Firestore equality never crosses types, like Match, and == null
//     matches explicit nulls only. Contains with a non-null scalar (of at
//     most 1500 bytes) is sent as array-contains; at most one per query,
//     as Firestore allows. Exists has no exact Firestore operator.
//
// Firestore indexes strings truncated to 1500 bytes, so ranges are sent
// only with shorter bounds, and two strings that agree on their first
// 1500 bytes are ordered by document ID. Values other writers stored in
// types outside the JSON data model (timestamps, bytes) keep Firestore's
// order, not that of their JSON form.
//
// The ID order queries are served by Firestore's automatic single-field
// indexes. Composite indexes are those EnsureIndex declares. If one is
// missing, or an index exemption disables a single-field index,
// Firestore answers FailedPrecondition; Query returns ErrUnavailable with
// Firestore's link for creating the index.
//
// With Fields, Firestore returns only those fields plus the ones the
// conditions and sort keys read; the latter are trimmed after matching.
func (s *Service) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Page{}, err
	}
	q, err := dbservice.CheckQueryWith(q, s.limits)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	budget := dbservice.ScanBudget(ctx, s.budget)
	if len(q.OrderBy) > 0 {
		if p, ok := s.planOrdered(coll, q, ""); ok {
			after, err := dbservice.DecodePosition(s.cursors, coll, q)
			if err != nil {
				return dbservice.Page{}, fail("query", coll, "", err)
			}
			return s.queryOrdered(ctx, coll, q, p, after, budget)
		}
		return dbservice.SortedPage(ctx, provider, coll, q, budget, s.cursors, func(ctx context.Context, inner dbservice.Query) (dbservice.Page, error) {
			return s.Query(ctx, coll, inner)
		})
	}
	var after string
	var st cursorState
	if q.Cursor != "" {
		if err := s.cursors.Decode(coll, q, q.Cursor, &st); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
	}
	// A walk keeps the order its first page took: an index declared
	// between pages must not change where the cursor points.
	if st.Field != "" || q.Cursor == "" {
		if p, ok := s.planOrdered(coll, q, st.Field); ok {
			var pos []any
			if st.Field != "" {
				if err := dbservice.CheckPosition(st.Pos, p.keys); err != nil {
					return dbservice.Page{}, fail("query", coll, "", err)
				}
				pos = st.Pos
			}
			return s.queryOrdered(ctx, coll, q, p, pos, budget)
		}
		if st.Field != "" {
			return dbservice.Page{}, fail("query", coll, "", &validate.Error{Field: "query.cursor", Reason: "not a cursor this service issued for this query and collection"})
		}
	}
	if q.Cursor != "" {
		if err := dbservice.CheckID(st.After); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		if err := checkNativeID("query.cursor", st.After); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		after = st.After
	}
	base, exact, empty := s.buildQuery(coll, q)
	if empty {
		return dbservice.Page{}, nil
	}

	chunk := q.Limit + 1
	var page dbservice.Page
	cursorAfter := func(id string) (dbservice.Page, error) {
		next, err := s.cursors.Encode(coll, q, cursorState{After: id})
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: cursor cannot be encoded", dbservice.ErrUnavailable))
		}
		page.Next = next
		page.Stats.Returned = len(page.Docs)
		return page, nil
	}
	for {
		// Firestore bills every document a query returns, and the filters
		// sent select them: the chunk size bounds the reads.
		want := min(chunk, budget-page.Stats.Read)
		fq := base.Limit(want)
		if after != "" {
			fq = fq.StartAfter(after)
		}
		n, more, err := s.readChunk(ctx, fq, q, &page, &after)
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		page.Stats.Read += n
		if n < want && !more {
			page.Stats.Returned = len(page.Docs)
			return page, nil // the collection ends here
		}
		if more || len(page.Docs) == q.Limit {
			// Another match exists, or the page is full where the chunk
			// ends and more documents follow: continue after the last
			// document returned.
			return cursorAfter(page.Docs[len(page.Docs)-1]["_id"].(string))
		}
		if page.Stats.Read >= budget {
			// Out of budget: continue after the last document read.
			page.Stats.BudgetReached = true
			return cursorAfter(after)
		}
		if !exact {
			chunk = min(chunk*4, maxChunk)
		}
	}
}

// readChunk runs fq and adds the documents that match q to page, up to
// q.Limit. It returns how many documents it read and whether another match
// follows a full page; after is advanced to the last document read.
func (s *Service) readChunk(ctx context.Context, fq firestore.Query, q dbservice.Query, page *dbservice.Page, after *string) (n int, more bool, err error) {
	return s.readMatches(ctx, fq, q, page, func(snap *firestore.DocumentSnapshot, _ dbservice.Doc) { *after = snap.Ref.ID }, nil)
}

// readMatches runs fq and adds the documents that match q to page, up to
// q.Limit, trimmed to q.Fields (the expiry kept). read sees every document
// read, matching or not, and kept (if not nil) follows every document
// added, so that callers record where the page stands. It returns how
// many documents it read and whether another match follows a full page.
func (s *Service) readMatches(ctx context.Context, fq firestore.Query, q dbservice.Query, page *dbservice.Page, read func(*firestore.DocumentSnapshot, dbservice.Doc), kept func()) (n int, more bool, err error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	it := fq.Documents(cctx)
	defer it.Stop()
	now := time.Now()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return n, false, nil
		}
		if err != nil {
			return 0, false, classify(ctx, cctx, err)
		}
		n++
		doc, err := decodeSnapshot(snap)
		if err != nil {
			return 0, false, err
		}
		read(snap, doc)
		if dbservice.Expired(doc, now) || !dbservice.Match(doc, q.Where) {
			continue
		}
		if len(page.Docs) == q.Limit {
			return n, true, nil
		}
		if kept != nil {
			kept()
		}
		if len(q.Fields) > 0 {
			exp, has := doc[expiresField]
			doc = dbservice.Project(doc, q.Fields)
			if has {
				doc[expiresField] = exp
			}
		}
		page.Docs = append(page.Docs, doc)
	}
}

// buildQuery returns the Firestore query for q, ordered by document ID,
// whether its filters alone decide the answer (exact; Match still runs),
// and empty when no document can match (an _id condition naming only IDs
// that cannot exist). The projection always includes the expiry, which
// every read filters on.
func (s *Service) buildQuery(coll string, q dbservice.Query) (fq firestore.Query, exact, empty bool) {
	fq, exact, empty = s.buildFilters(coll, q.Where, false)
	if len(q.Fields) > 0 {
		paths := slices.Clone(q.Fields)
		for _, c := range q.Where {
			paths = append(paths, c.Field)
		}
		fps := []firestore.FieldPath{{expiresField}}
		for _, p := range dbservice.DisjointPaths(paths) {
			if p != "_id" {
				fps = append(fps, fieldPath(p))
			}
		}
		fq = fq.SelectPaths(fps...)
	}
	return fq.OrderBy(firestore.DocumentID, firestore.Asc), exact, empty
}

// buildFilters returns the collection's query with the filters of where
// that Firestore decides exactly like Match, whether those are all of them
// (exact), and empty when no document can match. Prefix is sent as a
// range (dbservice.PrefixEnd bounds it exactly in UTF-8 byte order, the
// order Firestore compares strings in) only for a count (forCount): a
// range puts its field ahead of the document ID in Firestore's order,
// which a page in ID order cannot have.
func (s *Service) buildFilters(coll string, where []dbservice.Cond, forCount bool) (fq firestore.Query, exact, empty bool) {
	col := s.collection(coll)
	fq = col.Query
	exact = true
	usedIn, usedContains, usedRange := false, false, false
	for _, c := range where {
		switch {
		case c.Field == "_id" && c.Op == dbservice.Eq:
			id, ok := c.Value.(string)
			if !ok || validID(id) != nil {
				return fq, exact, true
			}
			fq = fq.Where(firestore.DocumentID, "==", col.Doc(id))
		case c.Field == "_id" && c.Op == dbservice.In && !usedIn:
			var refs []*firestore.DocumentRef
			for _, v := range c.Value.([]any) {
				if id, ok := v.(string); ok && validID(id) == nil {
					refs = append(refs, col.Doc(id))
				}
			}
			if len(refs) == 0 {
				return fq, exact, true
			}
			fq = fq.Where(firestore.DocumentID, "in", refs)
			usedIn = true
		case c.Field == "_id":
			exact = false
		case c.Op == dbservice.Eq && indexable(c.Value):
			fq = fq.WherePath(fieldPath(c.Field), "==", c.Value)
		case c.Op == dbservice.In && !usedIn && inPushable(c.Value.([]any)):
			fq = fq.WherePath(fieldPath(c.Field), "in", c.Value)
			usedIn = true
		case c.Op == dbservice.Contains && !usedContains && containsPushable(c.Value):
			fq = fq.WherePath(fieldPath(c.Field), "array-contains", c.Value)
			usedContains = true
		case c.Op == dbservice.Prefix && forCount && !usedRange && prefixPushable(c.Value.(string)):
			p := c.Value.(string)
			fq = fq.WherePath(fieldPath(c.Field), ">=", p)
			if end, ok := dbservice.PrefixEnd(p); ok {
				fq = fq.WherePath(fieldPath(c.Field), "<", end)
			}
			usedRange = true
		default:
			exact = false
		}
	}
	return fq, exact, false
}

// validID reports whether a document with this ID can exist here.
func validID(id string) error {
	if err := dbservice.CheckID(id); err != nil {
		return err
	}
	return checkNativeID("id", id)
}

// fieldPath splits a dotted path (validated by CheckQuery) into its names
// (dbservice.SplitPath: an escaped "." stays inside its name), which
// Firestore quotes one by one.
func fieldPath(path string) firestore.FieldPath {
	return firestore.FieldPath(dbservice.SplitPath(path))
}

// containsPushable reports whether array-contains on v gives Match's
// answer: for a non-null scalar Firestore indexes in full. Numbers are
// exact across Firestore's integers and doubles, which it compares by
// value as Match compares float64s; null is left to the client.
func containsPushable(v any) bool {
	return v != nil && indexable(v)
}

// prefixPushable reports whether a prefix range is exact: Firestore
// truncates indexed strings at 1500 bytes, which keeps the order against
// bounds well shorter than that.
func prefixPushable(p string) bool {
	return len(p)+4 < maxIndexedBytes
}

// indexable reports whether an equality on v can be left to Firestore.
func indexable(v any) bool {
	s, ok := v.(string)
	return !ok || len(s) <= maxIndexedBytes
}

// inPushable reports whether Firestore's in gives the same answer as
// Match for these values: it never matches null, so a list with nil is
// left to the client.
func inPushable(vals []any) bool {
	for _, v := range vals {
		if v == nil || !indexable(v) {
			return false
		}
	}
	return true
}

// Explain implements dbservice.Explainer. A query Query reads in the
// order of an index names that index (single-field or a declared
// composite) with Ordered set. Otherwise an equality (on a value of at
// most 1500 bytes), an In or a Contains (array-contains) is served by
// Firestore's automatic single-field index, and other conditions and
// orderings are not.
func (s *Service) Explain(ctx context.Context, coll string, q dbservice.Query) (dbservice.Plan, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Plan{}, err
	}
	q, err := dbservice.CheckQueryWith(q, s.limits)
	if err != nil {
		return dbservice.Plan{}, fail("query", coll, "", err)
	}
	if p, ok := s.planOrdered(coll, q, ""); ok {
		return explainOrdered(p), nil
	}
	plan := dbservice.Plan{Residual: q.Where}
	for _, c := range q.Where {
		if c.Field != "_id" && (c.Op == dbservice.Eq && indexable(c.Value) || c.Op == dbservice.In && inPushable(c.Value.([]any))) {
			plan.Index = &dbservice.IndexDef{Name: "single-field " + c.Field, Fields: []string{c.Field}}
			plan.Eq = []dbservice.Cond{c}
			break
		}
		if c.Field != "_id" && c.Op == dbservice.Contains && containsPushable(c.Value) {
			// The array-contains entries of the single-field index narrow
			// the reads; Match still decides, so the condition stays in
			// Residual and Eq (an equality on the field's value) is not
			// claimed.
			plan.Index = &dbservice.IndexDef{Name: "single-field array-contains " + c.Field, Fields: []string{c.Field}}
			break
		}
		if c.Field == "_id" && (c.Op == dbservice.Eq || c.Op == dbservice.In) {
			plan.Index = &dbservice.IndexDef{Name: "document ID", Fields: []string{"_id"}}
			break
		}
	}
	return plan, nil
}

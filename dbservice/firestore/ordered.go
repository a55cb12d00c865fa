package firestore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/firestore"

	"github.com/securedb-go/securedb/dbservice"
)

// orderedPlan is a query Firestore answers in the order of one of its
// indexes: the filters it sends, the sort keys (dbservice.SortKeys, _id
// last) and the index that serves them.
type orderedPlan struct {
	keys []dbservice.Order
	// eq are the equalities sent; ineq the ranges and != on the first
	// sort field. Every condition of the query still goes through Match.
	eq, ineq []dbservice.Cond
	// rangeField is set when an unordered query is read in the order of
	// the field its range is on (then _id ascending).
	rangeField string
	index      dbservice.IndexDef
	residual   []dbservice.Cond
}

// isRange reports whether op is one Firestore serves as an inequality on
// the first sort field.
func isRange(op dbservice.Op) bool {
	switch op {
	case dbservice.Gt, dbservice.Gte, dbservice.Lt, dbservice.Lte, dbservice.Prefix, dbservice.Ne:
		return true
	}
	return false
}

// planOrdered returns the plan for q when Firestore can serve its order
// (q.OrderBy) or, for an unordered query, a range on one field, with an
// index that exists without deployment (a single-field index) or that
// EnsureIndex declared (a composite one). field, when set, is the range
// field an unordered walk's cursor was issued for. It reports false when
// the older ways answer better or Firestore cannot serve q: an _id
// condition (a document ID lookup), _id before the last sort key, several
// sort fields or an equality with no declared composite index, or an
// equality, in or array-contains filter the plan would not send (the ID
// order path sends them all).
func (s *Service) planOrdered(coll string, q dbservice.Query, field string) (orderedPlan, bool) {
	for _, c := range q.Where {
		if c.Field == "_id" && (c.Op == dbservice.Eq || c.Op == dbservice.In) {
			return orderedPlan{}, false
		}
	}
	var p orderedPlan
	if len(q.OrderBy) > 0 {
		p.keys = dbservice.SortKeys(q)
	} else {
		if field == "" {
			field = s.pickRangeField(coll, q)
		}
		if field == "" {
			return orderedPlan{}, false
		}
		p.rangeField = field
		p.keys = []dbservice.Order{{Field: field}, {Field: "_id"}}
	}
	sortFields := make([]string, 0, len(p.keys)-1)
	for i, k := range p.keys[:len(p.keys)-1] {
		if k.Field == "_id" {
			return orderedPlan{}, false // Firestore refuses keys after the document ID
		}
		if i > 0 && k.Desc != p.keys[0].Desc {
			return orderedPlan{}, false // composite indexes are declared in one direction
		}
		sortFields = append(sortFields, k.Field)
	}
	eqs := pushableEqs(q.Where, sortFields)

	// The longest declared index whose fields are equalities of q and
	// then exactly the sort fields.
	var prefix []string
	for _, ix := range s.declared(coll) {
		n := len(ix) - len(sortFields)
		if n <= len(prefix) || n < 0 || !slices.Equal(ix[n:], sortFields) {
			continue
		}
		if !slices.ContainsFunc(ix[:n], func(f string) bool { return eqs[f] == nil }) {
			prefix = ix[:n]
		}
	}
	descID := p.keys[len(p.keys)-1].Desc
	switch {
	case len(prefix) > 0:
		p.index = dbservice.IndexDef{Name: "composite " + strings.Join(append(slices.Clone(prefix), sortFields...), "+"), Fields: append(slices.Clone(prefix), sortFields...)}
	case len(sortFields) == 0 && !descID:
		// Equalities ordered by document ID ascending: the single-field
		// indexes serve them (what unordered pages use). Descending
		// document IDs alone are refused by the emulator as needing an
		// index, so they are sorted (SortedPage).
		for f := range eqs {
			prefix = append(prefix, f)
		}
		slices.Sort(prefix)
		p.index = dbservice.IndexDef{Name: "document ID", Fields: []string{"_id"}}
	case len(sortFields) == 1 && len(eqs) == 0:
		p.index = dbservice.IndexDef{Name: "single-field " + sortFields[0], Fields: sortFields}
	default:
		return orderedPlan{}, false
	}
	used := map[int]bool{}
	for _, f := range prefix {
		i := eqs[f].at
		used[i] = true
		p.eq = append(p.eq, q.Where[i])
	}
	for i, c := range q.Where {
		if used[i] {
			continue
		}
		switch c.Op {
		case dbservice.Eq, dbservice.In, dbservice.Contains:
			if c.Field != "_id" && pushableFilter(c) {
				// Sent by the ID order path, not by this one.
				return orderedPlan{}, false
			}
		}
	}
	if len(sortFields) > 0 {
		p.ineq, used = rangeOn(q.Where, sortFields[0], used)
	}
	for i, c := range q.Where {
		// Prefix is sent as a range and still decided by Match.
		if !used[i] || c.Op == dbservice.Prefix {
			p.residual = append(p.residual, c)
		}
	}
	return p, true
}

type eqAt struct{ at int }

// pushableEqs returns, by field, the first equality of where Firestore
// decides exactly, on fields that are not sort fields (Firestore does not
// order by a field it filters by equality).
func pushableEqs(where []dbservice.Cond, sortFields []string) map[string]*eqAt {
	eqs := map[string]*eqAt{}
	for i, c := range where {
		if c.Op == dbservice.Eq && c.Field != "_id" && indexable(c.Value) && eqs[c.Field] == nil && !slices.Contains(sortFields, c.Field) {
			eqs[c.Field] = &eqAt{at: i}
		}
	}
	return eqs
}

// pushableFilter reports whether the ID order path sends c to Firestore.
func pushableFilter(c dbservice.Cond) bool {
	switch c.Op {
	case dbservice.Eq:
		return indexable(c.Value)
	case dbservice.In:
		return inPushable(c.Value.([]any))
	case dbservice.Contains:
		return containsPushable(c.Value)
	}
	return false
}

// rangeOn returns the conditions on field Firestore decides exactly as
// Match does, as the inequality filters to send, and marks them used:
// ranges of one type (Firestore's ranges, like Match's, never cross
// types) on numbers, or on strings short enough that Firestore's index
// (which truncates at 1500 bytes) orders them exactly against the bound;
// a prefix as its range (it stays in Match's hands too); and one != (which
// in Firestore, as in Match, never matches a missing field or null).
func rangeOn(where []dbservice.Cond, field string, used map[int]bool) ([]dbservice.Cond, map[int]bool) {
	var out []dbservice.Cond
	rank, ne := "", false
	typeOf := func(v any) string {
		switch x := v.(type) {
		case float64:
			return "number"
		case string:
			if len(x)+4 < maxIndexedBytes {
				return "string"
			}
		}
		return ""
	}
	for i, c := range where {
		if c.Field != field || used[i] || !isRange(c.Op) {
			continue
		}
		switch c.Op {
		case dbservice.Ne:
			if ne || !indexable(c.Value) {
				continue
			}
			ne = true
			out = append(out, c)
			used[i] = true
			continue
		case dbservice.Prefix:
			if (rank != "" && rank != "string") || !prefixPushable(c.Value.(string)) {
				continue
			}
			rank = "string"
			pre := c.Value.(string)
			out = append(out, dbservice.Cond{Field: field, Op: dbservice.Gte, Value: pre})
			if end, ok := dbservice.PrefixEnd(pre); ok {
				out = append(out, dbservice.Cond{Field: field, Op: dbservice.Lt, Value: end})
			}
			used[i] = true
			continue
		}
		t := typeOf(c.Value)
		if t == "" || (rank != "" && rank != t) {
			continue
		}
		rank = t
		out = append(out, c)
		used[i] = true
	}
	return out, used
}

// pickRangeField returns the field an unordered query with a range is
// best read in the order of: one a declared composite index serves with
// equalities of q, else the first range field.
func (s *Service) pickRangeField(coll string, q dbservice.Query) string {
	first := ""
	for _, c := range q.Where {
		if c.Field == "_id" || !isRange(c.Op) {
			continue
		}
		if sent, _ := rangeOn([]dbservice.Cond{c}, c.Field, map[int]bool{}); len(sent) == 0 {
			continue // nothing Firestore could narrow by
		}
		if first == "" {
			first = c.Field
		}
		eqs := pushableEqs(q.Where, []string{c.Field})
		for _, ix := range s.declared(coll) {
			if len(ix) > 1 && ix[len(ix)-1] == c.Field && !slices.ContainsFunc(ix[:len(ix)-1], func(f string) bool { return eqs[f] == nil }) {
				return c.Field
			}
		}
	}
	return first
}

// firestoreOp is Firestore's operator for a range or != condition.
func firestoreOp(op dbservice.Op) string {
	switch op {
	case dbservice.Gt:
		return ">"
	case dbservice.Gte:
		return ">="
	case dbservice.Lt:
		return "<"
	case dbservice.Lte:
		return "<="
	}
	return "!="
}

// orderedQuery builds the Firestore query of p: its filters, the
// projection (the caller's fields, the fields conditions and sort keys
// read, the expiry), then OrderBy each sort key and the document ID.
func (s *Service) orderedQuery(coll string, q dbservice.Query, p orderedPlan) firestore.Query {
	fq := s.collection(coll).Query
	for _, c := range p.eq {
		fq = fq.WherePath(fieldPath(c.Field), "==", c.Value)
	}
	for _, c := range p.ineq {
		fq = fq.WherePath(fieldPath(c.Field), firestoreOp(c.Op), c.Value)
	}
	if len(q.Fields) > 0 {
		paths := slices.Clone(q.Fields)
		for _, c := range q.Where {
			paths = append(paths, c.Field)
		}
		for _, k := range p.keys {
			paths = append(paths, k.Field)
		}
		fps := []firestore.FieldPath{{expiresField}}
		for _, f := range dbservice.DisjointPaths(paths) {
			if f != "_id" {
				fps = append(fps, fieldPath(f))
			}
		}
		fq = fq.SelectPaths(fps...)
	}
	for _, k := range p.keys {
		dir := firestore.Asc
		if k.Desc {
			dir = firestore.Desc
		}
		if k.Field == "_id" {
			fq = fq.OrderBy(firestore.DocumentID, dir)
		} else {
			fq = fq.OrderByPath(fieldPath(k.Field), dir)
		}
	}
	return fq
}

// queryOrdered answers q with plan p: pages in the order of p.keys, read
// in chunks until the page is full, the index ends or the scan budget is
// spent, each chunk continuing with StartAfter the position of the last
// document read. The cursor is that position (for an unordered query,
// with the field it is ordered by), so paging is exactly-once whatever
// the budget cuts.
func (s *Service) queryOrdered(ctx context.Context, coll string, q dbservice.Query, p orderedPlan, after []any, budget int) (dbservice.Page, error) {
	base := s.orderedQuery(coll, q, p)
	page := dbservice.Page{Stats: dbservice.Stats{Index: p.index.Name}}
	encode := func(pos []any) (dbservice.Page, error) {
		var next string
		var err error
		if p.rangeField != "" {
			next, err = s.cursors.Encode(coll, q, cursorState{Field: p.rangeField, Pos: pos})
		} else {
			next, err = dbservice.EncodePosition(s.cursors, coll, q, pos)
		}
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: cursor cannot be encoded", dbservice.ErrUnavailable))
		}
		page.Next = next
		page.Stats.Returned = len(page.Docs)
		return page, nil
	}
	chunk := q.Limit + 1
	var lastReturned []any
	for {
		want := min(chunk, budget-page.Stats.Read)
		fq := base.Limit(want)
		if after != nil {
			vals, err := startValues(after)
			if err != nil {
				return dbservice.Page{}, fail("query", coll, "", err)
			}
			fq = fq.StartAfter(vals...)
		}
		n, more, err := s.readOrdered(ctx, fq, q, p, &page, &after, &lastReturned)
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		page.Stats.Read += n
		if n < want && !more {
			page.Stats.Returned = len(page.Docs)
			return page, nil // the index ends here
		}
		if more || len(page.Docs) == q.Limit {
			return encode(lastReturned)
		}
		if page.Stats.Read >= budget {
			page.Stats.BudgetReached = true
			return encode(after)
		}
		chunk = min(chunk*4, maxChunk)
	}
}

// startValues turns a position into StartAfter's values: each sort value
// in the form Firestore stores (nested arrays wrapped), the ID last.
func startValues(pos []any) ([]any, error) {
	out := make([]any, len(pos))
	for i, v := range pos {
		if i == len(pos)-1 {
			out[i] = v // the document ID, a string
			continue
		}
		nv, err := encodeValue(cloneAny(v), false)
		if err != nil {
			return nil, err
		}
		out[i] = nv
	}
	return out, nil
}

func cloneAny(v any) any {
	d := dbservice.Clone(dbservice.Doc{"v": v})
	return d["v"]
}

// readOrdered runs fq and adds the documents that match q to page, up to
// q.Limit, recording the position of the last document read (after) and
// returned. It returns how many documents it read and whether another
// match follows a full page.
func (s *Service) readOrdered(ctx context.Context, fq firestore.Query, q dbservice.Query, p orderedPlan, page *dbservice.Page, after, lastReturned *[]any) (n int, more bool, err error) {
	var pos []any
	return s.readMatches(ctx, fq, q, page,
		func(_ *firestore.DocumentSnapshot, doc dbservice.Doc) {
			pos = dbservice.SortValues(doc, p.keys)
			*after = pos
		},
		func() { *lastReturned = pos })
}

// explainOrdered is the dbservice.Plan of an ordered plan.
func explainOrdered(p orderedPlan) dbservice.Plan {
	ix := p.index
	plan := dbservice.Plan{Index: &ix, Eq: p.eq, Ordered: true, Desc: p.keys[0].Desc, Residual: p.residual}
	for _, c := range p.ineq {
		if c.Op != dbservice.Ne {
			plan.Range = append(plan.Range, c)
		}
	}
	return plan
}

package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// index is an ordered index: one entry per document that holds every
// field, sorted by the fields' values (dbservice.Compare) and then by ID.
// Documents are reached through it in O(log n) plus the answer, which is
// what keeps the reference provider's cost proportional to the answer.
type index struct {
	def     dbservice.IndexDef
	entries []ixEntry
}

type ixEntry struct {
	vals []any
	id   string
}

// key returns doc's index key, or false when doc lacks a field.
func (ix *index) key(doc dbservice.Doc) ([]any, bool) {
	vals := make([]any, len(ix.def.Fields))
	for i, f := range ix.def.Fields {
		v, ok := dbservice.Lookup(doc, f)
		if !ok {
			return nil, false
		}
		vals[i] = v
	}
	return vals, true
}

// cmpPos compares an entry with a position (values, then an ID).
func cmpPos(e ixEntry, vals []any, id string) int {
	for i, v := range vals {
		if c := dbservice.Compare(e.vals[i], v); c != 0 {
			return c
		}
	}
	return strings.Compare(e.id, id)
}

func (ix *index) insert(id string, doc dbservice.Doc) {
	vals, ok := ix.key(doc)
	if !ok {
		return
	}
	i, _ := slices.BinarySearchFunc(ix.entries, ixEntry{vals, id}, func(e, t ixEntry) int { return cmpPos(e, t.vals, t.id) })
	ix.entries = slices.Insert(ix.entries, i, ixEntry{vals, id})
}

func (ix *index) remove(id string, doc dbservice.Doc) {
	vals, ok := ix.key(doc)
	if !ok {
		return
	}
	if i, found := slices.BinarySearchFunc(ix.entries, ixEntry{vals, id}, func(e, t ixEntry) int { return cmpPos(e, t.vals, t.id) }); found {
		ix.entries = slices.Delete(ix.entries, i, i+1)
	}
}

// bounds returns the half-open range of entries a plan's equalities and
// range select. Ranges are bounded by the value's type too: `n > 5` ends
// where numbers end, as Match's comparisons never cross types.
func (ix *index) bounds(p dbservice.Plan) (lo, hi int) {
	eq := make([]any, len(p.Eq))
	for i, c := range p.Eq {
		eq[i] = c.Value
	}
	prefix := func(e ixEntry) int {
		for i, v := range eq {
			if c := dbservice.Compare(e.vals[i], v); c != 0 {
				return c
			}
		}
		return 0
	}
	// above reports whether e's range field is past the lower bound;
	// below whether it is before the upper bound.
	above, below := func(ixEntry) bool { return true }, func(ixEntry) bool { return true }
	if len(p.Range) > 0 {
		at := len(eq)
		typed := p.Range[0].Value
		above = func(e ixEntry) bool {
			v := e.vals[at]
			if !sameType(v, typed) {
				return dbservice.Compare(v, typed) > 0
			}
			for _, c := range p.Range {
				cmp := dbservice.Compare(v, c.Value)
				if c.Op == dbservice.Gt && cmp <= 0 || c.Op == dbservice.Gte && cmp < 0 {
					return false
				}
			}
			return true
		}
		below = func(e ixEntry) bool {
			v := e.vals[at]
			if !sameType(v, typed) {
				return dbservice.Compare(v, typed) < 0
			}
			for _, c := range p.Range {
				cmp := dbservice.Compare(v, c.Value)
				if c.Op == dbservice.Lt && cmp >= 0 || c.Op == dbservice.Lte && cmp > 0 {
					return false
				}
			}
			return true
		}
	}
	n := len(ix.entries)
	lo, _ = slices.BinarySearchFunc(ix.entries, 0, func(e ixEntry, _ int) int {
		if c := prefix(e); c != 0 {
			return c
		}
		if above(e) {
			return 1
		}
		return -1
	})
	hi, _ = slices.BinarySearchFunc(ix.entries[lo:n], 0, func(e ixEntry, _ int) int {
		if c := prefix(e); c != 0 {
			return c
		}
		if below(e) {
			return -1
		}
		return 1
	})
	return lo, lo + hi
}

// sameType reports whether two values have the same JSON type, the only
// ones a range compares.
func sameType(a, b any) bool {
	switch a.(type) {
	case float64:
		_, ok := b.(float64)
		return ok
	case string:
		_, ok := b.(string)
		return ok
	}
	return false
}

// EnsureIndex implements dbservice.Service: an ordered index on the
// fields, built now and kept up to date on every write. Queries with
// equalities on its leading fields, a range on the next one, or an order
// that is its fields after those equalities read it instead of the whole
// collection (see dbservice.PlanQuery).
func (s *Service) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if err := s.precheck(ctx, "ensure-index", coll, "", false); err != nil {
		return err
	}
	if err := dbservice.CheckFieldsWith(fields, s.limits); err != nil {
		return fail("ensure-index", coll, "", err)
	}
	if slices.Contains(fields, "_id") {
		if fields[len(fields)-1] != "_id" || len(fields) == 1 {
			// Every index ends with _id already; ID order is native.
			if len(fields) == 1 {
				return nil
			}
			return fail("ensure-index", coll, "", &validate.Error{Field: "fields", Reason: "_id can only be the last field of an index"})
		}
		fields = fields[:len(fields)-1]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fail("ensure-index", coll, "", dbservice.ErrClosed)
	}
	c := s.colls[coll]
	if c == nil {
		c = &collection{docs: map[string]*entry{}}
		s.colls[coll] = c
	}
	name := strings.Join(fields, ",")
	for _, ix := range c.indexes {
		if ix.def.Name == name {
			return nil
		}
	}
	ix := &index{def: dbservice.IndexDef{Name: name, Fields: slices.Clone(fields)}}
	for _, id := range c.ids {
		ix.insert(id, c.docs[id].doc)
	}
	c.indexes = append(c.indexes, ix)
	return nil
}

func (c *collection) indexDefs() []dbservice.IndexDef {
	defs := make([]dbservice.IndexDef, len(c.indexes))
	for i, ix := range c.indexes {
		defs[i] = ix.def
	}
	return defs
}

func (c *collection) index(name string) *index {
	for _, ix := range c.indexes {
		if ix.def.Name == name {
			return ix
		}
	}
	return nil
}

// indexQuery answers q from an index: the plan's key range, read forwards
// or backwards, after the cursor's position, with Match deciding the
// residual conditions on each document read. Ordered pages record their
// sort values as the position (the form dbservice.SortedPage reads too);
// unordered ones the index and the entry.
func (s *Service) indexQuery(coll string, q dbservice.Query, plan dbservice.Plan, st cursorState, budget int) (dbservice.Page, error) {
	bad := &validate.Error{Field: "query.cursor", Reason: "not a cursor this library issued"}
	ordered := len(q.OrderBy) > 0
	now := time.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.colls[coll]
	if c == nil {
		return dbservice.Page{}, nil
	}
	if st.Index != "" {
		if ordered {
			return dbservice.Page{}, fail("query", coll, "", bad)
		}
		ix := c.index(st.Index)
		if ix == nil {
			return dbservice.Page{}, fail("query", coll, "", bad)
		}
		plan = dbservice.PlanQuery(q, []dbservice.IndexDef{ix.def})
	}
	if plan.Index == nil {
		return dbservice.Page{}, fail("query", coll, "", bad)
	}
	ix := c.index(plan.Index.Name)
	eq := make([]any, len(plan.Eq))
	for i, cond := range plan.Eq {
		eq[i] = cond.Value
	}
	lo, hi := ix.bounds(plan)
	// The cursor's position as an index entry: the equalities' values,
	// then the recorded values, then the ID.
	if st.Pos != nil {
		var vals []any
		if ordered {
			if err := dbservice.CheckPosition(st.Pos, dbservice.SortKeys(q)); err != nil {
				return dbservice.Page{}, fail("query", coll, "", err)
			}
			vals = append(slices.Clone(eq), st.Pos[:len(st.Pos)-1]...)
		} else {
			if len(st.Pos) != len(ix.def.Fields)+1 {
				return dbservice.Page{}, fail("query", coll, "", bad)
			}
			vals = st.Pos[:len(st.Pos)-1]
		}
		id, ok := st.Pos[len(st.Pos)-1].(string)
		if !ok || dbservice.CheckID(id) != nil {
			return dbservice.Page{}, fail("query", coll, "", bad)
		}
		at, _ := slices.BinarySearchFunc(ix.entries, 0, func(e ixEntry, _ int) int {
			if cmpPos(e, vals, id) <= 0 {
				return -1
			}
			return 1
		})
		if plan.Desc {
			// Backwards: the entries before the position (at may point past
			// an entry equal to it).
			if at > 0 && cmpPos(ix.entries[at-1], vals, id) == 0 {
				at--
			}
			hi = min(hi, at)
		} else {
			lo = max(lo, at)
		}
	}
	var (
		page dbservice.Page
		last ixEntry // where the next page starts after
		more bool
	)
	page.Stats.Index = ix.def.Name
	n := hi - lo
	for k := range max(n, 0) {
		i := lo + k
		if plan.Desc {
			i = hi - 1 - k
		}
		e := ix.entries[i]
		if page.Stats.Read == budget {
			page.Stats.BudgetReached, more = true, true
			break
		}
		page.Stats.Read++
		ent := c.docs[e.id]
		doc := ent.doc
		if slices.ContainsFunc(plan.Residual, func(c dbservice.Cond) bool { return c.Field == "_id" }) {
			doc = ent.view(e.id)
		}
		if !ent.live(now) || !dbservice.Match(doc, plan.Residual) {
			last = e
			continue
		}
		if len(page.Docs) == q.Limit {
			more = true
			break
		}
		last = e
		page.Docs = append(page.Docs, ent.out(e.id, q.Fields))
	}
	if more {
		var next cursorState
		if ordered {
			next.Pos = append(slices.Clone(last.vals[len(eq):]), last.id)
		} else {
			next.Index, next.Pos = ix.def.Name, append(slices.Clone(last.vals), last.id)
		}
		cur, err := s.cursors.Encode(coll, q, next)
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		page.Next = cur
	}
	page.Stats.Returned = len(page.Docs)
	return page, nil
}

// Explain implements dbservice.Explainer: the plan Query would follow.
func (s *Service) Explain(ctx context.Context, coll string, q dbservice.Query) (dbservice.Plan, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Plan{}, err
	}
	q, err := dbservice.CheckQueryWith(q, s.limits)
	if err != nil {
		return dbservice.Plan{}, fail("query", coll, "", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c := s.colls[coll]; c != nil {
		return dbservice.PlanQuery(q, c.indexDefs()), nil
	}
	return dbservice.Plan{Residual: q.Where}, nil
}

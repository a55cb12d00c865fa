// Package memory is the embedded default provider: a concurrency-safe,
// in-process document store with exactly the semantics of the networked
// providers. It is the reference implementation dbtest compares against,
// and what securedb.Open returns when DATABASE_PROVIDER is unset.
//
// Documents are deep-copied on the way in and out, so a caller mutating a
// document it saved or got never changes stored data. Data lives only as
// long as the Service.
package memory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

const provider = "memory"

// Service is an in-memory dbservice.Service. The zero value is not usable;
// call New.
type Service struct {
	limits  validate.Limits
	budget  int
	cursors *dbservice.CursorSigner

	mu     sync.RWMutex
	colls  map[string]*collection
	seq    uint64
	closed bool
}

type collection struct {
	docs    map[string]*entry
	ids     []string // sorted, for id-ordered pages
	indexes []*index
}

type entry struct {
	doc     dbservice.Doc // normalized, never shared with callers
	gen     uint64
	rev     string
	expires time.Time // zero: never
}

// live reports whether the entry has not expired at now.
func (e *entry) live(now time.Time) bool {
	return e.expires.IsZero() || now.Before(e.expires)
}

// Option configures a Service.
type Option func(*Service)

// WithLimits replaces the baseline document limits (validate.DefaultLimits).
func WithLimits(l validate.Limits) Option {
	return func(s *Service) { s.limits = l }
}

// WithScanBudget sets the most documents one Query call examines
// (dbservice.DefaultScanBudget when unset).
func WithScanBudget(n int) Option {
	return func(s *Service) { s.budget = n }
}

// WithCursorSigner sets the signer of page cursors (default
// dbservice.ProcessCursorSigner).
func WithCursorSigner(c *dbservice.CursorSigner) Option {
	return func(s *Service) { s.cursors = c }
}

// New returns an empty Service.
func New(opts ...Option) *Service {
	s := &Service{colls: map[string]*collection{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ dbservice.Service = (*Service)(nil)
var _ dbservice.BulkWriter = (*Service)(nil)

func fail(op, coll, id string, err error) error {
	return dbservice.NewError(op, provider, coll, id, err)
}

// precheck runs dbservice.CheckCall, the checks every method starts with.
func (s *Service) precheck(ctx context.Context, op, coll, id string, needID bool) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	return dbservice.CheckCall(ctx, closed, provider, op, coll, id, needID)
}

// Get implements dbservice.Service.
func (s *Service) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	if err := s.precheck(ctx, "get", coll, id, true); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.lookup(coll, id)
	if e == nil {
		return nil, fail("get", coll, id, dbservice.ErrNotFound)
	}
	return e.out(id, nil), nil
}

// Save implements dbservice.Service.
func (s *Service) Save(ctx context.Context, coll, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	if err := s.precheck(ctx, "save", coll, id, true); err != nil {
		return "", err
	}
	o, err := dbservice.ApplySaveOptions(opts...)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	nd, err := dbservice.NormalizeDoc(doc, s.limits)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", fail("save", coll, id, dbservice.ErrClosed)
	}
	cur := s.lookup(coll, id)
	switch {
	case o.IfAbsent && cur != nil:
		return "", fail("save", coll, id, fmt.Errorf("%w: document exists", dbservice.ErrConflict))
	case o.IfRev != "" && (cur == nil || cur.rev != o.IfRev):
		return "", fail("save", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
	}
	return s.put(coll, id, nd, o.ExpiresAt), nil
}

// put stores doc, expiring at expires unless that is zero, and returns its
// new revision. An expired entry still stored is replaced as if the
// document were new (its revision count starts again), while the walk of
// IDs and the indexes drop its old values. s.mu must be held.
func (s *Service) put(coll, id string, doc dbservice.Doc, expires time.Time) string {
	c := s.colls[coll]
	if c == nil {
		c = &collection{docs: map[string]*entry{}}
		s.colls[coll] = c
	}
	prev := c.docs[id]
	for _, ix := range c.indexes {
		if prev != nil {
			ix.remove(id, prev.doc)
		}
		ix.insert(id, doc)
	}
	var gen uint64 = 1
	switch {
	case prev == nil:
		i, _ := slices.BinarySearch(c.ids, id)
		c.ids = slices.Insert(c.ids, i, id)
	case prev.live(time.Now()):
		gen = prev.gen + 1
	}
	s.seq++
	rev := strconv.FormatUint(gen, 10) + "-" + strconv.FormatUint(s.seq, 36)
	c.docs[id] = &entry{doc: doc, gen: gen, rev: rev, expires: expires}
	return rev
}

// Delete implements dbservice.Service.
func (s *Service) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	if err := s.precheck(ctx, "delete", coll, id, true); err != nil {
		return err
	}
	o, err := dbservice.ApplyDeleteOptions(opts...)
	if err != nil {
		return fail("delete", coll, id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fail("delete", coll, id, dbservice.ErrClosed)
	}
	cur := s.lookup(coll, id)
	switch {
	case cur == nil:
		return fail("delete", coll, id, dbservice.ErrNotFound)
	case o.IfRev != "" && cur.rev != o.IfRev:
		return fail("delete", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
	}
	s.drop(coll, id)
	return nil
}

// drop removes a stored entry, live or expired. s.mu must be held.
func (s *Service) drop(coll, id string) {
	c := s.colls[coll]
	cur := c.docs[id]
	for _, ix := range c.indexes {
		ix.remove(id, cur.doc)
	}
	delete(c.docs, id)
	if i, ok := slices.BinarySearch(c.ids, id); ok {
		c.ids = slices.Delete(c.ids, i, i+1)
	}
}

// cursorState is the position after the last document of a page: an ID
// for pages in ID order; an index and the entry's values and ID for
// unordered pages read from an index; the sort values (ending with the ID,
// as dbservice.SortedPage records them) for ordered pages.
type cursorState struct {
	After string `json:"a,omitempty"`
	Index string `json:"x,omitempty"`
	Pos   []any  `json:"p,omitempty"`
}

// Query implements dbservice.Service. Without OrderBy, pages are in ID
// order and the cursor is the last ID examined, so documents written
// concurrently elsewhere in the collection never make a page repeat or
// skip one that already existed. With OrderBy the candidates are sorted by
// dbservice.SortedPage. One call examines at most the scan budget of
// documents and then returns a short page with a Next cursor.
func (s *Service) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Page{}, err
	}
	q, err := dbservice.CheckQueryWith(q, s.limits)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	budget := dbservice.ScanBudget(ctx, s.budget)
	var st cursorState
	if q.Cursor != "" {
		if err := s.cursors.Decode(coll, q, q.Cursor, &st); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
	}
	s.mu.RLock()
	var plan dbservice.Plan
	if c := s.colls[coll]; c != nil {
		plan = dbservice.PlanQuery(q, c.indexDefs())
	}
	s.mu.RUnlock()
	ordered := len(q.OrderBy) > 0
	switch {
	case ordered && (plan.Index == nil || !plan.Ordered):
		return dbservice.SortedPage(ctx, provider, coll, q, budget, s.cursors, func(ctx context.Context, inner dbservice.Query) (dbservice.Page, error) {
			return s.Query(ctx, coll, inner)
		})
	case ordered || st.Index != "" || plan.Index != nil && st.After == "":
		// An unordered walk continues on the path its cursor names, so an
		// index made mid-walk changes nothing for it.
		return s.indexQuery(coll, q, plan, st, budget)
	}
	if q.Cursor != "" {
		if err := dbservice.CheckID(st.After); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
	}
	after := st.After
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.colls[coll]
	if c == nil {
		return dbservice.Page{}, nil
	}
	start, found := slices.BinarySearch(c.ids, after)
	if found {
		start++
	}
	byID := slices.ContainsFunc(q.Where, func(c dbservice.Cond) bool { return c.Field == "_id" })
	now := time.Now()
	var (
		page dbservice.Page
		last string // where the next page starts after
		more bool
	)
	for _, id := range c.ids[start:] {
		if page.Stats.Read == budget {
			// Out of budget with documents left: continue after the last
			// one examined.
			page.Stats.BudgetReached, more = true, true
			break
		}
		page.Stats.Read++
		e := c.docs[id]
		doc := e.doc
		if byID {
			doc = e.view(id)
		}
		if !e.live(now) || !dbservice.Match(doc, q.Where) {
			last = id
			continue
		}
		if len(page.Docs) == q.Limit {
			// One more match exists, so there is a next page; it starts
			// after the last document returned.
			last, more = page.Docs[len(page.Docs)-1]["_id"].(string), true
			break
		}
		last = id
		page.Docs = append(page.Docs, e.out(id, q.Fields))
	}
	if more {
		next, err := s.cursors.Encode(coll, q, cursorState{After: last})
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		page.Next = next
	}
	page.Stats.Returned = len(page.Docs)
	return page, nil
}

// SaveMany implements dbservice.BulkWriter: all items are validated, then
// written under one lock, so a bulk write is all or nothing.
func (s *Service) SaveMany(ctx context.Context, coll string, items []dbservice.BulkItem) error {
	if err := s.precheck(ctx, "save-many", coll, "", false); err != nil {
		return err
	}
	docs := make([]dbservice.Doc, len(items))
	for i, it := range items {
		if err := dbservice.CheckID(it.ID); err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		nd, err := dbservice.NormalizeDoc(it.Doc, s.limits)
		if err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		docs[i] = nd
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fail("save-many", coll, "", dbservice.ErrClosed)
	}
	for i, it := range items {
		s.put(coll, it.ID, docs[i], time.Time{})
	}
	return nil
}

// Ping implements dbservice.Service.
func (s *Service) Ping(ctx context.Context) error {
	return s.precheck(ctx, "ping", "", "", false)
}

// Close implements dbservice.Service. Stored data is dropped.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.colls = nil
	return nil
}

// lookup returns the live entry or nil: an expired document is absent for
// every operation. s.mu must be held.
func (s *Service) lookup(coll, id string) *entry {
	if e := s.stored(coll, id); e != nil && e.live(time.Now()) {
		return e
	}
	return nil
}

// stored returns the entry, expired or not, or nil. s.mu must be held.
func (s *Service) stored(coll, id string) *entry {
	if c := s.colls[coll]; c != nil {
		return c.docs[id]
	}
	return nil
}

// view returns the stored document with its system fields, without a deep
// copy, for matching on _id only.
func (e *entry) view(id string) dbservice.Doc {
	v := make(dbservice.Doc, len(e.doc)+2)
	for k, x := range e.doc {
		v[k] = x
	}
	v["_id"] = id
	v["_rev"] = e.rev
	return v
}

// out returns a caller-owned copy, projected to fields when given.
func (e *entry) out(id string, fields []string) dbservice.Doc {
	var d dbservice.Doc
	if len(fields) > 0 {
		d = dbservice.Project(e.doc, fields)
	} else {
		d = dbservice.Clone(e.doc)
	}
	d["_id"] = id
	d["_rev"] = e.rev
	if !e.expires.IsZero() {
		d[dbservice.ExpiresField] = validate.FormatTime(e.expires)
	}
	return d
}

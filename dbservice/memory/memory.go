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

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

const provider = "memory"

// Service is an in-memory dbservice.Service. The zero value is not usable;
// call New.
type Service struct {
	limits  validate.Limits
	cursors *dbservice.CursorSigner

	mu     sync.RWMutex
	colls  map[string]*collection
	seq    uint64
	closed bool
}

type collection struct {
	docs map[string]*entry
	ids  []string // sorted, for id-ordered pages
}

type entry struct {
	doc dbservice.Doc // normalized, never shared with callers
	gen uint64
	rev string
}

// Option configures a Service.
type Option func(*Service)

// WithLimits replaces the baseline document limits (validate.DefaultLimits).
func WithLimits(l validate.Limits) Option {
	return func(s *Service) { s.limits = l }
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
	o, err := dbservice.ApplyWriteOptions(opts...)
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
	return s.put(coll, id, nd, cur), nil
}

// put stores doc and returns its new revision. s.mu must be held.
func (s *Service) put(coll, id string, doc dbservice.Doc, cur *entry) string {
	c := s.colls[coll]
	if c == nil {
		c = &collection{docs: map[string]*entry{}}
		s.colls[coll] = c
	}
	var gen uint64 = 1
	if cur != nil {
		gen = cur.gen + 1
	} else {
		i, _ := slices.BinarySearch(c.ids, id)
		c.ids = slices.Insert(c.ids, i, id)
	}
	s.seq++
	rev := strconv.FormatUint(gen, 10) + "-" + strconv.FormatUint(s.seq, 36)
	c.docs[id] = &entry{doc: doc, gen: gen, rev: rev}
	return rev
}

// Delete implements dbservice.Service.
func (s *Service) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	if err := s.precheck(ctx, "delete", coll, id, true); err != nil {
		return err
	}
	o, err := dbservice.ApplyWriteOptions(opts...)
	if err != nil {
		return fail("delete", coll, id, err)
	}
	if o.IfAbsent {
		return fail("delete", coll, id, &validate.Error{Field: "options", Reason: "IfAbsent does not apply to Delete"})
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
	c := s.colls[coll]
	delete(c.docs, id)
	if i, ok := slices.BinarySearch(c.ids, id); ok {
		c.ids = slices.Delete(c.ids, i, i+1)
	}
	return nil
}

// cursorState is the position after the last document of a page.
type cursorState struct {
	After string `json:"a"`
}

// Query implements dbservice.Service. Pages are in ID order; the cursor is
// the last ID returned, so documents written concurrently elsewhere in the
// collection never make a page repeat or skip one that already existed.
func (s *Service) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Page{}, err
	}
	q, err := dbservice.CheckQuery(q)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	var after string
	if q.Cursor != "" {
		var st cursorState
		if err := s.cursors.Decode(coll, q, q.Cursor, &st); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		if err := dbservice.CheckID(st.After); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		after = st.After
	}
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
	var page dbservice.Page
	for _, id := range c.ids[start:] {
		e := c.docs[id]
		doc := e.doc
		if byID {
			doc = e.view(id)
		}
		if !dbservice.Match(doc, q.Where) {
			continue
		}
		if len(page.Docs) == q.Limit {
			// One more match exists, so there is a next page.
			last := page.Docs[len(page.Docs)-1]["_id"].(string)
			next, err := s.cursors.Encode(coll, q, cursorState{After: last})
			if err != nil {
				return dbservice.Page{}, fail("query", coll, "", err)
			}
			page.Next = next
			break
		}
		page.Docs = append(page.Docs, e.out(id, q.Fields))
	}
	return page, nil
}

// EnsureIndex implements dbservice.Service. Memory scans, so it only
// validates the fields.
func (s *Service) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if err := s.precheck(ctx, "ensure-index", coll, "", false); err != nil {
		return err
	}
	if err := dbservice.CheckFields(fields); err != nil {
		return fail("ensure-index", coll, "", err)
	}
	return nil
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
		s.put(coll, it.ID, docs[i], s.lookup(coll, it.ID))
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

// lookup returns the entry or nil. s.mu must be held.
func (s *Service) lookup(coll, id string) *entry {
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
	return d
}

package couchdb

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-kivik/kivik/v4"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// maxBatch is the most rows one _all_docs or _find request asks for.
const maxBatch = 1000

// cursorState is the position after the last document of a page: its
// CouchDB _id.
type cursorState struct {
	After string `json:"a"`
}

// Query implements dbservice.Service. Pages are in _id order and the cursor
// is the last _id returned, so a page never repeats or skips a document
// that existed throughout, whatever is written elsewhere meanwhile. A
// missing database is an empty result.
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
		if err := s.cfg.Cursors.Decode(coll, q, q.Cursor, &st); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		if err := checkCursorID(st.After); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		after = st.After
	}
	s.touch(coll)
	db := s.dbName(coll)
	var page dbservice.Page
	err = s.do(func() error {
		exists, err := s.useDB(ctx, db, false)
		if err != nil || !exists {
			page = dbservice.Page{}
			return err
		}
		page, err = s.page(ctx, db, coll, q, after)
		return err
	})
	if err != nil {
		if isDBMissing(err) { // deleted since useDB saw it
			s.known.Delete(db)
			return dbservice.Page{}, nil
		}
		s.forgetOnTransportError(db, err)
		return dbservice.Page{}, fail("query", coll, "", s.classify(ctx, err))
	}
	return page, nil
}

// checkCursorID validates the _id a cursor carries. It is client input: it
// only ever travels as a JSON string, but must still look like an ID.
func checkCursorID(id string) error {
	bad := &validate.Error{Field: "query.cursor", Reason: "not a cursor this library issued"}
	if id == "" || len(id) > 512 || !utf8.ValidString(id) {
		return bad
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return bad
		}
	}
	return nil
}

// page reads one page. visit sees candidate documents in _id order and
// keeps those dbservice.Match accepts, up to Limit; one more accepted
// document means there is a next page.
func (s *Service) page(ctx context.Context, db, coll string, q dbservice.Query, after string) (dbservice.Page, error) {
	var (
		page dbservice.Page
		last string
		more bool
	)
	visit := func(cid string, doc dbservice.Doc) bool {
		id, ok := userID(cid)
		if !ok || doc == nil {
			return true
		}
		doc = clean(doc, id)
		if !dbservice.Match(doc, q.Where) {
			return true
		}
		if len(page.Docs) == q.Limit {
			more = true
			return false
		}
		if len(q.Fields) > 0 {
			doc = dbservice.Project(doc, q.Fields)
		}
		page.Docs = append(page.Docs, doc)
		last = cid
		return true
	}
	var err error
	if len(q.Where) == 0 {
		err = s.scanAllDocs(ctx, db, after, q.Limit, visit)
	} else {
		p := s.plan(ctx, db, q)
		err = s.scanFind(ctx, db, p, after, q.Limit, visit)
		if errors.Is(err, errIndexUnused) {
			// The index was dropped behind our back: forget it and read in
			// _id order instead.
			s.log.Warn("couchdb ignored an index the provider relied on; reading in _id order", "database", db, "index", p.index.name)
			s.indexes.forget(db, p.index.field)
			page, last, more = dbservice.Page{}, "", false
			p.index = nil
			err = s.scanFind(ctx, db, p, after, q.Limit, visit)
		}
	}
	if err != nil {
		return dbservice.Page{}, err
	}
	if more {
		if page.Next, err = s.cfg.Cursors.Encode(coll, q, cursorState{After: last}); err != nil {
			return dbservice.Page{}, err
		}
	}
	return page, nil
}

// scanAllDocs visits the documents after the start key in _id order from
// _all_docs, in growing batches, until visit stops or the data ends.
func (s *Service) scanAllDocs(ctx context.Context, db, after string, limit int, visit func(string, dbservice.Doc) bool) error {
	batch, start := min(limit+2, maxBatch), after
	for {
		params := map[string]any{"include_docs": true, "limit": batch}
		if start != "" {
			params["start_key"] = start // inclusive: the row equal to it is skipped
		}
		rs := s.db(db).AllDocs(ctx, kivik.Params(params))
		n, lastID, stopped, err := 0, "", false, error(nil)
		for rs.Next() {
			n++
			if lastID, err = rs.ID(); err != nil {
				break
			}
			if lastID == start {
				continue
			}
			var doc dbservice.Doc
			if err = rs.ScanDoc(&doc); err != nil {
				break
			}
			if !visit(lastID, doc) {
				stopped = true
				break
			}
		}
		if err == nil {
			err = rs.Err()
		}
		_ = rs.Close()
		if err != nil || stopped || n < batch {
			return err
		}
		start, batch = lastID, min(batch*2, maxBatch)
	}
}

// errIndexUnused reports that _find did not use the index it was told to.
var errIndexUnused = errors.New("index not used")

// scanFind visits the documents _find selects, after the start _id, in _id
// order, in growing batches continued by bookmark.
func (s *Service) scanFind(ctx context.Context, db string, p plan, after string, limit int, visit func(string, dbservice.Doc) bool) error {
	var from any // JSON null sorts before every string
	if after != "" {
		from = after
	}
	clauses := append(p.clauses[:len(p.clauses):len(p.clauses)], map[string]any{"_id": map[string]any{"$gt": from}})
	query := map[string]any{"selector": map[string]any{"$and": clauses}}
	if p.index != nil {
		// The index's rows for one value are in _id order; sorting would
		// make Mango pick _all_docs instead.
		query["use_index"] = []string{"_design/" + p.index.name, p.index.name}
	} else {
		query["sort"] = []any{map[string]string{"_id": "asc"}}
	}
	if p.fields != nil {
		query["fields"] = p.fields
	}
	batch := min(limit+1, maxBatch)
	for {
		query["limit"] = batch
		rs := s.db(db).Find(ctx, query)
		n, stopped, err := 0, false, error(nil)
		for rs.Next() {
			n++
			if stopped {
				continue // drain: the warning comes after the rows
			}
			var doc dbservice.Doc
			if err = rs.ScanDoc(&doc); err != nil {
				break
			}
			cid, _ := doc["_id"].(string)
			stopped = !visit(cid, doc)
		}
		if err == nil {
			err = rs.Err()
		}
		var meta *kivik.ResultMetadata
		if err == nil {
			meta, err = rs.Metadata()
		}
		_ = rs.Close()
		switch {
		case err != nil:
			return err
		case p.index != nil && strings.Contains(meta.Warning, " was not used"):
			return errIndexUnused
		case stopped || n < batch || meta.Bookmark == "" || meta.Bookmark == "nil":
			return nil
		}
		query["bookmark"] = meta.Bookmark
		batch = min(batch*2, maxBatch)
	}
}

// plan is how a query with conditions is sent to _find.
type plan struct {
	clauses []any     // selector clauses, ANDed: a superset of the matches
	fields  []string  // top-level fields to fetch; nil for whole documents
	index   *indexRef // single-field index to read, or nil for _id order
}

func (s *Service) plan(ctx context.Context, db string, q dbservice.Query) plan {
	var p plan
	for _, c := range q.Where {
		p.clauses = append(p.clauses, pushdown(c)...)
	}
	if len(q.Fields) > 0 {
		top := []string{"_id", "_rev"}
		for _, f := range q.Fields {
			top = appendTop(top, f)
		}
		for _, c := range q.Where {
			top = appendTop(top, c.Field)
		}
		p.fields = top
	}
	p.index = s.indexFor(ctx, db, q.Where)
	return p
}

// appendTop adds the first segment of a dotted path, once: fetching whole
// top-level values keeps Match and Project exact on the client.
func appendTop(top []string, path string) []string {
	seg, _, _ := strings.Cut(path, ".")
	for _, t := range top {
		if t == seg {
			return top
		}
	}
	return append(top, seg)
}

// pushdown returns the Mango clauses for one condition. Each selects a
// superset of what dbservice.Match accepts, never less: Mango collates
// strings with ICU and orders values of different types against each other,
// so only what means the same, or more, is sent, and Match decides on the
// client.
func pushdown(c dbservice.Cond) []any {
	field := c.Field
	one := func(ops map[string]any) []any { return []any{map[string]any{field: ops}} }
	if field == "_id" {
		return idPushdown(c)
	}
	if hasSubnormal(c.Value) {
		// Every operator but Exists needs the field present; Exists takes
		// a bool, never a number.
		return one(map[string]any{"$exists": true})
	}
	switch c.Op {
	case dbservice.Eq:
		// ICU equality holds for byte-equal strings (and maybe a few more).
		return one(map[string]any{"$eq": c.Value})
	case dbservice.Ne:
		switch c.Value.(type) {
		case float64, bool:
			return []any{
				map[string]any{field: map[string]any{"$ne": c.Value}},
				map[string]any{field: map[string]any{"$ne": nil}},
			}
		}
		// A string may be ICU-equal without being byte-equal, so $ne on it
		// could drop a document Match keeps. Present and not null is safe.
		return one(map[string]any{"$ne": nil})
	case dbservice.Gt, dbservice.Gte, dbservice.Lt, dbservice.Lte:
		if v, ok := c.Value.(float64); ok {
			return one(map[string]any{"$" + string(c.Op): v, "$type": "number"})
		}
		// ICU order is not byte order: only the type is certain.
		return one(map[string]any{"$type": "string"})
	case dbservice.In:
		// Mango's $in also matches arrays holding a value: wider, fine.
		return one(map[string]any{"$in": c.Value})
	case dbservice.Exists:
		if c.Value.(bool) {
			return one(map[string]any{"$exists": true})
		}
		// Mango treats a path through a non-object as a non-match, and
		// indexes into arrays, where Match calls the field absent: only a
		// top-level field is safe.
		if !strings.Contains(field, ".") {
			return one(map[string]any{"$exists": false})
		}
	}
	return nil
}

// idPushdown handles conditions on _id, which Mango compares by raw bytes
// but which carry mapped IDs (see couchID).
func idPushdown(c dbservice.Cond) []any {
	one := func(op string, v any) []any { return []any{map[string]any{"_id": map[string]any{op: v}}} }
	nothing := one("$exists", false) // _id always exists
	switch c.Op {
	case dbservice.Eq:
		if v, ok := c.Value.(string); ok {
			return one("$eq", couchID(v))
		}
		return nothing
	case dbservice.Ne:
		if v, ok := c.Value.(string); ok {
			return one("$ne", couchID(v))
		}
	case dbservice.In:
		vals := make([]any, 0, len(c.Value.([]any)))
		for _, v := range c.Value.([]any) {
			if str, ok := v.(string); ok {
				vals = append(vals, couchID(str))
			}
		}
		if len(vals) == 0 {
			return nothing
		}
		return one("$in", vals)
	case dbservice.Exists:
		if !c.Value.(bool) {
			return nothing
		}
	}
	// Ranges: the mapping does not keep order, so Match alone decides.
	return nil
}

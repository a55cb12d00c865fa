package couchdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// maxBatch is the most rows one _all_docs or _find request asks for.
const maxBatch = 1000

// cursorState is the position after the last document of a page: its
// CouchDB _id for pages in _id order, or the index and the view key of the
// last row read for pages read through an index.
type cursorState struct {
	After string `json:"a,omitempty"`
	Index string `json:"i,omitempty"`
	Key   string `json:"k,omitempty"`
}

// Query implements dbservice.Service. A query an index of EnsureIndex
// serves (see dbservice.PlanQuery) reads that index's key range in the
// index's order, which is the query's order when it has one. Any other
// query reads the collection in _id order. The cursor is the position
// after the last document read, so a page never repeats or skips a
// document that existed throughout, whatever is written elsewhere
// meanwhile. A missing database is an empty result. One call reads at most
// the scan budget of documents; orders no index serves go through
// dbservice.SortedPage.
func (s *Service) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Page{}, err
	}
	defer s.calls.leave()
	q, err := dbservice.CheckQueryWith(q, s.cfg.Limits)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	return s.query(ctx, coll, q, true)
}

func (s *Service) query(ctx context.Context, coll string, q dbservice.Query, retry bool) (dbservice.Page, error) {
	bad := func() (dbservice.Page, error) {
		return dbservice.Page{}, fail("query", coll, "", &validate.Error{Field: "query.cursor", Reason: "not a cursor this library issued"})
	}
	// The cursor is checked before any request. An ordered query's cursor
	// may be dbservice.SortedPage's, which SortedPage checks itself.
	var (
		st    cursorState
		stErr error
	)
	ordered := len(q.OrderBy) > 0
	if q.Cursor != "" {
		stErr = s.cfg.Cursors.Decode(coll, q, q.Cursor, &st)
		var sorted any
		switch {
		case stErr == nil && st.Index != "":
			if st.Key == "" || !utf8.ValidString(st.Key) || st.After != "" {
				return bad()
			}
		case stErr == nil:
			if err := checkCursorID(st.After); err != nil {
				return dbservice.Page{}, fail("query", coll, "", err)
			}
		case !ordered || s.cfg.Cursors.Decode(coll, q, q.Cursor, &sorted) != nil:
			return dbservice.Page{}, fail("query", coll, "", stErr)
		}
	}
	budget := dbservice.ScanBudget(ctx, s.cfg.ScanBudget)
	s.touch(coll)
	db := s.dbName(coll)
	defs := s.indexDefs(ctx, db)
	p := dbservice.PlanQuery(q, defs)
	if ordered && (p.Index == nil || !p.Ordered) {
		return dbservice.SortedPage(ctx, provider, coll, q, budget, s.cfg.Cursors, func(ctx context.Context, inner dbservice.Query) (dbservice.Page, error) {
			return s.Query(ctx, coll, inner)
		})
	}
	if q.Cursor != "" {
		switch {
		case stErr != nil:
			return bad() // a sorted page's cursor, but the index serves the order now
		case st.Index != "":
			// Continue through the index the first page read, as long as
			// it serves the query.
			at := slices.IndexFunc(defs, func(d dbservice.IndexDef) bool { return d.Name == st.Index })
			if at < 0 {
				return bad()
			}
			if p = dbservice.PlanQuery(q, defs[at:at+1]); p.Index == nil || ordered && !p.Ordered {
				return bad()
			}
		case ordered:
			return bad()
		default:
			p.Index = nil // the first page read in _id order
		}
	}
	var page dbservice.Page
	err := s.do(func() error {
		exists, err := s.useDB(ctx, db, false)
		if err != nil || !exists {
			page = dbservice.Page{}
			return err
		}
		if p.Index != nil {
			page, err = s.viewPage(ctx, db, coll, q, p, st.Key, budget)
		} else {
			page, err = s.page(ctx, db, coll, q, st.After, budget)
		}
		return err
	})
	if errors.Is(err, errViewMissing) {
		// The index was deleted behind our back: list the indexes again and
		// answer without it.
		s.log.Warn("couchdb lost an index the provider relied on", "database", db, "index", p.Index.Name)
		s.views.forget(db)
		if retry && q.Cursor == "" {
			return s.query(ctx, coll, q, false)
		}
		return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: the index this cursor reads is gone; query again", dbservice.ErrUnavailable))
	}
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

// page reads one page in _id order (queries no index serves). visit sees
// candidate documents in _id order and keeps those dbservice.Match
// accepts, up to Limit; one more accepted document means there is a next
// page. It reads at most budget documents from the database (see
// readRange), and a page cut short by the budget continues after the last
// document read.
func (s *Service) page(ctx context.Context, db, coll string, q dbservice.Query, after string, budget int) (dbservice.Page, error) {
	var (
		page     dbservice.Page
		last     string // _id of the last document returned
		lastRead string // _id of the last document read
		more     bool
	)
	now := time.Now()
	visit := func(cid string, doc dbservice.Doc) bool {
		lastRead = cid
		doc, ok := keep(q, cid, doc, now)
		if !ok {
			return true
		}
		if len(page.Docs) == q.Limit {
			more = true
			return false
		}
		page.Docs = append(page.Docs, doc)
		last = cid
		return true
	}
	p := s.plan(q)
	sc, err := s.readRange(ctx, db, p, after, q.Limit, budget, visit)
	if err != nil {
		return dbservice.Page{}, err
	}
	page.Stats.Read = sc.read
	if !more && sc.cut {
		// Out of budget before the page filled: continue after the last
		// document read (for a budgeted _id range, after its end).
		page.Stats.BudgetReached = true
		last, more = lastRead, true
		if sc.upper != "" {
			last = sc.upper
		}
	}
	if more {
		if page.Next, err = s.cfg.Cursors.Encode(coll, q, cursorState{After: last}); err != nil {
			return dbservice.Page{}, err
		}
	}
	page.Stats.Returned = len(page.Docs)
	return page, nil
}

// scan is what one read of a page cost and where it stopped.
type scan struct {
	read  int    // documents the database read
	cut   bool   // stopped at the budget with documents left after
	upper string // for readRange: the last _id of the budgeted range
}

// readRange reads the documents after the start _id in _id order, at
// most budget of them. Without conditions that is _all_docs itself. With
// conditions, one keys-only _all_docs request finds the _id budget rows on
// (skip costs the server a walk of the _id index, not document reads), and
// _find evaluates the selector on that _id range only, so the server reads
// no more than budget documents while returning only the matches.
func (s *Service) readRange(ctx context.Context, db string, p plan, after string, limit, budget int, visit func(string, dbservice.Doc) bool) (scan, error) {
	if len(p.clauses) == 0 {
		return s.readAllDocs(ctx, db, after, limit, budget, visit)
	}
	upper, err := s.rangeEnd(ctx, db, after, budget)
	if err != nil {
		return scan{}, err
	}
	var sc scan
	batch := min(limit+1, maxBatch)
	for {
		var from any // JSON null sorts before every string
		if after != "" {
			from = after
		}
		idRange := map[string]any{"$gt": from}
		if upper != "" {
			idRange["$lte"] = upper
		}
		clauses := append(p.clauses[:len(p.clauses):len(p.clauses)], map[string]any{"_id": idRange})
		query := map[string]any{
			"selector":        map[string]any{"$and": clauses},
			"sort":            []any{map[string]string{"_id": "asc"}},
			"limit":           batch,
			"execution_stats": true,
		}
		if p.fields != nil {
			query["fields"] = p.fields
		}
		lastRow := ""
		n, read, stopped, _, _, err := s.find(ctx, db, query, func(cid string, doc dbservice.Doc) bool {
			lastRow = cid
			return visit(cid, doc)
		})
		if err != nil {
			return scan{}, err
		}
		sc.read += read
		switch {
		case stopped:
			return sc, nil
		case n < batch:
			// The range is exhausted; when the budget bounded it, the rest of
			// the collection lies after it.
			sc.cut, sc.upper = upper != "", upper
			return sc, nil
		}
		// Mango's rows are a superset of the matches: a full batch may still
		// leave the page short.
		after, batch = lastRow, min(batch*2, maxBatch)
	}
}

// rangeEnd returns the _id that ends a range of budget documents after
// the start _id, or "" when fewer are left.
func (s *Service) rangeEnd(ctx context.Context, db, after string, budget int) (string, error) {
	params := map[string]any{"limit": 1, "skip": budget - 1}
	if after != "" {
		// start_key is inclusive: when the start _id still exists it is the
		// first row, and the range holds budget-1 documents after it.
		params["start_key"] = after
	}
	rs := s.db(db).AllDocs(ctx, kivik.Params(params))
	defer rs.Close()
	var upper string
	if rs.Next() {
		id, err := rs.ID()
		if err != nil {
			return "", err
		}
		upper = id
	}
	return upper, rs.Err()
}

// readAllDocs visits the documents after the start key in _id order from
// _all_docs, in growing batches, until visit stops, the data ends or
// budget rows were read.
func (s *Service) readAllDocs(ctx context.Context, db, after string, limit, budget int, visit func(string, dbservice.Doc) bool) (scan, error) {
	batch, start := min(limit+2, maxBatch), after
	var sc scan
	for {
		batch = min(batch, budget-sc.read)
		params := map[string]any{"include_docs": true, "limit": batch}
		if start != "" {
			params["start_key"] = start // inclusive: the row equal to it is skipped
			params["limit"] = batch + 1
		}
		rs := s.db(db).AllDocs(ctx, kivik.Params(params))
		n, lastID, stopped, err := 0, "", false, error(nil)
		for rs.Next() {
			if lastID, err = rs.ID(); err != nil {
				break
			}
			if lastID == start {
				continue
			}
			n++
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
		sc.read += n
		if err != nil || stopped || n < batch {
			return sc, err
		}
		if sc.read >= budget {
			sc.cut = true
			return sc, nil
		}
		start, batch = lastID, min(batch*2, maxBatch)
	}
}

// find runs one _find request and visits its rows. It returns the rows
// seen, the documents the server examined (from Mango's execution
// statistics, which kivik does not expose, hence the plain request),
// whether visit stopped, and Mango's warning.
func (s *Service) find(ctx context.Context, db string, query map[string]any, visit func(string, dbservice.Doc) bool) (n, read int, stopped bool, bookmark, warning string, err error) {
	body, err := json.Marshal(query)
	if err != nil {
		return 0, 0, false, "", "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/"+url.PathEscape(db)+"/_find", bytes.NewReader(body))
	if err != nil {
		return 0, 0, false, "", "", err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.authClient.Do(req)
	if err != nil {
		return 0, 0, false, "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Reason string `json:"reason"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return 0, 0, false, "", "", &chttp.HTTPError{Response: resp, Reason: e.Reason}
	}
	var out struct {
		Docs     []dbservice.Doc `json:"docs"`
		Bookmark string          `json:"bookmark"`
		Warning  string          `json:"warning"`
		Stats    struct {
			DocsExamined int `json:"total_docs_examined"`
		} `json:"execution_stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, 0, false, "", "", fmt.Errorf("%w: couchdb sent a malformed _find answer", dbservice.ErrUnavailable)
	}
	for _, doc := range out.Docs {
		n++
		cid, _ := doc["_id"].(string)
		if !visit(cid, doc) {
			stopped = true
			break
		}
	}
	return n, max(out.Stats.DocsExamined, n), stopped, out.Bookmark, out.Warning, nil
}

// plan is how a query with conditions is sent to _find.
type plan struct {
	clauses []any    // selector clauses, ANDed: a superset of the matches
	fields  []string // top-level fields to fetch; nil for whole documents
}

func (s *Service) plan(q dbservice.Query) plan {
	var p plan
	for _, c := range q.Where {
		p.clauses = append(p.clauses, pushdown(c)...)
	}
	if len(q.Fields) > 0 {
		// The expiry travels too: an expired document is skipped on read.
		top, ok := []string{"_id", "_rev", expiresKey}, true
		for _, f := range q.Fields {
			top, ok = appendTop(top, f, ok)
		}
		for _, c := range q.Where {
			top, ok = appendTop(top, c.Field, ok)
		}
		if ok {
			p.fields = top
		}
	}
	return p
}

// appendTop adds the Mango name of a path's first name, once: fetching
// whole top-level values keeps Match and Project exact on the client. A
// name Mango cannot express makes ok false: whole documents are fetched.
func appendTop(top []string, path string, ok bool) ([]string, bool) {
	seg, expressible := mangoTop(path)
	if !ok || !expressible {
		return top, false
	}
	if slices.Contains(top, seg) {
		return top, true
	}
	return append(top, seg), true
}

// pushdown returns the Mango clauses for one condition. Each selects a
// superset of what dbservice.Match accepts, never less: Mango collates
// strings with ICU and orders values of different types against each other,
// so only what means the same, or more, is sent, and Match decides on the
// client.
func pushdown(c dbservice.Cond) []any {
	if c.Field == "_id" {
		return idPushdown(c)
	}
	field, ok := mangoField(c.Field)
	if !ok {
		return nil
	}
	one := func(ops map[string]any) []any { return []any{map[string]any{field: ops}} }
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
		// CouchDB 3.5 fails a $in holding null with a 500 (function_clause)
		// once the database has any JSON index: Match alone decides then.
		if slices.Contains(c.Value.([]any), nil) {
			return nil
		}
		// Mango's $in also matches arrays holding a value: wider, fine.
		return one(map[string]any{"$in": c.Value})
	case dbservice.Exists:
		if c.Value.(bool) {
			return one(map[string]any{"$exists": true})
		}
		// Mango treats a path through a non-object as a non-match, and
		// indexes into arrays, where Match calls the field absent: only a
		// top-level field is safe.
		if len(dbservice.SplitPath(c.Field)) == 1 {
			return one(map[string]any{"$exists": false})
		}
	case dbservice.Contains:
		// $eq inside $elemMatch compares as Eq does, never across types,
		// and needs the field to be an array: the same matches or more.
		return one(map[string]any{"$elemMatch": map[string]any{"$eq": c.Value}})
	case dbservice.Prefix:
		// $beginsWith compares collated text, not bytes: prefix "e" misses
		// "e\u0301x" (TestPrefixBeginsWithIsNotBytePrefix), so it would
		// drop matches. Only the type is certain.
		return one(map[string]any{"$type": "string"})
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

// Explain implements dbservice.Explainer: the plan Query follows, from the
// indexes EnsureIndex and Provision made (dbservice.PlanQuery). Its
// Residual conditions are checked on each document read; the provider
// checks the served ones again too.
func (s *Service) Explain(ctx context.Context, coll string, q dbservice.Query) (dbservice.Plan, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Plan{}, err
	}
	defer s.calls.leave()
	q, err := dbservice.CheckQueryWith(q, s.cfg.Limits)
	if err != nil {
		return dbservice.Plan{}, fail("query", coll, "", err)
	}
	return dbservice.PlanQuery(q, s.indexDefs(ctx, s.dbName(coll))), nil
}

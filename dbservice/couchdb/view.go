package couchdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/securedb-go/securedb/dbservice"
)

// Indexes are JavaScript views with raw collation, one per design document
// "_design/securedb-ix-<hash of the fields>". The map function emits, for a
// document holding every field, one string key: dbservice.IndexKey of each
// field's value, then of the document's ID, concatenated. Raw collation
// compares keys as UTF-8 bytes, which is exactly dbservice.Compare's order
// of the values and then the ID (IndexKey is order-preserving and
// prefix-free), so a key range of the view is an exact range of the index
// and the view's row order is the query's order. Mango indexes collate
// strings with ICU, which is why they are not used.

// viewPrefix starts the name of every index (and design document) the
// provider makes. viewVersion is part of the hashed name: a new encoding
// makes new design documents instead of reading old ones wrongly.
const (
	viewPrefix  = "securedb-ix-"
	viewVersion = "1"
	viewName    = "ix"
)

// indexName is the deterministic name of the index on fields: the same
// fields always give the same design document, which makes EnsureIndex
// idempotent.
func indexName(fields []string) string {
	h := sha256.Sum256([]byte(viewVersion + "\x00" + strings.Join(fields, "\x00")))
	return viewPrefix + hex.EncodeToString(h[:8])
}

// mapSource is the map function of the index on fields. It computes
// dbservice.IndexKey in JavaScript: the two must agree byte for byte
// (TestViewKeysAreIndexKeys checks them against each other on the server).
func mapSource(fields []string) string {
	paths := make([][]string, len(fields))
	for i, f := range fields {
		paths[i] = dbservice.SplitPath(f)
	}
	p, _ := json.Marshal(paths)
	special, _ := json.Marshal([]string{writeTokenKey, expiresKey, dbservice.ExpiresField})
	return `function (doc) {
  var paths = ` + string(p) + `;
  var sys = ` + string(special) + `;
  var id = doc._id;
  if (id.indexOf("~_") === 0) { id = id.substring(1); } else if (id.charAt(0) === "_") { return; }
  // UTF-8 byte order is code point order; JavaScript compares UTF-16 code
  // units, which puts U+E000..U+FFFF after the characters above U+FFFF.
  function cmp(a, b) {
    var i = 0, j = 0;
    while (i < a.length && j < b.length) {
      var x = a.codePointAt(i), y = b.codePointAt(j);
      if (x !== y) { return x < y ? -1 : 1; }
      i += x > 0xffff ? 2 : 1;
      j += y > 0xffff ? 2 : 1;
    }
    return (a.length - i) - (b.length - j) < 0 ? -1 : ((a.length - i) === (b.length - j) ? 0 : 1);
  }
  function str(s) {
    return s.replace(/[\u0000\u0001]/g, function (c) { return c === "\u0000" ? "\u0001\u0002" : "\u0001\u0003"; }) + "\u0001\u0001";
  }
  var dv = new DataView(new ArrayBuffer(8));
  function hex8(n) { return ("0000000" + n.toString(16)).slice(-8); }
  function key(v) {
    if (v === null) { return "1"; }
    if (v === false) { return "2"; }
    if (v === true) { return "3"; }
    if (typeof v === "number") {
      var hi = 0, lo = 0;
      if (v !== 0) { dv.setFloat64(0, v); hi = dv.getUint32(0); lo = dv.getUint32(4); }
      if (hi >>> 31) { hi = (~hi) >>> 0; lo = (~lo) >>> 0; } else { hi = (hi | 0x80000000) >>> 0; }
      return "4" + hex8(hi) + hex8(lo);
    }
    if (typeof v === "string") { return "5" + str(v); }
    var out = "", k;
    if (Array.isArray(v)) {
      out = "6";
      for (k = 0; k < v.length; k++) { out += key(v[k]); }
      return out + "\u0001\u0001";
    }
    if (typeof v === "object") {
      var names = Object.keys(v).sort(cmp);
      out = "7";
      for (k = 0; k < names.length; k++) { out += "5" + str(names[k]) + key(v[names[k]]); }
      return out + "\u0001\u0001";
    }
    return "1";
  }
  // The document as the library returns it: the stored ID unmapped, the
  // provider's own fields left out, the expiry under its public name.
  function top(name) {
    if (name === "_id") { return {ok: true, v: id}; }
    if (name === sys[2]) { return typeof doc[sys[1]] === "string" ? {ok: true, v: doc[sys[1]]} : {ok: false}; }
    if (name.charAt(0) === "_" || name === sys[0] || name === sys[1]) { return {ok: false}; }
    return Object.prototype.hasOwnProperty.call(doc, name) ? {ok: true, v: doc[name]} : {ok: false};
  }
  var k = "";
  for (var f = 0; f < paths.length; f++) {
    var r = top(paths[f][0]);
    if (!r.ok) { return; }
    var cur = r.v;
    for (var s = 1; s < paths[f].length; s++) {
      if (cur === null || typeof cur !== "object" || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, paths[f][s])) { return; }
      cur = cur[paths[f][s]];
    }
    k += key(cur);
  }
  emit(k + key(id), null);
}`
}

// designDoc is the design document of the index on fields. The field list
// is recorded in it, so the index is found again by listing design
// documents, on any node of a cluster.
func designDoc(fields []string) map[string]any {
	return map[string]any{
		"language": "javascript",
		"views": map[string]any{
			viewName: map[string]any{
				"map":     mapSource(fields),
				"options": map[string]any{"collation": "raw"},
			},
		},
		"securedb": map[string]any{"fields": fields, "version": viewVersion},
	}
}

// indexFields returns the fields an EnsureIndex call indexes: _id may only
// end the list (every index ends with the ID already) and is dropped; nil
// means the ID order itself, which needs no index.
func indexFields(fields []string) ([]string, bool) {
	i := slices.Index(fields, "_id")
	switch {
	case i < 0:
		return fields, true
	case i != len(fields)-1:
		return nil, false
	}
	return fields[:i], true
}

// ensureView creates the design document of the index on fields unless it
// exists, then queries it once so that CouchDB builds it now, not on the
// first Query.
func (s *Service) ensureView(ctx context.Context, db string, fields []string) error {
	if _, err := s.useDB(ctx, db, true); err != nil {
		return err
	}
	name := indexName(fields)
	id := "_design/" + name
	var existing map[string]any
	err := scanDoc(s.db(db).Get(ctx, id), &existing)
	switch {
	case httpStatus(err) == http.StatusNotFound:
		_, err = s.db(db).Put(ctx, id, designDoc(fields))
		if httpStatus(err) == http.StatusConflict {
			err = nil // made meanwhile by another caller, with the same content
		}
		// A database member gets 401 "You are not a db or server admin.".
		if st := httpStatus(err); st == http.StatusForbidden || st == http.StatusUnauthorized && strings.Contains(reasonOf(err), "admin") {
			return fmt.Errorf("%w: creating an index on %s needs database admin rights; list it in Spec.Indexes and run couchdb.Provision with admin credentials", dbservice.ErrForbidden, db)
		}
		if err != nil {
			return err
		}
	case err != nil:
		return err
	}
	_, _, err = s.viewRows(ctx, db, name, map[string]any{"limit": 0}, func(viewRow) bool { return true })
	return err
}

// viewCache knows, per database, the provider's indexes.
type viewCache struct {
	mu sync.Mutex
	m  map[string][]dbservice.IndexDef // database -> indexes; nil entry: not looked at
}

// add records an index of a database already looked at; one not looked at
// yet is listed in full on its first query instead, which also finds the
// indexes Provision or another process made.
func (c *viewCache) add(db string, fields []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defs, ok := c.m[db]
	name := indexName(fields)
	if !ok || slices.ContainsFunc(defs, func(d dbservice.IndexDef) bool { return d.Name == name }) {
		return
	}
	c.m[db] = append(slices.Clip(defs), dbservice.IndexDef{Name: name, Fields: slices.Clone(fields)})
}

// forget drops what is known of db: it is listed again on its next query.
func (c *viewCache) forget(db string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, db)
}

func (c *viewCache) known(db string) ([]dbservice.IndexDef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defs, ok := c.m[db]
	return defs, ok
}

func (c *viewCache) set(db string, defs []dbservice.IndexDef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]dbservice.IndexDef{}
	}
	c.m[db] = defs
}

// indexDefs returns the indexes of db. The first time it meets a database
// it lists the provider's design documents; a failure to list them only
// means no index is used (and the database is listed again next time).
func (s *Service) indexDefs(ctx context.Context, db string) []dbservice.IndexDef {
	if defs, ok := s.views.known(db); ok {
		return defs
	}
	rs := s.db(db).AllDocs(ctx, kivik.Params(map[string]any{
		"start_key":    "_design/" + viewPrefix,
		"end_key":      "_design/" + viewPrefix + "~", // after every hex digit
		"include_docs": true,
	}))
	defer rs.Close()
	defs := []dbservice.IndexDef{}
	for rs.Next() {
		var doc struct {
			ID       string `json:"_id"`
			Securedb struct {
				Fields []string `json:"fields"`
			} `json:"securedb"`
		}
		if rs.ScanDoc(&doc) != nil || len(doc.Securedb.Fields) == 0 {
			continue
		}
		// The name is the hash of the fields: a design document that does
		// not match its own record is not one of ours.
		if name := indexName(doc.Securedb.Fields); doc.ID == "_design/"+name {
			defs = append(defs, dbservice.IndexDef{Name: name, Fields: doc.Securedb.Fields})
		}
	}
	if rs.Err() != nil {
		return nil
	}
	s.views.set(db, defs)
	return defs
}

// viewRow is one row of an index view.
type viewRow struct {
	key string
	id  string
	doc dbservice.Doc
}

// errViewMissing reports that an index the provider knew of is gone.
var errViewMissing = errors.New("index view missing")

// viewRows runs one query on the view of an index and visits its rows,
// returning how many rows came and whether visit stopped. The parameters
// go in a POST body: keys can be long.
func (s *Service) viewRows(ctx context.Context, db, name string, params map[string]any, visit func(viewRow) bool) (n int, stopped bool, err error) {
	body, err := json.Marshal(params)
	if err != nil {
		return 0, false, err
	}
	u := s.base + "/" + url.PathEscape(db) + "/_design/" + url.PathEscape(name) + "/_view/" + viewName
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.authClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		if resp.StatusCode == http.StatusNotFound && e.Reason != "Database does not exist." {
			return 0, false, errViewMissing
		}
		return 0, false, &chttp.HTTPError{Response: resp, Reason: e.Reason}
	}
	var out struct {
		Rows []struct {
			ID  string        `json:"id"`
			Key string        `json:"key"`
			Doc dbservice.Doc `json:"doc"`
		} `json:"rows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, false, fmt.Errorf("%w: couchdb sent a malformed view answer", dbservice.ErrUnavailable)
	}
	for _, r := range out.Rows {
		n++
		if !visit(viewRow{key: r.Key, id: r.ID, doc: r.Doc}) {
			return n, true, nil
		}
	}
	return n, false, nil
}

// keyRange is the part of an index a plan reads, as view keys: from lo to
// hi, both inclusive.
type keyRange struct {
	lo, hi string
}

// viewBounds returns the key range of a plan's equalities and range.
// Every key after the equalities' prefix continues with a type digit
// ('1' to '7'), so prefix+"8" is above all of them; a range is bounded by
// its value's type too (Match's ranges compare only values of one type):
// prefix+'4' to prefix+'5' holds exactly the numbers. Since keys are
// prefix-free, the keys with the range field equal to v are exactly those
// that start with prefix+IndexKey(v), all below prefix+IndexKey(v)+"8".
// It reports false for a range no document can fall in.
func viewBounds(p dbservice.Plan) (keyRange, bool) {
	var prefix strings.Builder
	for _, c := range p.Eq {
		prefix.WriteString(dbservice.IndexKey(c.Value))
	}
	pre := prefix.String()
	r := keyRange{lo: pre, hi: pre + "8"}
	if len(p.Range) == 0 {
		return r, true
	}
	digit := dbservice.IndexKey(p.Range[0].Value)[0]
	if digit != '4' && digit != '5' {
		return keyRange{}, false // only numbers and strings are ordered by a range
	}
	r = keyRange{lo: pre + string(digit), hi: pre + string(digit+1)}
	for _, c := range p.Range {
		k := pre + dbservice.IndexKey(c.Value)
		switch c.Op {
		case dbservice.Gt:
			r.lo = max(r.lo, k+"8")
		case dbservice.Gte:
			r.lo = max(r.lo, k)
		case dbservice.Lt:
			r.hi = min(r.hi, k) // no key ends there: an ID follows
		case dbservice.Lte:
			r.hi = min(r.hi, k+"8")
		}
	}
	return r, r.lo <= r.hi
}

// viewPage reads one page of q through the index of plan p: the plan's key
// range, forwards or backwards, from after (the view key of the last row
// a previous page read; that row itself is skipped), in growing batches,
// until the page is full, the range ends or budget rows were read. Every
// condition is checked again by dbservice.Match on each document, so the
// range only has to hold every match (it holds exactly them for the
// conditions the plan serves). A page that fills or stops at the budget
// continues after the last row it read.
func (s *Service) viewPage(ctx context.Context, db, coll string, q dbservice.Query, p dbservice.Plan, after string, budget int) (dbservice.Page, error) {
	page := dbservice.Page{Stats: dbservice.Stats{Index: p.Index.Name}}
	r, ok := viewBounds(p)
	if !ok {
		return page, nil
	}
	start, end := r.lo, r.hi
	if p.Desc {
		start, end = r.hi, r.lo
	}
	if after != "" {
		if p.Desc {
			start = min(start, after)
		} else {
			start = max(start, after)
		}
	}
	if !p.Desc && start > end || p.Desc && start < end {
		return page, nil
	}
	var (
		last, lastRow string // view keys of the last document returned, the last row read
		more          bool
		now           = time.Now()
		batch         = min(q.Limit+2, maxBatch)
	)
	for {
		n := min(batch, budget-page.Stats.Read)
		params := map[string]any{
			"start_key": start, "end_key": end, "inclusive_end": true,
			"descending": p.Desc, "limit": n, "include_docs": true,
		}
		got, stopped, err := s.viewRows(ctx, db, p.Index.Name, params, func(row viewRow) bool {
			page.Stats.Read++
			lastRow = row.key
			if row.key == after {
				return true
			}
			doc, ok := keep(q, row.id, row.doc, now)
			if !ok {
				return true
			}
			if len(page.Docs) == q.Limit {
				more = true
				return false
			}
			page.Docs = append(page.Docs, doc)
			last = row.key
			return true
		})
		if err != nil {
			return dbservice.Page{}, err
		}
		if stopped || got < n {
			break
		}
		if page.Stats.Read >= budget {
			page.Stats.BudgetReached, more, last = true, true, lastRow
			break
		}
		start, after, batch = lastRow, lastRow, min(batch*2, maxBatch)
	}
	if more {
		next, err := s.cfg.Cursors.Encode(coll, q, cursorState{Index: p.Index.Name, Key: last})
		if err != nil {
			return dbservice.Page{}, err
		}
		page.Next = next
	}
	page.Stats.Returned = len(page.Docs)
	return page, nil
}

// keep returns the document a query returns for a row read (cleaned of the
// provider's fields and projected), or false when the query does not
// return it: a design document, a deleted or expired one, or one Match
// rejects.
func keep(q dbservice.Query, cid string, doc dbservice.Doc, now time.Time) (dbservice.Doc, bool) {
	id, ok := userID(cid)
	if !ok || doc == nil || expiredRaw(doc, now) {
		return nil, false
	}
	doc = clean(doc, id)
	if !dbservice.Match(doc, q.Where) {
		return nil, false
	}
	if len(q.Fields) > 0 {
		exp, hasExp := doc[dbservice.ExpiresField]
		doc = dbservice.Project(doc, q.Fields)
		if hasExp { // on every read, projected or not, as memory does
			doc[dbservice.ExpiresField] = exp
		}
	}
	return doc, true
}

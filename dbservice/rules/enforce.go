package rules

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// provider is the name errors from this layer carry.
const provider = "rules"

// Option tunes Enforce.
type Option func(*enforcer)

// WithCursorSigner sets the signer that binds page cursors to the
// principal they were issued to (default dbservice.ProcessCursorSigner).
// Use the key the provider signs its own cursors with, so that a cursor
// survives a restart and a load balancer.
func WithCursorSigner(c *dbservice.CursorSigner) Option {
	return func(e *enforcer) { e.cursors = c }
}

// WithClock sets the source of request.time (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(e *enforcer) { e.now = now }
}

// Enforce returns a Service that enforces rs on every call before passing
// it to next. Place it under dbservice.Guard, so that input is validated
// before rules read it and audit records name the deciding rule:
//
//	svc := dbservice.Guard(rules.Enforce(provider, rs), policy)
//
// securedb.Open does that when Config.Rules is set. The principal is the
// one dbservice.WithAuth (or WithPrincipal) put in the context; a context
// without one is unauthenticated (request.auth is null). A denied call is
// ErrForbidden and never reaches next as a write. See the package
// documentation for what each method costs and how list is decided.
func Enforce(next dbservice.Service, rs *Ruleset, opts ...Option) dbservice.Service {
	e := &enforcer{next: next, rs: rs, now: time.Now}
	for _, o := range opts {
		o(e)
	}
	return e
}

type enforcer struct {
	next    dbservice.Service
	rs      *Ruleset
	cursors *dbservice.CursorSigner
	now     func() time.Time
}

var _ dbservice.Service = (*enforcer)(nil)

// Unwrap implements dbservice.Wrapper.
func (e *enforcer) Unwrap() dbservice.Service { return e.next }

// EnforcesRules implements dbservice.RuleEnforcer.
func (e *enforcer) EnforcesRules() bool { return true }

// Explain passes plans through, so that Guard's RequireIndex still sees
// the provider's.
func (e *enforcer) Explain(ctx context.Context, collection string, q dbservice.Query) (dbservice.Plan, error) {
	if ex, ok := e.next.(dbservice.Explainer); ok {
		return ex.Explain(ctx, collection, q)
	}
	return dbservice.Plan{}, nil
}

func (e *enforcer) request(ctx context.Context, method, collection, id string) Request {
	req := Request{Method: method, Collection: collection, ID: id, Time: e.now()}
	if a, ok := dbservice.AuthFrom(ctx); ok {
		req.Auth = &a
	}
	return req
}

func forbidden(op, collection, id string, d Decision) error {
	reason := "denied by the security rules"
	if d.Rule == DefaultDeny {
		reason += " (no allow statement covers it: default deny)"
	} else {
		reason += " (" + d.Rule + ")"
	}
	return dbservice.NewError(op, provider, collection, id, fmt.Errorf("%w: %s", dbservice.ErrForbidden, reason))
}

// check refuses, with ErrInvalid, what no provider accepts, so that rules
// never evaluate a hostile name (the baseline of every provider; Guard's
// policy above may be stricter).
func check(op, collection string, ids ...string) error {
	if err := dbservice.CheckCollection(collection); err != nil {
		return dbservice.NewError(op, provider, collection, "", err)
	}
	for _, id := range ids {
		if err := dbservice.CheckID(id); err != nil {
			return dbservice.NewError(op, provider, collection, id, err)
		}
	}
	return nil
}

// judge decides req and records the deciding rule for the audit record.
func (e *enforcer) judge(ctx context.Context, rr []*rule, req Request) Decision {
	d := e.rs.decide(rr, req)
	dbservice.NoteRule(ctx, d.Rule)
	return d
}

func isMissing(err error) bool { return errors.Is(err, dbservice.ErrNotFound) }

// Get reads the document and decides get against it. A missing document
// is decided with resource null, so a denied read and a missing document
// answer alike (ErrForbidden) unless the rule allows seeing absence.
func (e *enforcer) Get(ctx context.Context, collection, id string) (dbservice.Doc, error) {
	if err := check("get", collection, id); err != nil {
		return nil, err
	}
	rr := e.rs.candidates(collection, "get")
	req := e.request(ctx, "get", collection, id)
	if !reads(rr) {
		if d := e.judge(ctx, rr, req); !d.Allowed {
			return nil, forbidden("get", collection, id, d)
		}
		return e.next.Get(ctx, collection, id)
	}
	doc, err := e.next.Get(ctx, collection, id)
	if err != nil && !isMissing(err) {
		return nil, err
	}
	req.Resource = doc
	if d := e.judge(ctx, rr, req); !d.Allowed {
		return nil, forbidden("get", collection, id, d)
	}
	return doc, err
}

// Save is a create when no document has the ID and an update otherwise;
// the write is then made conditional on what was checked (IfAbsent for a
// create, IfRev of the document read for an update), so a concurrent
// write between check and write is ErrConflict, never an unchecked
// overwrite. When the create and update rules read neither document and
// agree, no read is made.
func (e *enforcer) Save(ctx context.Context, collection, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	if err := check("save", collection, id); err != nil {
		return "", err
	}
	wo, err := dbservice.ApplySaveOptions(opts...)
	if err != nil {
		return "", dbservice.NewError("save", provider, collection, id, err)
	}
	creates, updates := e.rs.candidates(collection, "create"), e.rs.candidates(collection, "update")
	req := e.request(ctx, "create", collection, id)
	req.Incoming = doc
	if wo.IfAbsent {
		if d := e.judge(ctx, creates, req); !d.Allowed {
			return "", forbidden("save", collection, id, d)
		}
		return e.next.Save(ctx, collection, id, doc, opts...)
	}
	if !reads(creates) && !reads(updates) {
		uReq := req
		uReq.Method = "update"
		du := e.rs.decide(updates, uReq)
		if wo.IfRev != "" {
			// IfRev makes it an update of that revision or a conflict.
			dbservice.NoteRule(ctx, du.Rule)
			if !du.Allowed {
				return "", forbidden("save", collection, id, du)
			}
			return e.next.Save(ctx, collection, id, doc, opts...)
		}
		dc := e.rs.decide(creates, req)
		if dc.Allowed && du.Allowed {
			dbservice.NoteRule(ctx, du.Rule)
			return e.next.Save(ctx, collection, id, doc, opts...)
		}
		if !dc.Allowed && !du.Allowed {
			dbservice.NoteRule(ctx, du.Rule)
			return "", forbidden("save", collection, id, du)
		}
	}
	cur, err := e.next.Get(ctx, collection, id)
	if err != nil && !isMissing(err) {
		return "", err
	}
	if cur == nil {
		if wo.IfRev != "" {
			return "", dbservice.NewError("save", provider, collection, id, dbservice.ErrConflict)
		}
		if d := e.judge(ctx, creates, req); !d.Allowed {
			return "", forbidden("save", collection, id, d)
		}
		return e.next.Save(ctx, collection, id, doc, writeOpts(wo, "", true)...)
	}
	rev, _ := cur["_rev"].(string)
	if wo.IfRev != "" && wo.IfRev != rev {
		return "", dbservice.NewError("save", provider, collection, id, dbservice.ErrConflict)
	}
	req.Method, req.Resource = "update", cur
	if d := e.judge(ctx, updates, req); !d.Allowed {
		return "", forbidden("save", collection, id, d)
	}
	return e.next.Save(ctx, collection, id, doc, writeOpts(wo, rev, false)...)
}

// writeOpts rebuilds write options with the condition rules need.
func writeOpts(wo dbservice.WriteOptions, ifRev string, ifAbsent bool) []dbservice.WriteOption {
	var out []dbservice.WriteOption
	if ifRev != "" {
		out = append(out, dbservice.IfRev(ifRev))
	}
	if ifAbsent {
		out = append(out, dbservice.IfAbsent())
	}
	if !wo.ExpiresAt.IsZero() {
		out = append(out, dbservice.ExpiresAt(wo.ExpiresAt))
	}
	return out
}

// Update decides update with request.resource.data the stored document
// after the mutations (ApplyMutations), and writes conditional on the
// revision read. An Upsert of a missing document is a create, written with
// IfAbsent.
func (e *enforcer) Update(ctx context.Context, collection, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	if err := check("update", collection, id); err != nil {
		return "", err
	}
	wo, err := dbservice.ApplyUpdateOptions(opts...)
	if err != nil {
		return "", dbservice.NewError("update", provider, collection, id, err)
	}
	updates := e.rs.candidates(collection, "update")
	req := e.request(ctx, "update", collection, id)
	if !wo.Upsert && !reads(updates) && !readsIncoming(updates) {
		if d := e.judge(ctx, updates, req); !d.Allowed {
			return "", forbidden("update", collection, id, d)
		}
		return e.next.Update(ctx, collection, id, mods, opts...)
	}
	cur, err := e.next.Get(ctx, collection, id)
	if err != nil && !isMissing(err) {
		return "", err
	}
	if cur == nil {
		if wo.IfRev != "" {
			return "", dbservice.NewError("update", provider, collection, id, dbservice.ErrConflict)
		}
		created, err := dbservice.ApplyMutations(dbservice.Doc{}, mods)
		if err != nil {
			return "", dbservice.NewError("update", provider, collection, id, err)
		}
		if !wo.Upsert {
			req.Incoming = created
			if d := e.judge(ctx, updates, req); !d.Allowed {
				return "", forbidden("update", collection, id, d)
			}
			return "", dbservice.NewError("update", provider, collection, id, dbservice.ErrNotFound)
		}
		req.Method, req.Incoming = "create", created
		if d := e.judge(ctx, e.rs.candidates(collection, "create"), req); !d.Allowed {
			return "", forbidden("update", collection, id, d)
		}
		return e.next.Save(ctx, collection, id, created, writeOpts(wo, "", true)...)
	}
	rev, _ := cur["_rev"].(string)
	if wo.IfRev != "" && wo.IfRev != rev {
		return "", dbservice.NewError("update", provider, collection, id, dbservice.ErrConflict)
	}
	after, err := dbservice.ApplyMutations(data(cur), mods)
	if err != nil {
		return "", dbservice.NewError("update", provider, collection, id, err)
	}
	req.Resource, req.Incoming = cur, after
	if d := e.judge(ctx, updates, req); !d.Allowed {
		return "", forbidden("update", collection, id, d)
	}
	return e.next.Update(ctx, collection, id, mods, writeOpts(wo, rev, false)...)
}

// Delete decides delete against the stored document when a rule reads
// it, and deletes conditional on the revision read.
func (e *enforcer) Delete(ctx context.Context, collection, id string, opts ...dbservice.WriteOption) error {
	if err := check("delete", collection, id); err != nil {
		return err
	}
	wo, err := dbservice.ApplyDeleteOptions(opts...)
	if err != nil {
		return dbservice.NewError("delete", provider, collection, id, err)
	}
	rr := e.rs.candidates(collection, "delete")
	req := e.request(ctx, "delete", collection, id)
	if !reads(rr) {
		if d := e.judge(ctx, rr, req); !d.Allowed {
			return forbidden("delete", collection, id, d)
		}
		return e.next.Delete(ctx, collection, id, opts...)
	}
	cur, err := e.next.Get(ctx, collection, id)
	if err != nil && !isMissing(err) {
		return err
	}
	req.Resource = cur
	if d := e.judge(ctx, rr, req); !d.Allowed {
		return forbidden("delete", collection, id, d)
	}
	if cur == nil {
		return dbservice.NewError("delete", provider, collection, id, dbservice.ErrNotFound)
	}
	rev, _ := cur["_rev"].(string)
	if wo.IfRev != "" && wo.IfRev != rev {
		return dbservice.NewError("delete", provider, collection, id, dbservice.ErrConflict)
	}
	return e.next.Delete(ctx, collection, id, dbservice.IfRev(rev))
}

// GetMany decides get for every ID (against its document when a rule
// reads it); one denied ID makes the whole call ErrForbidden, so no
// result is ever silently short.
func (e *enforcer) GetMany(ctx context.Context, collection string, ids []string) ([]dbservice.Doc, []string, error) {
	if err := check("get-many", collection, ids...); err != nil {
		return nil, nil, err
	}
	if err := dbservice.CheckIDs(ids); err != nil {
		return nil, nil, dbservice.NewError("get-many", provider, collection, "", err)
	}
	rr := e.rs.candidates(collection, "get")
	if !reads(rr) {
		for _, id := range ids {
			req := e.request(ctx, "get", collection, id)
			if d := e.judge(ctx, rr, req); !d.Allowed {
				return nil, nil, forbidden("get-many", collection, id, d)
			}
		}
		return e.next.GetMany(ctx, collection, ids)
	}
	docs, missing, err := e.next.GetMany(ctx, collection, ids)
	if err != nil {
		return nil, nil, err
	}
	var last Decision
	for _, doc := range docs {
		id, _ := doc["_id"].(string)
		req := e.request(ctx, "get", collection, id)
		req.Resource = doc
		if last = e.judge(ctx, rr, req); !last.Allowed {
			return nil, nil, forbidden("get-many", collection, id, last)
		}
	}
	for _, id := range missing {
		req := e.request(ctx, "get", collection, id)
		if last = e.judge(ctx, rr, req); !last.Allowed {
			return nil, nil, forbidden("get-many", collection, id, last)
		}
	}
	return docs, missing, nil
}

// DeleteMany decides delete for every ID before deleting any. When a rule
// reads the stored document, each one is deleted conditional on the
// revision checked.
func (e *enforcer) DeleteMany(ctx context.Context, collection string, ids []string) error {
	if err := check("delete-many", collection, ids...); err != nil {
		return err
	}
	if err := dbservice.CheckIDs(ids); err != nil {
		return dbservice.NewError("delete-many", provider, collection, "", err)
	}
	rr := e.rs.candidates(collection, "delete")
	if !reads(rr) {
		for _, id := range ids {
			if d := e.judge(ctx, rr, e.request(ctx, "delete", collection, id)); !d.Allowed {
				return forbidden("delete-many", collection, id, d)
			}
		}
		return e.next.DeleteMany(ctx, collection, ids)
	}
	docs, missing, err := e.next.GetMany(ctx, collection, ids)
	if err != nil {
		return err
	}
	for _, id := range missing {
		if d := e.judge(ctx, rr, e.request(ctx, "delete", collection, id)); !d.Allowed {
			return forbidden("delete-many", collection, id, d)
		}
	}
	for _, doc := range docs {
		id, _ := doc["_id"].(string)
		req := e.request(ctx, "delete", collection, id)
		req.Resource = doc
		if d := e.judge(ctx, rr, req); !d.Allowed {
			return forbidden("delete-many", collection, id, d)
		}
	}
	for _, doc := range docs {
		id, _ := doc["_id"].(string)
		rev, _ := doc["_rev"].(string)
		if err := e.next.Delete(ctx, collection, id, dbservice.IfRev(rev)); err != nil && !isMissing(err) {
			return err
		}
	}
	return nil
}

// listDecision decides a list from the query's own conditions.
func (e *enforcer) listDecision(ctx context.Context, op, collection string, q dbservice.Query) (*rule, error) {
	rr := e.rs.candidates(collection, "list")
	req := e.request(ctx, "list", collection, "")
	d := e.rs.decideList(rr, req, q)
	dbservice.NoteRule(ctx, d.Rule)
	if d.Allowed {
		for _, r := range rr {
			if r.loc == d.Rule {
				return r, nil
			}
		}
		return nil, nil
	}
	if len(d.Missing) == 0 {
		return nil, forbidden(op, collection, "", d)
	}
	return nil, dbservice.NewError(op, provider, collection, "", fmt.Errorf(
		"%w: rules are not filters: no list rule (%s) holds for every document the query could return; add %s",
		dbservice.ErrForbidden, d.Rule, missingText(d.Missing)))
}

// Count is a list: allowed only when the rules hold for every document the
// conditions could match. request.query.limit is absent.
func (e *enforcer) Count(ctx context.Context, collection string, where []dbservice.Cond) (int, error) {
	if err := check("count", collection); err != nil {
		return 0, err
	}
	cq, err := dbservice.CheckQuery(dbservice.Query{Where: where})
	if err != nil {
		return 0, dbservice.NewError("count", provider, collection, "", err)
	}
	cq.Limit = 0
	if _, err := e.listDecision(ctx, "count", collection, cq); err != nil {
		return 0, err
	}
	return e.next.Count(ctx, collection, where)
}

// Query is decided before it runs (see Count); each returned document is
// then checked against the list rules too, and one that fails them is an
// error, never a silent drop. A projection is widened to the fields the
// rules read and narrowed again after the check. Page cursors are bound
// to the principal.
func (e *enforcer) Query(ctx context.Context, collection string, q dbservice.Query) (dbservice.Page, error) {
	if err := check("query", collection); err != nil {
		return dbservice.Page{}, err
	}
	cq, err := dbservice.CheckQuery(q)
	if err != nil {
		return dbservice.Page{}, dbservice.NewError("query", provider, collection, "", err)
	}
	if cq.Limit == 0 {
		cq.Limit = dbservice.DefaultLimit
	}
	if _, err := e.listDecision(ctx, "query", collection, cq); err != nil {
		return dbservice.Page{}, err
	}
	inner := q
	auth, _ := dbservice.AuthFrom(ctx)
	if q.Cursor != "" {
		if inner.Cursor, err = e.unwrapCursor(collection, cq, auth.UID, q.Cursor); err != nil {
			return dbservice.Page{}, dbservice.NewError("query", provider, collection, "", err)
		}
	}
	rr := e.rs.candidates(collection, "list")
	narrow := false
	if len(q.Fields) > 0 && reads(rr) {
		inner.Fields, narrow = widen(q.Fields, rr), true
	}
	page, err := e.next.Query(ctx, collection, inner)
	if err != nil {
		return page, err
	}
	for i, doc := range page.Docs {
		id, _ := doc["_id"].(string)
		req := e.request(ctx, "list", collection, id)
		req.Resource, req.Query = doc, &cq
		if d := e.rs.decide(rr, req); !d.Allowed {
			return dbservice.Page{}, dbservice.NewError("query", provider, collection, id, fmt.Errorf(
				"%w: a returned document fails the list rules (%s): the query was allowed, so the store returned what its conditions exclude", dbservice.ErrForbidden, d.Rule))
		}
		if narrow {
			page.Docs[i] = dbservice.Project(doc, q.Fields)
		}
	}
	if page.Next != "" {
		if page.Next, err = e.wrapCursor(collection, cq, auth.UID, page.Next); err != nil {
			return dbservice.Page{}, dbservice.NewError("query", provider, collection, "", err)
		}
	}
	return page, nil
}

// widen returns fields plus every field the rules read; nil (whole
// documents) when a rule reads more than named fields.
func widen(fields []string, rr []*rule) []string {
	out := append([]string(nil), fields...)
	for _, r := range rr {
		if r.refs.wholeResource {
			return nil
		}
		for _, p := range r.refs.paths {
			out = append(out, dbservice.Path(p...))
		}
	}
	return dbservice.DisjointPaths(out)
}

// A cursor this layer hands out is the provider's cursor followed by a
// fixed-length tag that binds it to the principal, the collection and the
// query: the CursorSigner's HMAC over all of them (the binding is the
// "collection" the signer authenticates). A cursor issued to another
// principal fails the tag and is ErrInvalid.
var tagLen = func() int {
	t, _ := (*dbservice.CursorSigner)(nil).Encode("", dbservice.Query{}, 0)
	return len(t)
}()

func cursorBinding(collection, uid, inner string) string {
	return "securedb rules cursor v1\x00" + strconv.Quote(uid) + "\x00" + collection + "\x00" + inner
}

func (e *enforcer) wrapCursor(collection string, q dbservice.Query, uid, inner string) (string, error) {
	t, err := e.cursors.Encode(cursorBinding(collection, uid, inner), q, 0)
	if err != nil {
		return "", err
	}
	if len(t) != tagLen {
		return "", errors.New("cursor tag of unexpected length")
	}
	if len(inner)+len(t) > validate.MaxCursorLen {
		return "", &validate.Error{Field: "query.cursor", Reason: "the provider's cursor leaves no room for the principal binding"}
	}
	return inner + t, nil
}

func (e *enforcer) unwrapCursor(collection string, q dbservice.Query, uid, cursor string) (string, error) {
	bad := &validate.Error{Field: "query.cursor", Reason: "not a cursor this service issued to this principal for this query and collection"}
	if err := validate.Cursor(cursor); err != nil {
		return "", err
	}
	if len(cursor) <= tagLen {
		return "", bad
	}
	inner, t := cursor[:len(cursor)-tagLen], cursor[len(cursor)-tagLen:]
	var zero int
	if err := e.cursors.Decode(cursorBinding(collection, uid, inner), q, t, &zero); err != nil || zero != 0 {
		return "", bad
	}
	return inner, nil
}

// EnsureIndex passes through: indexes grant no access to documents.
func (e *enforcer) EnsureIndex(ctx context.Context, collection string, fields ...string) error {
	return e.next.EnsureIndex(ctx, collection, fields...)
}

// Ping passes through.
func (e *enforcer) Ping(ctx context.Context) error { return e.next.Ping(ctx) }

// Close closes next.
func (e *enforcer) Close() error { return e.next.Close() }

// CheckPosture reports the security-rules item: Pass with the collections
// the rules cover; Warn when a statement allows a write with no condition.
func (e *enforcer) CheckPosture(context.Context) []dbservice.Finding {
	return []dbservice.Finding{e.rs.Finding()}
}

// Finding is the security-rules posture item for rs.
func (rs *Ruleset) Finding() dbservice.Finding {
	f := dbservice.Finding{ID: dbservice.ItemSecurityRules, Status: dbservice.Pass}
	parts := []string{"security rules from " + rs.file + " enforced in-process on every call: " +
		strconv.Itoa(len(rs.rules)) + " allow statements over " + strconv.Itoa(len(rs.collections)) + " collections (" + listShort(rs.collections, 8) + ")"}
	if rs.wildcard {
		parts = append(parts, "a wildcard match covers every other collection")
	} else {
		parts = append(parts, "every other collection is denied (default deny)")
	}
	var openWrites []string
	for _, o := range rs.open {
		if strings.Contains(o, "create") || strings.Contains(o, "update") || strings.Contains(o, "delete") {
			openWrites = append(openWrites, o)
		}
	}
	if len(rs.open) == 0 {
		parts = append(parts, "no collection is left open (every allow has a condition)")
	} else {
		parts = append(parts, "allowed without a condition: "+strings.Join(rs.open, "; "))
	}
	if len(openWrites) > 0 {
		f.Status = dbservice.Warn
		f.Fix = "give every allow statement that permits create, update or delete a condition on request.auth"
	}
	f.Detail = strings.Join(parts, "; ")
	return f
}

func listShort(names []string, n int) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + ", +" + strconv.Itoa(len(names)-n) + " more"
}

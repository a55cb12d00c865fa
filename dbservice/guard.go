package dbservice

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/securedb-go/securedb/internal/verbatim"
	"github.com/securedb-go/securedb/validate"
)

// Policy is what Guard enforces. The zero Policy validates with the
// defaults and audits nothing.
type Policy struct {
	// Collections allowed; empty allows any valid collection name.
	Collections validate.Allowlist
	// IDs is the document ID rule; the zero value is the default rule,
	// ^[a-zA-Z0-9_-]+$ and at most 100 bytes (validate.IDRule). A
	// provider's own baseline still applies, so a looser rule cannot admit
	// IDs the provider refuses.
	IDs validate.IDRule
	// Limits on documents; the zero value is validate.DefaultLimits.
	Limits validate.Limits
	// Audit receives one record per operation; nil disables auditing.
	Audit *slog.Logger
	// AuditTrail receives the same record, in a form that shows tampering
	// (see package dbservice/audit); nil writes none. Guard appends after
	// the operation, when its outcome is known, and asks the trail before
	// the operation whether it may start: a fail-closed trail that lost a
	// record refuses every later operation before it reaches the provider.
	AuditTrail AuditTrail
	// ReadOnly collections refuse Save and Delete with ErrForbidden.
	ReadOnly []string
	// ScanBudget caps how many documents one Query call reads (see
	// ScanBudget); 0 leaves the provider's budget. It can only lower it.
	ScanBudget int
	// RequireIndex refuses, with ErrInvalid naming the EnsureIndex call
	// that would serve it, every query the provider would answer by
	// reading the collection rather than an index (see Served). Turn it on
	// where clients choose the filters, so no client can make the service
	// read, and pay for, a whole collection. A provider that cannot explain
	// its plans (no Explainer) gets only queries without conditions or
	// order.
	RequireIndex bool
}

// DefaultPolicy is the policy securedb.Open uses: default validation and
// audit records to slog.Default().
func DefaultPolicy() Policy {
	return Policy{Audit: slog.Default()}
}

// Guard returns a Service that validates every call against p before
// passing it to next, and audits every call. Refused input never reaches
// next. The returned Service also implements BulkWriter (validating every
// item first) and Wrapper.
func Guard(next Service, p Policy) Service {
	return &guard{next: next, p: p}
}

type guard struct {
	next Service
	p    Policy
}

type principalKey struct{}

// WithPrincipal returns a context that names who is acting, for audit
// records and, as an Auth with that UID and no claims, for security rules
// (see WithAuth).
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return WithAuth(ctx, Auth{UID: principal})
}

// PrincipalFrom returns the principal set by WithPrincipal or WithAuth
// (its UID), or "".
func PrincipalFrom(ctx context.Context) string {
	a, _ := ctx.Value(principalKey{}).(Auth)
	return a.UID
}

// Unwrap returns the guarded Service.
func (g *guard) Unwrap() Service { return g.next }

func (g *guard) Get(ctx context.Context, collection, id string) (doc Doc, err error) {
	defer func() {
		if err != nil {
			doc = nil // a fail-closed trail that lost the record withholds the read
		}
	}()
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "get", collection, id, time.Now(), &err, nil)
	if err = g.checkTarget("get", collection, id, false); err != nil {
		return nil, err
	}
	return g.next.Get(ctx, collection, id)
}

func (g *guard) Save(ctx context.Context, collection, id string, doc Doc, opts ...WriteOption) (rev string, err error) {
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "save", collection, id, time.Now(), &err, nil)
	if err = g.checkTarget("save", collection, id, true); err != nil {
		return "", err
	}
	if _, err = ApplySaveOptions(opts...); err != nil {
		return "", NewError("save", "guard", collection, id, err)
	}
	if err = validate.CheckDoc(doc, g.p.Limits); err != nil {
		return "", NewError("save", "guard", collection, id, err)
	}
	return g.next.Save(ctx, collection, id, doc, opts...)
}

func (g *guard) Delete(ctx context.Context, collection, id string, opts ...WriteOption) (err error) {
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "delete", collection, id, time.Now(), &err, nil)
	if err = g.checkTarget("delete", collection, id, true); err != nil {
		return err
	}
	if _, err = ApplyDeleteOptions(opts...); err != nil {
		return NewError("delete", "guard", collection, id, err)
	}
	return g.next.Delete(ctx, collection, id, opts...)
}

func (g *guard) Query(ctx context.Context, collection string, q Query) (page Page, err error) {
	defer func() {
		if err != nil {
			page = Page{}
		}
	}()
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "query", collection, "", time.Now(), &err, &page)
	if err = g.checkTarget("query", collection, "", false); err != nil {
		return Page{}, err
	}
	cq, err := CheckQueryWith(q, g.p.Limits)
	if err != nil {
		return Page{}, NewError("query", "guard", collection, "", err)
	}
	if g.p.RequireIndex {
		if err = g.requireIndex(ctx, collection, cq); err != nil {
			return Page{}, err
		}
	}
	if g.p.ScanBudget > 0 {
		ctx = WithScanBudget(ctx, g.p.ScanBudget)
	}
	return g.next.Query(ctx, collection, q)
}

// Explain implements Explainer for the provider underneath, so that
// middleware stacked on Guard can ask too.
func (g *guard) Explain(ctx context.Context, collection string, q Query) (Plan, error) {
	if ex, ok := g.next.(Explainer); ok {
		return ex.Explain(ctx, collection, q)
	}
	return Plan{}, nil
}

// requireIndex refuses a query the provider would not serve from an
// index, naming the call that would.
func (g *guard) requireIndex(ctx context.Context, collection string, q Query) error {
	var plan Plan
	if ex, ok := g.next.(Explainer); ok {
		p, err := ex.Explain(ctx, collection, q)
		if err != nil {
			return err
		}
		plan = p
	}
	if Served(q, plan) {
		return nil
	}
	call := "EnsureIndex(" + strconv.Quote(collection)
	for _, f := range SuggestIndex(q) {
		call += ", " + strconv.Quote(f)
	}
	return NewError("query", "guard", collection, "", fmt.Errorf("%w: no index serves this query and the policy requires one; %s would", ErrInvalid, call+")"))
}

func (g *guard) EnsureIndex(ctx context.Context, collection string, fields ...string) (err error) {
	defer g.audit(ctx, "ensure-index", collection, "", time.Now(), &err, nil)
	if err = g.checkTarget("ensure-index", collection, "", false); err != nil {
		return err
	}
	if err = CheckFieldsWith(fields, g.p.Limits); err != nil {
		return NewError("ensure-index", "guard", collection, "", err)
	}
	return g.next.EnsureIndex(ctx, collection, fields...)
}

func (g *guard) Ping(ctx context.Context) (err error) {
	defer g.audit(ctx, "ping", "", "", time.Now(), &err, nil)
	if err = g.ready("ping", "", ""); err != nil {
		return err
	}
	return g.next.Ping(ctx)
}

func (g *guard) Close() error { return g.next.Close() }

// SaveMany validates every item against the policy, then writes them with
// next's BulkWriter when it has one, or one Save at a time.
func (g *guard) SaveMany(ctx context.Context, collection string, items []BulkItem) (err error) {
	defer g.audit(ctx, "save-many", collection, "", time.Now(), &err, nil)
	if err = g.checkTarget("save-many", collection, "", true); err != nil {
		return err
	}
	for _, it := range items {
		if err = g.p.IDs.Check(it.ID); err != nil {
			return NewError("save-many", "guard", collection, it.ID, err)
		}
		if err = validate.CheckDoc(it.Doc, g.p.Limits); err != nil {
			return NewError("save-many", "guard", collection, it.ID, err)
		}
	}
	if bw, ok := g.next.(BulkWriter); ok {
		return bw.SaveMany(ctx, collection, items)
	}
	for _, it := range items {
		if _, err = g.next.Save(ctx, collection, it.ID, it.Doc); err != nil {
			return err
		}
	}
	return nil
}

// checkTarget applies the collection allowlist, the ID rule and the
// read-only list.
//
// It first asks the audit trail whether the operation may start: every
// operation but Ping passes here before it reaches the provider.
func (g *guard) checkTarget(op, collection, id string, write bool) error {
	if err := g.ready(op, collection, id); err != nil {
		return err
	}
	if err := g.p.Collections.Check(collection); err != nil {
		return NewError(op, "guard", collection, id, err)
	}
	if id != "" || op == "get" || op == "save" || op == "delete" || op == "update" {
		if err := g.p.IDs.Check(id); err != nil {
			return NewError(op, "guard", collection, id, err)
		}
	}
	if write && slices.Contains(g.p.ReadOnly, collection) {
		return NewError(op, "guard", collection, id, ErrForbidden)
	}
	return nil
}

// audit writes one record per operation. Document contents and query
// values never appear: only what was touched, by whom, and how it ended.
func (g *guard) audit(ctx context.Context, op, collection, id string, start time.Time, errp *error, page *Page) {
	if g.p.Audit == nil && g.p.AuditTrail == nil {
		return
	}
	err := *errp
	kind := ErrorKind(err)
	level, outcome := slog.LevelInfo, "ok"
	switch kind {
	case "":
	case "not_found", "conflict":
		outcome = "rejected"
	case "invalid", "forbidden", "unauthorized", "insecure":
		level, outcome = slog.LevelWarn, "denied"
	default:
		level, outcome = slog.LevelError, "error"
	}
	elapsed := time.Since(start)
	if g.p.AuditTrail != nil {
		g.appendTrail(ctx, op, collection, id, outcome, kind, elapsed, errp, page)
	}
	if g.p.Audit == nil || !g.p.Audit.Enabled(ctx, level) {
		return
	}
	// What passed validation is marked verbatim: an ID that embeds a git
	// SHA must not reach the trail as "prod-[REDACTED]". The masking
	// handler still masks by key, and everything else by value.
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, verbatim.Attr("op", op))
	if collection != "" {
		// A refused name is hostile input of any size: log only the short
		// escaped excerpt an error message would quote.
		if g.p.Collections.Check(collection) == nil {
			attrs = append(attrs, verbatim.Attr("collection", collection))
		} else {
			attrs = append(attrs, slog.String("collection", printable(collection)))
		}
	}
	if id != "" && (g.p.IDs.Check(id) == nil) {
		attrs = append(attrs, auditAttr("id", id))
	} else if id != "" {
		attrs = append(attrs, verbatim.Attr("id", "(refused)"))
	}
	if p := PrincipalFrom(ctx); p != "" {
		// A principal is whatever the caller put in the context.
		attrs = append(attrs, auditAttr("principal", p))
	}
	if r := ruleFrom(ctx); r != "" {
		attrs = append(attrs, verbatim.Attr(AuditRuleKey, r))
	}
	attrs = append(attrs, verbatim.Attr("outcome", outcome))
	if kind != "" {
		attrs = append(attrs, verbatim.Attr("error_kind", kind))
	}
	if page != nil && err == nil {
		attrs = append(attrs, slog.Int("count", len(page.Docs)))
	}
	attrs = append(attrs, slog.Duration("duration", elapsed))
	g.p.Audit.LogAttrs(ctx, level, "securedb.audit", attrs...)
}

// ready asks the audit trail whether an operation may start.
func (g *guard) ready(op, collection, id string) error {
	if g.p.AuditTrail == nil {
		return nil
	}
	if err := g.p.AuditTrail.Ready(); err != nil {
		return NewError(op, "guard", collection, id, err)
	}
	return nil
}

// appendTrail writes the operation's record to the audit trail. When the
// trail refuses it (fail-closed) and the operation itself succeeded, the
// trail's error becomes the operation's: the caller learns that the
// operation ran but left no record. An operation that already failed keeps
// its own error, so that it still matches exactly one sentinel.
func (g *guard) appendTrail(ctx context.Context, op, collection, id, outcome, kind string, elapsed time.Duration, errp *error, page *Page) {
	rec := AuditRecord{
		Op:         op,
		Collection: g.auditCollection(collection),
		ID:         g.auditID(id),
		Principal:  PrincipalFrom(ctx),
		Outcome:    outcome,
		ErrorKind:  kind,
		Duration:   elapsed,
	}
	if page != nil && *errp == nil {
		rec.Count, rec.HasCount = len(page.Docs), true
	}
	if err := g.p.AuditTrail.Append(ctx, rec); err != nil && *errp == nil {
		*errp = NewError(op, "guard", collection, id, err)
	}
}

// auditCollection is what an audit record says for a collection: the name
// once it passed the policy, else the short escaped excerpt an error
// message would quote, since a refused name is hostile input of any size.
func (g *guard) auditCollection(collection string) string {
	if collection == "" || g.p.Collections.Check(collection) == nil {
		return collection
	}
	return printable(collection)
}

// auditID is what an audit record says for an ID: the ID once it passed
// the policy, else "(refused)".
func (g *guard) auditID(id string) string {
	if id == "" || g.p.IDs.Check(id) == nil {
		return id
	}
	return "(refused)"
}

// auditAttr marks value verbatim only when it passes the default ID rule as
// well as any looser rule a Policy sets: letters, digits, '_' and '-' hold
// none of the separators masking's value rules start from (= : @ %), so
// such a value can only be mistaken for a secret (a git SHA in an ID), not
// carry one in a key=value or URL. Anything else is left to masking.
func auditAttr(key, value string) slog.Attr {
	if (validate.IDRule{}).Check(value) == nil {
		return verbatim.Attr(key, value)
	}
	return slog.String(key, value)
}

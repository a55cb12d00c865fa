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
	ctx = withRuleSlot(ctx)
	defer g.audit(ctx, "query", collection, "", time.Now(), &err, &page)
	if err = g.checkTarget("query", collection, "", false); err != nil {
		return Page{}, err
	}
	cq, err := CheckQuery(q)
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
	if err = CheckFields(fields); err != nil {
		return NewError("ensure-index", "guard", collection, "", err)
	}
	return g.next.EnsureIndex(ctx, collection, fields...)
}

func (g *guard) Ping(ctx context.Context) (err error) {
	defer g.audit(ctx, "ping", "", "", time.Now(), &err, nil)
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
func (g *guard) checkTarget(op, collection, id string, write bool) error {
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
	if g.p.Audit == nil {
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
	if !g.p.Audit.Enabled(ctx, level) {
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
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	g.p.Audit.LogAttrs(ctx, level, "securedb.audit", attrs...)
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

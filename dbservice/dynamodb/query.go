package dynamodb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// cursorState is the position a page ends at: the key of the last item
// the query has dealt with, used as Scan's ExclusiveStartKey.
type cursorState struct {
	After string `json:"k,omitempty"`
	// X names the index a page of an index read came from, F is the full
	// (uncut) sort key it ended at, and In reports that the next page
	// starts at F itself rather than after it.
	X  string `json:"x,omitempty"`
	F  string `json:"f,omitempty"`
	In bool   `json:"i,omitempty"`
}

// maxScanLimit caps how many items one Scan request evaluates; DynamoDB
// also stops at 1 MB.
const maxScanLimit = 1 << 16

// Query implements dbservice.Service. A query an index of EnsureIndex
// serves reads it (see Service.EnsureIndex): the plan's key range, in the
// plan's direction, the rest of the conditions as a filter and checked by
// dbservice.Match, the reads bounded by the scan budget, the cursor signed
// and holding the index key the page ended at. Other queries use Scan and
// a FilterExpression built
// only from expression attribute names and values, never from user text.
// DynamoDB applies Limit before the filter, so Query keeps scanning until
// the page is full, the table ends or the scan budget is spent (Scan's
// Limit bounds the items evaluated, so a call never reads past it); it
// starts each Scan at the page size and grows it fourfold while matches are
// sparse. dbservice.Match then checks every item on the client, the final
// word on the semantics. Ordered queries go through dbservice.SortedPage.
//
// Scans are strongly consistent (ConsistentRead), so a page reflects every
// write acknowledged before it, at twice the read capacity of an eventually
// consistent scan. Pages come in scan order (by the hash of the ID), not by
// ID. The cursor
// holds the key of the last item returned, or of the last item scanned
// when nothing after it matched, so every document is returned exactly
// once across pages, even with concurrent writes to other documents.
func (s *Service) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Page{}, err
	}
	q, err := dbservice.CheckQueryWith(q, s.limits)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	budget := dbservice.ScanBudget(ctx, s.budget)
	table := s.table(coll) // one concatenation per call, not one per use
	list, err := s.indexes(ctx, table)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", classify(ctx, err))
	}
	plan, ix := s.planIndexes(table, q, list)
	if ix != nil && ((len(q.OrderBy) > 0 && !plan.Ordered) || (ix.shards > 0 && budget < 2*ix.shards)) {
		ix = nil // the index cannot give the order, or the budget cannot reach every shard
	}
	if len(q.OrderBy) > 0 && ix == nil {
		return dbservice.SortedPage(ctx, provider, coll, q, budget, s.cursors, func(ctx context.Context, inner dbservice.Query) (dbservice.Page, error) {
			return s.Query(ctx, coll, inner)
		})
	}
	var start map[string]types.AttributeValue
	var st cursorState
	if q.Cursor != "" {
		if err := s.cursors.Decode(coll, q, q.Cursor, &st); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		if st.X != "" && (ix == nil || st.X != ix.name) {
			// A page of another plan (an index appeared or went since):
			// continue on the index the cursor came from.
			at := slices.IndexFunc(list, func(e index) bool { return e.name == st.X })
			if at < 0 {
				return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: the index this cursor reads is gone; start the query again", dbservice.ErrInvalid))
			}
			plan, ix = s.planIndexes(table, q, list[at:at+1])
			if ix == nil || (len(q.OrderBy) > 0 && !plan.Ordered) {
				return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: the cursor does not fit the query", dbservice.ErrInvalid))
			}
		}
		if st.X == "" {
			ix = nil // a page of a Scan continues as a Scan
		}
	}
	if ix != nil {
		return s.queryIndex(ctx, coll, q, plan, ix, st, budget)
	}
	if q.Cursor != "" {
		// A scan may stop on an index marker (markerID), which is no
		// document ID; the cursor holding it is signed like any other.
		if !isMarkerID(st.After) {
			if err := dbservice.CheckID(st.After); err != nil {
				return dbservice.Page{}, fail("query", coll, "", err)
			}
		}
		start = key(st.After)
	}
	now := time.Now()
	in, _ := buildScan(table, q, now)
	in.ExclusiveStartKey = start
	scanLimit := q.Limit + 1

	var page dbservice.Page
	next := func(after string) (dbservice.Page, error) {
		c, err := s.cursors.Encode(coll, q, cursorState{After: after})
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: cursor cannot be encoded", dbservice.ErrUnavailable))
		}
		page.Next = c
		page.Stats.Returned = len(page.Docs)
		return page, nil
	}
	for {
		// Scan's Limit bounds the items it evaluates (and bills), so no
		// call reads past its budget.
		in.Limit = aws.Int32(int32(min(scanLimit, budget-page.Stats.Read)))
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			if errorCode(err) == codeNotFound {
				return dbservice.Page{}, nil // a collection never written is empty
			}
			return dbservice.Page{}, fail("query", coll, "", classify(ctx, err))
		}
		page.Stats.Read += int(out.ScannedCount)
		for _, item := range out.Items {
			if isMarker(item) {
				continue
			}
			doc, err := decodeItem(item)
			if err != nil {
				return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: %s", dbservice.ErrUnavailable, err))
			}
			// The filter already dropped what had expired when the server
			// read it; the process clock is the final word.
			if dbservice.Expired(doc, now) || !dbservice.Match(doc, q.Where) {
				continue
			}
			if len(page.Docs) == q.Limit {
				// Another match exists: continue after the last one
				// returned, not after the scan's LastEvaluatedKey, which
				// lies beyond this unreturned match.
				return next(page.Docs[len(page.Docs)-1][idAttr].(string))
			}
			if len(q.Fields) > 0 {
				exp, hasExp := doc[expiresAttr]
				doc = dbservice.Project(doc, q.Fields)
				if hasExp {
					doc[expiresAttr] = exp // carried on every read, like _id and _rev
				}
			}
			page.Docs = append(page.Docs, doc)
		}
		if out.LastEvaluatedKey == nil {
			page.Stats.Returned = len(page.Docs)
			return page, nil
		}
		lek, ok := out.LastEvaluatedKey[idAttr].(*types.AttributeValueMemberS)
		if !ok {
			return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: scan returned an unexpected key", dbservice.ErrUnavailable))
		}
		if len(page.Docs) == q.Limit {
			// Everything up to the scan's end was looked at and nothing
			// after the last returned document matched.
			return next(lek.Value)
		}
		if page.Stats.Read >= budget {
			page.Stats.BudgetReached = true
			return next(lek.Value)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		scanLimit = min(scanLimit*4, maxScanLimit)
	}
}

// exprBuilder collects expression attribute names and values. Every
// document path and every value goes through a placeholder, so user input
// never becomes expression syntax (and reserved words need no quoting).
type exprBuilder struct {
	names  map[string]string // placeholder → attribute name
	byName map[string]string // attribute name → placeholder
	values map[string]types.AttributeValue
	// inexact records that a condition was widened to a superset.
	inexact bool
}

func newExprBuilder() *exprBuilder {
	return &exprBuilder{names: map[string]string{}, byName: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// path returns the placeholder form of a dotted field path, one name per
// segment: "owner.id" becomes "#n0.#n1". The names come from
// dbservice.SplitPath, so an escaped "." inside a name (`files.main\.py`)
// stays inside one placeholder and never splits the path.
func (b *exprBuilder) path(field string) string {
	return b.names2path(dbservice.SplitPath(field))
}

// names2path returns the placeholder form of a path given as its names.
func (b *exprBuilder) names2path(names []string) string {
	segs := make([]string, len(names))
	for i, seg := range names {
		ph, ok := b.byName[seg]
		if !ok {
			ph = "#n" + strconv.Itoa(len(b.names))
			b.names[ph] = seg
			b.byName[seg] = ph
		}
		segs[i] = ph
	}
	return strings.Join(segs, ".")
}

func (b *exprBuilder) value(av types.AttributeValue) string {
	ph := ":v" + strconv.Itoa(len(b.values))
	b.values[ph] = av
	return ph
}

// attribute_type operands.
var (
	typeNull   = &types.AttributeValueMemberS{Value: "NULL"}
	typeNumber = &types.AttributeValueMemberS{Value: "N"}
	typeString = &types.AttributeValueMemberS{Value: "S"}
	typeList   = &types.AttributeValueMemberS{Value: "L"}
	typeMap    = &types.AttributeValueMemberS{Value: "M"}
)

// never is a condition no item satisfies, on the path p of the condition
// it replaces (DynamoDB refuses a placeholder left unused).
func never(p string) string {
	return "(attribute_exists(" + p + ") AND attribute_not_exists(" + p + "))"
}

// cond returns the filter for one condition (from dbservice.CheckQuery).
// Each is the exact DynamoDB form of dbservice.Match's rule, or a superset
// of it where DynamoDB cannot hold the value (a number beyond its range),
// never narrower, since Match runs on the client afterwards:
//
//   - DynamoDB comparisons never cross types (N vs S vs BOOL), like Match;
//   - Eq nil is attribute_type(p, NULL): an explicit null, not a missing field;
//   - Ne is present, not NULL and <> v, because <> alone is true for missing
//     fields and nulls;
//   - In is IN (...) plus attribute_type(p, NULL) when nil is listed;
//   - Contains is attribute_type(p, L) AND contains(p, v): contains alone
//     also matches substrings of a string and elements of a set;
//   - Prefix is attribute_type(p, S) AND begins_with(p, v) (begins_with
//     also matches binary values), and only the type test for "".
//
// exact is false when the filter is a strict superset of Match (a number
// DynamoDB cannot hold); Count then cannot trust a server-side count.
func (b *exprBuilder) cond(c dbservice.Cond) (expr string, exact bool) {
	e := b.condExpr(c)
	return e, !b.inexact
}

func (b *exprBuilder) condExpr(c dbservice.Cond) string {
	p := b.path(c.Field)
	// DynamoDB refuses unused placeholders, so values are added only by
	// the branch that uses them.
	present := func() string {
		return "(attribute_exists(" + p + ") AND NOT attribute_type(" + p + ", " + b.value(typeNull) + "))"
	}
	switch c.Op {
	case dbservice.Exists:
		if c.Value.(bool) {
			return "attribute_exists(" + p + ")"
		}
		return "attribute_not_exists(" + p + ")"
	case dbservice.Eq:
		if c.Value == nil {
			return "attribute_type(" + p + ", " + b.value(typeNull) + ")"
		}
		av, ok := scalarAttr(c.Value)
		if !ok {
			return never(p)
		}
		return p + " = " + b.value(av)
	case dbservice.Ne:
		av, ok := scalarAttr(c.Value)
		if c.Value == nil || !ok {
			return present() // exact: nothing stored equals an unholdable number
		}
		return "(" + present() + " AND " + p + " <> " + b.value(av) + ")"
	case dbservice.In:
		var in, alts []string
		for _, v := range c.Value.([]any) {
			if v == nil {
				alts = append(alts, "attribute_type("+p+", "+b.value(typeNull)+")")
				continue
			}
			if av, ok := scalarAttr(v); ok {
				in = append(in, b.value(av))
			}
		}
		if len(in) > 0 {
			alts = append(alts, p+" IN ("+strings.Join(in, ", ")+")")
		}
		if len(alts) == 0 {
			// Only numbers DynamoDB cannot hold: nothing stored equals them.
			return never(p)
		}
		return "(" + strings.Join(alts, " OR ") + ")"
	case dbservice.Gt, dbservice.Gte, dbservice.Lt, dbservice.Lte:
		av, ok := scalarAttr(c.Value)
		if !ok {
			b.inexact = true
			return "attribute_type(" + p + ", " + b.value(typeNumber) + ")"
		}
		op := map[dbservice.Op]string{dbservice.Gt: ">", dbservice.Gte: ">=", dbservice.Lt: "<", dbservice.Lte: "<="}[c.Op]
		return p + " " + op + " " + b.value(av)
	case dbservice.Contains:
		av, ok := scalarAttr(c.Value)
		if !ok {
			return never(p)
		}
		return "(attribute_type(" + p + ", " + b.value(typeList) + ") AND contains(" + p + ", " + b.value(av) + "))"
	case dbservice.Prefix:
		isString := "attribute_type(" + p + ", " + b.value(typeString) + ")"
		if c.Value.(string) == "" {
			return isString
		}
		return "(" + isString + " AND begins_with(" + p + ", " + b.value(&types.AttributeValueMemberS{Value: c.Value.(string)}) + "))"
	}
	// CheckQuery admits no other operator; match everything and let
	// dbservice.Match decide.
	b.inexact = true
	return "attribute_exists(" + b.path(idAttr) + ")"
}

// live is the condition that an item has not expired at now; expired is
// its negation. ExpiresField holds validate.TimeLayout text, whose order
// is time order.
func (b *exprBuilder) live(now time.Time) string {
	p := b.path(expiresAttr)
	return "(attribute_not_exists(" + p + ") OR " + p + " > " + b.value(&types.AttributeValueMemberS{Value: validate.FormatTime(now)}) + ")"
}

func (b *exprBuilder) expired(now time.Time) string {
	p := b.path(expiresAttr)
	return p + " <= " + b.value(&types.AttributeValueMemberS{Value: validate.FormatTime(now)})
}

// attach sets the names and values collected into the input's maps.
func (b *exprBuilder) attach(names *map[string]string, values *map[string]types.AttributeValue) {
	if len(b.names) > 0 {
		*names = b.names
	}
	if len(b.values) > 0 {
		*values = b.values
	}
}

// buildScan returns the consistent Scan for q at now: its filter (q's
// conditions and that the item has not expired), and with a projection,
// the projected fields plus the system fields and every field a condition
// reads (Match needs them; dbservice.Project trims afterwards). exact
// reports that the filter is exactly Match's rule, so a server-side count
// needs no client-side check.
func buildScan(table string, q dbservice.Query, now time.Time) (in *dynamodb.ScanInput, exact bool) {
	in = &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	b := newExprBuilder()
	exact = true
	var parts []string
	for _, c := range q.Where {
		e, ok := b.cond(c)
		parts = append(parts, e)
		exact = exact && ok
	}
	parts = append(parts, b.live(now))
	in.FilterExpression = aws.String(strings.Join(parts, " AND "))
	if len(q.Fields) > 0 {
		paths := []string{idAttr, revAttr, expiresAttr}
		paths = append(paths, q.Fields...)
		for _, c := range q.Where {
			paths = append(paths, c.Field)
		}
		proj := dbservice.DisjointPaths(paths)
		for i, f := range proj {
			proj[i] = b.path(f)
		}
		in.ProjectionExpression = aws.String(strings.Join(proj, ", "))
	}
	b.attach(&in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	return in, exact
}

// Explain implements dbservice.Explainer: the plan Query follows, on the
// indexes EnsureIndex made (a Scan when none serves the query).
func (s *Service) Explain(ctx context.Context, coll string, q dbservice.Query) (dbservice.Plan, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Plan{}, err
	}
	q, err := dbservice.CheckQueryWith(q, s.limits)
	if err != nil {
		return dbservice.Plan{}, fail("query", coll, "", err)
	}
	list, err := s.indexes(ctx, s.table(coll))
	if err != nil {
		return dbservice.Plan{}, fail("query", coll, "", classify(ctx, err))
	}
	plan, ix := s.planIndexes(s.table(coll), q, list)
	if ix != nil && ix.shards > 0 && dbservice.ScanBudget(ctx, s.budget) < 2*ix.shards {
		return dbservice.Plan{Residual: q.Where}, nil
	}
	return plan, nil
}

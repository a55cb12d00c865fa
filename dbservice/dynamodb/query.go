package dynamodb

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
)

// cursorState is the position a page ends at: the key of the last item
// the query has dealt with, used as Scan's ExclusiveStartKey.
type cursorState struct {
	After string `json:"k"`
}

// maxScanLimit caps how many items one Scan request evaluates; DynamoDB
// also stops at 1 MB.
const maxScanLimit = 1 << 16

// Query implements dbservice.Service with Scan and a FilterExpression built
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
	q, err := dbservice.CheckQuery(q)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	budget := dbservice.ScanBudget(ctx, s.budget)
	if len(q.OrderBy) > 0 {
		return dbservice.SortedPage(ctx, provider, coll, q, budget, s.cursors, func(ctx context.Context, inner dbservice.Query) (dbservice.Page, error) {
			return s.Query(ctx, coll, inner)
		})
	}
	var start map[string]types.AttributeValue
	if q.Cursor != "" {
		var st cursorState
		if err := s.cursors.Decode(coll, q, q.Cursor, &st); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		if err := dbservice.CheckID(st.After); err != nil {
			return dbservice.Page{}, fail("query", coll, "", err)
		}
		start = key(st.After)
	}
	in := buildScan(s.table(coll), q)
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
			doc, err := decodeItem(item)
			if err != nil {
				return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: %s", dbservice.ErrUnavailable, err))
			}
			if !dbservice.Match(doc, q.Where) {
				continue
			}
			if len(page.Docs) == q.Limit {
				// Another match exists: continue after the last one
				// returned, not after the scan's LastEvaluatedKey, which
				// lies beyond this unreturned match.
				return next(page.Docs[len(page.Docs)-1][idAttr].(string))
			}
			if len(q.Fields) > 0 {
				doc = dbservice.Project(doc, q.Fields)
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
}

func newExprBuilder() *exprBuilder {
	return &exprBuilder{names: map[string]string{}, byName: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// path returns the placeholder form of a dotted field path, one name per
// segment: "owner.id" becomes "#n0.#n1".
func (b *exprBuilder) path(field string) string {
	segs := strings.Split(field, ".")
	for i, seg := range segs {
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

// typeNull and typeNumber are attribute_type operands.
var (
	typeNull   = &types.AttributeValueMemberS{Value: "NULL"}
	typeNumber = &types.AttributeValueMemberS{Value: "N"}
)

// cond returns the filter for one condition (from dbservice.CheckQuery).
// Each is the exact DynamoDB form of dbservice.Match's rule, or a superset
// of it where DynamoDB cannot hold the value (a number beyond its range),
// never narrower, since Match runs on the client afterwards:
//
//   - DynamoDB comparisons never cross types (N vs S vs BOOL), like Match;
//   - Eq nil is attribute_type(p, NULL): an explicit null, not a missing field;
//   - Ne is present, not NULL and <> v, because <> alone is true for missing
//     fields and nulls;
//   - In is IN (...) plus attribute_type(p, NULL) when nil is listed.
func (b *exprBuilder) cond(c dbservice.Cond) string {
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
			return "attribute_type(" + p + ", " + b.value(typeNumber) + ")"
		}
		return p + " = " + b.value(av)
	case dbservice.Ne:
		av, ok := scalarAttr(c.Value)
		if c.Value == nil || !ok {
			return present()
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
			return "attribute_type(" + p + ", " + b.value(typeNumber) + ")"
		}
		return "(" + strings.Join(alts, " OR ") + ")"
	case dbservice.Gt, dbservice.Gte, dbservice.Lt, dbservice.Lte:
		av, ok := scalarAttr(c.Value)
		if !ok {
			return "attribute_type(" + p + ", " + b.value(typeNumber) + ")"
		}
		op := map[dbservice.Op]string{dbservice.Gt: ">", dbservice.Gte: ">=", dbservice.Lt: "<", dbservice.Lte: "<="}[c.Op]
		return p + " " + op + " " + b.value(av)
	}
	// CheckQuery admits no other operator; match everything and let
	// dbservice.Match decide.
	return "attribute_exists(" + b.path(idAttr) + ")"
}

// buildScan returns the consistent Scan for q: its filter, and with a
// projection, the projected fields plus the system fields and every field
// a condition reads (Match needs them; dbservice.Project trims afterwards).
func buildScan(table string, q dbservice.Query) *dynamodb.ScanInput {
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	b := newExprBuilder()
	if len(q.Where) > 0 {
		parts := make([]string, len(q.Where))
		for i, c := range q.Where {
			parts[i] = b.cond(c)
		}
		in.FilterExpression = aws.String(strings.Join(parts, " AND "))
	}
	if len(q.Fields) > 0 {
		paths := []string{idAttr, revAttr}
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
	if len(b.names) > 0 {
		in.ExpressionAttributeNames = b.names
	}
	if len(b.values) > 0 {
		in.ExpressionAttributeValues = b.values
	}
	return in
}

// Explain implements dbservice.Explainer: every query with conditions is
// a Scan; this provider keeps no secondary index yet.
func (s *Service) Explain(ctx context.Context, coll string, q dbservice.Query) (dbservice.Plan, error) {
	if err := s.precheck(ctx, "query", coll, "", false); err != nil {
		return dbservice.Plan{}, err
	}
	q, err := dbservice.CheckQuery(q)
	if err != nil {
		return dbservice.Plan{}, fail("query", coll, "", err)
	}
	return dbservice.Plan{Residual: q.Where}, nil
}

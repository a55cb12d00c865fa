package dbservice

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/securedb-go/securedb/validate"
)

// ErrBudgetExceeded reports a query that cannot be answered within its
// scan budget at all, such as an ordering over more candidate documents
// than the budget allows. It matches ErrInvalid: the caller must narrow the
// query (or raise the budget); retrying the same call cannot succeed.
var ErrBudgetExceeded = fmt.Errorf("%w: query needs more reads than its scan budget", ErrInvalid)

// orderedCursor is the position after the last document of an ordered
// page: its SortValues, the last of which is its ID.
type orderedCursor struct {
	P []any `json:"p"`
}

// SortedPage answers a query with OrderBy by reading its candidates
// through scan, sorting them by SortKeys(q) and returning the page after
// q.Cursor. Providers use it for orderings no index of theirs serves,
// with their own cursor signer. q must come from CheckQuery; scan is the provider's own unordered Query
// (conditions, projection, page size and cursor as usual), called with
// WithScanBudget so that the whole call reads at most budget documents.
// When the candidates do not fit in the budget the call is
// ErrBudgetExceeded: a partial page could not be in order.
//
// Each call re-reads every candidate, so paging through n candidates in
// pages of k costs n²/k reads in all: this serves small result sets, not
// deep walks over large ones.
func SortedPage(ctx context.Context, provider, collection string, q Query, budget int, cursors *CursorSigner, scan func(context.Context, Query) (Page, error)) (Page, error) {
	fail := func(err error) (Page, error) { return Page{}, NewError("query", provider, collection, "", err) }
	keys := SortKeys(q)
	after, err := DecodePosition(cursors, collection, q)
	if err != nil {
		return fail(err)
	}
	inner := Query{Where: q.Where, Fields: sortFetch(q.Fields, keys), Limit: MaxLimit}
	var (
		cands []Doc
		read  int
	)
	for {
		page, err := scan(WithScanBudget(ctx, budget-read), inner)
		if err != nil {
			return Page{}, err
		}
		read += max(page.Stats.Read, len(page.Docs))
		for _, d := range page.Docs {
			if hasFields(d, keys) && (after == nil || compareToPosition(d, after, keys) > 0) {
				cands = append(cands, d)
			}
		}
		if page.Next == "" {
			break
		}
		if read >= budget {
			return fail(fmt.Errorf("%w: ordering by %s reads every candidate, more than %d; add conditions that narrow it",
				ErrBudgetExceeded, orderFields(q.OrderBy), budget))
		}
		inner.Cursor = page.Next
	}
	slices.SortFunc(cands, func(a, b Doc) int { return CompareDocs(a, b, keys) })
	out := Page{Stats: Stats{Read: read}}
	if len(cands) > q.Limit {
		next, err := EncodePosition(cursors, collection, q, SortValues(cands[q.Limit-1], keys))
		if err != nil {
			return fail(fmt.Errorf("%w: cursor cannot be encoded", ErrUnavailable))
		}
		out.Next = next
		cands = cands[:q.Limit]
	}
	if len(q.Fields) > 0 && len(inner.Fields) != len(q.Fields) {
		for i, d := range cands {
			cands[i] = Project(d, q.Fields)
		}
	}
	out.Docs = cands
	out.Stats.Returned = len(cands)
	return out, nil
}

// EncodePosition returns the cursor of an ordered page of q that ends at
// pos, the SortValues of its last document under SortKeys(q). Every way of
// answering an ordered query (SortedPage, or a provider's index in that
// order) issues and reads the same cursor, so a walk stays exactly-once
// when an index appears or goes between its pages.
func EncodePosition(cursors *CursorSigner, collection string, q Query, pos []any) (string, error) {
	return cursors.Encode(collection, q, orderedCursor{P: pos})
}

// DecodePosition returns the position q.Cursor (from EncodePosition)
// records, checked with CheckPosition against SortKeys(q), or nil when q
// has no cursor.
func DecodePosition(cursors *CursorSigner, collection string, q Query) ([]any, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	var st orderedCursor
	if err := cursors.Decode(collection, q, q.Cursor, &st); err != nil {
		return nil, err
	}
	if err := CheckPosition(st.P, SortKeys(q)); err != nil {
		return nil, err
	}
	return st.P, nil
}

// sortFetch is the projection the candidates are read with: the caller's
// fields plus every sort field, or whole documents when that list would be
// too long.
func sortFetch(fields []string, keys []Order) []string {
	if len(fields) == 0 {
		return nil
	}
	out := slices.Clone(fields)
	for _, k := range keys {
		if k.Field != "_id" && !slices.Contains(out, k.Field) {
			out = append(out, k.Field)
		}
	}
	if len(out) > validate.MaxFields {
		return nil
	}
	return out
}

// hasFields reports whether doc holds every sort field: documents lacking
// one are not part of an ordered answer.
func hasFields(doc Doc, keys []Order) bool {
	for _, k := range keys {
		if _, ok := Lookup(doc, k.Field); !ok {
			return false
		}
	}
	return true
}

// CheckPosition validates the position an ordered cursor recorded
// (SortValues of a document under keys). It is client input: one value
// per key, each within the document limits, the last an ID.
func CheckPosition(pos []any, keys []Order) error {
	bad := &validate.Error{Field: "query.cursor", Reason: "not a cursor this library issued"}
	if len(pos) != len(keys) {
		return bad
	}
	id, ok := pos[len(pos)-1].(string)
	if !ok || CheckID(id) != nil {
		return bad
	}
	if _, err := validate.Sanitize(map[string]any{"p": pos}, validate.DefaultLimits()); err != nil {
		return bad
	}
	return nil
}

func orderFields(keys []Order) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Field
	}
	return strings.Join(names, ", ")
}

package dbservice

import (
	"cmp"
	"slices"
	"strings"
)

// Order is one sort key of a query: a dotted field path and a direction.
type Order struct {
	Field string
	Desc  bool
}

// Asc orders by field, smallest first (see [Compare] for the order across
// types).
func Asc(field string) Order { return Order{Field: field} }

// Desc orders by field, largest first.
func Desc(field string) Order { return Order{Field: field, Desc: true} }

// MaxOrderBy is the most sort keys one query may have.
const MaxOrderBy = 4

// Compare is the one order of values every provider sorts by, across types:
//
//	null < false < true < numbers < strings < arrays < objects
//
// Numbers compare by value and strings by their UTF-8 bytes (not by any
// locale's collation). Arrays compare element by element, a shorter array
// first when it is a prefix of the other. Objects compare by their keys in
// byte order: key, then value, pair by pair, then the one with fewer pairs
// first. This is Firestore's own order for these types, so Firestore can
// serve it natively; the other providers keep it exactly.
//
// Compare returns -1, 0 or +1. Its arguments are values of the JSON data
// model (as documents hold them).
func Compare(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case float64:
		return cmp.Compare(x, b.(float64))
	case string:
		return strings.Compare(x, b.(string))
	case []any:
		y := b.([]any)
		for i := range min(len(x), len(y)) {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	case map[string]any:
		y := b.(map[string]any)
		kx, ky := sortedKeys(x), sortedKeys(y)
		for i := range min(len(kx), len(ky)) {
			if c := strings.Compare(kx[i], ky[i]); c != 0 {
				return c
			}
			if c := Compare(x[kx[i]], y[ky[i]]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(kx), len(ky))
	}
	return 0
}

// Type ranks of Compare's order. Values outside the JSON data model rank
// with null; CheckQuery and NormalizeDoc never let them in.
const (
	rankNull = iota
	rankBool
	rankNumber
	rankString
	rankArray
	rankObject
)

func typeRank(v any) int {
	switch v.(type) {
	case bool:
		return rankBool
	case float64:
		return rankNumber
	case string:
		return rankString
	case []any:
		return rankArray
	case map[string]any:
		return rankObject
	}
	return rankNull
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SortKeys returns the full sort order of q: its OrderBy keys followed by
// "_id" in the direction of the last key (ascending when q has no OrderBy),
// so that the order is total. This is Firestore's rule for its implicit
// document-name order.
func SortKeys(q Query) []Order {
	keys := slices.Clone(q.OrderBy)
	if n := len(keys); n > 0 && keys[n-1].Field == "_id" {
		return keys
	}
	desc := len(keys) > 0 && keys[len(keys)-1].Desc
	return append(keys, Order{Field: "_id", Desc: desc})
}

// CompareDocs compares two documents under keys (from SortKeys): it returns
// a negative number when a sorts first. A document lacking a sort field
// sorts as null there; queries with OrderBy only ever see documents that
// hold every sort field.
func CompareDocs(a, b Doc, keys []Order) int {
	for _, k := range keys {
		va, _ := Lookup(a, k.Field)
		vb, _ := Lookup(b, k.Field)
		c := Compare(va, vb)
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// SortValues returns doc's values for keys, in order; the position an
// ordered cursor records.
func SortValues(doc Doc, keys []Order) []any {
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i], _ = Lookup(doc, k.Field)
	}
	return vals
}

// compareToPosition compares doc with a recorded position (SortValues of
// some document) under keys.
func compareToPosition(doc Doc, pos []any, keys []Order) int {
	for i, k := range keys {
		v, _ := Lookup(doc, k.Field)
		c := Compare(v, pos[i])
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

package dbservice

import (
	"context"
	"slices"
	"strings"
	"unicode"
)

// IndexDef describes an ordered index a provider keeps: documents that
// hold every field, sorted by the fields' values (in the order of
// [Compare]) and then by ID. EnsureIndex(collection, fields...) makes one.
type IndexDef struct {
	Name   string
	Fields []string
}

// Plan is how a provider answers a query: which index it reads, which key
// range of it, in which direction, and what [Match] still has to decide
// on each document read. [PlanQuery] makes it; providers translate it into
// their native query.
type Plan struct {
	// Index is the index to read, or nil to read the collection in ID
	// order.
	Index *IndexDef
	// Eq holds the equalities on the index's first len(Eq) fields, in
	// index order.
	Eq []Cond
	// Range holds the range conditions (Gt, Gte, Lt, Lte, all of one value
	// type) on the field after them, Index.Fields[len(Eq)].
	Range []Cond
	// Ordered reports that reading the index in Direction gives q's order
	// (OrderBy and then _id), so no sort is needed.
	Ordered bool
	// Desc reads the index backwards.
	Desc bool
	// Residual holds the conditions the index does not decide.
	Residual []Cond
}

// PlanQuery picks, for a query from CheckQuery, the index that serves it
// best: one whose order is the query's order first (an ordered query no
// index serves must be sorted, see SortedPage), then the longest run of
// leading equalities, then a range on the field after them. Equalities on
// scalars (not In) and ranges of one type are served; everything else
// stays in Residual. An index that serves nothing is not used.
func PlanQuery(q Query, indexes []IndexDef) Plan {
	best, bestScore := Plan{Residual: q.Where}, 0
	for i := range indexes {
		p, score := planOn(q, &indexes[i])
		if score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}

func planOn(q Query, ix *IndexDef) (Plan, int) {
	// The index holds only documents that have every one of its fields:
	// it can answer a query only when the query requires them all, or
	// the documents that lack one would be missed.
	for _, f := range ix.Fields {
		if !requires(q, f) {
			return Plan{}, 0
		}
	}
	p := Plan{Index: ix}
	used := make([]bool, len(q.Where))
	// Leading equalities.
	for _, f := range ix.Fields {
		at := slices.IndexFunc(q.Where, func(c Cond) bool { return c.Field == f && c.Op == Eq })
		if at < 0 {
			break
		}
		p.Eq = append(p.Eq, q.Where[at])
		used[at] = true
	}
	// One range, on the next field, of one value type.
	if n := len(p.Eq); n < len(ix.Fields) {
		f := ix.Fields[n]
		var rank = -1
		for i, c := range q.Where {
			switch c.Op {
			case Gt, Gte, Lt, Lte, Prefix:
			default:
				continue
			}
			if c.Field != f || used[i] {
				continue
			}
			r := typeRank(c.Value)
			if rank >= 0 && r != rank {
				continue // two types can never both hold: Match decides
			}
			rank = r
			if c.Op == Prefix {
				// A prefix is the range [p, the next string after every
				// string that starts with p); it stays in Residual too, so
				// a provider that cannot read the range exactly still
				// answers exactly.
				p.Range = append(p.Range, Cond{Field: f, Op: Gte, Value: c.Value})
				if hi, ok := PrefixEnd(c.Value.(string)); ok {
					p.Range = append(p.Range, Cond{Field: f, Op: Lt, Value: hi})
				}
				continue
			}
			p.Range = append(p.Range, c)
			used[i] = true
		}
	}
	// The order: OrderBy must be the index's fields after the equalities,
	// all in one direction, with _id (implicit or explicit) in it too.
	keys := SortKeys(q)
	rest := ix.Fields[len(p.Eq):]
	if len(q.OrderBy) == 0 {
		p.Ordered = true // an unordered query takes any total order
	} else if len(keys)-1 == len(rest) {
		p.Ordered, p.Desc = true, keys[0].Desc
		for i, k := range keys {
			if k.Desc != p.Desc || (i < len(rest) && k.Field != rest[i]) {
				p.Ordered = false
				break
			}
		}
	}
	for i, c := range q.Where {
		if !used[i] {
			p.Residual = append(p.Residual, c)
		}
	}
	score := 10 * len(p.Eq)
	if len(p.Range) > 0 {
		score++
	}
	if len(q.OrderBy) > 0 && p.Ordered {
		score += 1000
	}
	if score == 0 {
		return Plan{}, 0
	}
	if len(q.OrderBy) > 0 && !p.Ordered {
		// The index narrows the reads but the order needs a sort: the plan
		// serves the candidates SortedPage reads.
		p.Desc = false
	}
	return p, score
}

// requires reports whether every document q matches holds field: q orders
// by it (documents without a sort field are left out), or a condition
// other than Exists false is on it or on a path inside it (Match's
// operators are all false on a missing field).
func requires(q Query, field string) bool {
	for _, k := range q.OrderBy {
		if k.Field == field {
			return true
		}
	}
	for _, c := range q.Where {
		if c.Op == Exists && c.Value == false {
			continue
		}
		if c.Field == field || strings.HasPrefix(c.Field, field+".") {
			return true
		}
	}
	return false
}

// Explainer is implemented by providers that can tell, before running a
// query, how they would answer it. Guard uses it for Policy.RequireIndex.
type Explainer interface {
	// Explain returns the plan for q (from CheckQuery): Plan.Index is nil
	// when the provider would read the collection in ID order.
	Explain(ctx context.Context, collection string, q Query) (Plan, error)
}

// Served reports whether a plan reads an index rather than the whole
// collection: a query with no conditions and no order walks the primary
// index page by page; any other query needs a secondary index that
// narrows its reads, and an ordered one an index in its order.
func Served(q Query, p Plan) bool {
	if len(q.Where) == 0 && len(q.OrderBy) == 0 {
		return true
	}
	return p.Index != nil && (len(q.OrderBy) == 0 || p.Ordered)
}

// SuggestIndex returns the fields of an EnsureIndex call that would serve
// q: its equalities, then one range field, then its order.
func SuggestIndex(q Query) []string {
	var fields []string
	add := func(f string) {
		if f != "_id" && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	for _, c := range q.Where {
		if c.Op == Eq {
			add(c.Field)
		}
	}
	if len(q.OrderBy) > 0 {
		for _, k := range q.OrderBy {
			add(k.Field)
		}
	} else {
		for _, c := range q.Where {
			switch c.Op {
			case Gt, Gte, Lt, Lte, Prefix:
				add(c.Field)
			}
		}
	}
	if len(fields) == 0 && len(q.Where) > 0 {
		add(q.Where[0].Field)
	}
	return fields
}

// PrefixEnd returns the smallest valid UTF-8 string, in byte order, above
// every string that starts with prefix: prefix with its last rune replaced
// by the next one. Strings with the prefix are exactly those in
// [prefix, end). It reports false when there is no such bound (an empty
// prefix, or one made only of the largest rune): then every string from
// prefix on qualifies. Byte order of UTF-8 is code point order, so the
// bound holds on every backend that compares strings by their bytes.
func PrefixEnd(prefix string) (string, bool) {
	rs := []rune(prefix)
	for len(rs) > 0 {
		last := rs[len(rs)-1]
		switch {
		case last < 0xD7FF || (last >= 0xE000 && last < unicode.MaxRune):
			rs[len(rs)-1] = last + 1
			return string(rs), true
		case last == 0xD7FF:
			rs[len(rs)-1] = 0xE000 // skip the surrogates, which UTF-8 cannot hold
			return string(rs), true
		}
		rs = rs[:len(rs)-1]
	}
	return "", false
}

package dbtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// DifferentialOptions configure Differential.
type DifferentialOptions struct {
	// Queries is how many random queries run; 0 means 1000. Half run
	// before EnsureIndex is called on the indexed fields, half after.
	Queries int
	// Docs is how many random documents are stored; 0 means 150.
	Docs int
	// Replay fixes the pseudo-random data and queries to those of an
	// earlier run, by the number that run logged; 0 picks a new number.
	Replay uint64
	// Indexes are the EnsureIndex calls made halfway, one field list
	// each; nil means DifferentialIndexes.
	// The fields queries use are s, n, b, t, o (with o.k and o.n), arr.
	Indexes [][]string
}

// DifferentialIndexes are the EnsureIndex calls Differential makes halfway:
// single fields, and pairs of an equality field and a range or order
// field. A pair serves only queries that require both fields (documents
// lacking either are not in it), and one in eight random documents lacks
// each field, so a provider that reads such an index for a query on its
// first field alone loses matches and disagrees.
var DifferentialIndexes = [][]string{{"t"}, {"s"}, {"n"}, {"o.k"}, {"t", "n"}, {"t", "s"}, {"b", "n"}}

// Differential stores the same random documents in s and in the memory
// provider (the reference semantics), runs random queries on both —
// conditions of every operator on numbers, strings with non-ASCII letters
// and punctuation, mixed types, nested paths and _id; orderings; limits;
// projections — and requires the same answer: the same documents in the
// same order for ordered queries, the same set otherwise (providers page
// unordered queries in their own native order). Every page of both is
// walked with its cursor. Queries either side refuses must be refused by
// both with ErrInvalid.
func Differential(t *testing.T, s dbservice.Service, opts DifferentialOptions) {
	t.Helper()
	if opts.Queries == 0 {
		opts.Queries = 1000
	}
	if opts.Docs == 0 {
		opts.Docs = 150
	}
	if opts.Replay == 0 {
		opts.Replay = rand.Uint64()
	}
	if opts.Indexes == nil {
		opts.Indexes = DifferentialIndexes
	}
	t.Logf("differential run %d (DifferentialOptions.Replay repeats it)", opts.Replay)
	rng := rand.New(rand.NewPCG(opts.Replay, 0x5ec))
	ref := memory.New()
	t.Cleanup(func() { _ = ref.Close() })
	coll := Collection(t)

	items := make([]dbservice.BulkItem, opts.Docs)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: randomID(rng, i), Doc: randomDoc(rng)}
	}
	saveAll(t, s, coll, items)
	saveAll(t, ref, coll, items)

	agree := 0
	for i := range opts.Queries {
		if i == opts.Queries/2 {
			for _, f := range opts.Indexes {
				if err := s.EnsureIndex(ctx(t), coll, f...); err != nil {
					t.Fatalf("EnsureIndex(%v): %v", f, err)
				}
			}
		}
		q := randomQuery(rng)
		want, werr := walkQuery(t, ref, coll, q)
		got, gerr := walkQuery(t, s, coll, q)
		switch {
		case werr != nil || gerr != nil:
			if !errors.Is(werr, dbservice.ErrInvalid) || !errors.Is(gerr, dbservice.ErrInvalid) {
				t.Fatalf("query %d %s:\n reference error %v\n provider error  %v", i, describe(q), werr, gerr)
			}
			continue
		case len(q.OrderBy) == 0:
			sortByID(want)
			sortByID(got)
		}
		if !reflect.DeepEqual(withoutRevs(got), withoutRevs(want)) {
			t.Fatalf("query %d %s disagrees with the reference:\n got  %v\n want %v", i, describe(q), idsInOrder(got), idsInOrder(want))
		}
		agree++
	}
	t.Logf("%d of %d random queries agree with the reference (the rest refused by both)", agree, opts.Queries)
}

// The value pools mix types on purpose: every field holds numbers,
// strings, bools, nulls, arrays and objects in some documents.
var (
	diffStrings = []string{"", "a", "A", "a b", "ab", "Zeta", "zeta", "é", "e", "ñ", "日本", "x-y", "x_y", "x.y", "10", "9", "!", "~", "alpha", "Alpha"}
	diffNumbers = []float64{-1e9, -3, -0.5, 0, 0.25, 1, 2, 2.5, 10, 1e15, 1e100}
	diffTeams   = []string{"red", "blue", "green"}
)

func randomID(rng *rand.Rand, i int) string {
	// IDs of varied case and punctuation, unique by their suffix.
	prefixes := []string{"a", "B", "z", "_u", "0", "Q-", "m_"}
	return fmt.Sprintf("%s%03d", prefixes[rng.IntN(len(prefixes))], i)
}

func randomScalar(rng *rand.Rand) any {
	switch rng.IntN(10) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2, 3, 4:
		return diffNumbers[rng.IntN(len(diffNumbers))]
	default:
		return diffStrings[rng.IntN(len(diffStrings))]
	}
}

func randomValue(rng *rand.Rand) any {
	switch rng.IntN(12) {
	case 0:
		return []any{randomScalar(rng), randomScalar(rng)}
	case 1:
		return map[string]any{"k": randomScalar(rng)}
	}
	return randomScalar(rng)
}

func randomDoc(rng *rand.Rand) dbservice.Doc {
	doc := dbservice.Doc{}
	maybe := func(field string, v func() any) {
		if rng.IntN(8) != 0 { // one in eight documents lacks the field
			doc[field] = v()
		}
	}
	maybe("s", func() any { return randomValue(rng) })
	maybe("n", func() any {
		if rng.IntN(4) == 0 {
			return randomValue(rng)
		}
		return diffNumbers[rng.IntN(len(diffNumbers))]
	})
	maybe("b", func() any { return randomScalar(rng) })
	maybe("t", func() any { return diffTeams[rng.IntN(len(diffTeams))] })
	maybe("o", func() any {
		if rng.IntN(6) == 0 {
			return "not an object"
		}
		o := map[string]any{"k": randomScalar(rng)}
		if rng.IntN(2) == 0 {
			o["n"] = diffNumbers[rng.IntN(len(diffNumbers))]
		}
		return o
	})
	if rng.IntN(4) == 0 {
		arr := make([]any, 1+rng.IntN(3))
		for i := range arr {
			arr[i] = randomScalar(rng)
		}
		doc["arr"] = arr
	}
	return doc
}

func randomQuery(rng *rand.Rand) dbservice.Query {
	fields := []string{"s", "n", "b", "t", "o.k", "o.n", "o", "arr", "_id", "missing"}
	ops := []dbservice.Op{dbservice.Eq, dbservice.Ne, dbservice.Gt, dbservice.Gte, dbservice.Lt, dbservice.Lte, dbservice.In, dbservice.Exists, dbservice.Contains, dbservice.Prefix}
	var q dbservice.Query
	for range rng.IntN(4) {
		f := fields[rng.IntN(len(fields))]
		op := ops[rng.IntN(len(ops))]
		var v any
		switch op {
		case dbservice.Exists:
			v = rng.IntN(2) == 0
		case dbservice.In:
			vals := make([]any, 1+rng.IntN(4))
			for i := range vals {
				vals[i] = randomScalar(rng)
			}
			v = vals
		case dbservice.Contains:
			v = randomScalar(rng)
		case dbservice.Prefix:
			// A prefix of a stored string, cut at a rune boundary, or
			// nothing at all.
			r := []rune(diffStrings[rng.IntN(len(diffStrings))])
			v = string(r[:rng.IntN(len(r)+1)])
		case dbservice.Eq, dbservice.Ne:
			if f == "t" && rng.IntN(2) == 0 {
				v = diffTeams[rng.IntN(len(diffTeams))]
			} else {
				v = randomScalar(rng)
			}
		default:
			if rng.IntN(2) == 0 {
				v = diffNumbers[rng.IntN(len(diffNumbers))]
			} else {
				v = diffStrings[rng.IntN(len(diffStrings))]
			}
		}
		q.Where = append(q.Where, dbservice.Where(f, op, v))
	}
	if rng.IntN(5) < 2 {
		keys := []string{"s", "n", "t", "o.k", "b", "_id"}
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for _, k := range keys[:1+rng.IntN(2)] {
			q.OrderBy = append(q.OrderBy, dbservice.Order{Field: k, Desc: rng.IntN(2) == 0})
		}
	}
	if rng.IntN(5) == 0 {
		q.Fields = []string{[]string{"s", "o.k", "n", "_id"}[rng.IntN(4)]}
	}
	// Ordered pages without an index re-read every candidate (see
	// dbservice.SortedPage), so they get page sizes that keep the walk
	// short; dbtest's own cases page ordered queries one by one.
	if len(q.OrderBy) > 0 {
		q.Limit = []int{10, 50, 1000}[rng.IntN(3)]
	} else {
		q.Limit = []int{1, 3, 10, 50, 1000}[rng.IntN(5)]
	}
	return q
}

// walkQuery follows every page of q, failing on a cursor that does not
// advance; an error is returned as is.
func walkQuery(t *testing.T, s dbservice.Service, coll string, q dbservice.Query) ([]dbservice.Doc, error) {
	t.Helper()
	var docs []dbservice.Doc
	for pages := 0; ; pages++ {
		if pages > 5000 {
			t.Fatalf("%s: more than 5000 pages", describe(q))
		}
		p, err := s.Query(ctx(t), coll, q)
		if err != nil {
			return nil, err
		}
		docs = append(docs, p.Docs...)
		if p.Next == "" {
			return docs, nil
		}
		q.Cursor = p.Next
	}
}

func sortByID(docs []dbservice.Doc) {
	slices.SortFunc(docs, func(a, b dbservice.Doc) int {
		return strings.Compare(a["_id"].(string), b["_id"].(string))
	})
}

func withoutRevs(docs []dbservice.Doc) []dbservice.Doc {
	out := make([]dbservice.Doc, len(docs))
	for i, d := range docs {
		c := dbservice.Clone(d)
		delete(c, "_rev")
		out[i] = c
	}
	return out
}

func describe(q dbservice.Query) string {
	return fmt.Sprintf("{where %v, order %v, fields %v, limit %d}", q.Where, q.OrderBy, q.Fields, q.Limit)
}

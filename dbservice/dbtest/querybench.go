package dbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
)

// QueryBenchSizes are the collection sizes the query-shape benchmarks
// (issue 12, part 7) measure, so latency at the larger size can be set
// against the smaller one: 10,000 and 50,000, or the comma-separated list
// in SECUREDB_QUERYBENCH_SIZES (for a quick run, or a slow emulator).
var QueryBenchSizes = querySizes()

func querySizes() []int {
	env := os.Getenv("SECUREDB_QUERYBENCH_SIZES")
	if env == "" {
		return []int{10000, 50000}
	}
	var sizes []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			panic("SECUREDB_QUERYBENCH_SIZES: not a list of positive numbers")
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// QueryBenchTeams is how many distinct "team" values the query-shape
// documents hold: an equality on one matches 1% of the collection.
const QueryBenchTeams = 100

// QueryBenchTeam is the team the equality shapes ask for; QueryBenchNoTeam
// is one no document holds.
const (
	QueryBenchTeam   = "team-42"
	QueryBenchNoTeam = "team-none"
)

// QueryBenchDoc is document i of a query-shape collection: team is one of
// QueryBenchTeams values (i mod 100), score a number in 0..999 spread over
// each team, name text and created_at a fixed-width UTC time as text.
func QueryBenchDoc(i int) dbservice.Doc {
	return dbservice.Doc{
		"team":       fmt.Sprintf("team-%d", i%QueryBenchTeams),
		"score":      (i * 37) % 1000,
		"name":       fmt.Sprintf("agent %d", i),
		"created_at": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000000000Z"),
	}
}

// QueryBenchID is the ID of document i of a query-shape collection.
func QueryBenchID(i int) string { return fmt.Sprintf("d%06d", i) }

// QueryBenchItems returns the n documents of a query-shape collection, for
// a provider's SaveMany.
func QueryBenchItems(n int) []dbservice.BulkItem {
	items := make([]dbservice.BulkItem, n)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: QueryBenchID(i), Doc: QueryBenchDoc(i)}
	}
	return items
}

// QueryShape is one query the query-shape benchmarks time.
type QueryShape struct {
	// Name names the sub-benchmark.
	Name string
	// Query is what the library is asked.
	Query dbservice.Query
	// Index is the field list the library's EnsureIndex gets for it.
	Index []string
}

// QueryShapes are the shapes of issue 12's benchmark table: an equality
// matching 1%, a range ordered by its field (top 5), an equality with a
// range, an order with a limit and no condition, and an equality nobody
// matches. Limit 10 unless the shape says otherwise.
func QueryShapes() []QueryShape {
	return []QueryShape{
		{Name: "eq", Index: []string{"team"}, Query: dbservice.Query{
			Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, QueryBenchTeam)}, Limit: 10}},
		{Name: "range-top5", Index: []string{"score"}, Query: dbservice.Query{
			Where:   []dbservice.Cond{dbservice.Where("score", dbservice.Gt, 900)},
			OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 5}},
		{Name: "eq-range", Index: []string{"team", "score"}, Query: dbservice.Query{
			Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, QueryBenchTeam), dbservice.Where("score", dbservice.Gt, 500)}, Limit: 10}},
		{Name: "orderby-limit", Index: []string{"score"}, Query: dbservice.Query{
			OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 10}},
		{Name: "no-match", Index: []string{"team"}, Query: dbservice.Query{
			Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, QueryBenchNoTeam)}, Limit: 10}},
	}
}

// QueryBenchRaw is one raw-SDK call of a shape (nil where there is no
// SDK, as for memory): it returns how many
// documents it returned and, when the SDK says so, how many it read (-1
// when it does not).
type QueryBenchRaw func(ctx context.Context) (returned, read int, err error)

// libLatency remembers each provider's library ns/op per shape and size in
// this process, so the larger size can report its ratio to the smaller.
var libLatency sync.Map // "provider/shape/size" -> float64

// BenchQueryShape times lib (the provider's Query with q) and raw
// alternately, as Pair does, and reports lib-ns/op, raw-ns/op, x-vs-raw,
// the library's docs-read/op (Page.Stats.Read) and returned/op, the raw
// call's returned/op (and raw-docs-read/op where the SDK tells), the share
// of library calls refused with ErrBudgetExceeded or stopped at the budget,
// and, at every size after the first, lib-x-vs-<first size> (library
// latency here over library latency at the first size). A library call
// refused with ErrBudgetExceeded counts as a call (its latency is timed)
// and is logged once; any other error fails the benchmark.
func BenchQueryShape(b *testing.B, provider string, size int, s dbservice.Service, coll string, shape QueryShape, raw QueryBenchRaw) {
	ctx := context.Background()
	var (
		libRead, libRet, rawRet, rawRead, exceeded, budget, calls int
		rawReadKnown                                              = true
		firstErr                                                  error
		firstStats                                                dbservice.Stats
	)
	lib := func() error {
		p, err := s.Query(ctx, coll, shape.Query)
		calls++
		if errors.Is(err, dbservice.ErrBudgetExceeded) {
			exceeded++
			if firstErr == nil {
				firstErr = err
			}
			return nil
		}
		if err != nil {
			return err
		}
		if calls == 1 {
			firstStats = p.Stats
		}
		libRead += p.Stats.Read
		libRet += len(p.Docs)
		if p.Stats.BudgetReached {
			budget++
		}
		return nil
	}
	rawCall := func() error {
		if raw == nil {
			return nil
		}
		ret, read, err := raw(ctx)
		rawRet += ret
		if read < 0 {
			rawReadKnown = false
		}
		rawRead += read
		return err
	}
	// One untimed call of each warms connections and server caches
	// (CouchDB builds a new index on its first use).
	if err := lib(); err != nil {
		b.Fatalf("library: %v", err)
	}
	if err := rawCall(); err != nil {
		b.Fatalf("raw: %v", err)
	}
	libRead, libRet, rawRet, rawRead, exceeded, budget, calls = 0, 0, 0, 0, 0, 0, 0
	rawT, libT, n := alternate(b, rawCall, lib)
	libNs := float64(libT.Nanoseconds()) / float64(n)
	b.ReportMetric(libNs, "lib-ns/op")
	if raw != nil {
		b.ReportMetric(float64(rawT.Nanoseconds())/float64(n), "raw-ns/op")
		b.ReportMetric(float64(libT)/float64(rawT), "x-vs-raw")
		b.ReportMetric(float64(rawRet)/float64(n), "raw-returned/op")
		if rawReadKnown {
			b.ReportMetric(float64(rawRead)/float64(n), "raw-docs-read/op")
		}
	}
	if ok := n - exceeded; ok > 0 {
		b.ReportMetric(float64(libRead)/float64(ok), "docs-read/op")
		b.ReportMetric(float64(libRet)/float64(ok), "returned/op")
	}
	b.ReportMetric(float64(exceeded)/float64(n), "budget-exceeded/op")
	b.ReportMetric(float64(budget)/float64(n), "budget-reached/op")
	if firstErr != nil {
		b.Logf("%s n=%d %s: library refused %d of %d calls: %v", provider, size, shape.Name, exceeded, n, firstErr)
	} else {
		b.Logf("%s n=%d %s: library index %q, read %d, returned %d, budget reached %v", provider, size, shape.Name,
			firstStats.Index, firstStats.Read, firstStats.Returned, firstStats.BudgetReached)
	}
	libLatency.Store(fmt.Sprintf("%s/%s/%d", provider, shape.Name, size), libNs)
	if size != QueryBenchSizes[0] {
		if v, ok := libLatency.Load(fmt.Sprintf("%s/%s/%d", provider, shape.Name, QueryBenchSizes[0])); ok {
			b.ReportMetric(libNs/v.(float64), fmt.Sprintf("lib-x-vs-n%d", QueryBenchSizes[0]))
		}
	}
}

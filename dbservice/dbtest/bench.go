package dbtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
)

// BenchDoc is the document provider benchmarks store: a typical agent
// record of six fields, nested map and list included.
func BenchDoc(i int) dbservice.Doc {
	return dbservice.Doc{
		"name":    fmt.Sprintf("agent %d", i),
		"active":  i%2 == 0,
		"runs":    i,
		"owner":   map[string]any{"id": "u1", "tier": "gold"},
		"skills":  []any{"search", "summarize"},
		"created": "2026-11-22T23:40:12Z",
	}
}

// Pair times raw and lib alternately in one benchmark loop (swapping which
// goes first), so drift on a shared machine or server hits both alike, and
// reports each one's ns/op and the ratio lib/raw as "x-vs-raw".
func Pair(b *testing.B, raw, lib func() error) {
	rawT, libT, n := alternate(b, raw, lib)
	b.ReportMetric(float64(rawT.Nanoseconds())/float64(n), "raw-ns/op")
	b.ReportMetric(float64(libT.Nanoseconds())/float64(n), "lib-ns/op")
	b.ReportMetric(float64(libT)/float64(rawT), "x-vs-raw")
}

// alternate runs raw and lib once per benchmark iteration, swapping which
// goes first, and returns the time each took in all and the iterations.
func alternate(b *testing.B, raw, lib func() error) (rawT, libT time.Duration, n int) {
	for b.Loop() {
		first, second := raw, lib
		firstT, secondT := &rawT, &libT
		if n%2 == 1 {
			first, second, firstT, secondT = lib, raw, &libT, &rawT
		}
		t0 := time.Now()
		if err := first(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := second(); err != nil {
			b.Fatal(err)
		}
		*firstT += t1.Sub(t0)
		*secondT += time.Since(t1)
		n++
	}
	return rawT, libT, n
}

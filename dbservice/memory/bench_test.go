package memory_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func agentDoc(i int) dbservice.Doc {
	return dbservice.Doc{
		"name":    fmt.Sprintf("agent %d", i),
		"active":  i%2 == 0,
		"runs":    i,
		"owner":   map[string]any{"id": "u1", "tier": "gold"},
		"skills":  []any{"search", "summarize"},
		"created": "2026-11-22T23:40:12Z",
	}
}

// BenchmarkGuard measures what Guard (validation + audit to a discarding
// JSON handler) adds to the bare memory provider, per Get and per Save, and
// reports the ratio.
func BenchmarkGuard(b *testing.B) {
	ctx := context.Background()
	audit := slog.New(slog.NewJSONHandler(io.Discard, nil))
	newPair := func(audit *slog.Logger) (bare, guarded dbservice.Service) {
		bare = memory.New()
		guarded = dbservice.Guard(memory.New(), dbservice.Policy{Audit: audit})
		for _, s := range []dbservice.Service{bare, guarded} {
			if _, err := s.Save(ctx, "agents", "a1", agentDoc(1)); err != nil {
				b.Fatal(err)
			}
		}
		return bare, guarded
	}
	ops := map[string]func(dbservice.Service) error{
		"Get": func(s dbservice.Service) error { _, err := s.Get(ctx, "agents", "a1"); return err },
		"Save": func(s dbservice.Service) error {
			_, err := s.Save(ctx, "agents", "a1", agentDoc(1))
			return err
		},
	}
	for _, name := range []string{"Get", "Save"} {
		for _, logger := range []*slog.Logger{audit, nil} {
			variant := name + "/audit"
			if logger == nil {
				variant = name + "/no-audit"
			}
			benchPair(b, variant, ops[name], func() (dbservice.Service, dbservice.Service) { return newPair(logger) })
		}
	}
}

func benchPair(b *testing.B, name string, op func(dbservice.Service) error, newPair func() (bare, guarded dbservice.Service)) {
	b.Run(name, func(b *testing.B) {
		bare, guarded := newPair()
		// Interleave the two in one loop so both see the same machine
		// state; report each one's ns/op and the ratio.
		var tBare, tGuard time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := op(bare); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := op(guarded); err != nil {
				b.Fatal(err)
			}
			tGuard += time.Since(t1)
			tBare += t1.Sub(t0)
		}
		b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/op")
		b.ReportMetric(float64(tGuard.Nanoseconds())/float64(b.N), "guard-ns/op")
		b.ReportMetric(float64(tGuard)/float64(tBare), "x-guard-vs-bare")
	})
}

// BenchmarkAll100k streams 100,000 documents through dbservice.All and
// reports the peak heap the iteration adds on top of the stored data: it
// must stay near one page, not grow with the collection.
func BenchmarkAll100k(b *testing.B) {
	ctx := context.Background()
	s := memory.New()
	const n = 100_000
	items := make([]dbservice.BulkItem, 0, 1000)
	for i := range n {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("a%06d", i), Doc: agentDoc(i)})
		if len(items) == cap(items) {
			if err := s.SaveMany(ctx, "agents", items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	// Live heap is sampled after a forced GC every 10,000 documents, so the
	// figure is what the iteration keeps reachable, not garbage awaiting
	// collection.
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		count := 0
		for _, err := range dbservice.All(ctx, s, "agents", dbservice.Query{Limit: 1000}) {
			if err != nil {
				b.Fatal(err)
			}
			if count++; count%10000 == 500 { // mid-page: the page is resident
				runtime.GC()
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base && ms.HeapAlloc-base > peak {
					peak = ms.HeapAlloc - base
				}
			}
		}
		if count != n {
			b.Fatalf("All returned %d documents, want %d", count, n)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-live-heap-MB")
	b.ReportMetric(float64(n), "docs/op")
}

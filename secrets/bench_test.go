package secrets_test

import (
	"context"
	"testing"
	"time"

	"github.com/securedb-go/securedb/secrets"
)

// BenchmarkCachedResolveHit measures the hot path every database connection
// takes once a secret is cached (goal: at most 200 ns/op).
func BenchmarkCachedResolveHit(b *testing.B) {
	ctx := context.Background()
	be := &backend{value: "v"}
	c := secrets.Cache(be, secrets.Options{TTL: time.Hour})
	if _, err := c.Resolve(ctx, ref); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Resolve(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
	if be.calls.Load() != 1 {
		b.Fatalf("%d backend calls", be.calls.Load())
	}
}

// BenchmarkCachedResolveHitParallel is the same hit under contention, where
// the read lock is shared by all cores.
func BenchmarkCachedResolveHitParallel(b *testing.B) {
	ctx := context.Background()
	c := secrets.Cache(&backend{value: "v"}, secrets.Options{TTL: time.Hour})
	if _, err := c.Resolve(ctx, ref); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Resolve(ctx, ref); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkExpandPlainValue measures what Expand costs a configuration value
// that is not a reference, the common case.
func BenchmarkExpandPlainValue(b *testing.B) {
	ctx := context.Background()
	mux := secrets.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := secrets.Expand(ctx, mux, "correct-horse-battery-staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExpandUnknownScheme measures a plain value containing "://",
// which needs the scheme list to be consulted.
func BenchmarkExpandUnknownScheme(b *testing.B) {
	ctx := context.Background()
	mux := secrets.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := secrets.Expand(ctx, mux, "p@ss://x"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHitVsBackend reports how many times faster a cache hit is
// than resolving an env:// reference directly, the cheapest backend there is.
func BenchmarkCacheHitVsBackend(b *testing.B) {
	ctx := context.Background()
	b.Setenv("SECRETS_BENCH", "v")
	const envRef = "env://SECRETS_BENCH"
	direct := secrets.Default()
	cached := secrets.Cache(direct, secrets.Options{TTL: time.Hour})
	measure := func(r secrets.Resolver) float64 {
		start := time.Now()
		n := 0
		for time.Since(start) < 200*time.Millisecond {
			for range 1000 {
				if _, err := r.Resolve(ctx, envRef); err != nil {
					b.Fatal(err)
				}
			}
			n += 1000
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n)
	}
	for b.Loop() {
		d, c := measure(direct), measure(cached)
		b.ReportMetric(d, "direct-ns/op")
		b.ReportMetric(c, "cached-ns/op")
		b.ReportMetric(d/c, "speedup")
	}
}

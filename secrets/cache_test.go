package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/secrets"
)

// clock is a manual clock for cache expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newCache returns a cache over b with a manual clock and no jitter.
func newCache(b *backend, opts secrets.Options) (*secrets.CachedResolver, *clock) {
	clk := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	c := secrets.Cache(b, opts)
	c.SetClock(clk.now, func(time.Duration) time.Duration { return 0 })
	return c, clk
}

func resolveValue(t *testing.T, r secrets.Resolver, ref string) string {
	t.Helper()
	s, err := r.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", ref, err)
	}
	return s.Reveal()
}

const ref = "awssm://prod/couchdb#password"

func TestCacheSharesOneBackendCall(t *testing.T) {
	b := &backend{value: "v1", gate: make(chan struct{})}
	c, _ := newCache(b, secrets.Options{TTL: time.Minute})

	const n = 1000
	var wg sync.WaitGroup
	results := make(chan string, n)
	for range n {
		wg.Go(func() {
			s, err := c.Resolve(context.Background(), ref)
			if err != nil {
				t.Error(err)
			}
			results <- s.Reveal()
		})
	}
	close(b.gate)
	wg.Wait()
	close(results)
	for v := range results {
		if v != "v1" {
			t.Fatalf("a caller got %q", v)
		}
	}
	if got := b.calls.Load(); got != 1 {
		t.Fatalf("%d concurrent Resolve calls made %d backend calls, want 1", n, got)
	}
}

func TestCacheExpiry(t *testing.T) {
	t.Run("a value is served from cache until the TTL passes", func(t *testing.T) {
		b := &backend{value: "v1"}
		c, clk := newCache(b, secrets.Options{TTL: time.Minute})
		resolveValue(t, c, ref)
		b.set("v2", nil)
		clk.advance(time.Minute - time.Nanosecond)
		if got := resolveValue(t, c, ref); got != "v1" || b.calls.Load() != 1 {
			t.Fatalf("before expiry: %q after %d calls", got, b.calls.Load())
		}
		clk.advance(time.Nanosecond)
		if got := resolveValue(t, c, ref); got != "v2" || b.calls.Load() != 2 {
			t.Fatalf("at expiry: %q after %d calls", got, b.calls.Load())
		}
	})
	t.Run("jitter shortens the TTL by the drawn amount", func(t *testing.T) {
		b := &backend{value: "v1"}
		clk := &clock{t: time.Unix(0, 0)}
		c := secrets.Cache(b, secrets.Options{TTL: time.Minute, Jitter: 10 * time.Second})
		var gotMax time.Duration
		c.SetClock(clk.now, func(max time.Duration) time.Duration { gotMax = max; return 7 * time.Second })
		resolveValue(t, c, ref)
		if gotMax != 10*time.Second {
			t.Fatalf("jitter drawn below %v, want below 10s", gotMax)
		}
		clk.advance(53*time.Second - time.Nanosecond)
		resolveValue(t, c, ref)
		if b.calls.Load() != 1 {
			t.Fatal("expired before TTL minus jitter")
		}
		clk.advance(time.Nanosecond)
		resolveValue(t, c, ref)
		if b.calls.Load() != 2 {
			t.Fatal("did not expire at TTL minus jitter")
		}
	})
	t.Run("jitter is capped at half the TTL", func(t *testing.T) {
		c := secrets.Cache(&backend{}, secrets.Options{TTL: time.Minute, Jitter: time.Hour})
		var gotMax time.Duration
		c.SetClock(time.Now, func(max time.Duration) time.Duration { gotMax = max; return 0 })
		resolveValue(t, c, ref)
		if gotMax != 30*time.Second {
			t.Fatalf("jitter bound %v, want 30s", gotMax)
		}
	})
	t.Run("different references are cached separately", func(t *testing.T) {
		b := &backend{value: "v"}
		c, _ := newCache(b, secrets.Options{TTL: time.Minute})
		resolveValue(t, c, ref)
		resolveValue(t, c, "awssm://prod/couchdb#username")
		resolveValue(t, c, ref)
		if b.calls.Load() != 2 {
			t.Fatalf("%d backend calls, want 2", b.calls.Load())
		}
	})
}

func TestCacheRotation(t *testing.T) {
	t.Run("Invalidate makes the next Resolve ask the backend", func(t *testing.T) {
		b := &backend{value: "v1"}
		c, _ := newCache(b, secrets.Options{TTL: time.Hour})
		resolveValue(t, c, ref)
		b.set("v2", nil)
		c.Invalidate(ref)
		if got := resolveValue(t, c, ref); got != "v2" {
			t.Fatalf("after Invalidate got %q", got)
		}
	})
	t.Run("Refresh fetches while the entry is fresh and stores the result", func(t *testing.T) {
		b := &backend{value: "v1"}
		c, _ := newCache(b, secrets.Options{TTL: time.Hour})
		resolveValue(t, c, ref)
		b.set("v2", nil)
		s, err := c.Refresh(context.Background(), ref)
		if err != nil || s.Reveal() != "v2" {
			t.Fatalf("Refresh = %q, %v", s.Reveal(), err)
		}
		if got := resolveValue(t, c, ref); got != "v2" || b.calls.Load() != 2 {
			t.Fatalf("Resolve after Refresh = %q after %d calls", got, b.calls.Load())
		}
	})
	t.Run("Refresh returns the error and keeps the old entry when the backend fails", func(t *testing.T) {
		b := &backend{value: "v1"}
		c, _ := newCache(b, secrets.Options{TTL: time.Hour, MaxStale: time.Hour})
		resolveValue(t, c, ref)
		b.set("", secrets.ErrUnavailable)
		if _, err := c.Refresh(context.Background(), ref); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("Refresh error = %v, want ErrUnavailable", err)
		}
		if got := resolveValue(t, c, ref); got != "v1" {
			t.Fatalf("Resolve after failed Refresh = %q", got)
		}
	})
	t.Run("a fetch that started before Invalidate is not cached", func(t *testing.T) {
		b := &backend{value: "old", gate: make(chan struct{}), entered: make(chan struct{}, 1)}
		c, _ := newCache(b, secrets.Options{TTL: time.Hour})
		done := make(chan string)
		go func() {
			s, _ := c.Resolve(context.Background(), ref)
			done <- s.Reveal()
		}()
		<-b.entered
		c.Invalidate(ref)
		close(b.gate)
		<-done
		b.set("new", nil)
		if got := resolveValue(t, c, ref); got != "new" {
			t.Fatalf("Resolve after Invalidate during a fetch = %q, want new", got)
		}
	})
}

func TestCacheServesStaleWithinMaxStale(t *testing.T) {
	var logs bytes.Buffer
	b := &backend{value: canary}
	c, clk := newCache(b, secrets.Options{
		TTL: time.Minute, MaxStale: 10 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	resolveValue(t, c, ref)
	b.set("", secrets.ErrUnavailable)

	clk.advance(time.Minute + 10*time.Minute - time.Nanosecond)
	if got := resolveValue(t, c, ref); got != canary {
		t.Fatalf("within MaxStale got %q", got)
	}
	if !strings.Contains(logs.String(), "stale") || !strings.Contains(logs.String(), ref) || strings.Contains(logs.String(), canary) {
		t.Fatalf("stale log must name the reference and not the value:\n%s", logs.String())
	}
	clk.advance(time.Nanosecond)
	if _, err := c.Resolve(context.Background(), ref); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("after MaxStale error = %v, want ErrUnavailable", err)
	}
	t.Run("the backend recovering ends the stale period", func(t *testing.T) {
		b.set("v2", nil)
		if got := resolveValue(t, c, ref); got != "v2" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("without MaxStale an expired entry returns the error at once", func(t *testing.T) {
		b := &backend{value: "v1"}
		c, clk := newCache(b, secrets.Options{TTL: time.Minute})
		resolveValue(t, c, ref)
		b.set("", secrets.ErrUnavailable)
		clk.advance(time.Minute)
		if _, err := c.Resolve(context.Background(), ref); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestCacheContext(t *testing.T) {
	t.Run("a caller whose context ends stops waiting without failing the others", func(t *testing.T) {
		b := &backend{value: "v1", gate: make(chan struct{}), entered: make(chan struct{}, 1)}
		c, _ := newCache(b, secrets.Options{TTL: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan error)
		go func() {
			_, err := c.Resolve(ctx, ref)
			first <- err
		}()
		<-b.entered
		second := make(chan string)
		go func() {
			s, _ := c.Resolve(context.Background(), ref)
			second <- s.Reveal()
		}()
		cancel()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v", err)
		}
		close(b.gate)
		if got := <-second; got != "v1" {
			t.Fatalf("other caller got %q", got)
		}
		if b.calls.Load() != 1 {
			t.Fatalf("%d backend calls", b.calls.Load())
		}
	})
	t.Run("the backend call is bounded by Timeout", func(t *testing.T) {
		b := &backend{value: "v1", gate: make(chan struct{})}
		defer close(b.gate)
		c, _ := newCache(b, secrets.Options{TTL: time.Minute, Timeout: time.Millisecond})
		if _, err := c.Resolve(context.Background(), ref); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want DeadlineExceeded", err)
		}
	})
}

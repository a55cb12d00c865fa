package secrets

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache defaults, used when the matching [Options] field is zero.
const (
	DefaultTTL     = 5 * time.Minute
	DefaultTimeout = 30 * time.Second
)

// Options configures [Cache].
type Options struct {
	// TTL is how long a resolved value is served without asking the backend
	// again. Zero means [DefaultTTL].
	TTL time.Duration
	// Jitter, when positive, shortens each entry's TTL by a random amount
	// below Jitter, so that many instances started together do not all hit
	// the backend in the same second. It is capped at TTL/2.
	Jitter time.Duration
	// MaxStale is how long after expiry the last good value is still served
	// when the backend fails. After that the backend's error is returned.
	// Zero means errors are returned as soon as the entry expires.
	MaxStale time.Duration
	// Timeout bounds one backend call. The call runs detached from the
	// caller's context, because several callers share it and one giving up
	// must not fail the others; each caller still stops waiting when its own
	// context ends. Zero means [DefaultTimeout].
	Timeout time.Duration
	// Logger, when set, records at Warn level each time a stale value is
	// served, with the reference and the backend error (never the value).
	Logger *slog.Logger
	// OnRefresh, when set, is called after each Refresh call fetched a
	// reference anew from its source (a forced refresh, such as after a
	// 401), with the caller's context and the reference (never the
	// value). securedb.Open counts these as security events.
	OnRefresh func(ctx context.Context, ref string)
}

// CachedResolver caches another [Resolver]; see [Cache]. It is safe for
// concurrent use.
type CachedResolver struct {
	next Resolver
	opts Options

	// now and jitter are replaced in tests so that expiry is checked without
	// sleeping.
	now    func() time.Time
	jitter func(max time.Duration) time.Duration

	flight singleflight.Group

	mu      sync.RWMutex
	entries map[string]*entry
	gen     uint64 // bumped by Invalidate; a fetch that started earlier is not stored
}

type entry struct {
	value   Secret
	expires time.Time
	fetched time.Time
}

// Fetch says when a cached reference was last fetched from its source.
type Fetch struct {
	// Scheme is the reference's scheme: "env", "file", "awssm", "gcpsm".
	Scheme string
	// At is when the value now cached was fetched.
	At time.Time
}

// Fetched lists when each cached secret was fetched from its source, for
// a gauge of secret age. It names schemes only, never references or
// values.
func (c *CachedResolver) Fetched() []Fetch {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Fetch, 0, len(c.entries))
	for ref, e := range c.entries {
		scheme := "other"
		if i := strings.Index(ref, "://"); i > 0 {
			scheme = ref[:i]
		}
		out = append(out, Fetch{Scheme: scheme, At: e.fetched})
	}
	return out
}

// Cache wraps r with a cache keyed by the reference string:
//
//   - a value is served for TTL (minus jitter) after it was resolved;
//   - concurrent misses for one reference share a single backend call
//     (golang.org/x/sync/singleflight);
//   - [CachedResolver.Invalidate] and [CachedResolver.Refresh] handle rotation;
//   - when the backend fails after expiry, the last good value is served for
//     at most MaxStale, then the error is returned.
//
// Errors are never cached. References that differ only in #key are separate
// entries, each with its own backend call. The cache holds one entry per
// distinct reference ever resolved, which suits references that come from
// configuration; do not feed it references from untrusted input.
func Cache(r Resolver, opts Options) *CachedResolver {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	opts.Jitter = min(max(opts.Jitter, 0), opts.TTL/2)
	return &CachedResolver{
		next:    r,
		opts:    opts,
		now:     time.Now,
		jitter:  func(max time.Duration) time.Duration { return rand.N(max) },
		entries: make(map[string]*entry),
	}
}

// Resolve returns the cached value for ref while it is fresh and otherwise
// resolves it with the wrapped resolver.
func (c *CachedResolver) Resolve(ctx context.Context, ref string) (Secret, error) {
	c.mu.RLock()
	e := c.entries[ref]
	c.mu.RUnlock()
	if e != nil && c.now().Before(e.expires) {
		return e.value, nil
	}
	s, err := c.fetch(ctx, ref, kindResolve)
	if err == nil {
		return s, nil
	}
	if e != nil && ctx.Err() == nil && c.now().Before(e.expires.Add(c.opts.MaxStale)) {
		if c.opts.Logger != nil {
			c.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "secrets: serving stale value",
				slog.String("ref", ref), slog.String("error", err.Error()))
		}
		return e.value, nil
	}
	return Secret{}, err
}

// Refresh resolves ref with the wrapped resolver even when a fresh value is
// cached (and through [Refresh], past any cache inside it), stores the result
// and returns it. Use it when the cached value was just refused, such as a 401
// after rotation. Unlike Resolve it never serves a stale value: on error the
// old entry is kept for other callers and the error is returned. Concurrent
// Refresh calls for one reference share one backend call.
func (c *CachedResolver) Refresh(ctx context.Context, ref string) (Secret, error) {
	s, err := c.fetch(ctx, ref, kindRefresh)
	if err == nil && c.opts.OnRefresh != nil {
		c.opts.OnRefresh(ctx, ref)
	}
	return s, err
}

// Invalidate drops the cached value for ref, so the next Resolve asks the
// backend, and passes the call on to the wrapped resolver when it caches too.
// A backend call already in flight is not stored when it returns.
func (c *CachedResolver) Invalidate(ref string) {
	c.mu.Lock()
	delete(c.entries, ref)
	c.gen++
	c.mu.Unlock()
	c.flight.Forget(kindResolve + ref)
	c.flight.Forget(kindRefresh + ref)
	if inv, ok := c.next.(invalidator); ok {
		inv.Invalidate(ref)
	}
}

// Schemes returns the schemes of the wrapped resolver when it is a
// [SchemeLister], and nil otherwise.
func (c *CachedResolver) Schemes() []string {
	if l, ok := c.next.(SchemeLister); ok {
		return l.Schemes()
	}
	return nil
}

// Singleflight key prefixes.
const (
	kindResolve = "r"
	kindRefresh = "f"
)

// fetch calls the backend once per (kind, ref) at a time. Resolve and Refresh
// use different kinds so that a Refresh never joins a Resolve call that
// started before the secret was rotated.
func (c *CachedResolver) fetch(ctx context.Context, ref, kind string) (Secret, error) {
	ch := c.flight.DoChan(kind+ref, func() (any, error) {
		c.mu.RLock()
		gen, e := c.gen, c.entries[ref]
		c.mu.RUnlock()
		// A caller that missed the cache just before the previous flight
		// stored its value starts a new flight: serve that value instead of
		// calling the backend again. Refresh must always call the backend.
		if kind == kindResolve && e != nil && c.now().Before(e.expires) {
			return e.value, nil
		}

		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
		defer cancel()
		var s Secret
		var err error
		if kind == kindRefresh {
			// Reach through to any cache further down, such as one
			// registered inside a Mux this cache wraps.
			s, err = Refresh(fctx, c.next, ref)
		} else {
			s, err = c.next.Resolve(fctx, ref)
		}
		if err != nil {
			return Secret{}, wrapRef(ref, err)
		}
		c.store(ref, s, gen)
		return s, nil
	})
	select {
	case res := <-ch:
		return res.Val.(Secret), res.Err
	case <-ctx.Done():
		return Secret{}, &Error{Ref: ref, Err: ctx.Err()}
	}
}

func (c *CachedResolver) store(ref string, s Secret, gen uint64) {
	ttl := c.opts.TTL
	if c.opts.Jitter > 0 {
		ttl -= c.jitter(c.opts.Jitter)
	}
	now := c.now()
	expires := now.Add(ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.entries[ref] = &entry{value: s, expires: expires, fetched: now}
	}
}

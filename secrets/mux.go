package secrets

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Resolver turns a reference into a [Secret].
//
// Implementations return errors that wrap one of the package's sentinel errors
// and name the reference, never the value, and must be safe for concurrent use.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (Secret, error)
}

// SchemeLister is implemented by resolvers that know which reference schemes
// they handle. [Expand], [IsRef] and [Source] use it to tell a reference from
// a plain value that merely contains "://".
type SchemeLister interface {
	// Schemes returns the lower-case schemes handled, sorted. A nil result
	// means "not known", as for a cache around a resolver that does not say.
	Schemes() []string
}

// Mux routes each reference to the resolver registered for its scheme. It is
// safe for concurrent use, including Register while resolving.
type Mux struct {
	mu        sync.RWMutex
	resolvers map[string]Resolver
}

// NewMux returns a Mux with no schemes registered.
func NewMux() *Mux {
	return &Mux{resolvers: make(map[string]Resolver)}
}

// Default returns a new Mux that resolves env:// ([Env]) and file:// ([File])
// references. Cloud resolvers are not included so that no network call
// happens unless the caller registers one, for example
// mux.Register(awssm.Scheme, awssm.New(cfg)).
func Default() *Mux {
	m := NewMux()
	m.Register(EnvScheme, Env())
	m.Register(FileScheme, File())
	return m
}

// Register makes r handle references with the given scheme, replacing any
// resolver registered for it before. Like [net/http.ServeMux.Handle] it
// panics on programmer errors: an invalid scheme or a nil resolver.
func (m *Mux) Register(scheme string, r Resolver) {
	if !validScheme(scheme) || len(scheme) > 32 {
		panic(fmt.Sprintf("secrets: Register: invalid scheme %q", scheme))
	}
	if r == nil {
		panic("secrets: Register: nil resolver for scheme " + scheme)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.resolvers == nil {
		m.resolvers = make(map[string]Resolver)
	}
	m.resolvers[strings.ToLower(scheme)] = r
}

// Schemes returns the registered schemes, sorted. It never returns nil.
func (m *Mux) Schemes() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.resolvers))
}

// Resolve parses ref and hands it to the resolver registered for its scheme.
// An unknown scheme wraps [ErrInvalidRef] and lists the registered schemes.
func (m *Mux) Resolve(ctx context.Context, ref string) (Secret, error) {
	r, err := m.route(ref)
	if err != nil {
		return Secret{}, err
	}
	s, err := r.Resolve(ctx, ref)
	return s, wrapRef(ref, err)
}

// Refresh resolves ref past any cache in the resolver registered for its
// scheme; see the package-level [Refresh].
func (m *Mux) Refresh(ctx context.Context, ref string) (Secret, error) {
	r, err := m.route(ref)
	if err != nil {
		return Secret{}, err
	}
	s, err := Refresh(ctx, r, ref)
	return s, wrapRef(ref, err)
}

// Invalidate forgets any cached value for ref in the resolver registered for
// its scheme, when that resolver caches.
func (m *Mux) Invalidate(ref string) {
	r, err := m.route(ref)
	if err != nil {
		return
	}
	if inv, ok := r.(invalidator); ok {
		inv.Invalidate(ref)
	}
}

func (m *Mux) route(ref string) (Resolver, error) {
	parsed, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	r, ok := m.resolvers[parsed.Scheme]
	m.mu.RUnlock()
	if !ok {
		return nil, &Error{Ref: ref, Err: fmt.Errorf("%w: unknown scheme %q (registered: %s)",
			ErrInvalidRef, parsed.Scheme, strings.Join(m.Schemes(), ", "))}
	}
	return r, nil
}

// refresher and invalidator are the optional interfaces of caching resolvers
// such as [*CachedResolver] and [*Mux].
type refresher interface {
	Refresh(ctx context.Context, ref string) (Secret, error)
}

type invalidator interface {
	Invalidate(ref string)
}

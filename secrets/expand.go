package secrets

import (
	"context"
	"slices"
	"strings"
)

// IsRef reports whether value is a reference that r handles: it starts with
// scheme:// and the scheme is one r lists (see [SchemeLister]). When r does
// not list its schemes, any value starting with a well-formed scheme:// counts.
//
// Only the prefix is checked, so a value of a known scheme that is otherwise
// malformed still counts as a reference and fails to resolve with
// [ErrInvalidRef] rather than being used as a password.
func IsRef(r Resolver, value string) bool {
	scheme, ok := SchemeOf(value)
	if !ok {
		return false
	}
	l, ok := r.(SchemeLister)
	if !ok {
		return true
	}
	schemes := l.Schemes()
	if schemes == nil {
		return true
	}
	return slices.Contains(schemes, strings.ToLower(scheme))
}

// Expand resolves value with r when value is a reference r handles ([IsRef])
// and otherwise returns value itself, wrapped in a Secret. This lets one
// configuration variable hold either the credential or a pointer to it:
//
//	COUCHDB_PASSWORD=s3cr3t                          -> "s3cr3t"
//	COUCHDB_PASSWORD=awssm://prod/couchdb#password   -> the "password" field of that secret
//	COUCHDB_PASSWORD=p@ss://x                        -> "p@ss://x" (no such scheme registered)
//
// Expand returns a Secret rather than a string because the values it is used
// for are credentials; call Reveal where the value is handed over. A
// non-reference value never produces an error. Errors from resolution name
// the reference, which is configuration; note that a password which happens
// to start with a registered scheme followed by "://" would be treated as a
// reference.
func Expand(ctx context.Context, r Resolver, value string) (Secret, error) {
	if !IsRef(r, value) {
		return New(value), nil
	}
	s, err := r.Resolve(ctx, value)
	if err != nil {
		return Secret{}, wrapRef(value, err)
	}
	return s, nil
}

// Refresh resolves ref with r while bypassing any cache inside r: it calls
// r's Refresh method when r has one ([*CachedResolver], [*Mux]), or
// Invalidate then Resolve when r only has Invalidate, or plain Resolve.
func Refresh(ctx context.Context, r Resolver, ref string) (Secret, error) {
	switch c := r.(type) {
	case refresher:
		return c.Refresh(ctx, ref)
	case invalidator:
		c.Invalidate(ref)
	}
	return r.Resolve(ctx, ref)
}

// Source returns a password source for value in the form database providers
// take: a function the provider calls for the current password, and calls
// again with refresh set after the backend refused it (HTTP 401), for
// example after the secret was rotated.
//
// When value is a reference r handles ([IsRef]), the source resolves it on
// every call, through [Refresh] when refresh is true so no cache in r serves
// the refused value again. Otherwise the source always returns value itself,
// matching [Expand].
func Source(r Resolver, value string) func(ctx context.Context, refresh bool) (string, error) {
	if !IsRef(r, value) {
		return func(context.Context, bool) (string, error) { return value, nil }
	}
	return func(ctx context.Context, refresh bool) (string, error) {
		var (
			s   Secret
			err error
		)
		if refresh {
			s, err = Refresh(ctx, r, value)
		} else {
			s, err = r.Resolve(ctx, value)
		}
		if err != nil {
			return "", wrapRef(value, err)
		}
		return s.Reveal(), nil
	}
}

package secrets_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securedb-go/securedb/secrets"
)

// plainResolver resolves anything and does not list its schemes.
type plainResolver struct{}

func (plainResolver) Resolve(context.Context, string) (secrets.Secret, error) {
	return secrets.New("resolved"), nil
}

func TestIsRef(t *testing.T) {
	mux := secrets.NewMux()
	mux.Register("awssm", &backend{})
	tests := []struct {
		name  string
		r     secrets.Resolver
		value string
		want  bool
	}{
		{"a reference of a registered scheme is a reference", mux, "awssm://prod/db#password", true},
		{"the scheme matches case-insensitively", mux, "AWSSM://prod/db", true},
		{"a malformed reference of a registered scheme still counts", mux, "awssm://", true},
		{"a plain password is not", mux, "hunter2", false},
		{"a password containing :// with an unknown scheme is not", mux, "p@ss://x", false},
		{"an unregistered but well-formed scheme is not", mux, "vault://kv/db", false},
		{"a cache lists the schemes of what it wraps", secrets.Cache(mux, secrets.Options{}), "awssm://x", true},
		{"a resolver that lists no schemes takes any well-formed scheme", plainResolver{}, "vault://kv/db", true},
		{"a cache over such a resolver does too", secrets.Cache(plainResolver{}, secrets.Options{}), "vault://kv/db", true},
		{"even then a value without a valid scheme is not a reference", plainResolver{}, "p@ss://x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := secrets.IsRef(tt.r, tt.value); got != tt.want {
				t.Fatalf("IsRef(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	ctx := context.Background()
	b := &backend{value: "from-backend"}
	mux := secrets.NewMux()
	mux.Register("awssm", b)
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr error
		calls   int64
	}{
		{"a plain value is returned unchanged", "hunter2", "hunter2", nil, 0},
		{"an empty value is returned unchanged", "", "", nil, 0},
		{"a value with an unregistered scheme is returned unchanged", "p@ss://x", "p@ss://x", nil, 0},
		{"a reference is resolved", "awssm://prod/db#password", "from-backend", nil, 1},
		{"a malformed reference is an error, not a password", "awssm://prod/db#", "", secrets.ErrInvalidRef, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.calls.Load()
			s, err := secrets.Expand(ctx, mux, tt.value)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Expand(%q) error = %v, want %v", tt.value, err, tt.wantErr)
			}
			if s.Reveal() != tt.want {
				t.Fatalf("Expand(%q) = %q, want %q", tt.value, s.Reveal(), tt.want)
			}
			if got := b.calls.Load() - before; got != tt.calls {
				t.Fatalf("%d backend calls, want %d", got, tt.calls)
			}
		})
	}
	t.Run("a failed resolution names the reference", func(t *testing.T) {
		b.set("", secrets.ErrNotFound)
		_, err := secrets.Expand(ctx, mux, "awssm://prod/db#password")
		if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "awssm://prod/db#password") {
			t.Fatalf("error %v", err)
		}
	})
}

// invalidatingResolver records Invalidate calls and returns a new value after
// each one, like a cache in front of a rotated secret.
type invalidatingResolver struct {
	invalidated atomic.Int64
}

func (r *invalidatingResolver) Resolve(context.Context, string) (secrets.Secret, error) {
	if r.invalidated.Load() > 0 {
		return secrets.New("fresh"), nil
	}
	return secrets.New("stale"), nil
}

func (r *invalidatingResolver) Invalidate(string) { r.invalidated.Add(1) }

func TestSource(t *testing.T) {
	ctx := context.Background()
	t.Run("a plain value is returned on every call, refresh or not", func(t *testing.T) {
		src := secrets.Source(secrets.Default(), "hunter2")
		for _, refresh := range []bool{false, true} {
			if got, err := src(ctx, refresh); got != "hunter2" || err != nil {
				t.Fatalf("src(refresh=%v) = %q, %v", refresh, got, err)
			}
		}
	})
	t.Run("a cached reference is served from cache until refresh bypasses it", func(t *testing.T) {
		b := &backend{value: "v1", schemes: []string{"awssm"}}
		c := secrets.Cache(b, secrets.Options{TTL: time.Hour})
		src := secrets.Source(c, ref)
		mustGet(t, src, false, "v1")
		b.set("v2", nil)
		mustGet(t, src, false, "v1")
		mustGet(t, src, true, "v2")
		mustGet(t, src, false, "v2")
		if b.calls.Load() != 2 {
			t.Fatalf("%d backend calls, want 2", b.calls.Load())
		}
	})
	t.Run("refresh reaches a cache registered inside a Mux", func(t *testing.T) {
		b := &backend{value: "v1"}
		mux := secrets.Default()
		mux.Register("awssm", secrets.Cache(b, secrets.Options{TTL: time.Hour}))
		src := secrets.Source(mux, ref)
		mustGet(t, src, false, "v1")
		b.set("v2", nil)
		mustGet(t, src, true, "v2")
	})
	t.Run("refresh reaches a cache wrapped around a Mux", func(t *testing.T) {
		b := &backend{value: "v1"}
		mux := secrets.NewMux()
		mux.Register("awssm", b)
		src := secrets.Source(secrets.Cache(mux, secrets.Options{TTL: time.Hour}), ref)
		mustGet(t, src, false, "v1")
		b.set("v2", nil)
		mustGet(t, src, true, "v2")
	})
	t.Run("refresh reaches through nested caches to the backend", func(t *testing.T) {
		b := &backend{value: "v1"}
		mux := secrets.NewMux()
		mux.Register("awssm", secrets.Cache(b, secrets.Options{TTL: time.Hour}))
		outer := secrets.Cache(mux, secrets.Options{TTL: time.Hour})
		src := secrets.Source(outer, ref)
		mustGet(t, src, false, "v1")
		b.set("v2", nil)
		mustGet(t, src, false, "v1")
		mustGet(t, src, true, "v2")
		mustGet(t, src, false, "v2")
	})
	t.Run("Invalidate reaches through nested caches", func(t *testing.T) {
		b := &backend{value: "v1"}
		mux := secrets.NewMux()
		mux.Register("awssm", secrets.Cache(b, secrets.Options{TTL: time.Hour}))
		outer := secrets.Cache(mux, secrets.Options{TTL: time.Hour})
		resolveValue(t, outer, ref)
		b.set("v2", nil)
		outer.Invalidate(ref)
		if got := resolveValue(t, outer, ref); got != "v2" {
			t.Fatalf("after Invalidate got %q", got)
		}
	})
	t.Run("a resolver with only Invalidate is invalidated before resolving", func(t *testing.T) {
		r := &invalidatingResolver{}
		src := secrets.Source(r, ref)
		mustGet(t, src, false, "stale")
		mustGet(t, src, true, "fresh")
	})
	t.Run("an error names the reference and returns no value", func(t *testing.T) {
		b := &backend{err: secrets.ErrPermission, schemes: []string{"awssm"}}
		got, err := secrets.Source(b, ref)(ctx, true)
		if got != "" || !errors.Is(err, secrets.ErrPermission) || !strings.Contains(err.Error(), ref) {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

func mustGet(t *testing.T, src func(context.Context, bool) (string, error), refresh bool, want string) {
	t.Helper()
	got, err := src(context.Background(), refresh)
	if err != nil || got != want {
		t.Fatalf("source(refresh=%v) = %q, %v; want %q", refresh, got, err, want)
	}
}

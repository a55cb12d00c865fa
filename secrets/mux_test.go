package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/secrets"
)

func TestMuxRoutesByScheme(t *testing.T) {
	ctx := context.Background()
	m := secrets.NewMux()
	aws := &backend{value: "from-aws"}
	gcp := &backend{value: "from-gcp"}
	m.Register("awssm", aws)
	m.Register("GCPSM", gcp)

	tests := []struct {
		name string
		ref  string
		want string
	}{
		{"an awssm reference goes to the awssm resolver", "awssm://prod/db", "from-aws"},
		{"a gcpsm reference goes to the gcpsm resolver", "gcpsm://projects/p/secrets/s", "from-gcp"},
		{"schemes match case-insensitively", "AwsSm://prod/db", "from-aws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := m.Resolve(ctx, tt.ref)
			if err != nil || s.Reveal() != tt.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tt.ref, s.Reveal(), err, tt.want)
			}
		})
	}
	t.Run("Schemes lists registered schemes sorted and lower-case", func(t *testing.T) {
		if got := strings.Join(m.Schemes(), ","); got != "awssm,gcpsm" {
			t.Fatalf("Schemes() = %s", got)
		}
	})
	t.Run("an unknown scheme is an invalid reference listing the registered ones", func(t *testing.T) {
		_, err := m.Resolve(ctx, "vault://kv/db#password")
		if !errors.Is(err, secrets.ErrInvalidRef) {
			t.Fatalf("error %v, want ErrInvalidRef", err)
		}
		for _, want := range []string{`"vault://kv/db#password"`, "vault", "awssm, gcpsm"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %s", err, want)
			}
		}
	})
	t.Run("a malformed reference is refused before any backend call", func(t *testing.T) {
		before := aws.calls.Load()
		if _, err := m.Resolve(ctx, "awssm://"); !errors.Is(err, secrets.ErrInvalidRef) {
			t.Fatalf("error %v, want ErrInvalidRef", err)
		}
		if aws.calls.Load() != before {
			t.Fatal("backend was called")
		}
	})
	t.Run("an error from a resolver that does not name the reference gets it added", func(t *testing.T) {
		aws.set("", secrets.ErrPermission)
		_, err := m.Resolve(ctx, "awssm://prod/db#password")
		if !errors.Is(err, secrets.ErrPermission) || !strings.Contains(err.Error(), "awssm://prod/db#password") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestMuxRegisterPanicsOnProgrammerErrors(t *testing.T) {
	tests := []struct {
		name   string
		scheme string
		r      secrets.Resolver
	}{
		{"an empty scheme", "", &backend{}},
		{"a scheme with ://", "env://", &backend{}},
		{"a nil resolver", "env", nil},
	}
	for _, tt := range tests {
		t.Run("Register panics on "+tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			secrets.NewMux().Register(tt.scheme, tt.r)
		})
	}
}

func TestDefaultKnowsEnvAndFile(t *testing.T) {
	if got := strings.Join(secrets.Default().Schemes(), ","); got != "env,file" {
		t.Fatalf("Default().Schemes() = %s, want env,file", got)
	}
	var zero secrets.Mux
	zero.Register("env", secrets.Env())
	t.Setenv("SECRETS_TEST_ZERO_MUX", "v")
	if s, err := zero.Resolve(context.Background(), "env://SECRETS_TEST_ZERO_MUX"); err != nil || s.Reveal() != "v" {
		t.Fatalf("zero Mux: %q, %v", s.Reveal(), err)
	}
}

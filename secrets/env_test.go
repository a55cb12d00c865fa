package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/secrets"
)

func TestEnvResolver(t *testing.T) {
	t.Setenv("SECRETS_TEST_PLAIN", canary)
	t.Setenv("SECRETS_TEST_JSON", `{"url":"http://127.0.0.1:5984","username":"app","password":"`+canary+`"}`)
	t.Setenv("SECRETS_TEST_EMPTY", "")
	tests := []struct {
		name    string
		ref     string
		want    string
		wantErr error
	}{
		{"a set variable resolves to its value", "env://SECRETS_TEST_PLAIN", canary, nil},
		{"a #key picks a field of a JSON value", "env://SECRETS_TEST_JSON#password", canary, nil},
		{"a variable set to empty resolves to empty", "env://SECRETS_TEST_EMPTY", "", nil},
		{"an unset variable is not found", "env://SECRETS_TEST_UNSET_" + strings.Repeat("X", 8), "", secrets.ErrNotFound},
		{"a missing #key is not found", "env://SECRETS_TEST_JSON#token", "", secrets.ErrNotFound},
		{"a #key on a non-JSON value is not found", "env://SECRETS_TEST_PLAIN#password", "", secrets.ErrNotFound},
		{"a name with '=' is invalid", "env://A=B", "", secrets.ErrInvalidRef},
		{"a name starting with a digit is invalid", "env://1A", "", secrets.ErrInvalidRef},
		{"query parameters are invalid", "env://SECRETS_TEST_PLAIN?x=1", "", secrets.ErrInvalidRef},
		{"another scheme is invalid", "file:///etc/passwd", "", secrets.ErrInvalidRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := secrets.Env().Resolve(context.Background(), tt.ref)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Resolve(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
			}
			if s.Reveal() != tt.want {
				t.Fatalf("Resolve(%q) = %q, want %q", tt.ref, s.Reveal(), tt.want)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.ref) || strings.Contains(err.Error(), canary)) {
				t.Fatalf("error %q must name the reference and not the value", err)
			}
		})
	}
}

package secrets

import (
	"context"
	"fmt"
	"os"
)

// EnvScheme is the scheme of process environment references: env://NAME.
const EnvScheme = "env"

// Env returns a Resolver for env://NAME[#key] references, read from the
// process environment. An unset variable wraps [ErrNotFound]; a variable set
// to "" resolves to an empty Secret value. Names are letters, digits, '_',
// '.' and '-', not starting with a digit.
func Env() Resolver { return envResolver{} }

type envResolver struct{}

// Schemes returns ["env"], so Expand recognises env:// values.
func (envResolver) Schemes() []string { return []string{EnvScheme} }

// Resolve implements [Resolver]; see [Env].
func (envResolver) Resolve(_ context.Context, ref string) (Secret, error) {
	r, err := parseScheme(ref, EnvScheme)
	if err != nil {
		return Secret{}, err
	}
	if !validEnvName(r.Name) {
		return Secret{}, &Error{Ref: ref, Err: fmt.Errorf("%w: %q is not an environment variable name", ErrInvalidRef, r.Name)}
	}
	if r.Query != nil {
		return Secret{}, &Error{Ref: ref, Err: fmt.Errorf("%w: env %w", ErrInvalidRef, errNoParams)}
	}
	v, ok := os.LookupEnv(r.Name)
	if !ok {
		return Secret{}, &Error{Ref: ref, Err: fmt.Errorf("%w: environment variable %s is not set", ErrNotFound, r.Name)}
	}
	s, err := r.Extract([]byte(v))
	if err != nil {
		return Secret{}, &Error{Ref: ref, Err: err}
	}
	return s, nil
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 256 || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// parseScheme parses ref and checks it has the scheme a resolver expects, so
// a resolver used without a Mux still refuses foreign references.
func parseScheme(ref, scheme string) (Ref, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Ref{}, err
	}
	if r.Scheme != scheme {
		return Ref{}, &Error{Ref: ref, Err: fmt.Errorf("%w: scheme %q, want %q", ErrInvalidRef, r.Scheme, scheme)}
	}
	return r, nil
}

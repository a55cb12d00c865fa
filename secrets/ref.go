package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxRefLen is the longest reference [ParseRef] accepts.
const MaxRefLen = 4096

// Ref is a parsed secret reference: scheme://name?query#key.
//
// References are parsed by hand rather than with net/url because an AWS ARN
// such as arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf
// sits where net/url expects host:port and is rejected there. Here everything
// between "://" and the first '?' or '#' is the Name, path-unescaped.
type Ref struct {
	// Scheme is the lower-case scheme, such as "env" or "awssm".
	Scheme string
	// Name is the scheme-specific part, path-unescaped: an environment
	// variable name, an absolute file path, an AWS secret name or ARN, a
	// Google resource name.
	Name string
	// Query holds the parameters after '?', or nil when there are none.
	Query url.Values
	// Key is the fragment after '#', unescaped: the top-level field of a JSON
	// secret to return. Empty means the whole secret.
	Key string
}

// ParseRef parses a reference. It checks only the shape shared by all
// schemes; each resolver checks its own scheme's rules. Every error wraps
// [ErrInvalidRef].
//
// The name and key may be percent-escaped (%23 for '#', %3F for '?'); control
// characters, invalid UTF-8, leading or trailing white space and an empty
// name, query or key are refused.
func ParseRef(ref string) (Ref, error) {
	r, err := parseRef(ref)
	if err != nil {
		if _, ok := SchemeOf(ref); !ok {
			// Without a scheme the input may be a password given to the
			// wrong function: do not echo it.
			ref = ""
		}
		return Ref{}, &Error{Ref: ref, Err: err}
	}
	return r, nil
}

func parseRef(ref string) (Ref, error) {
	if len(ref) > MaxRefLen {
		return Ref{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidRef, MaxRefLen)
	}
	scheme, ok := SchemeOf(ref)
	if !ok {
		return Ref{}, fmt.Errorf(`%w: want scheme://name[?query][#key]`, ErrInvalidRef)
	}
	if strings.TrimSpace(ref) != ref {
		return Ref{}, fmt.Errorf("%w: leading or trailing white space", ErrInvalidRef)
	}
	rest := ref[len(scheme)+len("://"):]
	r := Ref{Scheme: strings.ToLower(scheme)}

	rest, rawKey, hasKey := strings.Cut(rest, "#")
	rawName, rawQuery, hasQuery := strings.Cut(rest, "?")

	var err error
	if r.Name, err = unescape("name", rawName); err != nil {
		return Ref{}, err
	}
	if r.Name == "" {
		return Ref{}, fmt.Errorf("%w: empty name", ErrInvalidRef)
	}
	if hasQuery {
		if r.Query, err = parseQuery(rawQuery); err != nil {
			return Ref{}, err
		}
	}
	if hasKey {
		if r.Key, err = unescape("key", rawKey); err != nil {
			return Ref{}, err
		}
		if r.Key == "" {
			return Ref{}, fmt.Errorf("%w: empty #key", ErrInvalidRef)
		}
	}
	return r, nil
}

// SchemeOf returns the scheme of s when s starts with a syntactically valid
// scheme followed by "://". It does not lower-case the scheme.
func SchemeOf(s string) (string, bool) {
	i := strings.Index(s, "://")
	if i <= 0 || i > 32 {
		return "", false
	}
	if !validScheme(s[:i]) {
		return "", false
	}
	return s[:i], true
}

// validScheme follows RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func unescape(part, raw string) (string, error) {
	s, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: bad percent-escape in %s", ErrInvalidRef, part)
	}
	if err := checkText(part, s); err != nil {
		return "", err
	}
	return s, nil
}

func parseQuery(raw string) (url.Values, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty query", ErrInvalidRef)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed query", ErrInvalidRef)
	}
	if len(q) == 0 {
		return nil, fmt.Errorf("%w: empty query", ErrInvalidRef)
	}
	for k, vs := range q {
		if err := checkText("query", k); err != nil {
			return nil, err
		}
		for _, v := range vs {
			if err := checkText("query", v); err != nil {
				return nil, err
			}
		}
	}
	return q, nil
}

func checkText(part, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: invalid UTF-8 in %s", ErrInvalidRef, part)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: control character in %s", ErrInvalidRef, part)
		}
	}
	return nil
}

// String returns the reference in the form [ParseRef] accepts, escaping the
// name and key only where needed, so ParseRef(r.String()) gives r back.
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(r.Scheme)
	b.WriteString("://")
	b.WriteString(escape(r.Name))
	if len(r.Query) > 0 {
		b.WriteByte('?')
		b.WriteString(r.Query.Encode())
	}
	if r.Key != "" {
		b.WriteByte('#')
		b.WriteString(escape(r.Key))
	}
	return b.String()
}

// escape percent-encodes the bytes that would change how ParseRef splits or
// reads the text, and leaves '/', ':' and '@' alone so ARNs and paths stay
// readable.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '?' || c == '#' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Param returns the single value of query parameter name, or "" when absent.
// Parameters not in allowed, repeated or empty parameters are an
// [ErrInvalidRef] error, so a typo such as version_stage is never ignored.
func (r Ref) Param(name string, allowed ...string) (string, error) {
	for k, vs := range r.Query {
		if !slices.Contains(allowed, k) {
			return "", fmt.Errorf("%w: unknown parameter %q for scheme %s (allowed: %s)",
				ErrInvalidRef, k, r.Scheme, strings.Join(allowed, ", "))
		}
		if len(vs) != 1 || vs[0] == "" {
			return "", fmt.Errorf("%w: parameter %q must appear once with a value", ErrInvalidRef, k)
		}
	}
	if vs := r.Query[name]; len(vs) == 1 {
		return vs[0], nil
	}
	return "", nil
}

// Extract returns the part of a raw secret that r asks for: the whole of data
// when r.Key is empty, otherwise the string field r.Key of the JSON object in
// data. A missing key, a non-object secret or a non-string field wraps
// [ErrNotFound]; the message names the key and never quotes data, which is why
// the JSON decoder's own errors (which quote input) are not wrapped.
func (r Ref) Extract(data []byte) (Secret, error) {
	if r.Key == "" {
		return New(string(data)), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return Secret{}, fmt.Errorf("%w: key %q: secret is not a JSON object", ErrNotFound, r.Key)
	}
	raw, ok := obj[r.Key]
	if !ok {
		return Secret{}, fmt.Errorf("%w: key %q: no such field in the JSON secret", ErrNotFound, r.Key)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return Secret{}, fmt.Errorf("%w: key %q: field is not a JSON string", ErrNotFound, r.Key)
	}
	return New(s), nil
}

// errNoParams is shared by the resolvers whose references take no query.
var errNoParams = errors.New("takes no query parameters")

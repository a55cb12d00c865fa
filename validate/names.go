package validate

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DefaultIDPattern is the default document ID rule, the one the security
// guide gives: ASCII letters, digits, '_' and '-', at least one.
const DefaultIDPattern = `^[a-zA-Z0-9_-]+$`

// DefaultIDMaxLen is the default maximum document ID length in bytes, the
// security guide's 100.
const DefaultIDMaxLen = 100

// IDRule is the rule document IDs must follow. The zero value is the
// default rule: ^[a-zA-Z0-9_-]+$ ([DefaultIDPattern]), at most 100 bytes
// ([DefaultIDMaxLen]).
//
// Whatever the pattern, an ID is also refused when it is empty, is not valid
// UTF-8, contains a control character or '/', is "." or "..", or has the
// reserved form __name__: those are path injection or reserved names on at
// least one backend, so a looser pattern cannot let them through.
type IDRule struct {
	// Pattern an ID must match in full; nil means DefaultIDPattern. Anchor it
	// (^...$): an unanchored pattern would accept IDs that merely contain a
	// match.
	Pattern *regexp.Regexp
	// MaxLen in bytes; zero means DefaultIDMaxLen.
	MaxLen int
}

// Check returns nil when id is acceptable and an [*Error] wrapping
// [ErrInvalid] otherwise.
func (r IDRule) Check(id string) error {
	maxLen := r.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultIDMaxLen
	}
	switch {
	case id == "":
		return invalid("id", "must not be empty", id)
	case len(id) > maxLen:
		return invalid("id", "longer than "+strconv.Itoa(maxLen)+" bytes", id)
	case !validText(id):
		return invalid("id", "contains invalid UTF-8 or control characters", id)
	case strings.Contains(id, "/"):
		return invalid("id", "must not contain '/'", id)
	case id == "." || id == "..":
		return invalid("id", "must not be '.' or '..'", id)
	case isDunder(id):
		return invalid("id", "names of the form __x__ are reserved", id)
	}
	if r.Pattern == nil {
		// The default pattern by hand: it runs on every call of every provider.
		if !idChars(id) {
			return invalid("id", "does not match "+DefaultIDPattern, id)
		}
		return nil
	}
	if !r.Pattern.MatchString(id) {
		return invalid("id", "does not match "+r.Pattern.String(), id)
	}
	return nil
}

// idChars reports whether s is non-empty and matches DefaultIDPattern.
func idChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CollectionPattern is the shape every collection name must have. It is the
// intersection of what the backends accept: CouchDB database names start
// with a lower-case letter, DynamoDB table names need at least 3 characters,
// Firestore forbids '/' and __x__ names. A provider's prefix is added in
// front, so names stay well under every backend's length limit.
const CollectionPattern = `^[a-z][a-z0-9_-]{2,63}$`

// CollectionName checks name against [CollectionPattern].
func CollectionName(name string) error {
	if len(name) < 3 || len(name) > 64 || name[0] < 'a' || name[0] > 'z' || !lowerChars(name) {
		return invalid("collection", "must match "+CollectionPattern, name)
	}
	return nil
}

// lowerChars reports whether s holds only [a-z0-9_-].
func lowerChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Allowlist names the collections a service may touch. An empty Allowlist
// allows every name that passes [CollectionName].
type Allowlist []string

// Check returns nil when name is a valid collection name and, for a
// non-empty list, one of its entries.
func (a Allowlist) Check(name string) error {
	if err := CollectionName(name); err != nil {
		return err
	}
	if len(a) > 0 && !slices.Contains(a, name) {
		return invalid("collection", "not in the allowlist", name)
	}
	return nil
}

// isDunder reports whether s has Firestore's reserved form __.*__.
func isDunder(s string) bool {
	return len(s) >= 4 && s[:2] == "__" && s[len(s)-2:] == "__"
}

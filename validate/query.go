package validate

import (
	"slices"
	"strconv"
	"strings"
)

// Query bounds, shared by every provider so a query valid on one backend is
// valid on all.
const (
	// MaxPathSegments bounds the depth of a dotted field path.
	MaxPathSegments = 10
	// MaxPathLen bounds a field path in bytes.
	MaxPathLen = 256
	// MaxInValues bounds the list of an In condition (Firestore allows 30).
	MaxInValues = 30
	// MaxConds bounds the conditions of one query.
	MaxConds = 16
	// MaxFields bounds a projection.
	MaxFields = 50
	// MaxLimit is the largest page size.
	MaxLimit = 1000
	// MaxCursorLen bounds an opaque cursor in bytes.
	MaxCursorLen = 4096
	// MaxRevLen bounds an opaque revision in bytes.
	MaxRevLen = 256
)

// Operators lists the condition operators every provider implements.
var Operators = []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "exists", "contains", "prefix"}

// Operator checks that op is one of [Operators]. Anything else, "$where"
// included, is refused.
func Operator(op string) error {
	if !slices.Contains(Operators, op) {
		return invalid("query.op", "unknown operator; use one of "+strings.Join(Operators, ", "), op)
	}
	return nil
}

// FieldPath checks a dotted field path such as "owner.id" under the
// default limits. Each segment is letters, digits, '_' and '-' (so it needs
// no quoting on any backend and cannot carry an operator); "_id" is the
// only system field allowed, and only as the whole path. FieldPathWith
// accepts the wider names of Limits.LiteralKeys.
func FieldPath(path string) error {
	if path == "_id" {
		return nil
	}
	if path == "" || len(path) > MaxPathLen {
		return invalid("query.field", "must be 1 to "+strconv.Itoa(MaxPathLen)+" bytes", path)
	}
	// Every query checks its paths: counting and walking the segments
	// spares the slice strings.Split would allocate.
	if strings.Count(path, ".") >= MaxPathSegments {
		return invalid("query.field", "more than "+strconv.Itoa(MaxPathSegments)+" segments", path)
	}
	for i, rest, more := 0, path, true; more; i++ {
		var s string
		s, rest, more = strings.Cut(rest, ".")
		if err := segmentErr(path, i, s); err != nil {
			return err
		}
	}
	return nil
}

// segmentErr checks segment i, s, of path under the default limits.
func segmentErr(path string, i int, s string) error {
	switch {
	case !idChars(s):
		reason := "segments must match " + DefaultIDPattern
		if strings.ContainsAny(path, `$\`) {
			reason += "; Limits.LiteralKeys allows other names, escaped as dbservice.Path does"
		}
		return invalid("query.field", reason, path)
	case i == 0 && s[0] == '_':
		return invalid("query.field", "system fields other than _id cannot be queried", path)
	case isDunder(s):
		return invalid("query.field", "segments of the form __x__ are reserved", path)
	}
	return nil
}

// FieldPathWith checks a field path under lim. Without lim.LiteralKeys it
// is FieldPath. With it, the path is in the escaped form of dbservice.Path:
// names are separated by unescaped dots, and inside a name "\." stands for
// a dot and "\\" for a backslash (any other escape is refused). A name may
// then hold any text a document key may hold under LiteralKeys ("$defs",
// "main.py", "v1.2"), but never a control character or invalid UTF-8, never
// be empty or of the reserved form __x__, and the first name never starts
// with "_" ("_id" alone is the one system field a path may name).
func FieldPathWith(path string, lim Limits) error {
	if !lim.LiteralKeys {
		return FieldPath(path)
	}
	if path == "_id" {
		return nil
	}
	if path == "" || len(path) > MaxPathLen {
		return invalid("query.field", "must be 1 to "+strconv.Itoa(MaxPathLen)+" bytes", path)
	}
	names, ok := splitEscaped(path)
	if !ok {
		return invalid("query.field", `a "\" escapes only "." and "\" in a path`, path)
	}
	if len(names) > MaxPathSegments {
		return invalid("query.field", "more than "+strconv.Itoa(MaxPathSegments)+" segments", path)
	}
	for i, n := range names {
		switch {
		case n == "":
			return invalid("query.field", "empty segment", path)
		case !validText(n):
			return invalid("query.field", "segments must be valid UTF-8 without control characters", path)
		case i == 0 && n[0] == '_':
			return invalid("query.field", "system fields other than _id cannot be queried", path)
		case isDunder(n):
			return invalid("query.field", "segments of the form __x__ are reserved", path)
		}
	}
	return nil
}

// splitEscaped splits an escaped path into its names, reporting false for
// an escape other than "\." and "\\" (a trailing "\" included).
func splitEscaped(path string) ([]string, bool) {
	if !strings.Contains(path, `\`) {
		return strings.Split(path, "."), true
	}
	var names []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '\\':
			if i+1 == len(path) || (path[i+1] != '.' && path[i+1] != '\\') {
				return nil, false
			}
			i++
			cur.WriteByte(path[i])
		case '.':
			names = append(names, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(names, cur.String()), true
}

// QueryValue checks a condition value and returns it in the JSON data model:
// nil, bool, string or float64. Maps and arrays are refused (no provider
// compares them the same way). Numbers follow the one number rule of
// [Sanitize]: integers float64 cannot hold exactly, NaN and ±Inf are
// refused. Strings follow the default string limit.
func QueryValue(v any) (any, error) {
	w := walker{lim: DefaultLimits(), copy: true, fixed: true}
	var out any
	var err error
	if s, ok := v.(string); ok {
		// v already holds the string: w.value would copy it into a new
		// interface, an allocation per condition of every query.
		out, err = v, w.str(s)
	} else {
		out, err = w.value(v, 1)
	}
	if err != nil {
		return nil, invalidNoValue("query.value", err.(*Error).Reason)
	}
	switch out.(type) {
	case map[string]any, []any:
		return nil, invalidNoValue("query.value", "must be a string, number, bool or null")
	}
	return out, nil
}

// Limit checks a page size: 0 (the provider's default) to MaxLimit.
func Limit(n int) error {
	if n < 0 || n > MaxLimit {
		return invalid("query.limit", "must be between 0 and "+strconv.Itoa(MaxLimit), strconv.Itoa(n))
	}
	return nil
}

// Cursor checks the form of an opaque page cursor: empty, or at most
// MaxCursorLen bytes of unpadded base64url. Providers decode and verify its
// contents; this check keeps arbitrary bytes away from them.
func Cursor(c string) error {
	if len(c) > MaxCursorLen {
		return invalid("query.cursor", "longer than "+strconv.Itoa(MaxCursorLen)+" bytes", c)
	}
	for i := 0; i < len(c); i++ {
		if !isB64URL(c[i]) {
			return invalid("query.cursor", "not a cursor this library issued", c)
		}
	}
	return nil
}

// Rev checks the form of an opaque revision: 1 to MaxRevLen printable ASCII
// characters without spaces or quotes.
func Rev(rev string) error {
	if rev == "" || len(rev) > MaxRevLen {
		return invalid("rev", "must be 1 to "+strconv.Itoa(MaxRevLen)+" bytes", rev)
	}
	for i := 0; i < len(rev); i++ {
		if c := rev[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return invalid("rev", "not a revision this library issued", rev)
		}
	}
	return nil
}

func isB64URL(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

package dbservice

import "strings"

// Path joins field names into one dotted path that addresses them exactly,
// whatever they hold: "." and "\" inside a name are escaped with "\", so
// Path("files", "main.py") is `files.main\.py` and never means
// files → main → py. Names with "." or a leading "$" are stored only when
// the application opts in with validate.Limits.LiteralKeys; without it such
// paths are refused like the documents that would hold them.
func Path(names ...string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte('.')
		}
		if !strings.ContainsAny(n, `.\`) {
			b.WriteString(n)
			continue
		}
		for j := 0; j < len(n); j++ {
			if n[j] == '.' || n[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(n[j])
		}
	}
	return b.String()
}

// SplitPath is the inverse of Path: it splits a dotted path at the dots
// that are not escaped and unescapes each name. Providers translate paths
// into their native form (a Firestore FieldPath, DynamoDB name
// placeholders, an escaped Mango field) from these names, never from the
// raw text. A trailing lone "\" is kept as a literal backslash; checked
// paths never hold one.
func SplitPath(path string) []string {
	if !strings.Contains(path, `\`) {
		return strings.Split(path, ".")
	}
	var names []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && i+1 < len(path):
			i++
			cur.WriteByte(path[i])
		case c == '.':
			names = append(names, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(names, cur.String())
}

package rules

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The parser reads the subset of the Firestore rules language that maps
// onto flat collections: an optional rules_version line, an optional
// `service cloud.firestore` block, an optional `match
// /databases/{database}/documents` block, and inside them match blocks of
// one collection (`/users/{userId}`), of any collection (`/{coll}/{id}`) or
// of every document (`/{document=**}`), each holding allow statements. The
// conditions are left as text for CEL to compile; the parser only finds
// where each one ends (the `;` outside strings, brackets and comments).

// maxSource bounds the rules text: rules are configuration, not data, and
// a bound keeps a hostile file from costing more than a quick scan.
const maxSource = 1 << 20

// maxConditionLen bounds one condition's text.
const maxConditionLen = 16 << 10

// Methods a rule can allow, and the groups Firestore defines over them.
var (
	methodNames = []string{"get", "list", "create", "update", "delete"}
	groups      = map[string][]string{
		"read":  {"get", "list"},
		"write": {"create", "update", "delete"},
	}
)

// match is one match block at the document level.
type match struct {
	// collection is the literal collection name, or "" for a wildcard.
	collection string
	// collVar names the collection wildcard ({coll} in /{coll}/{id}).
	collVar string
	// idVar names the document wildcard ({userId}).
	idVar string
	// recursive is the variable of /{document=**}: every document of every
	// collection, bound to "collection/id".
	recursive string
	line, col int
	allows    []*allow
}

// allow is one allow statement.
type allow struct {
	methods   []string // expanded: get, list, create, update, delete
	cond      string   // CEL text; "true" for a bare `allow m;`
	line, col int      // of the statement
	// condLine, condCol locate the condition text, for CEL's errors.
	condLine, condCol int
}

// parsed is the result of parsing one source.
type parsed struct {
	file     string
	database string // the {database} variable of the databases block, or ""
	matches  []*match
}

// ParseError is a rules syntax or compile error, located in the source.
type ParseError struct {
	File   string
	Line   int // 1-based
	Col    int // 1-based
	Reason string
}

// Error implements error: "firestore.rules:3:14: expected ';'".
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Reason)
}

type scanner struct {
	file      string
	src       string
	pos       int
	line, col int
}

func (s *scanner) errf(line, col int, format string, args ...any) *ParseError {
	return &ParseError{File: s.file, Line: line, Col: col, Reason: fmt.Sprintf(format, args...)}
}

// advance moves past n bytes, tracking lines and columns (in runes).
func (s *scanner) advance(n int) {
	for i := 0; i < n && s.pos < len(s.src); {
		r, size := utf8.DecodeRuneInString(s.src[s.pos:])
		s.pos += size
		i += size
		if r == '\n' {
			s.line++
			s.col = 1
		} else {
			s.col++
		}
	}
}

// skip passes whitespace and comments.
func (s *scanner) skip() error {
	for s.pos < len(s.src) {
		rest := s.src[s.pos:]
		switch {
		case rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r':
			s.advance(1)
		case strings.HasPrefix(rest, "//"):
			end := strings.IndexByte(rest, '\n')
			if end < 0 {
				end = len(rest)
			}
			s.advance(end)
		case strings.HasPrefix(rest, "/*"):
			line, col := s.line, s.col
			end := strings.Index(rest[2:], "*/")
			if end < 0 {
				return s.errf(line, col, "unterminated comment")
			}
			s.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

// word reads an identifier (letters, digits, '_', '.').
func (s *scanner) word() string {
	start := s.pos
	for s.pos < len(s.src) {
		r, size := utf8.DecodeRuneInString(s.src[s.pos:])
		if r != '_' && r != '.' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		s.advance(size)
	}
	return s.src[start:s.pos]
}

// name reads a collection name in a path (letters, digits, '_', '-', '.').
func (s *scanner) name() string {
	start := s.pos
	for s.pos < len(s.src) {
		r, size := utf8.DecodeRuneInString(s.src[s.pos:])
		if r != '_' && r != '-' && r != '.' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		s.advance(size)
	}
	return s.src[start:s.pos]
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *scanner) peek() (byte, error) {
	if err := s.skip(); err != nil {
		return 0, err
	}
	if s.pos >= len(s.src) {
		return 0, nil
	}
	return s.src[s.pos], nil
}

// expect consumes the byte c after whitespace.
func (s *scanner) expect(c byte) error {
	b, err := s.peek()
	if err != nil {
		return err
	}
	if b != c {
		return s.errf(s.line, s.col, "expected %q, found %s", c, s.found())
	}
	s.advance(1)
	return nil
}

// found describes what is at the current position, briefly.
func (s *scanner) found() string {
	if s.pos >= len(s.src) {
		return "end of file"
	}
	r, _ := utf8.DecodeRuneInString(s.src[s.pos:])
	if unicode.IsPrint(r) {
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("%U", r)
}

func parse(file, src string) (*parsed, error) {
	s := &scanner{file: file, src: src, line: 1, col: 1}
	if len(src) > maxSource {
		return nil, s.errf(1, 1, "rules longer than %d bytes", maxSource)
	}
	if !utf8.ValidString(src) {
		return nil, s.errf(1, 1, "rules are not valid UTF-8")
	}
	p := &parsed{file: file}
	if err := s.topLevel(p, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// topLevel reads items until the end (depth 0) or a closing brace. Depth
// counts the service and databases blocks around document matches.
func (s *scanner) topLevel(p *parsed, depth int) error {
	for {
		b, err := s.peek()
		if err != nil {
			return err
		}
		if b == 0 {
			if depth > 0 {
				return s.errf(s.line, s.col, "expected '}', found end of file")
			}
			return nil
		}
		if b == '}' {
			if depth == 0 {
				return s.errf(s.line, s.col, "unexpected '}'")
			}
			s.advance(1)
			return nil
		}
		line, col := s.line, s.col
		switch w := s.word(); w {
		case "rules_version":
			if err := s.expect('='); err != nil {
				return err
			}
			if _, err := s.peek(); err != nil {
				return err
			}
			vl, vc := s.line, s.col
			v, err := s.stringLit()
			if err != nil {
				return err
			}
			if v != "1" && v != "2" {
				return s.errf(vl, vc, "rules_version %q: want '1' or '2'", v)
			}
			if err := s.expect(';'); err != nil {
				return err
			}
		case "service":
			if _, err := s.peek(); err != nil {
				return err
			}
			nl, nc := s.line, s.col
			if name := s.word(); name != "cloud.firestore" {
				return s.errf(nl, nc, "service %q: only cloud.firestore rules apply to documents", name)
			}
			if err := s.expect('{'); err != nil {
				return err
			}
			if err := s.topLevel(p, depth+1); err != nil {
				return err
			}
		case "match":
			if err := s.match(p, depth, line, col); err != nil {
				return err
			}
		case "function":
			return s.errf(line, col, "functions are not supported: write the condition inline")
		case "allow":
			return s.errf(line, col, "allow outside a match block")
		case "":
			return s.errf(line, col, "expected rules_version, service or match, found %s", s.found())
		default:
			return s.errf(line, col, "expected rules_version, service or match, found %q", short(w))
		}
	}
}

// stringLit reads a quoted string without escapes.
func (s *scanner) stringLit() (string, error) {
	if s.pos >= len(s.src) || (s.src[s.pos] != '\'' && s.src[s.pos] != '"') {
		return "", s.errf(s.line, s.col, "expected a quoted string, found %s", s.found())
	}
	q := s.src[s.pos]
	end := strings.IndexByte(s.src[s.pos+1:], q)
	if end < 0 || strings.ContainsAny(s.src[s.pos+1:s.pos+1+end], "\n\\") {
		return "", s.errf(s.line, s.col, "unterminated string")
	}
	v := s.src[s.pos+1 : s.pos+1+end]
	s.advance(end + 2)
	return v, nil
}

// segment is one segment of a match path.
type segment struct {
	literal   string
	variable  string
	recursive bool
	line, col int
}

// path reads a match path: /seg/{var}/{var=**}.
func (s *scanner) path() ([]segment, error) {
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	var segs []segment
	for s.pos < len(s.src) && s.src[s.pos] == '/' {
		s.advance(1)
		seg := segment{line: s.line, col: s.col}
		if s.pos < len(s.src) && s.src[s.pos] == '{' {
			s.advance(1)
			seg.variable = s.word()
			if !isIdent(seg.variable) {
				return nil, s.errf(seg.line, seg.col, "expected a variable name in {}")
			}
			if strings.HasPrefix(s.src[s.pos:], "=**") {
				seg.recursive = true
				s.advance(3)
			}
			if s.pos >= len(s.src) || s.src[s.pos] != '}' {
				return nil, s.errf(s.line, s.col, "expected '}' after the variable, found %s", s.found())
			}
			s.advance(1)
		} else {
			seg.literal = s.name()
			if !isIdent(seg.literal) && !isName(seg.literal) {
				return nil, s.errf(seg.line, seg.col, "expected a collection name or {variable}, found %s", s.found())
			}
		}
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		return nil, s.errf(s.line, s.col, "expected a path starting with '/', found %s", s.found())
	}
	return segs, nil
}

func (s *scanner) match(p *parsed, depth, line, col int) error {
	segs, err := s.path()
	if err != nil {
		return err
	}
	if err := s.expect('{'); err != nil {
		return err
	}
	// The databases block only scopes the document matches inside it.
	if len(segs) == 3 && segs[0].literal == "databases" && segs[1].variable != "" && !segs[1].recursive && segs[2].literal == "documents" {
		if p.database != "" {
			return s.errf(line, col, "a second databases block")
		}
		p.database = segs[1].variable
		return s.topLevel(p, depth+1)
	}
	m := &match{line: line, col: col}
	switch {
	case len(segs) == 1 && segs[0].recursive:
		m.recursive = segs[0].variable
	case len(segs) == 2 && !segs[1].recursive && segs[1].variable != "" && !segs[0].recursive:
		m.collection, m.collVar, m.idVar = segs[0].literal, segs[0].variable, segs[1].variable
		if m.collVar != "" && m.collVar == m.idVar {
			return s.errf(segs[1].line, segs[1].col, "variable %q bound twice", m.idVar)
		}
	default:
		return s.errf(line, col, "unsupported match path: use /collection/{id}, /{collection}/{id} or /{document=**} (documents live in flat collections, without subcollections)")
	}
	for _, v := range []string{m.collVar, m.idVar, m.recursive} {
		if v != "" && (v == "request" || v == "resource" || v == p.database) {
			return s.errf(line, col, "variable %q shadows a rules variable", v)
		}
	}
	if err := s.body(m); err != nil {
		return err
	}
	p.matches = append(p.matches, m)
	return nil
}

// body reads allow statements until the match block's closing brace.
func (s *scanner) body(m *match) error {
	for {
		b, err := s.peek()
		if err != nil {
			return err
		}
		if b == 0 {
			return s.errf(s.line, s.col, "expected '}', found end of file")
		}
		if b == '}' {
			s.advance(1)
			return nil
		}
		line, col := s.line, s.col
		switch w := s.word(); w {
		case "allow":
			a, err := s.allow(line, col)
			if err != nil {
				return err
			}
			m.allows = append(m.allows, a)
		case "match":
			return s.errf(line, col, "nested match blocks (subcollections) are not supported")
		case "function":
			return s.errf(line, col, "functions are not supported: write the condition inline")
		case "":
			return s.errf(line, col, "expected allow or '}', found %s", s.found())
		default:
			return s.errf(line, col, "expected allow or '}', found %q", short(w))
		}
	}
}

func (s *scanner) allow(line, col int) (*allow, error) {
	a := &allow{line: line, col: col}
	seen := map[string]bool{}
	for {
		if _, err := s.peek(); err != nil {
			return nil, err
		}
		ml, mc := s.line, s.col
		w := s.word()
		var ms []string
		if g, ok := groups[w]; ok {
			ms = g
		} else if isMethod(w) {
			ms = []string{w}
		} else if w == "" {
			return nil, s.errf(ml, mc, "expected a method (read, write, get, list, create, update, delete), found %s", s.found())
		} else {
			return nil, s.errf(ml, mc, "unknown method %q: use read, write, get, list, create, update or delete", short(w))
		}
		for _, m := range ms {
			if !seen[m] {
				seen[m] = true
				a.methods = append(a.methods, m)
			}
		}
		b, err := s.peek()
		if err != nil {
			return nil, err
		}
		if b == ',' {
			s.advance(1)
			continue
		}
		break
	}
	b, err := s.peek()
	if err != nil {
		return nil, err
	}
	switch b {
	case ';':
		s.advance(1)
		a.cond, a.condLine, a.condCol = "true", line, col
		return a, nil
	case ':':
		s.advance(1)
	default:
		return nil, s.errf(s.line, s.col, "expected ':' or ';' after the methods, found %s", s.found())
	}
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	il, ic := s.line, s.col
	if s.word() != "if" {
		return nil, s.errf(il, ic, "expected 'if' after ':'")
	}
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	a.condLine, a.condCol = s.line, s.col
	cond, err := s.condition()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cond) == "" {
		return nil, s.errf(a.condLine, a.condCol, "empty condition")
	}
	a.cond = cond
	return a, nil
}

// condition reads up to the ';' that ends the statement, outside strings,
// brackets and comments, and consumes it.
func (s *scanner) condition() (string, error) {
	start := s.pos
	line, col := s.line, s.col
	var stack []byte
	for s.pos < len(s.src) {
		if s.pos-start > maxConditionLen {
			return "", s.errf(line, col, "condition longer than %d bytes", maxConditionLen)
		}
		c := s.src[s.pos]
		switch {
		case c == '\'' || c == '"':
			if err := s.skipString(c); err != nil {
				return "", err
			}
			continue
		case strings.HasPrefix(s.src[s.pos:], "//"), strings.HasPrefix(s.src[s.pos:], "/*"):
			if err := s.skip(); err != nil {
				return "", err
			}
			continue
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			open := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				if c == '}' && len(stack) == 0 {
					return "", s.errf(line, col, "condition does not end with ';'")
				}
				return "", s.errf(s.line, s.col, "unbalanced %q", c)
			}
			stack = stack[:len(stack)-1]
		case c == ';' && len(stack) == 0:
			cond := s.src[start:s.pos]
			s.advance(1)
			return cond, nil
		}
		s.advance(1)
	}
	return "", s.errf(line, col, "condition does not end with ';'")
}

// skipString passes a quoted string with backslash escapes.
func (s *scanner) skipString(q byte) error {
	line, col := s.line, s.col
	s.advance(1)
	for s.pos < len(s.src) {
		switch c := s.src[s.pos]; c {
		case '\\':
			s.advance(2)
			continue
		case '\n':
			return s.errf(line, col, "unterminated string")
		case q:
			s.advance(1)
			return nil
		}
		s.advance(1)
	}
	return s.errf(line, col, "unterminated string")
}

func isMethod(w string) bool {
	for _, m := range methodNames {
		if m == w {
			return true
		}
	}
	return false
}

// isIdent reports whether w is a variable name.
func isIdent(w string) bool {
	if w == "" || strings.Contains(w, ".") {
		return false
	}
	for i, r := range w {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// isName reports whether w can be a collection name in a path (letters,
// digits, '_' and '.').
func isName(w string) bool {
	return w != "" && strings.Trim(w, ".") == w
}

func short(w string) string {
	if r := []rune(w); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return w
}

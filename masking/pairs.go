package masking

import "strings"

// Key/value pairs in text: key=value, key: value, "key": value (JSON),
// \"key\":\"value\" (JSON inside a JSON string), Key:value (Go's %v of maps
// and structs), key="quoted value" (slog's TextHandler). A pair whose key is
// sensitive has its whole value masked; the key, separator and quotes stay.

// pair handles the separator s[p].
func (sc *scanner) pair(p int) {
	s := sc.s
	if p+1 < len(s) {
		next := s[p+1]
		// "==" and ":=" are code, "://" is a URL (userinfo handles it).
		if next == '=' || s[p] == ':' && strings.HasPrefix(s[p+1:], "//") {
			return
		}
	}
	ks, ke, kq := sc.keyBefore(p)
	if ks < 0 {
		return
	}
	k, ok := sc.m.keys.lookup(s[ks:ke])
	if !ok {
		return
	}
	// "Key: value" as an HTTP header or YAML line has a value that runs to
	// the end of the line; so does a Cookie value wherever it appears.
	toEOL := s[p] == ':' && kq == quoteNone && p+1 < len(s) && (s[p+1] == ' ' || s[p+1] == '\t') &&
		(k.toEOL || sc.lineStart(ks))
	sc.value(p+1, kq, toEOL)
}

// keyBefore finds the key that ends at separator p. kq is quoteJSON or
// quoteEscaped for a double-quoted key, whose non-string values must be
// replaced by a JSON string to keep the JSON valid.
//
// A key stops where an earlier rule masked the text before it, because the
// next pass sees the replacement there and must find the same key. When
// the separator itself is masked, the next pass cannot see this pair at
// all, so the whole key counts: "pass= client_secret: x" masks x too.
func (sc *scanner) keyBefore(p int) (start, end int, kq quoteStyle) {
	s := sc.s
	q := p
	for n := 0; n < 4 && q > 0 && (s[q-1] == ' ' || s[q-1] == '\t'); n++ {
		q--
	}
	// The key lies in s[lo:q].
	lo := min(sc.reachBefore(q), q)
	if sc.reachBefore(p+1) > p {
		lo = 0
	}
	if q <= lo {
		return -1, -1, quoteNone
	}
	switch quote := s[q-1]; quote {
	case '"', '\'':
		end = q - 1
		escaped := quote == '"' && end > lo && s[end-1] == '\\'
		if escaped {
			end--
		}
		for j := end - 1; j >= max(lo, end-maxKeyLen); j-- {
			c := s[j]
			if c == '\n' {
				break
			}
			if c != quote {
				continue
			}
			switch {
			case escaped && j > lo && s[j-1] == '\\':
				return j + 1, end, quoteEscaped
			case escaped:
				continue
			case quote == '"':
				return j + 1, end, quoteJSON
			default:
				return j + 1, end, quoteNone
			}
		}
		return -1, -1, quoteNone
	default:
		j := q
		for j > lo && q-j < maxKeyLen && class[s[j-1]]&cKey != 0 {
			j--
		}
		if j == q {
			return -1, -1, quoteNone
		}
		return j, q, quoteNone
	}
}

// lineStart reports whether only indentation or a YAML list dash precedes
// position i on its line.
func (sc *scanner) lineStart(i int) bool {
	s := sc.s
	for i > 0 {
		switch s[i-1] {
		case ' ', '\t', '-':
			i--
		case '\n', '\r':
			return true
		default:
			return false
		}
	}
	return true
}

// value masks the value that starts after the separator, at v. A value
// never runs past the end of its line.
func (sc *scanner) value(v int, kq quoteStyle, toEOL bool) {
	s := sc.s
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if v >= len(s) || sc.masked(v) {
		return
	}
	eol := sc.lineEnd(v)
	line := s[:eol]
	rest := s[v:eol]
	switch {
	case rest == "":
		return
	case strings.HasPrefix(rest, `\"`):
		start := v + 2
		end := eol
		if k := strings.Index(line[start:], `\"`); k >= 0 {
			end = start + k
		}
		sc.work += end - start
		sc.content(start, end)
	case rest[0] == '"' || rest[0] == '\'':
		end := closingQuote(line, v+1, rest[0])
		sc.work += end - v
		sc.content(v+1, end)
	case rest[0] == '[' || rest[0] == '{':
		close := matchBracket(line, v)
		if close < 0 {
			sc.work += eol - v
		} else {
			sc.work += close - v
		}
		if kq != quoteNone {
			// A JSON array or object under a sensitive key: replace all
			// of it with a JSON string.
			if close < 0 {
				sc.add(v, eol, quoteNone)
			} else {
				sc.add(v, close+1, kq)
			}
			return
		}
		if close < 0 {
			close = eol
		}
		sc.content(v+1, close) // Authorization:[Bearer x] keeps its brackets
	case kq != quoteNone:
		end := v
		for end < eol && !jsonEnds(s[end]) {
			end++
		}
		sc.work += end - v
		switch s[v:end] {
		case "null", "true", "false":
			return
		}
		sc.add(v, end, kq)
	default:
		start := sc.skipScheme(v)
		if sc.masked(start) {
			return
		}
		end := eol
		if toEOL {
			for end > start && isSpace(s[end-1]) {
				end--
			}
		} else {
			end = valueEnd(line, start)
			if end < len(s) && s[end] == '"' && end > start && s[end-1] == '\\' {
				end-- // keep the \" that closes an enclosing escaped string
			}
		}
		sc.work += end - v
		sc.add(start, end, quoteNone)
	}
}

// content masks a quoted or bracketed value s[start:end], keeping an HTTP
// authentication scheme in front of it.
func (sc *scanner) content(start, end int) {
	start = sc.skipScheme(start)
	if end > start && sc.s[start:end] != sc.m.repl {
		sc.add(start, end, quoteNone)
	}
}

// skipScheme returns the position after "Bearer ", "Basic " and the other
// HTTP authentication schemes at v, so that the line still says which kind
// of credential it was; otherwise v.
func (sc *scanner) skipScheme(v int) int {
	s := sc.s
	j := v
	for j < len(s) && j-v <= 16 && (class[s[j]]&cAlnum != 0 || s[j] == '-') {
		j++
	}
	if j == v || j >= len(s) || s[j] != ' ' || !isScheme(s[v:j]) {
		return v
	}
	k := j
	for k < len(s) && s[k] == ' ' {
		k++
	}
	if k >= len(s) || terminates(s[k]) {
		return v // a bare "Bearer": mask the word itself
	}
	return k
}

func isScheme(w string) bool {
	for _, s := range [...]string{"bearer", "basic", "token", "digest", "negotiate", "ntlm", "bot", "dpop", "aws4-hmac-sha256"} {
		if strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

// terminates reports whether c ends an unquoted value.
func terminates(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', ',', ';', '&', '"', '\'', '<', '>', '`', ')', ']', '}':
		return true
	}
	return false
}

// valueEnd returns the end of the unquoted value of a sensitive pair
// starting at i. Passwords hold punctuation (Xy7;kP!2q), so the value runs
// to white space, a quote, or a closing bracket it did not open; a ',', ';'
// or '&' ends it only where the next pair visibly starts (;Encrypt=true,
// &state=x) or white space follows, as in ODBC strings and query strings.
func valueEnd(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth == 0 {
				return i
			}
			depth--
		case ',', ';', '&':
			if i+1 == len(s) || isSpace(s[i+1]) || pairAhead(s, i+1) {
				return i
			}
		case ' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '`', '<', '>':
			return i
		}
	}
	return i
}

// pairAhead reports whether s[i:] starts with key= .
func pairAhead(s string, i int) bool {
	j := i
	for j < len(s) && j-i < maxKeyLen && class[s[j]]&cKey != 0 {
		j++
	}
	return j > i && j < len(s) && s[j] == '='
}

// jsonEnds reports whether c ends a JSON number or literal.
func jsonEnds(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', '}', ']', '"', '\\':
		return true
	}
	return false
}

// closingQuote returns the index of the quote that closes a string opened
// just before start, honouring backslash escapes; an unterminated string
// ends with s, which ends with the line.
func closingQuote(s string, start int, quote byte) int {
	for j := start; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case quote:
			return j
		}
	}
	return len(s)
}

// matchBracket returns the index of the bracket that closes s[open], or -1.
func matchBracket(s string, open int) int {
	depth := 0
	inString := false
	for j := open; j < len(s); j++ {
		c := s[j]
		if inString {
			switch c {
			case '\\':
				j++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// masked reports whether the replacement, followed by the end of a value,
// starts at i: an earlier pass masked this value.
func (sc *scanner) masked(i int) bool {
	rest, repl := sc.s[i:], sc.m.repl
	return strings.HasPrefix(rest, repl) && (len(rest) == len(repl) || terminates(rest[len(repl)]))
}

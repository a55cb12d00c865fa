package masking

// Rules for secrets spelled in other encodings than plain key=value text:
// command-line flags and percent-encoded URLs.

// cliFlag masks the argument of a sensitive long option written with a
// space, "--password hunter2"; "--password=hunter2" is an ordinary pair.
// s[i:] starts with "--" at a word start.
func (sc *scanner) cliFlag(i int) {
	s := sc.s
	j := i + 2
	for j < len(s) && j-i < maxKeyLen && class[s[j]]&cKey != 0 {
		j++
	}
	if j == i+2 || j >= len(s) || (s[j] != ' ' && s[j] != '\t') {
		return
	}
	if _, ok := sc.m.keys.lookup(s[i+2 : j]); !ok {
		return
	}
	v := j
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if v >= len(s) || s[v] == '-' || s[v] == '\n' || s[v] == '\r' || sc.masked(v) {
		return // another flag, or nothing, follows
	}
	end := v
	switch q := s[v]; q {
	case '"', '\'':
		end = closingQuote(s[:sc.lineEnd(v)], v+1, q)
		v++
	default:
		for end < len(s) && !isSpace(s[end]) && s[end] != '"' && s[end] != '\'' && s[end] != '`' {
			end++
		}
	}
	sc.work += end - v
	sc.add(v, end, quoteNone)
}

// percent handles the percent-encoded forms of a URL's userinfo
// (https%3A%2F%2Fuser%3Apw%40host, a URL inside a query parameter) and of a
// pair (password%3Dhunter2). s[i] is '%'.
func (sc *scanner) percent(i int) {
	s := sc.s
	switch {
	case hasPct(s, i, "3A") && hasPct(s, i+3, "2F") && hasPct(s, i+6, "2F"):
		sc.encodedUserinfo(i + 9)
	case hasPct(s, i, "3D"):
		sc.encodedPair(i)
	}
}

// hasPct reports whether s[i:] starts with '%' and the hex digits hx, in
// either case.
func hasPct(s string, i int, hx string) bool {
	return i+3 <= len(s) && s[i] == '%' && upper(s[i+1]) == hx[0] && upper(s[i+2]) == hx[1]
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// encodedEnd reports whether s[i:] ends an encoded value or authority: a
// byte that ends a URL, an '&', or an encoded '&', '?', '#' or space.
func encodedEnd(s string, i int) bool {
	if urlStop(s[i]) || s[i] == '&' {
		return true
	}
	return hasPct(s, i, "26") || hasPct(s, i, "3F") || hasPct(s, i, "23") || hasPct(s, i, "20")
}

// encodedUserinfo masks the password of an encoded URL whose authority
// starts at j, between the first encoded ':' and the last encoded '@'.
func (sc *scanner) encodedUserinfo(j int) {
	s := sc.s
	colon, at := -1, -1
	end := j
	for lim := min(len(s), j+3*maxAuthority); end < lim && !encodedEnd(s, end); end++ {
		switch {
		case colon < 0 && hasPct(s, end, "3A"):
			colon = end
		case hasPct(s, end, "40"):
			at = end
		}
	}
	sc.work += end - j
	if colon < 0 || at < colon+3 {
		return
	}
	pw := s[colon+3 : at]
	// host%3A443%2Fpath%40x is a port and a path, not a password.
	d := 0
	for d < len(pw) && '0' <= pw[d] && pw[d] <= '9' {
		d++
	}
	if d > 0 && hasPct(pw, d, "2F") {
		return
	}
	sc.add(colon+3, at, quoteNone)
}

// encodedPair masks the value of key%3Dvalue when key is sensitive. s[p]
// is the '%' of "%3D".
func (sc *scanner) encodedPair(p int) {
	s := sc.s
	ke := p
	if ke >= 3 && hasPct(s, ke-3, "22") {
		ke -= 3 // an encoded JSON key, %22token%22%3D
	}
	k := ke
	for k > 0 && ke-k < maxKeyLen && class[s[k-1]]&cKey != 0 {
		k--
	}
	if k > 0 && s[k-1] == '%' && ke-k > 2 {
		k += 2 // the hex digits of an encoded separator before the key (%26password)
	}
	if k == ke {
		return
	}
	if _, ok := sc.m.keys.lookup(s[k:ke]); !ok {
		return
	}
	v := p + 3
	quoted := hasPct(s, v, "22")
	if quoted {
		v += 3
	}
	end := v
	for lim := min(len(s), v+3*maxAuthority); end < lim; end++ {
		// A quoted value runs to its encoded closing quote, spaces
		// included.
		if quoted && (hasPct(s, end, "22") || urlStop(s[end]) || s[end] == '&') ||
			!quoted && encodedEnd(s, end) {
			break
		}
	}
	sc.work += end - v
	sc.add(v, end, quoteNone)
}

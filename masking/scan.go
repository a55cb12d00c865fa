package masking

import (
	"math/bits"
	"slices"
	"strings"
)

// The engine makes one pass over the bytes of a string. Most bytes cost a
// table lookup; only the few bytes a rule can start from (see class) lead to
// a closer look, which is why secret-free text is cheap. Every rule reports
// spans of the text it was given; overlapping spans are merged and replaced
// in one go at the end (see Masker.maskPEM for the passes that follow).
// Key/value pairs are handled at their separator, when every span that
// starts before it is known: a key stops where earlier masking starts.

// quoteStyle says how a replacement is written.
type quoteStyle uint8

const (
	quoteNone    quoteStyle = iota
	quoteJSON               // a JSON number, array or object under a sensitive key becomes a JSON string
	quoteEscaped            // the same inside an escaped JSON string (\"key\":1)
)

type span struct {
	start, end int
	quote      quoteStyle
}

// Byte classes.
const (
	cLower       uint8 = 1 << iota // a-z
	cUpper                         // A-Z
	cDigit                         // 0-9
	cB64Sym                        // + and /, which the long-token rule [A-Za-z0-9+/]{40,} also counts
	cKeySym                        // _ . - which may appear in a bare key
	cBreak                         // not in [A-Za-z0-9+/]: ends a long-token run
	cTrigger                       // a separator a rule starts from: = : @ - %
	cWordTrigger                   // a letter a token rule starts from, at a word start

	cAlnum = cLower | cUpper | cDigit
	cB64   = cAlnum | cB64Sym
	cKey   = cAlnum | cKeySym
)

// longTokenLen is the threshold of the security guide's long-token rule,
// [A-Za-z0-9+/]{40,}.
const longTokenLen = 40

var class = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= cUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= cDigit
	}
	t['+'] |= cB64Sym
	t['/'] |= cB64Sym
	for _, c := range "_.-" {
		t[c] |= cKeySym
	}
	for _, c := range "=:@-%" {
		t[c] |= cTrigger
	}
	t['e'] |= cWordTrigger
	t['B'] |= cWordTrigger
	for _, r := range tokenRules {
		t[r.prefix[0]] |= cWordTrigger
	}
	for c := range t {
		if t[c]&cB64 == 0 {
			t[c] |= cBreak
		}
	}
	return t
}()

// byteSet is a set of bytes, used for token bodies.
type byteSet [256]bool

func setOf(ranges ...string) *byteSet {
	var s byteSet
	for _, r := range ranges {
		if len(r) == 3 && r[1] == '-' {
			for c := int(r[0]); c <= int(r[2]); c++ {
				s[c] = true
			}
			continue
		}
		for i := 0; i < len(r); i++ {
			s[r[i]] = true
		}
	}
	return &s
}

var (
	upperDigit = setOf("A-Z", "0-9")
	alnum      = setOf("a-z", "A-Z", "0-9")
	alnumUnder = setOf("a-z", "A-Z", "0-9", "_")
	alnumDash  = setOf("a-z", "A-Z", "0-9", "-")
	b64url     = setOf("a-z", "A-Z", "0-9", "_-")
	b64urlDot  = setOf("a-z", "A-Z", "0-9", "._-")
	lowerHex   = setOf("a-f", "0-9")
	// b64token is RFC 6750's credential alphabet after "Bearer ".
	b64token = setOf("a-z", "A-Z", "0-9", "-._~+/=")
)

// tokenRule is a credential with a fixed, documented prefix. The whole token
// is the secret.
type tokenRule struct {
	prefix string
	body   *byteSet
	min    int  // minimum body length after the prefix
	edge   bool // the byte after the body must not be a letter or digit
}

var tokenRules = []tokenRule{
	// AWS access key IDs: AKIA long-term, ASIA temporary (STS).
	{prefix: "AKIA", body: upperDigit, min: 16, edge: true},
	{prefix: "ASIA", body: upperDigit, min: 16, edge: true},
	{prefix: "ABIA", body: upperDigit, min: 16, edge: true},
	{prefix: "ACCA", body: upperDigit, min: 16, edge: true},
	// GitHub: personal, OAuth, user-to-server, server-to-server, refresh.
	{prefix: "ghp_", body: alnum, min: 36},
	{prefix: "gho_", body: alnum, min: 36},
	{prefix: "ghu_", body: alnum, min: 36},
	{prefix: "ghs_", body: alnum, min: 36},
	{prefix: "ghr_", body: alnum, min: 36},
	{prefix: "github_pat_", body: alnumUnder, min: 22},
	// Slack: bot, user, app-level, legacy workspace, refresh, config.
	{prefix: "xoxb-", body: alnumDash, min: 10},
	{prefix: "xoxp-", body: alnumDash, min: 10},
	{prefix: "xoxa-", body: alnumDash, min: 10},
	{prefix: "xoxs-", body: alnumDash, min: 10},
	{prefix: "xoxr-", body: alnumDash, min: 10},
	{prefix: "xoxe-", body: alnumDash, min: 10},
	{prefix: "xapp-", body: alnumDash, min: 10},
	// Stripe secret and restricted keys, webhook signing secrets; the
	// publishable pk_ keys are public by design.
	{prefix: "sk_live_", body: alnum, min: 10},
	{prefix: "sk_test_", body: alnum, min: 10},
	{prefix: "rk_live_", body: alnum, min: 10},
	{prefix: "rk_test_", body: alnum, min: 10},
	{prefix: "whsec_", body: alnum, min: 20},
	// Google API keys and OAuth access tokens.
	{prefix: "AIza", body: b64url, min: 35},
	{prefix: "ya29.", body: b64urlDot, min: 20},
	// OpenAI project, service-account, admin and legacy keys, Anthropic
	// keys: the whole key, so no prefix of the secret part stays.
	{prefix: "sk-proj-", body: b64url, min: 20},
	{prefix: "sk-svcacct-", body: b64url, min: 20},
	{prefix: "sk-admin-", body: b64url, min: 20},
	{prefix: "sk-ant-", body: b64url, min: 20},
	{prefix: "sk-", body: b64url, min: 32},
	// GitLab personal access tokens, npm tokens.
	{prefix: "glpat-", body: b64url, min: 20},
	{prefix: "npm_", body: alnum, min: 36},
	// SendGrid API keys (SG.<22>.<43>), Twilio API key SIDs.
	{prefix: "SG.", body: b64urlDot, min: 50},
	{prefix: "SK", body: lowerHex, min: 32, edge: true},
	// HashiCorp Vault service and batch tokens.
	{prefix: "hvs.", body: b64url, min: 20},
	{prefix: "hvb.", body: b64url, min: 20},
}

var tokensByFirst = func() (t [256][]tokenRule) {
	for _, r := range tokenRules {
		t[r.prefix[0]] = append(t[r.prefix[0]], r)
	}
	return t
}()

// secondByte[a] is the set of bytes that can follow a at the start of a
// token: a cheap test that spares most words starting with "s" or "e" a
// closer look.
var secondByte = func() (t [256][4]uint64) {
	add := func(a, b byte) { t[a][b>>6] |= 1 << (b & 63) }
	for _, r := range tokenRules {
		add(r.prefix[0], r.prefix[1])
	}
	add('e', 'y') // eyJ, JWT
	add('B', 'e') // Bearer
	add('B', 'E') // BEARER
	add('B', 'a') // Basic
	return t
}()

func canStartToken(s string, i int) bool {
	if i+1 >= len(s) {
		return false
	}
	b := s[i+1]
	return secondByte[s[i]][b>>6]&(1<<(b&63)) != 0
}

// match returns the end of the token starting at s[i:], or -1.
func (r *tokenRule) match(s string, i int) int {
	if !strings.HasPrefix(s[i:], r.prefix) {
		return -1
	}
	j := i + len(r.prefix)
	for j < len(s) && r.body[s[j]] {
		j++
	}
	if j-i-len(r.prefix) < r.min || r.edge && j < len(s) && class[s[j]]&cAlnum != 0 {
		return -1
	}
	return j
}

// scanner collects the spans of one string.
type scanner struct {
	m       *Masker
	s       string
	spans   []span
	inPEM   bool
	pemOpen bool

	// spans is kept in order of start; spans[:folded] are those that start
	// before at, and reach is the furthest end among them. Together they
	// answer "what is masked before here" in amortized constant time.
	reach, at, folded int

	// work counts the bytes that rules look at beyond the main pass. Text
	// built to make them rescan the same bytes (a 64 KiB line of
	// "password=(" say) runs out of budget, and everything from there on
	// is masked: the cost stays linear and nothing leaks.
	work, budget int

	nlFrom, nl int // no line break in s[nlFrom:nl]; s[nl] is one or len(s)
}

// maxWork is the budget per byte of input; ordinary log text uses a
// fraction of it.
const maxWork = 8

func (sc *scanner) scan() {
	s := sc.s
	sc.budget = maxWork*len(s) + 4096
	sc.nlFrom, sc.nl = -1, -1
	if len(sc.m.patterns) > 0 {
		sc.userPatterns()
	}
	if sc.inPEM {
		sc.pemBody(0)
	}
	// The hot loop: most bytes are letters or digits inside a word and
	// cost one lookup and one branch. Prefixed tokens start a word ("xAKIA..."
	// is not an access key), so they are looked for only after the bytes
	// that end one, never at every letter.
	sc.tokenAt(0)
	runStart := 0 // start of the current [A-Za-z0-9+/] run
	for i := 0; i < len(s); i++ {
		cl := class[s[i]]
		if cl&(cBreak|cTrigger|cB64Sym) == 0 {
			continue
		}
		if sc.work > sc.budget {
			sc.add(i, len(s), quoteNone)
			return
		}
		next := i + 1
		if cl&cBreak == 0 {
			// + and / continue a long-token run but start a word.
			if next < len(s) && class[s[next]]&cWordTrigger != 0 {
				sc.tokenAt(next)
			}
			continue
		}
		if i-runStart >= longTokenLen {
			sc.longToken(runStart, i)
		}
		runStart = i + 1
		if cl&cTrigger != 0 {
			sc.separator(i)
		}
		if next < len(s) && class[s[next]]&cWordTrigger != 0 {
			sc.tokenAt(next)
		}
	}
	if len(s)-runStart >= longTokenLen {
		sc.longToken(runStart, len(s))
	}
}

func (sc *scanner) add(start, end int, q quoteStyle) {
	if end <= start || sc.s[start:end] == sc.m.replacement(q) {
		return // nothing to mask, or masked by an earlier pass
	}
	// Spans mostly arrive in order of their start.
	i := len(sc.spans)
	for i > 0 && sc.spans[i-1].start > start {
		i--
	}
	sc.spans = slices.Insert(sc.spans, i, span{start, end, q})
	if start < sc.at {
		sc.reach = max(sc.reach, end)
		sc.folded++
	}
}

// reachBefore returns the furthest end of the spans that start before x.
// x must not go down from one call to the next.
func (sc *scanner) reachBefore(x int) int {
	if x < sc.at {
		r := 0
		for _, sp := range sc.spans {
			if sp.start < x {
				r = max(r, sp.end)
			}
		}
		return r
	}
	for sc.folded < len(sc.spans) && sc.spans[sc.folded].start < x {
		sc.reach = max(sc.reach, sc.spans[sc.folded].end)
		sc.folded++
	}
	sc.at = x
	return sc.reach
}

// lineEnd returns the index of the first line break at or after i, or
// len(s). Callers mostly move forward, so the last answer is reused.
func (sc *scanner) lineEnd(i int) int {
	if sc.nlFrom <= i && i <= sc.nl {
		return sc.nl
	}
	sc.nlFrom, sc.nl = i, len(sc.s)
	if k := strings.IndexAny(sc.s[i:], "\r\n"); k >= 0 {
		sc.nl = i + k
	}
	sc.work += sc.nl - i
	return sc.nl
}

// separator handles = : @ and -.
func (sc *scanner) separator(i int) {
	s := sc.s
	switch s[i] {
	case '=', ':':
		if s[i] == ':' && strings.HasPrefix(s[i+1:], "//") {
			sc.userinfo(i)
			return
		}
		// Every span that starts before i is known by now, which is all
		// the key needs; see keyBefore.
		sc.pair(i)
	case '@':
		sc.dsnUserinfo(i)
	case '-':
		switch {
		case strings.HasPrefix(s[i:], pemBegin):
			sc.pem(i)
		case i+1 < len(s) && s[i+1] == '-' && (i == 0 || isSpace(s[i-1]) || s[i-1] == '"' || s[i-1] == '\''):
			sc.cliFlag(i)
		}
	case '%':
		sc.percent(i)
	}
}

// tokenAt tries the prefixed token rules at i, which starts a word.
func (sc *scanner) tokenAt(i int) {
	if i < len(sc.s) && class[sc.s[i]]&cWordTrigger != 0 && canStartToken(sc.s, i) {
		sc.wordStart(i)
	}
}

// wordStart tries the prefixed token rules at a word start.
func (sc *scanner) wordStart(i int) {
	s := sc.s
	switch c := s[i]; c {
	case 'e':
		sc.jwt(i)
	case 'B':
		sc.bearer(i)
	default:
		for _, r := range tokensByFirst[c] {
			if end := r.match(s, i); end > 0 {
				sc.add(i, end, quoteNone)
				return
			}
		}
	}
}

// longToken applies the long-token rule [A-Za-z0-9+/]{40,} to the run s[start:end].
// A run of a single character class (a long lower-case path, a row of
// digits) is not a credential, so it needs two of lower, upper and digit.
func (sc *scanner) longToken(start, end int) {
	if !sc.m.longTokens {
		return
	}
	var cl uint8
	for i := start; i < end; i++ {
		cl |= class[sc.s[i]]
	}
	if bits.OnesCount8(cl&cAlnum) >= 2 {
		sc.add(start, end, quoteNone)
	}
}

// userinfo masks the password of scheme://user:password@host. s[colon] is
// the colon of "://".
func (sc *scanner) userinfo(colon int) {
	s := sc.s
	j := colon + 3
	end := j
	for lim := min(len(s), j+maxAuthority); end < lim && !urlStop(s[end]); end++ {
	}
	sc.work += end - j
	c := strings.IndexByte(s[j:end], ':')
	if c < 0 || strings.ContainsAny(s[j:j+c], "/?#@") {
		return
	}
	p0 := j + c + 1
	// Unescaped '@' and '/' do turn up in passwords, so the password runs
	// to the last '@' before the query or fragment, not to the first '@'.
	// That over-masks a path holding an '@' (host/@scope), never under-masks.
	q := p0
	for q < end && s[q] != '?' && s[q] != '#' {
		q++
	}
	a := strings.LastIndexByte(s[p0:q], '@')
	if a < 0 {
		return
	}
	at := p0 + a
	pw := s[p0:at]
	if k := strings.IndexByte(pw, '/'); k > 0 && allDigits(pw[:k]) {
		return // host:port/path@x, not a password
	}
	sc.add(p0, at, quoteNone)
}

// maxAuthority bounds how far userinfo and DSN rules look for the '@'
// that ends a password; a longer password is left to the other rules.
const maxAuthority = 512

func urlStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '<', '>', '`', '\\':
		return true
	}
	return false
}

// dsnUserinfo masks the password of Go MySQL driver DSNs,
// user:password@tcp(host:3306)/db, which have no scheme. s[at] is '@'.
func (sc *scanner) dsnUserinfo(at int) {
	s := sc.s
	rest := s[at+1:]
	if !(strings.HasPrefix(rest, "tcp(") || strings.HasPrefix(rest, "tcp4(") ||
		strings.HasPrefix(rest, "tcp6(") || strings.HasPrefix(rest, "udp(") ||
		strings.HasPrefix(rest, "unix(") || strings.HasPrefix(rest, "(")) {
		return
	}
	start := at
	for lim := max(0, at-maxAuthority); start > lim && !urlStop(s[start-1]) &&
		s[start-1] != '=' && s[start-1] != ',' && s[start-1] != ';'; start-- {
	}
	sc.work += at - start
	cand := s[start:at]
	if strings.Contains(cand, "://") {
		return // userinfo handled it
	}
	if c := strings.IndexByte(cand, ':'); c >= 0 {
		sc.add(start+c+1, at, quoteNone)
	}
}

const pemBegin = "-----BEGIN "

// pem masks the body of a PEM private key block. s[i:] starts with pemBegin.
func (sc *scanner) pem(i int) {
	s := sc.s
	start := i + len(pemBegin)
	k := strings.Index(s[start:], "-----")
	if k < 0 {
		return
	}
	sc.work += k
	label := s[start : start+k]
	if strings.ContainsAny(label, "\r\n") ||
		!strings.HasSuffix(label, "PRIVATE KEY") && !strings.HasSuffix(label, "PRIVATE KEY BLOCK") {
		return
	}
	sc.pemBody(start + k + len("-----"))
}

// pemBody masks a PEM body starting at body, line by line. Lines may be
// split by real newlines or by escaped ones (\n inside a JSON string). A
// block that is cut off (no END line) still has its body masked; if the text
// ends inside it, pemOpen tells a Writer to keep masking the next lines.
func (sc *scanner) pemBody(body int) {
	s := sc.s
	end := body
	for j := body; ; {
		le, next, dashes := pemLine(s, j)
		sc.work += le - j
		t := strings.TrimSpace(s[j:le])
		if dashes && t == "" {
			end = j // an END line, or the next header
			break
		}
		if !dashes && (allB64(t) || pemHeader(t)) {
			end = le
			if next < 0 {
				sc.pemOpen = true
				break
			}
			j = next
			continue
		}
		// Not a body line: the block was cut off here. Mask the base64
		// that runs straight into it ("ABCD-----END", `ABCD"}`), but not
		// a word of the prose that follows a truncated block.
		p := j
		for p < le && (s[p] == ' ' || s[p] == '\t') {
			p++
		}
		q := p
		for q < le && (class[s[q]]&cB64 != 0 || s[q] == '=') {
			q++
		}
		if q > p && (q == len(s) || s[q] != ' ' && s[q] != '\t') {
			end = q
		} else {
			end = j
		}
		break
	}
	for end > body && isSpace(s[end-1]) {
		end--
	}
	for body < end && isSpace(s[body]) {
		body++
	}
	sc.add(body, end, quoteNone)
}

// pemLine finds the end of the PEM line starting at j: at a real or an
// escaped line break, where next is the start of the following line, or at
// "-----" (dashes), or at the end of s (next is -1).
func pemLine(s string, j int) (end, next int, dashes bool) {
	for k := j; k < len(s); k++ {
		switch {
		case s[k] == '\n':
			if k > j && s[k-1] == '\r' {
				return k - 1, k + 1, false
			}
			return k, k + 1, false
		case s[k] == '\\' && k+1 < len(s) && s[k+1] == 'n':
			if k-2 >= j && s[k-2:k] == `\r` {
				return k - 2, k + 2, false
			}
			return k, k + 2, false
		case s[k] == '-' && strings.HasPrefix(s[k:], "-----"):
			return k, -1, true
		}
	}
	return len(s), -1, false
}

func allB64(t string) bool {
	for i := 0; i < len(t); i++ {
		if class[t[i]]&cB64 == 0 && t[i] != '=' {
			return false
		}
	}
	return true
}

// pemHeader reports RFC 1421 and OpenPGP armor headers.
func pemHeader(t string) bool {
	name, _, ok := strings.Cut(t, ": ")
	if !ok {
		return false
	}
	switch name {
	case "Proc-Type", "DEK-Info", "Version", "Comment", "Hash", "Charset":
		return true
	}
	return false
}

// jwt masks header.payload.signature (and the two extra parts of a JWE).
// s[i:] is at a word start.
func (sc *scanner) jwt(i int) {
	s := sc.s
	if !strings.HasPrefix(s[i:], "eyJ") || i > 0 && (s[i-1] == '.' || b64url[s[i-1]]) {
		return // the payload of a JWT also starts with eyJ
	}
	end := -1
	j := i
	for part := 1; part <= 5; part++ {
		k := j
		for k < len(s) && b64url[s[k]] {
			k++
		}
		n := k - j
		if part == 1 && n < 10 || part == 2 && n < 2 || part > 3 && n == 0 {
			break
		}
		if part >= 3 {
			end = k
		}
		if k >= len(s) || s[k] != '.' {
			break
		}
		j = k + 1
	}
	sc.add(i, end, quoteNone)
}

// bearer masks the credential after a standalone "Bearer" or "Basic",
// spelled as in HTTP headers. The credential must look random (8+
// characters mixing two of lower case, upper case and digits), so that
// prose such as "Basic setup" stays; a lower-case "bearer" is prose or the
// OAuth token_type. After a sensitive key (Authorization: bearer x) the pair
// rule masks any credential.
func (sc *scanner) bearer(i int) {
	s := sc.s
	var j int
	switch w := s[i:]; {
	case strings.HasPrefix(w, "Bearer"), strings.HasPrefix(w, "BEARER"):
		j = i + 6
	case strings.HasPrefix(w, "Basic"):
		j = i + 5
	default:
		return
	}
	if j >= len(s) || s[j] != ' ' && s[j] != '\t' {
		return
	}
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	start := j
	if j >= len(s) || class[s[j]]&cAlnum == 0 {
		return // "bearer /path", "Basic [REDACTED]"
	}
	var cl uint8
	for j < len(s) && b64token[s[j]] && s[j] != '=' {
		cl |= class[s[j]]
		j++
	}
	n := j - start
	for j < len(s) && s[j] == '=' { // padding only at the end
		j++
	}
	if n >= 8 && bits.OnesCount8(cl&cAlnum) >= 2 && (j == len(s) || terminates(s[j]) || s[j] == '.') {
		sc.add(start, j, quoteNone)
	}
}

func (sc *scanner) userPatterns() {
	for i, re := range sc.m.patterns {
		g := sc.m.secretGroup[i]
		for _, mt := range re.FindAllStringSubmatchIndex(sc.s, -1) {
			if g > 0 && mt[2*g] >= 0 {
				sc.add(mt[2*g], mt[2*g+1], quoteNone)
			} else {
				sc.add(mt[0], mt[1], quoteNone)
			}
		}
	}
}

func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end // the outer span first, so its quoting wins
	})
	out := spans[:1]
	for _, sp := range spans[1:] {
		last := &out[len(out)-1]
		// Adjacent spans merge too: two replacements side by side would
		// read as one unmasked value on the next pass.
		if sp.start <= last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

package masking

import (
	"regexp"
	"strings"
)

// DefaultReplacement is the text that stands in for a secret unless
// Options.Replacement says otherwise.
const DefaultReplacement = "[REDACTED]"

// Options configures a Masker. The zero value, and a nil *Options, give the
// defaults described in the package documentation.
type Options struct {
	// Keys adds sensitive keys. They are normalized like the built-in names
	// (lower case, letters and digits only) and match any key that contains
	// them: "ssn" masks "ssn", "customer_SSN" and "ssnHash".
	Keys []string

	// AllowKeys lists keys that are never masked by key, compared after
	// normalization, for the false positives of the built-in names
	// ("secret_ref", "cookie_consent"). Their values are still masked by
	// value.
	AllowKeys []string

	// Patterns adds value rules. Each match is replaced; if the expression
	// has a subexpression named "secret", only that part is, so
	// `pin=(?P<secret>\d{4})` keeps "pin=". Patterns run on every masked
	// string, so keep them cheap.
	Patterns []*regexp.Regexp

	// Replacement replaces each secret; empty means DefaultReplacement.
	// It should not look like a secret itself: "***" is fine, a 40-letter
	// word is not.
	Replacement string

	// DisableLongTokens turns off the rule that masks runs of 40 or more
	// [A-Za-z0-9+/] characters, which also hides git SHAs and hashes.
	DisableLongTokens bool
}

// Masker masks secrets in text and log values. It is immutable and safe for
// concurrent use; NewHandler, NewWriter and Mask all use one.
type Masker struct {
	keys       *keySet
	patterns   []*regexp.Regexp
	repl       string
	quoted     string // repl as a JSON string, for non-string JSON values
	escQuoted  string // repl as an escaped JSON string inside a JSON string
	longTokens bool
	// secretGroup[i] is the index of the "secret" subexpression of
	// patterns[i], or -1.
	secretGroup []int
}

// New returns a Masker configured by opts, which may be nil.
func New(opts *Options) *Masker {
	if opts == nil {
		opts = &Options{}
	}
	repl := opts.Replacement
	if repl == "" {
		repl = DefaultReplacement
	}
	m := &Masker{
		keys:       newKeySet(opts.Keys, opts.AllowKeys),
		repl:       repl,
		quoted:     `"` + repl + `"`,
		escQuoted:  `\"` + repl + `\"`,
		longTokens: !opts.DisableLongTokens,
	}
	for _, re := range opts.Patterns {
		if re != nil {
			m.patterns = append(m.patterns, re)
			m.secretGroup = append(m.secretGroup, re.SubexpIndex("secret"))
		}
	}
	return m
}

// defaultMasker backs the package-level Mask, NewWriter and, when its
// options are nil, NewHandler.
var defaultMasker = New(nil)

// Mask returns s with every secret replaced by DefaultReplacement, using the
// default options. Mask(Mask(s)) == Mask(s).
func Mask(s string) string {
	return defaultMasker.Mask(s)
}

// Mask returns s with every secret replaced. When s holds no secret the
// result is s itself.
func (m *Masker) Mask(s string) string {
	out, _ := m.mask(s)
	return out
}

// SensitiveKey reports whether the value of key would be masked as a whole.
func (m *Masker) SensitiveKey(key string) bool {
	_, ok := m.keys.lookup(key)
	return ok
}

// mask is Mask that also reports whether anything changed.
func (m *Masker) mask(s string) (string, bool) {
	out, changed, _ := m.maskPEM(s, false)
	return out, changed
}

// maskPEM is the engine's entry point. inPEM says that s continues a PEM
// private key block left open by the previous text; pemOpen says that s
// ends inside one. The Writer carries that state from line to line.
func (m *Masker) maskPEM(s string, inPEM bool) (out string, changed, pemOpen bool) {
	out = s
	for pass := range maxPasses {
		sc := scanner{m: m, s: out, inPEM: inPEM}
		sc.scan()
		if pass == 0 {
			pemOpen = sc.pemOpen
		}
		if len(sc.spans) == 0 {
			break
		}
		next := sc.render()
		if next == out {
			break
		}
		out, changed = next, true
	}
	return out, changed, pemOpen
}

// maxPasses bounds how often masking runs over its own output. Rules see
// the original text, so one rule can mask the quote or bracket that ended
// the value another rule masked; a further pass finishes that value, which
// is what makes Mask idempotent. Text without secrets takes one pass, text
// with them normally two.
const maxPasses = 4

// replacement is the text that stands in for a span quoted as q.
func (m *Masker) replacement(q quoteStyle) string {
	switch q {
	case quoteJSON:
		return m.quoted
	case quoteEscaped:
		return m.escQuoted
	}
	return m.repl
}

// render builds the output from the collected spans.
func (sc *scanner) render() string {
	spans := mergeSpans(sc.spans)
	var b strings.Builder
	b.Grow(len(sc.s) + len(spans)*len(sc.m.escQuoted))
	prev := 0
	for _, sp := range spans {
		b.WriteString(sc.s[prev:sp.start])
		b.WriteString(sc.m.replacement(sp.quote))
		prev = sp.end
	}
	b.WriteString(sc.s[prev:])
	return b.String()
}

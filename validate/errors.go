package validate

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrInvalid is the sentinel every validation failure wraps.
// dbservice.ErrInvalid is the same value.
var ErrInvalid = errors.New("invalid input")

// Error describes one refused value. Field names the part of the input at
// fault ("id", "collection", "doc.owner.name", "query.where[0].field", ...);
// Reason says what rule it broke. Excerpt is a short, escaped prefix of the
// offending value (empty when even a prefix could be sensitive, as for
// document values).
type Error struct {
	Field   string
	Reason  string
	Excerpt string
}

// Error implements error. The message never contains more of the input than
// Excerpt.
func (e *Error) Error() string {
	msg := "invalid " + e.Field + ": " + e.Reason
	if e.Excerpt != "" {
		msg += " (near " + e.Excerpt + ")"
	}
	return msg
}

// Unwrap returns ErrInvalid so errors.Is(err, ErrInvalid) holds.
func (e *Error) Unwrap() error { return ErrInvalid }

// maxExcerpt bounds how much of a bad value an error message may quote.
const maxExcerpt = 24

// excerpt returns a quoted, escaped prefix of s that is safe to put in a log
// line: at most maxExcerpt runes, control and invalid bytes escaped.
func excerpt(s string) string {
	if len(s) > maxExcerpt*utf8.UTFMax {
		s = s[:maxExcerpt*utf8.UTFMax]
	}
	n, cut := 0, len(s)
	for i := range s {
		if n == maxExcerpt {
			cut = i
			break
		}
		n++
	}
	q := strconv.QuoteToASCII(s[:cut])
	if cut < len(s) {
		q += "…"
	}
	return q
}

func invalid(field, reason, value string) error {
	return &Error{Field: field, Reason: reason, Excerpt: excerpt(value)}
}

// invalidNoValue is used where even a prefix of the value may be sensitive
// (document contents).
func invalidNoValue(field, reason string) error {
	return &Error{Field: field, Reason: reason}
}

package secrets

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what every printing, logging and encoding path shows instead of
// a secret value.
const redacted = "[REDACTED]"

// Secret holds a credential. Every way of printing or encoding it gives
// "[REDACTED]"; only [Secret.Reveal] returns the value.
//
// The value sits behind a pointer on purpose: when a Secret is an unexported
// field of a caller's struct, fmt cannot call its methods and falls back to
// reflection, which then prints a pointer address rather than the value.
//
// The zero Secret holds no value ([Secret.IsZero]). Secrets compare equal
// with == only when they are copies of the same [New] call; compare values
// with Reveal.
type Secret struct {
	p *string
}

// New returns a Secret holding value. New("") is not the zero Secret: it holds
// an empty value.
func New(value string) Secret {
	return Secret{p: &value}
}

// Reveal returns the secret value, or "" for the zero Secret. Call it only
// where the value is handed to the system that needs it.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether s is the zero Secret, that is, holds no value at all.
func (s Secret) IsZero() bool { return s.p == nil }

// String returns "[REDACTED]".
func (Secret) String() string { return redacted }

// GoString returns "[REDACTED]", so %#v does not reveal the value either.
func (Secret) GoString() string { return redacted }

// Format writes "[REDACTED]" for every verb and flag, including %x and %q
// which would otherwise encode the value rather than hide it.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements [slog.LogValuer] so that every slog handler records
// "[REDACTED]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes the JSON string "[REDACTED]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]", which covers encoders built on
// [encoding.TextMarshaler] such as encoding/xml and map keys in encoding/json.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

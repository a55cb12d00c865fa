package securedb

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// String describes the configuration without anything secret: each
// provider's settings in that provider's own redacted form, the secret
// resolver and the audit logger only as set or not (either may hold
// credentials of its own).
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("securedb.Config{Provider: ")
	switch {
	case c.Provider == "":
		b.WriteString(Memory + " (default)")
	case slices.Contains(Providers, c.Provider):
		b.WriteString(c.Provider)
	default:
		// An unknown name is shown only as unknown: it may be a value
		// pasted into the wrong variable.
		b.WriteString("[unknown]")
	}
	b.WriteString(", Policy: ")
	b.WriteString(policySummary(c))
	b.WriteString(", Secrets: ")
	if c.Secrets != nil {
		b.WriteString("set")
	} else {
		b.WriteString("default")
	}
	if c.CursorKey != "" {
		b.WriteString(", CursorKey: [REDACTED]")
	}
	if c.AuditFile != "" {
		b.WriteString(", AuditFile: " + strconv.Quote(c.AuditFile))
	}
	if c.AuditSigningKey != "" {
		b.WriteString(", AuditSigningKey: [REDACTED]")
	}
	if c.Rules != nil {
		b.WriteString(", Rules: set")
	} else if c.RulesFile != "" {
		b.WriteString(", RulesFile: set")
	}
	// The provider's settings print in their own redacted form; settings
	// of a type that has none are only said to be there.
	if c.Settings != nil && !(reflect.ValueOf(c.Settings).Kind() == reflect.Pointer && reflect.ValueOf(c.Settings).IsNil()) {
		b.WriteString(", Settings: ")
		if st, ok := c.Settings.(fmt.Stringer); ok {
			b.WriteString(st.String())
		} else {
			b.WriteString("[set]")
		}
	}
	b.WriteString("}")
	return b.String()
}

// policySummary names what the policy restricts without printing the
// audit logger, whose handler may hold a log shipper's credentials.
func policySummary(c Config) string {
	p := c.Policy
	var parts []string
	if n := len(p.Collections); n > 0 {
		parts = append(parts, "Collections: "+strconv.Itoa(n))
	}
	if n := len(p.ReadOnly); n > 0 {
		parts = append(parts, "ReadOnly: "+strconv.Itoa(n))
	}
	switch {
	case c.DisableAudit:
		parts = append(parts, "Audit: disabled")
	case p.Audit != nil:
		parts = append(parts, "Audit: set")
	default:
		parts = append(parts, "Audit: slog.Default")
	}
	if p.AuditTrail != nil {
		parts = append(parts, "AuditTrail: set")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// GoString implements fmt.GoStringer with the same redacted text.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s,
// %q, %x) prints the redacted form rather than the fields.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer with the redacted form. Without it a
// slog.JSONHandler would encode the struct with encoding/json, field by
// field.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the redacted form, so a Config never reaches JSON (a
// debug endpoint, a crash report) with a credential.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

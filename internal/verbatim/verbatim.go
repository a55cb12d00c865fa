// Package verbatim marks log values that passed validation, so that the
// masking handler leaves them as they are instead of masking them by their
// shape.
//
// An audit record's document ID may embed a git SHA or another hash that
// the long-token rule would take for a credential; masking it corrupts the
// audit trail. dbservice.Guard logs the fields it has validated (operation,
// collection, ID, principal, outcome) as a String, and masking's handler
// exempts a String from value masking only: a String under a sensitive key
// or group is masked like any other value.
//
// The package is internal so that no code outside this module, and no
// data, can make a value look validated: a String only comes from this
// module's own code.
package verbatim

import "log/slog"

// String is a string that passed validation. It logs as a plain string
// with every handler.
type String string

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(string(s)) }

// Attr returns an attribute holding value as a String.
func Attr(key, value string) slog.Attr {
	return slog.Attr{Key: key, Value: slog.AnyValue(String(value))}
}

package secrets

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error from this package and from the awssm and gcpsm
// resolvers wraps one of them; test with errors.Is.
var (
	// ErrInvalidRef means a reference is malformed or its scheme is unknown.
	// It is reported before any network call.
	ErrInvalidRef = errors.New("invalid secret reference")
	// ErrNotFound means the secret, its version, or the requested #key does
	// not exist.
	ErrNotFound = errors.New("secret not found")
	// ErrPermission means the backend refused access to the secret.
	ErrPermission = errors.New("permission denied")
	// ErrUnavailable means the backend could not answer: throttling, a server
	// error, a broken connection or a corrupted response. Retrying may help.
	ErrUnavailable = errors.New("secret backend unavailable")
	// ErrInsecure means the secret's storage is unsafe to trust, such as a
	// file that group or others can write or that is not a regular file.
	ErrInsecure = errors.New("insecure secret storage")
)

// maxRefInMessage bounds how much of a reference an error message quotes, so
// that a megabyte of garbage in a configuration value cannot flood a log.
const maxRefInMessage = 256

// Error reports a failed resolution. Its message names the reference,
// including its #key, and never the secret value.
type Error struct {
	// Ref is the reference as given. It is empty when the input did not even
	// look like a reference ("scheme://..."), because such input may be a
	// plain password handed to the wrong function.
	Ref string
	// Err is the cause; it wraps one of the sentinel errors.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Ref == "" {
		return "secrets: " + e.Err.Error()
	}
	return "secrets: " + quoteRef(e.Ref) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// wrapRef attaches ref to err unless a resolver further down already did.
func wrapRef(ref string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Ref: ref, Err: err}
}

func quoteRef(ref string) string {
	if len(ref) > maxRefInMessage {
		return strconv.Quote(ref[:maxRefInMessage]) + "..."
	}
	return strconv.Quote(ref)
}

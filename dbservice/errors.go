package dbservice

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/securedb-go/securedb/validate"
)

// Sentinel errors. Every error a Service returns matches exactly one of
// these with errors.Is, or a context error (context.Canceled,
// context.DeadlineExceeded).
var (
	// ErrNotFound: the document (or, for Get, its collection) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a conditional write lost (stale IfRev, IfAbsent on an
	// existing document).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input was refused before reaching the database. It is
	// validate.ErrInvalid, so either package's sentinel matches.
	ErrInvalid = validate.ErrInvalid
	// ErrUnauthorized: the database refused the credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the credentials or the policy do not allow the operation.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the database could not be reached or is overloaded;
	// retrying later may succeed.
	ErrUnavailable = errors.New("unavailable")
	// ErrInsecure: the configuration would send data or credentials without
	// protection (for example plain HTTP to a remote host).
	ErrInsecure = errors.New("insecure configuration")
	// ErrClosed: the Service was closed.
	ErrClosed = errors.New("service closed")
)

// Error is the error type every Service returns. It says where an error
// happened; Err says what happened and matches a sentinel with errors.Is.
type Error struct {
	Op         string // "get", "save", "delete", "query", "ensure-index", "ping", "open"
	Provider   string // "memory", "couchdb", "dynamodb", "firestore", "guard"
	Collection string
	ID         string
	Err        error
}

// NewError returns an *Error. err should wrap a sentinel, for example
// fmt.Errorf("%w: %w", ErrUnavailable, cause) with a cause whose text has no
// credentials.
func NewError(op, provider, collection, id string, err error) *Error {
	return &Error{Op: op, Provider: provider, Collection: collection, ID: id, Err: err}
}

// Error implements error: "securedb: memory get agents/a1: not found". The
// collection and ID are quoted and shortened when they are not plain names,
// so hostile input is never echoed whole.
func (e *Error) Error() string {
	s := "securedb: "
	if e.Provider != "" {
		s += e.Provider + " "
	}
	s += e.Op
	if e.Collection != "" {
		s += " " + printable(e.Collection)
		if e.ID != "" {
			s += "/" + printable(e.ID)
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// printable returns s as is when it is a short plain name, else a short
// quoted excerpt.
func printable(s string) string {
	if validate.CollectionName(s) == nil || (validate.IDRule{}).Check(s) == nil {
		return s
	}
	r := []rune(s)
	if len(r) > 24 {
		return strconv.QuoteToASCII(string(r[:24])) + "…"
	}
	return strconv.QuoteToASCII(s)
}

// HTTPStatus maps an error to the HTTP status code a service should answer
// with: nil → 200, ErrNotFound → 404, ErrConflict → 409, ErrInvalid → 400,
// ErrUnauthorized → 401, ErrForbidden → 403, ErrUnavailable and ErrClosed →
// 503, context.DeadlineExceeded → 504, context.Canceled → 499
// (StatusClientClosedRequest), anything else (ErrInsecure included) → 500.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest
	}
	return http.StatusInternalServerError
}

// StatusClientClosedRequest is what HTTPStatus gives a cancelled call:
// nginx's 499, "the client closed the request". A request is cancelled
// when its client goes away (net/http cancels its context), which is no
// failure of the service, so it must not count as a 500; nobody reads
// the answer.
const StatusClientClosedRequest = 499

// ErrorKind names the sentinel err matches, for logs and metrics:
// "not_found", "conflict", "invalid", "unauthorized", "forbidden",
// "unavailable", "insecure", "closed", "canceled", "deadline", "internal",
// or "" for nil.
func ErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrInsecure):
		return "insecure"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return "internal"
}

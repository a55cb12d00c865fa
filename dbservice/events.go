package dbservice

import (
	"context"
	"errors"
	"strings"

	"github.com/securedb-go/securedb/validate"
)

// Security event kinds: what an alert fires on. Package dbservice/telemetry
// counts them in the securedb.security.events metric; any layer can report
// one with ReportSecurityEvent.
const (
	// EventRefusedInput: input refused before it reached the database
	// (ErrInvalid); the reason is the class of input (see RefusalClass).
	// A burst of them is someone probing.
	EventRefusedInput = "refused_input"
	// EventDeniedByRules: a security rule denied the operation. The rules
	// layer reports it, with the rule's name or "default" as the reason.
	EventDeniedByRules = "denied_by_rules"
	// EventForbidden: the policy (a read-only collection) or the
	// database refused the operation to these credentials (ErrForbidden).
	EventForbidden = "forbidden"
	// EventAuthFailure: the database refused the credentials (a CouchDB
	// 401 on a login, ErrUnauthorized). Many of them are a brute force or
	// a rotation that went wrong.
	EventAuthFailure = "auth_failure"
	// EventCredentialRefresh: a credential was fetched again from its
	// secret before its cache expired, because the database refused the
	// cached one (rotation).
	EventCredentialRefresh = "credential_refresh"
	// EventConflict: a conditional write lost (ErrConflict).
	EventConflict = "conflict"
	// EventScanBudget: a query stopped at its scan budget
	// (Stats.BudgetReached) or was refused for needing more
	// (ErrBudgetExceeded): clients sending expensive filters.
	EventScanBudget = "scan_budget_reached"
	// EventInsecureTransport: a connection without the protection the
	// configuration requires was refused (ErrInsecure).
	EventInsecureTransport = "insecure_transport_refused"
)

// SecurityEvent is one security-relevant happening. Kind is one of the
// Event* constants; Reason is a short, fixed class name ("id",
// "collection", "login"), never input, a credential or a document value.
type SecurityEvent struct {
	Kind   string
	Reason string
}

type eventsKey struct{}

// WithSecurityEvents returns a context whose security events go to fn.
// The telemetry layer sets it for every call it sees; a provider keeps the
// context it was opened with for its own background work (a CouchDB
// login), so events from there reach the fn of the Open context.
func WithSecurityEvents(ctx context.Context, fn func(context.Context, SecurityEvent)) context.Context {
	return context.WithValue(ctx, eventsKey{}, fn)
}

// ReportSecurityEvent hands e to the fn of WithSecurityEvents in ctx, and
// does nothing when there is none.
func ReportSecurityEvent(ctx context.Context, kind, reason string) {
	if fn, _ := ctx.Value(eventsKey{}).(func(context.Context, SecurityEvent)); fn != nil {
		fn(ctx, SecurityEvent{Kind: kind, Reason: reason})
	}
}

// ErrorEvent returns the security event an operation's error is, if any:
// ErrInvalid is EventRefusedInput (ErrBudgetExceeded EventScanBudget),
// ErrForbidden EventForbidden, ErrUnauthorized EventAuthFailure,
// ErrConflict EventConflict, ErrInsecure EventInsecureTransport.
func ErrorEvent(err error) (SecurityEvent, bool) {
	switch {
	case err == nil:
		return SecurityEvent{}, false
	case errors.Is(err, ErrBudgetExceeded):
		return SecurityEvent{Kind: EventScanBudget, Reason: "refused"}, true
	case errors.Is(err, ErrInvalid):
		return SecurityEvent{Kind: EventRefusedInput, Reason: RefusalClass(err)}, true
	case errors.Is(err, ErrForbidden):
		return SecurityEvent{Kind: EventForbidden, Reason: "operation"}, true
	case errors.Is(err, ErrUnauthorized):
		return SecurityEvent{Kind: EventAuthFailure, Reason: "operation"}, true
	case errors.Is(err, ErrConflict):
		return SecurityEvent{Kind: EventConflict, Reason: "write"}, true
	case errors.Is(err, ErrInsecure):
		return SecurityEvent{Kind: EventInsecureTransport, Reason: "operation"}, true
	}
	return SecurityEvent{}, false
}

// RefusalClass names the class of input an ErrInvalid refused, from a
// fixed set, so it can be a metric attribute without carrying the input:
// "collection", "id", "document", "query", "cursor", "revision",
// "index_required" or "other".
func RefusalClass(err error) string {
	var ve *validate.Error
	if errors.As(err, &ve) {
		f := ve.Field
		switch {
		case f == "collection" || f == "collections":
			return "collection"
		case f == "id" || f == "_id":
			return "id"
		case f == "rev":
			return "revision"
		case f == "query.cursor" || f == "cursor":
			return "cursor"
		case strings.HasPrefix(f, "query.") || f == "fields":
			return "query"
		case f == "doc" || strings.HasPrefix(f, "doc.") || strings.HasPrefix(f, "doc["):
			return "document"
		}
		return "other"
	}
	if strings.Contains(err.Error(), "no index serves this query") {
		return "index_required"
	}
	return "other"
}

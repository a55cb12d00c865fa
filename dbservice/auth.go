package dbservice

import (
	"context"
	"maps"
)

// Auth is who is acting, in the shape security rules read as request.auth:
// the principal's ID and the claims of their token (such as "admin": true
// or "email"). Claims hold JSON values (string, float64, bool, nil, []any,
// map[string]any). An Auth with an empty UID is no principal at all.
type Auth struct {
	UID    string
	Claims map[string]any
}

// WithAuth returns a context that names who is acting, with their claims,
// for security rules (package dbservice/rules) and audit records. Audit
// records carry only the UID, never a claim. The claims are copied (one
// level deep), so later changes to the caller's map do not reach a check
// in flight.
func WithAuth(ctx context.Context, a Auth) context.Context {
	a.Claims = maps.Clone(a.Claims)
	return context.WithValue(ctx, principalKey{}, a)
}

// AuthFrom returns the principal set by WithAuth or WithPrincipal (with no
// claims), and false when the context names none.
func AuthFrom(ctx context.Context) (Auth, bool) {
	a, ok := ctx.Value(principalKey{}).(Auth)
	return a, ok && a.UID != ""
}

// ruleKey holds the slot a rules layer fills with the rule that decided a
// call, for the audit record Guard writes about it.
type ruleKey struct{}

// withRuleSlot returns a context with an empty rule slot, which NoteRule
// fills further down the stack.
func withRuleSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, ruleKey{}, new(string))
}

// NoteRule records, for the audit record of the call ctx belongs to, the
// rule that allowed or denied it ("firestore.rules:12"). Security-rules
// middleware calls it; Guard writes the value as the audit attribute
// AuditRuleKey. Without a Guard above, it does nothing.
func NoteRule(ctx context.Context, rule string) {
	if p, ok := ctx.Value(ruleKey{}).(*string); ok {
		*p = rule
	}
}

// AuditRuleKey is the slog attribute under which audit records name the
// security rule that allowed or denied the call.
const AuditRuleKey = "rule"

func ruleFrom(ctx context.Context) string {
	p, _ := ctx.Value(ruleKey{}).(*string)
	if p == nil {
		return ""
	}
	return *p
}

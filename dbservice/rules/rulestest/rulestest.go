// Package rulestest tests security rules in plain Go tests, in the spirit
// of Firebase's rules unit-testing library: set data up with the rules
// off, act as a principal, and assert that a call succeeds or fails.
//
//	env := rulestest.New(t, rs)
//	_, _ = env.WithoutRules().Save(ctx, "users", "alice", dbservice.Doc{"name": "Alice"})
//	alice := env.Authenticated("alice", nil)
//	rulestest.AssertSucceeds(t, get(env.Service(), alice, "users", "alice"))
//	rulestest.AssertFails(t, get(env.Service(), env.Unauthenticated(), "users", "alice"))
//
// Allowed and Denied assert a Decision without any store. RunGuide and
// RunHostile are the project's own conformance cases for the security
// guide's rules, run on every provider.
package rulestest

import (
	"context"
	"errors"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/dbservice/rules"
)

// Env is a test bed: a store, the same store under rules, and contexts
// for principals.
type Env struct {
	t   testing.TB
	raw dbservice.Service
	svc dbservice.Service
}

// New returns an Env over a fresh in-memory store.
func New(t testing.TB, rs *rules.Ruleset) *Env {
	return NewOn(t, rs, memory.New())
}

// NewOn returns an Env over raw (any provider). The enforced service is
// Guard over rules over raw, the order securedb.Open uses.
func NewOn(t testing.TB, rs *rules.Ruleset, raw dbservice.Service) *Env {
	return &Env{t: t, raw: raw, svc: dbservice.Guard(rules.Enforce(raw, rs), dbservice.Policy{})}
}

// WithoutRules is the store itself, for setting data up (Firebase's
// withSecurityRulesDisabled).
func (e *Env) WithoutRules() dbservice.Service { return e.raw }

// Service is the store under the rules.
func (e *Env) Service() dbservice.Service { return e.svc }

// Authenticated returns a context acting as uid with the given token
// claims (request.auth.uid, request.auth.token).
func (e *Env) Authenticated(uid string, claims map[string]any) context.Context {
	return dbservice.WithAuth(e.t.Context(), dbservice.Auth{UID: uid, Claims: claims})
}

// Unauthenticated returns a context with no principal (request.auth is
// null).
func (e *Env) Unauthenticated() context.Context { return e.t.Context() }

// AssertSucceeds fails t unless err is nil.
func AssertSucceeds(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("expected the call to be allowed, got %v", err)
	}
}

// AssertFails fails t unless err is the rules' denial (ErrForbidden).
// Any other error (not found, invalid input) does not count: a test that
// expects a denial must see one.
func AssertFails(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, dbservice.ErrForbidden) {
		t.Errorf("expected the call to be denied (ErrForbidden), got %v", err)
	}
}

// Allowed fails t unless rs allows req; it returns the Decision.
func Allowed(t testing.TB, rs *rules.Ruleset, req rules.Request) rules.Decision {
	t.Helper()
	d := rs.Check(req)
	if !d.Allowed {
		t.Errorf("%s %s/%s: denied (%s), want allowed", req.Method, req.Collection, req.ID, d.Rule)
	}
	return d
}

// Denied fails t unless rs denies req; it returns the Decision.
func Denied(t testing.TB, rs *rules.Ruleset, req rules.Request) rules.Decision {
	t.Helper()
	d := rs.Check(req)
	if d.Allowed {
		t.Errorf("%s %s/%s: allowed by %s, want denied", req.Method, req.Collection, req.ID, d.Rule)
	}
	return d
}

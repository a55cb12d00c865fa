package dbservice_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// Every refusal Guard makes maps to the event kind and input class an
// alert can tell apart, and the other errors to theirs.
func TestErrorEvent(t *testing.T) {
	ctx := context.Background()
	g := dbservice.Guard(memory.New(), dbservice.Policy{ReadOnly: []string{"frozen"}})
	_, _ = g.Save(ctx, "agents", "a1", dbservice.Doc{"n": 1.0})
	errOf := func(_ any, err error) error { return err }
	for _, c := range []struct {
		name         string
		err          error
		kind, reason string
	}{
		{"bad id", errOf(g.Get(ctx, "agents", "../x")), dbservice.EventRefusedInput, "id"},
		{"bad collection", errOf(g.Get(ctx, "../x", "a1")), dbservice.EventRefusedInput, "collection"},
		{"operator key", errOf(g.Save(ctx, "agents", "a2", dbservice.Doc{"$gt": 1})), dbservice.EventRefusedInput, "document"},
		{"empty revision", errOf(g.Save(ctx, "agents", "a2", dbservice.Doc{}, dbservice.IfRev(""))), dbservice.EventRefusedInput, "revision"},
		{"bad operator", errOf(g.Query(ctx, "agents", dbservice.Query{Where: []dbservice.Cond{{Field: "n", Op: "regex", Value: "x"}}})), dbservice.EventRefusedInput, "query"},
		{"forged cursor", errOf(g.Query(ctx, "agents", dbservice.Query{Cursor: "forged"})), dbservice.EventRefusedInput, "cursor"},
		{"read-only", errOf(g.Save(ctx, "frozen", "a1", dbservice.Doc{})), dbservice.EventForbidden, "operation"},
		{"conflict", errOf(g.Save(ctx, "agents", "a1", dbservice.Doc{}, dbservice.IfAbsent())), dbservice.EventConflict, "write"},
		{"budget", fmt.Errorf("x: %w", dbservice.ErrBudgetExceeded), dbservice.EventScanBudget, "refused"},
		{"unauthorized", dbservice.NewError("get", "couchdb", "", "", dbservice.ErrUnauthorized), dbservice.EventAuthFailure, "operation"},
		{"insecure", dbservice.NewError("open", "couchdb", "", "", dbservice.ErrInsecure), dbservice.EventInsecureTransport, "operation"},
	} {
		e, ok := dbservice.ErrorEvent(c.err)
		if !ok || e.Kind != c.kind || e.Reason != c.reason {
			t.Errorf("%s (%v): event %+v %v, want %s/%s", c.name, c.err, e, ok, c.kind, c.reason)
		}
	}
	for _, err := range []error{nil, dbservice.ErrNotFound, dbservice.ErrUnavailable, context.Canceled, errors.New("other")} {
		if e, ok := dbservice.ErrorEvent(err); ok {
			t.Errorf("ErrorEvent(%v) = %+v, want none", err, e)
		}
	}
}

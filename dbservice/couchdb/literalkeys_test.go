package couchdb

import (
	"errors"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

// TestLiteralKeys runs the contract of validate.Limits.LiteralKeys: keys
// with "$" and "." as data, addressed by escaped paths (Mango's `\.`; a name
// starting with "$" is left to the client).
func TestLiteralKeys(t *testing.T) {
	dbtest.RunLiteralKeys(t, func(t *testing.T, lim validate.Limits) dbservice.Service {
		return newServer(t, func(c *Config) { c.Limits = lim })
	})
}

// TestLiteralKeysCannotTakeTheWriteTokenField: with LiteralKeys a caller may
// name a top-level field "$securedb_w", the cluster write token every read
// drops; Save, SaveMany and Update refuse it rather than lose it.
func TestLiteralKeysCannotTakeTheWriteTokenField(t *testing.T) {
	s := newServer(t, func(c *Config) { c.Limits = validate.Limits{LiteralKeys: true} })
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "d", dbservice.Doc{writeTokenKey: "mine"}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Save: %v, want ErrInvalid", err)
	}
	if err := s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "d", Doc: dbservice.Doc{writeTokenKey: "mine"}}}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("SaveMany: %v, want ErrInvalid", err)
	}
	if _, err := s.Update(ctx, coll, "d", []dbservice.Mutation{dbservice.Set(writeTokenKey, "mine")}, dbservice.Upsert()); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Update: %v, want ErrInvalid", err)
	}
	if _, err := s.Save(ctx, coll, "d", dbservice.Doc{"$defs": map[string]any{"a": 1}}); err != nil {
		t.Errorf("another $ field: %v", err)
	}
}

package main

import (
	"context"
	"os"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// writeTrail writes a three-record trail signed with skey to path.
func writeTrail(t *testing.T, path, skey string) {
	t.Helper()
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := audit.New(f, audit.Options{Signer: signer})
	db := dbservice.Guard(memory.New(), dbservice.Policy{AuditTrail: sink})
	ctx := context.Background()
	_, _ = db.Save(ctx, "agents", "a1", dbservice.Doc{"n": 1})
	_, _ = db.Get(ctx, "agents", "a1")
	_, _ = db.Get(ctx, "agents", "a2")
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

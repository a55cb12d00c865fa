package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// A Guard that writes a signed audit trail, and the trail checked: first as
// written, then with one record edited.
func Example() {
	// Once: a key pair. The signing key is a secret for the service; the
	// verifier key goes to whoever checks the trail.
	skey, vkey, err := note.GenerateKey(rand.Reader, "audit.example.com")
	if err != nil {
		log.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}

	var trail bytes.Buffer // a file, or stdout for a log shipper
	sink := audit.New(&trail, audit.Options{Signer: signer})
	db := dbservice.Guard(memory.New(), dbservice.Policy{AuditTrail: sink})
	ctx := dbservice.WithPrincipal(context.Background(), "alice")
	_, _ = db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "Gofannon"})
	_, _ = db.Get(ctx, "agents", "a1")
	_, _ = db.Get(ctx, "agents", "../etc/passwd") // refused, and recorded
	if err := sink.Close(); err != nil {          // writes the last checkpoint
		log.Fatal(err)
	}

	rep, err := audit.Verify(bytes.NewReader(trail.Bytes()), vkey)
	fmt.Println(rep, err)

	edited := bytes.Replace(trail.Bytes(), []byte(`"outcome":"denied"`), []byte(`"outcome":"ok"`), 1)
	_, err = audit.Verify(bytes.NewReader(edited), vkey)
	fmt.Println(err)
	// Output:
	// 3 records, 1 checkpoints; every record signed <nil>
	// audit: line 3: modified: the records up to here are not what the checkpoint at line 4 signs (this record changed, or one before it and the chain recomputed)
}

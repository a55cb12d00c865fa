package gcpsm_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/secrets/gcpsm"
)

// ExampleNew registers Google Secret Manager next to env:// and file:// and
// caches answers. It needs Google credentials, so it is compiled but not run.
func ExampleNew() {
	ctx := context.Background()
	sm, err := gcpsm.New(ctx) // Application Default Credentials
	if err != nil {
		log.Fatal(err)
	}
	defer sm.Close()
	mux := secrets.Default()
	mux.Register(gcpsm.Scheme, sm)
	r := secrets.Cache(mux, secrets.Options{TTL: 5 * time.Minute, MaxStale: time.Hour})

	password, err := secrets.Expand(ctx, r, "gcpsm://projects/my-project/secrets/couchdb#password")
	if err != nil {
		log.Fatal(err) // names the reference, never the value
	}
	fmt.Println(password) // [REDACTED]
}

func ExampleParseRef() {
	for _, ref := range []string{
		"gcpsm://projects/my-project/secrets/couchdb#password",
		"gcpsm://projects/my-project/secrets/couchdb/versions/7",
	} {
		r, err := gcpsm.ParseRef(ref)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.Name(), r.Key)
	}
	// Output:
	// projects/my-project/secrets/couchdb/versions/latest password
	// projects/my-project/secrets/couchdb/versions/7
}

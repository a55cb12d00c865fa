package securedb_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/couchdb"
)

func Example() {
	ctx := context.Background()
	db, err := securedb.Open(ctx, securedb.Config{DisableAudit: true}) // memory
	if err != nil {
		panic(err)
	}
	defer db.Close()

	rev, _ := db.Save(ctx, "agents", "gofannon", dbservice.Doc{"name": "Gofannon", "runs": 1})
	doc, _ := db.Get(ctx, "agents", "gofannon")
	fmt.Println(doc["name"], doc["runs"], doc["_rev"] == rev)

	_, err = db.Get(ctx, "agents", "../../etc/passwd")
	fmt.Println(errors.Is(err, dbservice.ErrInvalid), dbservice.HTTPStatus(err))
	// Output:
	// Gofannon 1 true
	// true 400
}

// Typed provider settings go in Config.Settings; the provider's package
// both defines them and, by being imported, makes the provider available.
// Nothing is contacted here: plain HTTP to a remote host is refused first.
func ExampleOpen() {
	ctx := context.Background()
	_, err := securedb.Open(ctx, securedb.Config{
		Settings: couchdb.Config{
			URL:      "http://couch.example.com:5984",
			User:     "app",
			Password: "awssm://prod/couchdb#password", // resolved at Open, re-read on rotation
		},
	})
	fmt.Println(errors.Is(err, dbservice.ErrInsecure))
	// Output: true
}

package securedb_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
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

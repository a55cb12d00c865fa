// Command memory is the smallest securedb program that imports no provider: it opens the provider
// DATABASE_PROVIDER names through securedb.OpenFromEnv, saves and reads one
// document. The linkcheck test measures what it links and how big it is.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
)

func main() {
	ctx := context.Background()
	db, err := securedb.OpenFromEnv(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Println("invalid:", errors.Is(err, dbservice.ErrInvalid))
		os.Exit(2)
	}
	defer db.Close()
	if _, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"n": 1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	doc, err := db.Get(ctx, "agents", "a1")
	fmt.Println(doc["n"], err)
}

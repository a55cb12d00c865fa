// Package program is the body every linkcheck program shares: open the
// provider DATABASE_PROVIDER names through securedb.OpenFromEnv, save and
// read one document. Each program differs only in the provider it imports,
// which is what the linkcheck test measures; this package imports no
// provider itself.
package program

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
)

// Main runs the program and exits: 2 when Open fails (printing whether the
// error is ErrInvalid), 1 when the write fails.
func Main() {
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

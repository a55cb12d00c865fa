package memory_test

import (
	"context"
	"fmt"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func Example() {
	ctx := context.Background()
	db := memory.New()
	defer db.Close()

	doc := dbservice.Doc{"name": "Gofannon", "tags": []string{"builder"}}
	_, _ = db.Save(ctx, "agents", "gofannon", doc)
	doc["name"] = "changed by the caller" // the stored copy is unaffected

	got, _ := db.Get(ctx, "agents", "gofannon")
	fmt.Println(got["name"], got["tags"])
	// Output: Gofannon [builder]
}

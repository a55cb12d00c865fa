package dbservice_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func ExampleService_Update() {
	ctx := context.Background()
	db := memory.New()
	_, _ = db.Save(ctx, "agents", "gofannon", dbservice.Doc{"name": "Gofannon", "runs": 3, "tags": []any{"smith"}})

	// One atomic change of three fields: no read, no retry loop.
	_, err := db.Update(ctx, "agents", "gofannon", []dbservice.Mutation{
		dbservice.Increment("runs", 1),
		dbservice.Append("tags", "smith", "forge"),
		dbservice.Set("owner.team", "platform"),
	})
	doc, _ := db.Get(ctx, "agents", "gofannon")
	fmt.Println(err, doc["runs"], doc["tags"], doc["owner"])

	// A mutation that does not fit the stored value is refused whole.
	_, err = db.Update(ctx, "agents", "gofannon", []dbservice.Mutation{dbservice.Set("name", "G"), dbservice.Increment("tags", 1)})
	doc, _ = db.Get(ctx, "agents", "gofannon")
	fmt.Println(errors.Is(err, dbservice.ErrInvalid), doc["name"])

	// A missing document is not created unless Upsert says so.
	_, err = db.Update(ctx, "agents", "nobody", []dbservice.Mutation{dbservice.Increment("runs", 1)})
	fmt.Println(errors.Is(err, dbservice.ErrNotFound))
	_, err = db.Update(ctx, "agents", "nobody", []dbservice.Mutation{dbservice.Increment("runs", 1)}, dbservice.Upsert())
	fmt.Println(err)
	// Output:
	// <nil> 4 [smith forge] map[team:platform]
	// true Gofannon
	// true
	// <nil>
}

func ExampleService_GetMany() {
	ctx := context.Background()
	db := memory.New()
	for _, id := range []string{"a", "b", "c"} {
		_, _ = db.Save(ctx, "agents", id, dbservice.Doc{"name": id})
	}
	docs, missing, err := db.GetMany(ctx, "agents", []string{"c", "x", "a"})
	for _, d := range docs {
		fmt.Print(d["_id"], " ")
	}
	fmt.Println(missing, err)

	// One invalid ID refuses the whole batch before any read.
	_, _, err = db.GetMany(ctx, "agents", []string{"a", "../etc/passwd"})
	fmt.Println(errors.Is(err, dbservice.ErrInvalid))
	// Output:
	// c a [x] <nil>
	// true
}

func ExampleService_Count() {
	ctx := context.Background()
	db := memory.New()
	for i := range 30 {
		_, _ = db.Save(ctx, "runs", fmt.Sprintf("r%02d", i), dbservice.Doc{"ok": i%3 != 0})
	}
	n, err := db.Count(ctx, "runs", []dbservice.Cond{dbservice.Where("ok", dbservice.Eq, false)})
	fmt.Println(n, err)

	// Past the scan budget the count is a lower bound, and says so.
	n, err = db.Count(dbservice.WithScanBudget(ctx, 10), "runs", nil)
	fmt.Println(n, errors.Is(err, dbservice.ErrBudgetExceeded))
	// Output:
	// 10 <nil>
	// 10 true
}

func ExampleExpiresAt() {
	ctx := context.Background()
	db := memory.New()
	at := time.Now().Add(time.Hour)
	_, _ = db.Save(ctx, "sessions", "s1", dbservice.Doc{"user": "ada"}, dbservice.ExpiresAt(at))
	doc, _ := db.Get(ctx, "sessions", "s1")
	fmt.Println(doc[dbservice.ExpiresField] != nil, dbservice.Expired(doc, time.Now()), dbservice.Expired(doc, at))

	// An expiry in the past is refused: the write would be lost at once.
	_, err := db.Save(ctx, "sessions", "s2", dbservice.Doc{"user": "bob"}, dbservice.ExpiresAt(time.Now().Add(-time.Minute)))
	fmt.Println(errors.Is(err, dbservice.ErrInvalid))
	// Output:
	// true false true
	// true
}

func ExamplePath() {
	// A name holding "." is addressed by escaping it, never as two names.
	p := dbservice.Path("files", "main.py")
	fmt.Println(p, dbservice.SplitPath(p))
	fmt.Println(dbservice.SplitPath("owner.id"))
	// Output:
	// files.main\.py [files main.py]
	// [owner id]
}

func ExampleAs() {
	db := dbservice.Guard(memory.New(), dbservice.DefaultPolicy())
	// memory has no native client; a networked provider sets target to
	// its own (for example *dynamodb.Client), reached through Guard.
	var client *struct{}
	fmt.Println(dbservice.As(db, &client))
	// Output:
	// false
}

func ExamplePrefixEnd() {
	end, ok := dbservice.PrefixEnd("ab")
	fmt.Printf("%q %v\n", end, ok)
	_, ok = dbservice.PrefixEnd("")
	fmt.Println(ok)
	// Output:
	// "ac" true
	// false
}

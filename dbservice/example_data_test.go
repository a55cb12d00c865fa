package dbservice_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
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

func ExampleService_DeleteMany() {
	ctx := context.Background()
	db := memory.New()
	for _, id := range []string{"a", "b", "c"} {
		_, _ = db.Save(ctx, "agents", id, dbservice.Doc{"name": id})
	}
	// Missing IDs are skipped, so repeating a DeleteMany is safe.
	fmt.Println(db.DeleteMany(ctx, "agents", []string{"a", "c", "never"}))
	fmt.Println(db.DeleteMany(ctx, "agents", []string{"a", "c", "never"}))
	n, _ := db.Count(ctx, "agents", nil)
	fmt.Println(n)
	// Output:
	// <nil>
	// <nil>
	// 1
}

func ExampleApplyMutations() {
	mods, err := dbservice.CheckMutations([]dbservice.Mutation{
		dbservice.Set("owner.id", "u1"),
		dbservice.Unset("draft"),
		dbservice.Increment("runs", 1),
		dbservice.Append("tags", "a", "b"),
		dbservice.Remove("old", 1),
	}, validate.Limits{})
	fmt.Println(err)
	doc, err := dbservice.ApplyMutations(dbservice.Doc{"draft": true, "runs": 2.0, "tags": []any{"b"}, "old": []any{1.0, 2.0}}, mods)
	fmt.Println(doc, err)
	// Output:
	// <nil>
	// map[old:[2] owner:map[id:u1] runs:3 tags:[b a]] <nil>
}

func ExampleCheckMutations() {
	_, err := dbservice.CheckMutations([]dbservice.Mutation{dbservice.Set("_rev", "1-x")}, validate.Limits{})
	fmt.Println(errors.Is(err, dbservice.ErrInvalid))
	_, err = dbservice.CheckMutations([]dbservice.Mutation{dbservice.Set("a", 1), dbservice.Unset("a.b")}, validate.Limits{})
	fmt.Println(errors.Is(err, dbservice.ErrInvalid))
	// Output:
	// true
	// true
}

func ExampleCheckIDs() {
	fmt.Println(dbservice.CheckIDs([]string{"a", "b"}))
	fmt.Println(errors.Is(dbservice.CheckIDs([]string{"a", "a"}), dbservice.ErrInvalid))
	// Output:
	// <nil>
	// true
}

func ExampleTTL() {
	ctx := context.Background()
	db := memory.New()
	_, err := db.Save(ctx, "sessions", "s1", dbservice.Doc{"user": "ada"}, dbservice.TTL(30*time.Minute))
	doc, _ := db.Get(ctx, "sessions", "s1")
	fmt.Println(err, dbservice.Expired(doc, time.Now().Add(31*time.Minute)))
	// Output:
	// <nil> true
}

func ExampleUpsert() {
	ctx := context.Background()
	db := memory.New()
	_, err := db.Update(ctx, "counters", "visits", []dbservice.Mutation{dbservice.Increment("n", 1)}, dbservice.Upsert())
	doc, _ := db.Get(ctx, "counters", "visits")
	fmt.Println(err, doc["n"])
	// Output:
	// <nil> 1
}

func ExampleCountPages() {
	ctx := context.Background()
	db := memory.New()
	for i := range 5 {
		_, _ = db.Save(ctx, "runs", fmt.Sprintf("r%d", i), dbservice.Doc{"i": i})
	}
	// What a provider without a native count does: walk its own pages.
	n, err := dbservice.CountPages(ctx, "memory", "runs", nil, 100, func(ctx context.Context, q dbservice.Query) (dbservice.Page, error) {
		return db.Query(ctx, "runs", q)
	})
	fmt.Println(n, err)
	// Output:
	// 5 <nil>
}

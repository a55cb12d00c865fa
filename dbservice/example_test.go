package dbservice_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

func Example() {
	ctx := context.Background()
	audit := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
	db := dbservice.Guard(memory.New(), dbservice.Policy{
		Collections: validate.Allowlist{"agents"},
		Audit:       audit,
	})
	ctx = dbservice.WithPrincipal(ctx, "alice")

	rev, _ := db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "gofannon", "runs": 3})
	_, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "other"}, dbservice.IfRev("1-stale"))
	fmt.Println(errors.Is(err, dbservice.ErrConflict), dbservice.HTTPStatus(err))
	_, err = db.Save(ctx, "agents", "a1", dbservice.Doc{"runs": 4}, dbservice.IfRev(rev))
	fmt.Println(err)
	// Output:
	// level=INFO msg=securedb.audit op=save collection=agents id=a1 principal=alice outcome=ok
	// level=INFO msg=securedb.audit op=save collection=agents id=a1 principal=alice outcome=rejected error_kind=conflict
	// true 409
	// level=INFO msg=securedb.audit op=save collection=agents id=a1 principal=alice outcome=ok
	// <nil>
}

func ExampleAll() {
	ctx := context.Background()
	db := memory.New()
	for _, id := range []string{"a1", "a2", "a3"} {
		_, _ = db.Save(ctx, "agents", id, dbservice.Doc{"active": id != "a2"})
	}
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("active", dbservice.Eq, true)}, Limit: 1}
	for doc, err := range dbservice.All(ctx, db, "agents", q) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(doc["_id"])
	}
	// Output:
	// a1
	// a3
}

package dbservice_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func ExampleQueryAs() {
	ctx := context.Background()
	db := memory.New()
	for i, name := range []string{"Gofannon", "Brigid", "Lugh"} {
		_, _ = dbservice.SaveAs(ctx, db, "agents", fmt.Sprintf("agent-%d", i), Agent{Name: name, Runs: i * 10})
	}

	page, err := dbservice.QueryAs[Agent](ctx, db, "agents", dbservice.Query{
		Where:   []dbservice.Cond{dbservice.Where("runs", dbservice.Gte, 10)},
		OrderBy: []dbservice.Order{dbservice.Desc("runs")},
	})
	for _, a := range page.Items {
		fmt.Println(a.ID, a.Name, a.Runs)
	}
	fmt.Println(page.Next == "", page.Stats.Returned, err)

	// A document that does not fit the type fails the page with ErrInvalid.
	_, _ = db.Save(ctx, "agents", "odd", dbservice.Doc{"name": "Odd", "runs": "many"})
	_, err = dbservice.QueryAs[Agent](ctx, db, "agents", dbservice.Query{})
	fmt.Println(errors.Is(err, dbservice.ErrInvalid))
	// Output:
	// agent-2 Lugh 20
	// agent-1 Brigid 10
	// true 2 <nil>
	// true
}

func ExampleAllAs() {
	ctx := context.Background()
	db := memory.New()
	for i := range 5 {
		_, _ = dbservice.SaveAs(ctx, db, "agents", fmt.Sprintf("agent-%d", i), Agent{Name: "worker", Runs: i})
	}

	// Pages of two, fetched as the loop consumes them.
	total := 0
	for a, err := range dbservice.AllAs[Agent](ctx, db, "agents", dbservice.Query{Limit: 2}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		total += a.Runs
	}
	fmt.Println(total)
	// Output:
	// 10
}

func ExampleGetManyAs() {
	ctx := context.Background()
	db := memory.New()
	_, _ = dbservice.SaveAs(ctx, db, "agents", "gofannon", Agent{Name: "Gofannon"})
	_, _ = dbservice.SaveAs(ctx, db, "agents", "brigid", Agent{Name: "Brigid"})

	agents, missing, err := dbservice.GetManyAs[Agent](ctx, db, "agents", []string{"brigid", "nobody", "gofannon"})
	for _, a := range agents {
		fmt.Println(a.ID, a.Name)
	}
	fmt.Println(missing, err)

	// An invalid ID anywhere refuses the whole batch before any read.
	_, _, err = dbservice.GetManyAs[Agent](ctx, db, "agents", []string{"brigid", "../etc"})
	fmt.Println(errors.Is(err, dbservice.ErrInvalid))
	// Output:
	// brigid Brigid
	// gofannon Gofannon
	// [nobody] <nil>
	// true
}

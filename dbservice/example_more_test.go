package dbservice_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// Agent is a typed document: the _id and _rev tags receive the document's
// ID and revision on the way out, and are dropped on the way in.
type Agent struct {
	ID      string    `json:"_id,omitempty"`
	Rev     string    `json:"_rev,omitempty"`
	Name    string    `json:"name"`
	Runs    int       `json:"runs"`
	Created time.Time `json:"created"`
}

func ExampleSaveAs() {
	ctx := context.Background()
	db := memory.New()
	created := time.Date(2026, 1, 11, 9, 30, 0, 0, time.UTC)
	rev, err := dbservice.SaveAs(ctx, db, "agents", "gofannon", Agent{Name: "Gofannon", Runs: 3, Created: created})
	fmt.Println(rev != "", err)

	// Stored as plain JSON: the number as float64, the time as fixed-width
	// RFC 3339 text in UTC, so stored times order as instants.
	doc, _ := db.Get(ctx, "agents", "gofannon")
	fmt.Printf("%v %T %v\n", doc["name"], doc["runs"], doc["created"])

	// A value that is not a JSON object is refused before it is stored.
	_, err = dbservice.SaveAs(ctx, db, "agents", "bad", []string{"not", "an", "object"})
	fmt.Println(errors.Is(err, dbservice.ErrInvalid))
	// Output:
	// true <nil>
	// Gofannon float64 2026-01-11T09:30:00.000000000Z
	// true
}

func ExampleGetAs() {
	ctx := context.Background()
	db := memory.New()
	rev, _ := db.Save(ctx, "agents", "gofannon", dbservice.Doc{"name": "Gofannon", "runs": 3, "created": "2026-01-11T09:30:00Z"})

	a, err := dbservice.GetAs[Agent](ctx, db, "agents", "gofannon")
	fmt.Println(a.ID, a.Name, a.Runs, a.Created.Year(), a.Rev == rev, err)

	_, err = dbservice.GetAs[Agent](ctx, db, "agents", "nobody")
	fmt.Println(errors.Is(err, dbservice.ErrNotFound), dbservice.HTTPStatus(err))
	// Output:
	// gofannon Gofannon 3 2026 true <nil>
	// true 404
}

// A Policy narrows what reaches the provider: an allowlist of collections,
// a stricter ID rule than the default ^[a-zA-Z0-9_-]+$, smaller documents
// and collections the application may only read.
func ExampleGuard() {
	ctx := context.Background()
	db := dbservice.Guard(memory.New(), dbservice.Policy{
		Collections: validate.Allowlist{"agents", "audit_copies"},
		IDs:         validate.IDRule{Pattern: regexp.MustCompile(`^agent-[0-9]{1,8}$`), MaxLen: 14},
		Limits:      validate.Limits{MaxStringLen: 64},
		ReadOnly:    []string{"audit_copies"},
	})

	_, err := db.Save(ctx, "agents", "agent-7", dbservice.Doc{"name": "Gofannon"})
	fmt.Println(err)
	for _, try := range []func() error{
		func() error { _, err := db.Get(ctx, "users", "agent-7"); return err },   // not in the allowlist
		func() error { _, err := db.Get(ctx, "agents", "gofannon"); return err }, // breaks the ID rule
		func() error {
			_, err := db.Save(ctx, "agents", "agent-8", dbservice.Doc{"bio": string(make([]byte, 65))})
			return err
		}, // string too long
		func() error { return db.Delete(ctx, "audit_copies", "agent-7") }, // read-only
	} {
		err := try()
		fmt.Println(dbservice.HTTPStatus(err), errors.Is(err, dbservice.ErrInvalid), errors.Is(err, dbservice.ErrForbidden))
	}
	// Output:
	// <nil>
	// 400 true false
	// 400 true false
	// 400 true false
	// 403 false true
}

// IfRev makes a read-modify-write safe under concurrency: when another
// writer got there first the save fails with ErrConflict, and the loop
// reads the new revision and applies the change again.
func ExampleIfRev() {
	ctx := context.Background()
	db := memory.New()
	_, _ = db.Save(ctx, "counters", "runs", dbservice.Doc{"n": 0})

	interfere := true // a competing writer lands between our read and write, once
	increment := func() (attempts int, err error) {
		for attempts = 1; attempts <= 5; attempts++ {
			doc, err := db.Get(ctx, "counters", "runs")
			if err != nil {
				return attempts, err
			}
			if interfere {
				interfere = false
				_, _ = db.Save(ctx, "counters", "runs", dbservice.Doc{"n": doc["n"].(float64) + 10})
			}
			doc["n"] = doc["n"].(float64) + 1
			_, err = db.Save(ctx, "counters", "runs", doc, dbservice.IfRev(doc["_rev"].(string)))
			if !errors.Is(err, dbservice.ErrConflict) {
				return attempts, err
			}
		}
		return attempts, errors.New("too much contention")
	}

	attempts, err := increment()
	doc, _ := db.Get(ctx, "counters", "runs")
	fmt.Println(attempts, err, doc["n"])
	// Output: 2 <nil> 11
}

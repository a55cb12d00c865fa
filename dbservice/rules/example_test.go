package rules_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/dbservice/rules"
)

func Example() {
	rs, err := rules.Load("firestore.rules", `
match /notes/{noteId} {
  allow read: if resource.data.owner == request.auth.uid;
  allow create: if request.resource.data.owner == request.auth.uid;
}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	store := memory.New()
	db := dbservice.Guard(rules.Enforce(store, rs), dbservice.Policy{})

	ctx := context.Background()
	alice := dbservice.WithAuth(ctx, dbservice.Auth{UID: "alice"})
	bob := dbservice.WithAuth(ctx, dbservice.Auth{UID: "bob"})

	_, err = db.Save(alice, "notes", "n1", dbservice.Doc{"owner": "alice", "text": "hi"})
	fmt.Println("alice creates her note:", err)
	_, err = db.Get(bob, "notes", "n1")
	fmt.Println("bob reads it:", errors.Is(err, dbservice.ErrForbidden))

	// Rules are not filters: a query must say it asks for alice's notes.
	_, err = db.Query(alice, "notes", dbservice.Query{})
	fmt.Println("alice lists every note:", errors.Is(err, dbservice.ErrForbidden))
	page, err := db.Query(alice, "notes", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "alice")}})
	fmt.Println("alice lists her notes:", len(page.Docs), err)
	// Output:
	// alice creates her note: <nil>
	// bob reads it: true
	// alice lists every note: true
	// alice lists her notes: 1 <nil>
}

func ExampleRuleset_Check() {
	rs, _ := rules.Load("firestore.rules", `
match /agents/{agentId} {
  allow read: if request.auth != null;
  allow write: if request.auth.token.admin == true;
}`)
	admin := &dbservice.Auth{UID: "root", Claims: map[string]any{"admin": true}}
	fmt.Println(rs.Check(rules.Request{Auth: admin, Method: "update", Collection: "agents", ID: "a1"}))
	fmt.Println(rs.Check(rules.Request{Method: "get", Collection: "agents", ID: "a1"}))
	// Output:
	// {true firestore.rules:4 []}
	// {false firestore.rules:3 []}
}

package rulestest_test

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/rules"
	"github.com/securedb-go/securedb/dbservice/rules/rulestest"
)

// A rules test reads like Firebase's: data set up with the rules off, then
// one assertion per principal and call.
func Example() {
	t := &testing.T{} // in a real test, the *testing.T of the test function
	rs, err := rules.Load("firestore.rules", `match /users/{userId} { allow read, write: if request.auth.uid == userId; }`)
	if err != nil {
		panic(err)
	}
	env := rulestest.New(t, rs)
	ctx := env.Authenticated("alice", nil)
	_, _ = env.WithoutRules().Save(ctx, "users", "alice", dbservice.Doc{"name": "Alice"})

	_, err = env.Service().Get(ctx, "users", "alice")
	rulestest.AssertSucceeds(t, err)
	_, err = env.Service().Get(env.Authenticated("bob", nil), "users", "alice")
	rulestest.AssertFails(t, err)
	rulestest.Denied(t, rs, rules.Request{Method: "get", Collection: "users", ID: "alice"})
}

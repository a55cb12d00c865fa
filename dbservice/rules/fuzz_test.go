package rules_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/rules"
	"github.com/securedb-go/securedb/dbservice/rules/rulestest"
)

// FuzzLoad feeds the parser arbitrary text: it must return a ruleset or a
// located ParseError, never panic or hang, and a ruleset it returns must
// decide requests without panicking, denying an unauthenticated write to
// a collection it only opens to a principal.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		rulestest.Guide(""),
		"match /a/{b} { allow read; }",
		"match /{document=**} { allow read, write: if false; }",
		"match /{c}/{d} { allow get: if c == 'x' && d.size() < 3; }",
		"rules_version = '2'; service cloud.firestore { match /databases/{database}/documents { } }",
		"match /a/{b} { allow list: if request.query.limit <= 10 && 'x;}' != \"y\"; }",
		"match /a/{b} { allow update: if request.resource.data.keys().size() < 3 /* ; */; }",
		"match /a/{b} {\n// comment }\n allow delete: if [1,2].exists(x, x == 2);\n}",
		"match /a/{b} { allow read: if (((true))); }",
		"match /a/{b",
		"match /a/{b} { allow read: if 'é' == \"\\u00e9\"; }",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		rs, err := rules.Load("fuzz.rules", src)
		if err != nil {
			var pe *rules.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if pe.Line < 1 || pe.Col < 1 || pe.File != "fuzz.rules" {
				t.Fatalf("error %v is not located", err)
			}
			return
		}
		alice := &dbservice.Auth{UID: "alice", Claims: map[string]any{"admin": true}}
		for _, m := range []string{"get", "list", "create", "update", "delete"} {
			for _, who := range []*dbservice.Auth{nil, alice} {
				rs.Check(rules.Request{Auth: who, Method: m, Collection: "abc", ID: "x1",
					Resource: dbservice.Doc{"owner": "alice", "l": []any{1.0}}, Incoming: dbservice.Doc{"owner": "bob"},
					Query: &dbservice.Query{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "alice")}, Limit: 5}})
			}
		}
		if !strings.Contains(src, "allow") && rs.Check(rules.Request{Method: "create", Collection: "abc", ID: "x"}).Allowed {
			t.Fatal("a ruleset without an allow statement allowed a write")
		}
	})
}

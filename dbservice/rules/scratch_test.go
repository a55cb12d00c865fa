package rules

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

const guide = `rules_version = '2';
service cloud.firestore {
match /databases/{database}/documents {
// Users can only read/write their own data
match /users/{userId} {
allow read, write: if request.auth.uid == userId;
}
// Agents readable by authenticated users
match /agents/{agentId} {
allow read: if request.auth != null;
allow write: if request.auth.token.admin == true;
}
match /notes/{noteId} {
allow read: if resource.data.owner == request.auth.uid && resource.data.x.y != 3;
}
// Service account has full access
match /{document=**} {
allow read, write: if request.auth.token.email == "service-account@project.iam.gserviceaccount.com";
}
}
}`

func TestScratch(t *testing.T) {
	rs, err := Load("firestore.rules", guide)
	if err != nil {
		t.Fatal(err)
	}
	alice := &dbservice.Auth{UID: "alice"}
	for _, q := range []dbservice.Query{
		{},
		{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "alice")}},
		{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "alice"), dbservice.Where("x.y", dbservice.Eq, 4.0)}},
		{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "bob"), dbservice.Where("x.y", dbservice.Eq, 4.0)}},
	} {
		d := rs.Check(Request{Auth: alice, Method: "list", Collection: "notes", Query: &q})
		t.Logf("notes %v: %+v", q.Where, d)
	}
	for _, q := range []dbservice.Query{
		{},
		{Where: []dbservice.Cond{dbservice.Where("_id", dbservice.Eq, "alice")}},
		{Where: []dbservice.Cond{dbservice.Where("_id", dbservice.Eq, "bob")}},
	} {
		d := rs.Check(Request{Auth: alice, Method: "list", Collection: "users", Query: &q})
		t.Logf("users %v: %+v", q.Where, d)
	}
	t.Logf("%+v", rs.Check(Request{Auth: alice, Method: "get", Collection: "users", ID: "alice"}))
	t.Logf("%+v", rs.Check(Request{Auth: alice, Method: "get", Collection: "users", ID: "bob"}))
	t.Logf("%+v", rs.Check(Request{Auth: &dbservice.Auth{UID: "x", Claims: map[string]any{"email": "service-account@project.iam.gserviceaccount.com"}}, Method: "list", Collection: "users"}))
	_, err = Load("x.rules", "match /a/{b} {\n allow read: if request.auth.uid ==\n   foo;\n}")
	t.Log(err)
	_, err = Load("x.rules", "match /a/{b} {\n allow read: if resource.data.l.exists(x, resource.data.l.exists(y, y == x));\n}")
	t.Log(err)
}

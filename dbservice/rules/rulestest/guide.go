package rulestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/rules"
)

// ServiceAccount is the token email the guide's rules grant full access.
const ServiceAccount = "service-account@project.iam.gserviceaccount.com"

// Guide returns the security guide's Firestore rules, verbatim but for
// two things: every collection name is prefixed with prefix (so runs on a
// shared server stay apart), and a notes collection is added whose
// documents carry an owner field, the other classic shape of Firestore's
// rules (resource.data.owner == request.auth.uid), so list decisions are
// exercised on a field as well as on the document ID.
func Guide(prefix string) string {
	return strings.NewReplacer("USERS", prefix+"users", "AGENTS", prefix+"agents", "NOTES", prefix+"notes").Replace(`rules_version = '2';
service cloud.firestore {
match /databases/{database}/documents {
// Users can only read/write their own data
match /USERS/{userId} {
allow read, write: if request.auth.uid == userId;
}
// Agents readable by authenticated users
match /AGENTS/{agentId} {
allow read: if request.auth != null;
allow write: if request.auth.token.admin == true;
}
// Notes readable and writable by their owner, who cannot give them away
match /NOTES/{noteId} {
allow read, delete: if request.auth != null && resource.data.owner == request.auth.uid;
allow create: if request.auth != null && request.resource.data.owner == request.auth.uid;
allow update: if request.auth != null && resource.data.owner == request.auth.uid
              && request.resource.data.owner == resource.data.owner;
}
// Service account has full access
match /{document=**} {
allow read, write: if request.auth.token.email == "service-account@project.iam.gserviceaccount.com";
}
}
}
`)
}

// Prefix returns a random collection prefix for Guide.
func Prefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "r" + hex.EncodeToString(b[:]) + "_"
}

// Principals of the guide's cases.
var (
	Anonymous = (*dbservice.Auth)(nil)
	Alice     = &dbservice.Auth{UID: "alice"}
	Bob       = &dbservice.Auth{UID: "bob"}
	Carol     = &dbservice.Auth{UID: "carol"} // has no user document
	Admin     = &dbservice.Auth{UID: "root", Claims: map[string]any{"admin": true}}
	Service   = &dbservice.Auth{UID: "svc", Claims: map[string]any{"email": ServiceAccount}}
)

func as(ctx context.Context, a *dbservice.Auth) context.Context {
	if a == nil {
		return ctx
	}
	return dbservice.WithAuth(ctx, *a)
}

// Case is one allow/deny case: a principal, a call, and the outcome.
type Case struct {
	Name string
	Who  *dbservice.Auth
	// Call makes the call through the enforced service; n is what it
	// counted or returned (documents, a count), checked when Want is nil
	// and N >= 0.
	Call func(ctx context.Context, s dbservice.Service) (n int, err error)
	// Want is the sentinel the call must match (nil: success).
	Want error
	// N is the expected n on success; -1 skips the check.
	N int
}

func get(c, id string) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		_, err := s.Get(ctx, c, id)
		return -1, err
	}
}

func list(c string, conds ...dbservice.Cond) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		p, err := s.Query(ctx, c, dbservice.Query{Where: conds})
		return len(p.Docs), err
	}
}

func count(c string, conds ...dbservice.Cond) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		return s.Count(ctx, c, conds)
	}
}

func save(c, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		_, err := s.Save(ctx, c, id, doc, opts...)
		return -1, err
	}
}

func update(c, id string, mods ...dbservice.Mutation) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		_, err := s.Update(ctx, c, id, mods)
		return -1, err
	}
}

func del(c, id string) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		return -1, s.Delete(ctx, c, id)
	}
}

func getMany(c string, ids ...string) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		docs, _, err := s.GetMany(ctx, c, ids)
		return len(docs), err
	}
}

func deleteMany(c string, ids ...string) func(context.Context, dbservice.Service) (int, error) {
	return func(ctx context.Context, s dbservice.Service) (int, error) {
		return -1, s.DeleteMany(ctx, c, ids)
	}
}

// Setup stores the documents the guide's cases start from, through raw
// (no rules).
func Setup(t *testing.T, raw dbservice.Service, prefix string) {
	t.Helper()
	ctx := t.Context()
	for _, d := range []struct {
		c, id string
		doc   dbservice.Doc
	}{
		{"users", "alice", dbservice.Doc{"name": "Alice"}},
		{"users", "bob", dbservice.Doc{"name": "Bob"}},
		{"agents", "a1", dbservice.Doc{"name": "Gofannon"}},
		{"notes", "n1", dbservice.Doc{"owner": "alice", "text": "alice's", "secret": "s1"}},
		{"notes", "n2", dbservice.Doc{"owner": "bob", "text": "bob's"}},
	} {
		if _, err := raw.Save(ctx, prefix+d.c, d.id, d.doc); err != nil {
			t.Fatalf("setup %s/%s: %v", d.c, d.id, err)
		}
	}
}

// GuideCases returns the allow/deny table over Guide(prefix), in the order
// it must run (writes build on earlier ones), for data stored by Setup.
func GuideCases(prefix string) []Case {
	users, agents, notes := prefix+"users", prefix+"agents", prefix+"notes"
	other := prefix + "other"
	eq := func(f string, v any) dbservice.Cond { return dbservice.Where(f, dbservice.Eq, v) }
	F, NF := dbservice.ErrForbidden, dbservice.ErrNotFound
	return []Case{
		// users: a user reads and writes only the document of their own ID.
		{"users get: anonymous", Anonymous, get(users, "alice"), F, -1},
		{"users get: own", Alice, get(users, "alice"), nil, -1},
		{"users get: other user", Bob, get(users, "alice"), F, -1},
		{"users get: admin claim does not reach users", Admin, get(users, "alice"), F, -1},
		{"users get: service account", Service, get(users, "alice"), nil, -1},
		{"users get: own missing document shows absence", Carol, get(users, "carol"), NF, -1},
		{"users get: another's missing document is denied", Alice, get(users, "nobody"), F, -1},
		{"users list: anonymous", Anonymous, list(users), F, -1},
		{"users list: without the ID condition", Alice, list(users), F, -1},
		{"users list: with the own-ID condition", Alice, list(users, eq("_id", "alice")), nil, 1},
		{"users list: with another's ID", Alice, list(users, eq("_id", "bob")), F, -1},
		{"users list: In does not pin the ID", Alice, list(users, dbservice.Where("_id", dbservice.In, []any{"alice"})), F, -1},
		{"users list: service account lists all", Service, list(users), nil, 2},
		{"users count: with the own-ID condition", Alice, count(users, eq("_id", "alice")), nil, 1},
		{"users count: without it", Alice, count(users), F, -1},
		{"users create: own", Carol, save(users, "carol", dbservice.Doc{"name": "Carol"}), nil, -1},
		{"users create: for another ID", Alice, save(users, "dave", dbservice.Doc{"name": "Dave"}), F, -1},
		{"users create: anonymous", Anonymous, save(users, "eve", dbservice.Doc{"name": "Eve"}), F, -1},
		{"users update (Save): own", Alice, save(users, "alice", dbservice.Doc{"name": "Alice A."}), nil, -1},
		{"users update (Save): other user", Bob, save(users, "alice", dbservice.Doc{"name": "mallory"}), F, -1},
		{"users update (Save): admin claim", Admin, save(users, "alice", dbservice.Doc{"name": "root"}), F, -1},
		{"users update (Save): service account", Service, save(users, "alice", dbservice.Doc{"name": "Alice"}), nil, -1},
		{"users update: own", Alice, update(users, "alice", dbservice.Set("seen", true)), nil, -1},
		{"users update: other user", Bob, update(users, "alice", dbservice.Set("seen", false)), F, -1},
		{"users update: anonymous", Anonymous, update(users, "alice", dbservice.Set("seen", false)), F, -1},
		{"users getmany: own", Alice, getMany(users, "alice"), nil, 1},
		{"users getmany: own and another's", Alice, getMany(users, "alice", "bob"), F, -1},
		{"users delete: other user", Alice, del(users, "bob"), F, -1},
		{"users delete: anonymous", Anonymous, del(users, "bob"), F, -1},
		{"users delete: own", Carol, del(users, "carol"), nil, -1},
		{"users deletemany: another's", Alice, deleteMany(users, "bob"), F, -1},

		// agents: readable when authenticated, writable with the admin claim.
		{"agents get: anonymous", Anonymous, get(agents, "a1"), F, -1},
		{"agents get: user", Alice, get(agents, "a1"), nil, -1},
		{"agents get: other user", Bob, get(agents, "a1"), nil, -1},
		{"agents get: admin", Admin, get(agents, "a1"), nil, -1},
		{"agents get: service account", Service, get(agents, "a1"), nil, -1},
		{"agents get: missing, authenticated sees absence", Alice, get(agents, "zz"), NF, -1},
		{"agents get: missing, anonymous is denied alike", Anonymous, get(agents, "zz"), F, -1},
		{"agents list: anonymous", Anonymous, list(agents), F, -1},
		{"agents list: user, no condition needed", Alice, list(agents), nil, 1},
		{"agents list: admin", Admin, list(agents), nil, 1},
		{"agents count: anonymous", Anonymous, count(agents), F, -1},
		{"agents count: user", Bob, count(agents), nil, 1},
		{"agents create: user", Alice, save(agents, "a2", dbservice.Doc{"name": "x"}), F, -1},
		{"agents create: admin claim as a string is not true", &dbservice.Auth{UID: "x", Claims: map[string]any{"admin": "true"}}, save(agents, "a2", dbservice.Doc{"name": "x"}), F, -1},
		{"agents create: admin claim false", &dbservice.Auth{UID: "x", Claims: map[string]any{"admin": false}}, save(agents, "a2", dbservice.Doc{"name": "x"}), F, -1},
		{"agents create: admin", Admin, save(agents, "a2", dbservice.Doc{"name": "Scribe"}), nil, -1},
		{"agents update: user", Alice, update(agents, "a1", dbservice.Set("name", "x")), F, -1},
		{"agents update: admin", Admin, update(agents, "a1", dbservice.Set("active", true)), nil, -1},
		{"agents delete: anonymous", Anonymous, del(agents, "a2"), F, -1},
		{"agents delete: user", Alice, del(agents, "a2"), F, -1},
		{"agents delete: admin", Admin, del(agents, "a2"), nil, -1},
		{"agents create: service account", Service, save(agents, "a3", dbservice.Doc{"name": "Archivist"}), nil, -1},
		{"agents delete: service account", Service, del(agents, "a3"), nil, -1},

		// notes: the owner field decides; a query must pin it.
		{"notes get: owner", Alice, get(notes, "n1"), nil, -1},
		{"notes get: other user", Bob, get(notes, "n1"), F, -1},
		{"notes get: anonymous", Anonymous, get(notes, "n1"), F, -1},
		{"notes get: admin claim", Admin, get(notes, "n1"), F, -1},
		{"notes get: service account", Service, get(notes, "n1"), nil, -1},
		{"notes get: missing is denied like another's", Alice, get(notes, "n9"), F, -1},
		{"notes list: without the owner condition", Alice, list(notes), F, -1},
		{"notes list: with the owner condition", Alice, list(notes, eq("owner", "alice")), nil, 1},
		{"notes list: with another owner", Alice, list(notes, eq("owner", "bob")), F, -1},
		{"notes list: other user, own condition", Bob, list(notes, eq("owner", "bob")), nil, 1},
		{"notes list: anonymous with a condition", Anonymous, list(notes, eq("owner", "alice")), F, -1},
		{"notes list: a non-equality condition does not pin", Alice, list(notes, dbservice.Where("owner", dbservice.Gte, "alice")), F, -1},
		{"notes list: service account", Service, list(notes), nil, 2},
		{"notes count: with the owner condition", Alice, count(notes, eq("owner", "alice")), nil, 1},
		{"notes count: without it", Alice, count(notes), F, -1},
		{"notes create: own", Alice, save(notes, "n3", dbservice.Doc{"owner": "alice", "text": "new"}), nil, -1},
		{"notes create: for another owner", Alice, save(notes, "n4", dbservice.Doc{"owner": "bob"}), F, -1},
		{"notes create: anonymous", Anonymous, save(notes, "n4", dbservice.Doc{"owner": "alice"}), F, -1},
		{"notes update: owner", Alice, update(notes, "n1", dbservice.Set("text", "edited")), nil, -1},
		{"notes update: owner gives it away (Update)", Alice, update(notes, "n1", dbservice.Set("owner", "bob")), F, -1},
		{"notes update: owner gives it away (Save)", Alice, save(notes, "n1", dbservice.Doc{"owner": "bob", "text": "x"}), F, -1},
		{"notes update: owner removes the owner field", Alice, update(notes, "n1", dbservice.Unset("owner")), F, -1},
		{"notes update: other user", Bob, update(notes, "n1", dbservice.Set("text", "x")), F, -1},
		{"notes update: other user takes it (Save)", Bob, save(notes, "n1", dbservice.Doc{"owner": "bob"}), F, -1},
		{"notes getmany: own", Alice, getMany(notes, "n1", "n3"), nil, 2},
		{"notes getmany: own and another's", Alice, getMany(notes, "n1", "n2"), F, -1},
		{"notes getmany: own and missing", Alice, getMany(notes, "n1", "n9"), F, -1},
		{"notes delete: other user", Bob, del(notes, "n1"), F, -1},
		{"notes deletemany: own and another's deletes nothing", Alice, deleteMany(notes, "n3", "n2"), F, -1},
		{"notes delete: owner", Alice, del(notes, "n3"), nil, -1},

		// A collection no match names: only the wildcard's service account.
		{"other get: user (default deny)", Alice, get(other, "x"), F, -1},
		{"other get: service account sees absence", Service, get(other, "x"), NF, -1},
		{"other create: service account", Service, save(other, "x", dbservice.Doc{"v": 1.0}), nil, -1},
		{"other list: user", Alice, list(other), F, -1},
	}
}

// RunGuide runs GuideCases: raw is the store without rules (for setup and
// to check what the denied writes left), enforced opens the same store
// under the given rules. prefix keeps the collections apart.
func RunGuide(t *testing.T, raw dbservice.Service, enforced func(*rules.Ruleset) dbservice.Service) {
	prefix := Prefix()
	rs, err := rules.Load("firestore.rules", Guide(prefix))
	if err != nil {
		t.Fatal(err)
	}
	svc := enforced(rs)
	Setup(t, raw, prefix)
	cases := GuideCases(prefix)
	for i, c := range cases {
		n, err := c.Call(as(t.Context(), c.Who), svc)
		switch {
		case c.Want == nil && err != nil:
			t.Errorf("%02d %s: %v, want allowed", i, c.Name, err)
		case c.Want != nil && !errors.Is(err, c.Want):
			t.Errorf("%02d %s: %v, want %v", i, c.Name, err, c.Want)
		case c.Want == nil && c.N >= 0 && n != c.N:
			t.Errorf("%02d %s: %d results, want %d", i, c.Name, n, c.N)
		}
	}
	// Denied writes left nothing behind.
	ctx := t.Context()
	for _, p := range []struct{ c, id string }{{"users", "dave"}, {"users", "eve"}, {"notes", "n4"}} {
		if _, err := raw.Get(ctx, prefix+p.c, p.id); !errors.Is(err, dbservice.ErrNotFound) {
			t.Errorf("denied create of %s/%s: the store has it (%v)", p.c, p.id, err)
		}
	}
	n1, err := raw.Get(ctx, prefix+"notes", "n1")
	if err != nil || n1["owner"] != "alice" || n1["text"] != "edited" {
		t.Errorf("notes/n1 after the denied updates = %v, %v; want owner alice, text edited", n1, err)
	}
	if _, err := raw.Get(ctx, prefix+"notes", "n2"); err != nil {
		t.Errorf("notes/n2 after a denied DeleteMany: %v", err)
	}
	if _, err := raw.Get(ctx, prefix+"users", "bob"); err != nil {
		t.Errorf("users/bob after denied deletes: %v", err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d allow/deny cases passed", len(cases))
}

// RunHostile runs the hostile cases that any store must withstand: ID
// tricks, projection, a cursor of another principal, GetMany mixing
// allowed and denied IDs, Update moving ownership, and the error text
// naming the missing condition without values.
func RunHostile(t *testing.T, raw dbservice.Service, enforced func(*rules.Ruleset) dbservice.Service) {
	prefix := Prefix()
	rs, err := rules.Load("firestore.rules", Guide(prefix))
	if err != nil {
		t.Fatal(err)
	}
	svc := enforced(rs)
	Setup(t, raw, prefix)
	users, agents, notes := prefix+"users", prefix+"agents", prefix+"notes"
	ctx := t.Context()
	alice, bob := as(ctx, Alice), as(ctx, Bob)

	t.Run("IDs are validated before rules", func(t *testing.T) {
		for _, id := range []string{"alice/../bob", "../bob", "alice/x", "bob%2F..", "", "alice\x00", "*"} {
			_, err := svc.Get(bob, users, id)
			if !errors.Is(err, dbservice.ErrInvalid) {
				t.Errorf("Get(%q) as bob: %v, want ErrInvalid", id, err)
			}
			if _, err := svc.Save(alice, users, id, dbservice.Doc{"x": 1.0}); !errors.Is(err, dbservice.ErrInvalid) {
				t.Errorf("Save(%q) as alice: %v, want ErrInvalid", id, err)
			}
		}
	})

	t.Run("projection cannot hide the owner from the check", func(t *testing.T) {
		p, err := svc.Query(alice, notes, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "alice")}, Fields: []string{"text"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Docs) != 1 {
			t.Fatalf("%d docs, want 1", len(p.Docs))
		}
		d := p.Docs[0]
		if d["text"] == nil || d["owner"] != nil || d["secret"] != nil {
			t.Errorf("projected doc %v: want text only (owner fetched for the check, then projected away)", keys(d))
		}
		if _, err := svc.Query(bob, notes, dbservice.Query{Fields: []string{"text"}}); !errors.Is(err, dbservice.ErrForbidden) {
			t.Errorf("a projection without the owner condition: %v, want ErrForbidden", err)
		}
	})

	t.Run("a cursor issued to one principal is invalid for another", func(t *testing.T) {
		for _, id := range []string{"b1", "b2", "b3"} {
			if _, err := raw.Save(ctx, agents, id, dbservice.Doc{"name": id}); err != nil {
				t.Fatal(err)
			}
		}
		q := dbservice.Query{Limit: 2}
		p, err := svc.Query(alice, agents, q)
		if err != nil || p.Next == "" {
			t.Fatalf("first page: %v, next %q", err, p.Next)
		}
		q.Cursor = p.Next
		if _, err := svc.Query(bob, agents, q); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("bob with alice's cursor: %v, want ErrInvalid", err)
		}
		if _, err := svc.Query(as(ctx, Service), agents, q); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("the service account with alice's cursor: %v, want ErrInvalid", err)
		}
		seen := len(p.Docs)
		for q.Cursor != "" {
			p, err := svc.Query(alice, agents, q)
			if err != nil {
				t.Fatalf("alice's own cursor: %v", err)
			}
			seen += len(p.Docs)
			q.Cursor = p.Next
		}
		if seen != 4 {
			t.Errorf("alice paged over %d agents, want 4", seen)
		}
	})

	t.Run("GetMany mixing allowed and denied IDs returns nothing", func(t *testing.T) {
		if _, _, err := raw.GetMany(ctx, notes, []string{"n1"}); err != nil {
			t.Fatalf("GetMany without rules: %v", err)
		}
		docs, missing, err := svc.GetMany(alice, notes, []string{"n1", "n2"})
		if !errors.Is(err, dbservice.ErrForbidden) || docs != nil || missing != nil {
			t.Errorf("GetMany(n1, n2) as alice = %d docs, %v, %v; want ErrForbidden and nothing", len(docs), missing, err)
		}
		docs, _, err = svc.GetMany(bob, users, []string{"bob", "alice"})
		if !errors.Is(err, dbservice.ErrForbidden) || docs != nil {
			t.Errorf("GetMany(bob, alice) as bob = %d docs, %v; want ErrForbidden", len(docs), err)
		}
	})

	t.Run("Update cannot move ownership", func(t *testing.T) {
		for _, mods := range [][]dbservice.Mutation{
			{dbservice.Set("owner", "bob")},
			{dbservice.Set("text", "ok"), dbservice.Set("owner", "bob")},
			{dbservice.Unset("owner")},
			{dbservice.Set("owner", []any{"alice"})},
		} {
			if _, err := svc.Update(alice, notes, "n1", mods); !errors.Is(err, dbservice.ErrForbidden) {
				t.Errorf("Update(%v): %v, want ErrForbidden", mods, err)
			}
		}
		if _, err := svc.Update(bob, notes, "n1", []dbservice.Mutation{dbservice.Set("owner", "bob")}, dbservice.Upsert()); !errors.Is(err, dbservice.ErrForbidden) {
			t.Errorf("Upsert over another's note: %v, want ErrForbidden", err)
		}
		if _, err := svc.Update(bob, notes, "n7", []dbservice.Mutation{dbservice.Set("owner", "alice")}, dbservice.Upsert()); !errors.Is(err, dbservice.ErrForbidden) {
			t.Errorf("Upsert creating a note for another owner: %v, want ErrForbidden", err)
		}
		if _, err := svc.Update(bob, notes, "n8", []dbservice.Mutation{dbservice.Set("owner", "bob")}, dbservice.Upsert()); err != nil {
			t.Errorf("Upsert creating an own note: %v", err)
		}
		d, err := raw.Get(ctx, notes, "n1")
		if err != nil || d["owner"] != "alice" {
			t.Errorf("n1 = %v, %v; want owner alice", d, err)
		}
	})

	t.Run("a denied list names the missing condition, not values", func(t *testing.T) {
		_, err := svc.Query(alice, notes, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("text", dbservice.Eq, "canary-value-7")}})
		if !errors.Is(err, dbservice.ErrForbidden) {
			t.Fatalf("%v, want ErrForbidden", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, `Where("owner", Eq, ...)`) || !strings.Contains(msg, "rules are not filters") {
			t.Errorf("error %q does not name the missing owner condition", msg)
		}
		if strings.Contains(msg, "canary-value-7") || strings.Contains(msg, "alice") {
			t.Errorf("error %q repeats a value", msg)
		}
	})
}

func keys(d dbservice.Doc) []string {
	var out []string
	for k := range d {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

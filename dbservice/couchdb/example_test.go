package couchdb_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/couchdb"
)

// A Config prints without its password, whatever the verb, and a password
// in the URL is hidden too.
func ExampleConfig_String() {
	cfg := couchdb.Config{URL: "https://couch.internal:6984", User: "app", Password: "not-printed", Prefix: "prod_"}
	fmt.Printf("%+v\n", cfg)
	fmt.Println(couchdb.Config{URL: "https://app:not-printed@couch.internal:6984"})
	// Output:
	// couchdb.Config{URL: https://couch.internal:6984, User: "app", Password: [REDACTED], AuthMode: cookie, Prefix: "prod_", CreateMissing: true}
	// couchdb.Config{URL: https://couch.internal:6984, Password: [REDACTED] (in URL), AuthMode: cookie, CreateMissing: true}
}

// Plain HTTP is refused off loopback, and so is a Config without
// credentials, before any request.
func ExampleNew_insecure() {
	ctx := context.Background()
	_, err := couchdb.New(ctx, couchdb.Config{URL: "http://couch.internal:5984", User: "app", Password: "pw"})
	fmt.Println(errors.Is(err, dbservice.ErrInsecure))
	_, err = couchdb.New(ctx, couchdb.Config{URL: "https://couch.internal:6984"})
	fmt.Println(errors.Is(err, dbservice.ErrInsecure))
	// Output:
	// true
	// true
}

// Open the provider from the environment (COUCHDB_URL, COUCHDB_USER,
// COUCHDB_PASSWORD, ...), store a document and read it back.
func ExampleNew() {
	cfg, err := couchdb.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	db, err := couchdb.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	rev, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "gofannon"}, dbservice.IfAbsent())
	if err != nil {
		log.Fatal(err)
	}
	doc, err := db.Get(ctx, "agents", "a1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc["name"], doc["_rev"] == rev)
}

// A password that rotates: the source is asked again, bypassing its cache,
// when CouchDB refuses the current one. secrets.Source builds such a
// function from a secret reference such as
// awssm://prod/couchdb#password.
func ExampleConfig_passwordSource() {
	cfg := couchdb.Config{
		URL:  "https://couch.internal:6984",
		User: "app",
		PasswordSource: func(ctx context.Context, refresh bool) (string, error) {
			// A real source would call a secret manager; refresh means
			// "the cached value was refused, fetch the current one".
			return os.Getenv("APP_COUCHDB_PASSWORD"), nil
		},
	}
	fmt.Println(cfg)
	// Output:
	// couchdb.Config{URL: https://couch.internal:6984, User: "app", Password: [REDACTED] (source), AuthMode: cookie, CreateMissing: true}
}

// An operator provisions the application's databases and user with admin
// credentials; the application then runs with the user's credentials only.
func ExampleProvision() {
	ctx := context.Background()
	admin := couchdb.Config{URL: "https://couch.internal:6984", User: "admin", Password: os.Getenv("COUCHDB_ADMIN_PASSWORD"), Prefix: "prod_"}
	err := couchdb.Provision(ctx, admin, couchdb.Spec{
		Collections: []string{"agents", "runs"},
		AppUser:     "agents-app",
		AppPassword: os.Getenv("AGENTS_APP_PASSWORD"),
		Indexes:     map[string][][]string{"agents": {{"owner.id"}}},
	})
	if err != nil {
		log.Fatal(err)
	}
}

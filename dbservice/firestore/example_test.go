package firestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/firestore"
)

// A Config prints without anything secret, whatever the verb: client
// options (which can carry credentials) show only their number.
func ExampleConfig_String() {
	cfg := firestore.Config{
		ProjectID:        "my-project",
		CollectionPrefix: "dev_",
		CredentialsFile:  "/run/secrets/firestore.json",
	}
	fmt.Printf("%+v\n", cfg)
	// Output:
	// firestore.Config{ProjectID: my-project, DatabaseID: (default), CollectionPrefix: "dev_", Credentials: file "/run/secrets/firestore.json"}
}

// An emulator across the network is refused before any connection: it
// speaks plain-text gRPC.
func ExampleNew_remoteEmulator() {
	_, err := firestore.New(context.Background(), firestore.Config{ProjectID: "demo-project", EmulatorHost: "firestore.internal.example:8080"})
	fmt.Println(errors.Is(err, dbservice.ErrInsecure))
	// Output:
	// true
}

// Open the provider from the environment (FIRESTORE_PROJECT_ID,
// FIRESTORE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS, ...), then
// store a document only if it does not exist yet and update it only if
// nobody changed it since it was read.
func ExampleNew() {
	cfg, err := firestore.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	db, err := firestore.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	rev, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "gofannon", "runs": 1}, dbservice.IfAbsent())
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "gofannon", "runs": 2}, dbservice.IfRev(rev)); err != nil {
		log.Fatal(err)
	}
	doc, err := db.Get(ctx, "agents", "a1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc["runs"])
}

// Count a session's requests without a read-modify-write loop, expire the
// session an hour after its last use, and let Firestore delete expired
// sessions itself (EnsureExpiry needs Admin API permissions; reads never
// return an expired session either way).
func ExampleService_Update() {
	cfg, err := firestore.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	db, err := firestore.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.EnsureExpiry(ctx, "sessions"); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		log.Print(err) // the TTL policy is set at deployment instead
	}
	_, err = db.Update(ctx, "sessions", "s1",
		[]dbservice.Mutation{dbservice.Increment("requests", 1), dbservice.Set("user", "u1")},
		dbservice.Upsert(), dbservice.TTL(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	n, err := db.Count(ctx, "sessions", []dbservice.Cond{dbservice.Where("user", dbservice.Eq, "u1")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
}

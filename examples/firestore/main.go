// Command firestore walks through the Firestore provider: conditional
// writes, a nested array that Firestore cannot store as is, a bulk write,
// paged queries, input refused before any request, and the security
// posture of the deployment.
//
// It runs against the Firestore emulator when FIRESTORE_EMULATOR_HOST is
// set (with FIRESTORE_PROJECT_ID), and against Google Cloud Firestore when
// FIRESTORE_PROJECT_ID or GOOGLE_APPLICATION_CREDENTIALS is set, with
// Application Default Credentials. With none of them it explains what to
// set and exits 0. Collections are named
// FIRESTORE_COLLECTION_PREFIX+collection (default prefix
// "securedb_example_"); the example deletes the documents it wrote.
//
//	scripts/servers.sh start firestore
//	eval "$(scripts/servers.sh env firestore)"
//	go run ./examples/firestore
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/firestore"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	if os.Getenv(firestore.EnvEmulatorHost) == "" && os.Getenv(firestore.EnvProjectID) == "" && os.Getenv(firestore.EnvCredentials) == "" {
		fmt.Fprintln(w, "firestore example: nothing configured; set FIRESTORE_EMULATOR_HOST and FIRESTORE_PROJECT_ID (e.g. `eval \"$(scripts/servers.sh env firestore)\"` after `scripts/servers.sh start firestore`) or FIRESTORE_PROJECT_ID with Google credentials, then run it again")
		return nil
	}
	cfg, err := firestore.FromEnv()
	if err != nil {
		return err
	}
	if cfg.CollectionPrefix == "" {
		cfg.CollectionPrefix = "securedb_example_"
	}
	fmt.Fprintf(w, "config: %v\n", cfg) // client options would print as [REDACTED]
	db, err := firestore.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		return err
	}

	const coll = "agents"
	fmt.Fprintln(w, "\n== conditional writes (Create, LastUpdateTime precondition) ==")
	_ = db.Delete(ctx, coll, "a1") // a previous run's document, if any
	rev, err := db.Save(ctx, coll, "a1", dbservice.Doc{"name": "gofannon", "runs": 1, "owner": map[string]any{"id": "u1"}}, dbservice.IfAbsent())
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "created a1; its revision is its update time, opaque")
	_, err = db.Save(ctx, coll, "a1", dbservice.Doc{"name": "impostor"}, dbservice.IfAbsent())
	fmt.Fprintf(w, "IfAbsent on an existing document: conflict=%v\n", errors.Is(err, dbservice.ErrConflict))
	if _, err := db.Save(ctx, coll, "a1", dbservice.Doc{"name": "gofannon", "runs": 2, "owner": map[string]any{"id": "u1"}, "grid": []any{[]any{1, 2}, []any{3, 4}}}, dbservice.IfRev(rev)); err != nil {
		return err
	}
	_, err = db.Save(ctx, coll, "a1", dbservice.Doc{"name": "lost update"}, dbservice.IfRev(rev))
	fmt.Fprintf(w, "IfRev with a stale revision: conflict=%v\n", errors.Is(err, dbservice.ErrConflict))
	doc, err := db.Get(ctx, coll, "a1")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "a1: name=%v runs=%v owner.id=%v grid=%v (arrays in arrays are stored as {\"securedb.array\": [...]} and come back as arrays)\n",
		doc["name"], doc["runs"], doc["owner"].(map[string]any)["id"], doc["grid"])

	fmt.Fprintln(w, "\n== bulk write (BulkWriter) and paged queries ordered by document ID ==")
	var items []dbservice.BulkItem
	for i := range 30 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("bulk-%02d", i), Doc: dbservice.Doc{"n": i, "even": i%2 == 0}})
	}
	if err := db.SaveMany(ctx, coll, items); err != nil {
		return err
	}
	// even == true is a Firestore filter; n >= 20 is checked on the client.
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("even", dbservice.Eq, true), dbservice.Where("n", dbservice.Gte, 20)}, Limit: 2}
	var found []string
	for d, err := range dbservice.All(ctx, db, coll, q) {
		if err != nil {
			return err
		}
		found = append(found, d["_id"].(string))
	}
	fmt.Fprintf(w, "even documents with n >= 20: %d %v (pages of 2)\n", len(found), found)

	fmt.Fprintln(w, "\n== refused before any request ==")
	_, err = db.Get(ctx, coll, "../other-collection/secret")
	fmt.Fprintf(w, "an ID with '/' (path injection): invalid=%v\n", errors.Is(err, dbservice.ErrInvalid))
	_, err = db.Save(ctx, coll, "a2", dbservice.Doc{"m": map[string]any{"__name__": "x"}})
	fmt.Fprintf(w, "a reserved field name: invalid=%v\n", errors.Is(err, dbservice.ErrInvalid))
	_, err = db.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("$where", dbservice.Eq, "1")}})
	fmt.Fprintf(w, "a query on an operator field: invalid=%v\n", errors.Is(err, dbservice.ErrInvalid))

	fmt.Fprintln(w, "\n== security posture ==")
	for _, f := range db.CheckPosture(ctx) {
		fmt.Fprintf(w, "%-20s %-4s %s\n", f.ID, f.Status, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(w, "%-25s fix: %s\n", "", f.Fix)
		}
	}

	for _, it := range items {
		if err := db.Delete(ctx, coll, it.ID); err != nil {
			return err
		}
	}
	return db.Delete(ctx, coll, "a1")
}

// Command couchdb walks through the CouchDB provider: conditional writes
// with revisions, queries through Mango, a bulk write, and the security
// posture of the server it talks to.
//
// It runs against the server in COUCHDB_URL with COUCHDB_USER and
// COUCHDB_PASSWORD (a non-admin user made by couchdb.Provision is what
// production should use; an admin works and is reported). With no
// COUCHDB_URL it explains what to set and exits 0. Databases are named
// COUCHDB_PREFIX+collection (default prefix "securedb_example_"); the
// example removes its documents but, like the library, never deletes
// databases.
//
//	scripts/servers.sh start couchdb
//	eval "$(scripts/servers.sh env couchdb)"
//	go run ./examples/couchdb
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
	"github.com/securedb-go/securedb/dbservice/couchdb"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	if os.Getenv(couchdb.EnvURL) == "" {
		fmt.Fprintln(w, "couchdb example: nothing configured; set COUCHDB_URL, COUCHDB_USER and COUCHDB_PASSWORD (e.g. `eval \"$(scripts/servers.sh env couchdb)\"` after `scripts/servers.sh start couchdb`), then run it again")
		return nil
	}
	cfg, err := couchdb.FromEnv()
	if err != nil {
		return err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "securedb_example_"
	}
	fmt.Fprintf(w, "config: %v\n", cfg) // the password prints as [REDACTED]
	db, err := couchdb.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		return err
	}

	const coll = "agents"
	fmt.Fprintln(w, "\n== conditional writes (CouchDB revisions) ==")
	_ = db.Delete(ctx, coll, "a1") // a previous run's document, if any
	rev, err := db.Save(ctx, coll, "a1", dbservice.Doc{"name": "gofannon", "runs": 1, "owner": map[string]any{"id": "u1"}}, dbservice.IfAbsent())
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "created a1 (the first write creates the database when the credentials may)")
	_, err = db.Save(ctx, coll, "a1", dbservice.Doc{"name": "impostor"}, dbservice.IfAbsent())
	fmt.Fprintf(w, "IfAbsent on an existing document: conflict=%v\n", errors.Is(err, dbservice.ErrConflict))
	if _, err := db.Save(ctx, coll, "a1", dbservice.Doc{"name": "gofannon", "runs": 2, "owner": map[string]any{"id": "u1"}}, dbservice.IfRev(rev)); err != nil {
		return err
	}
	_, err = db.Save(ctx, coll, "a1", dbservice.Doc{"name": "lost update"}, dbservice.IfRev(rev))
	fmt.Fprintf(w, "IfRev with a stale revision: conflict=%v\n", errors.Is(err, dbservice.ErrConflict))
	_, err = db.Save(ctx, coll, "a1", dbservice.Doc{"name": "lost update"}, dbservice.IfRev("1-notarevision"))
	fmt.Fprintf(w, "IfRev with a revision CouchDB never issued: conflict=%v\n", errors.Is(err, dbservice.ErrConflict))
	doc, err := db.Get(ctx, coll, "a1")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "a1: name=%v runs=%v owner.id=%v\n", doc["name"], doc["runs"], doc["owner"].(map[string]any)["id"])

	fmt.Fprintln(w, "\n== bulk write (_bulk_docs) and queries (Mango _find, checked on the client) ==")
	var items []dbservice.BulkItem
	for i := range 30 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("bulk-%02d", i), Doc: dbservice.Doc{"n": i, "even": i%2 == 0, "tag": []string{"Bob", "alice"}[i%2]}})
	}
	if err := db.SaveMany(ctx, coll, items); err != nil {
		return err
	}
	count := func(q dbservice.Query) (int, error) {
		n := 0
		for _, err := range dbservice.All(ctx, db, coll, q) {
			if err != nil {
				return 0, err
			}
			n++
		}
		return n, nil
	}
	n, err := count(dbservice.Query{Where: []dbservice.Cond{dbservice.Where("even", dbservice.Eq, true), dbservice.Where("n", dbservice.Gte, 20)}, Limit: 2})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "even documents with n >= 20: %d (pages of 2, in _id order)\n", n)
	n, err = count(dbservice.Query{Where: []dbservice.Cond{dbservice.Where("tag", dbservice.Lt, "alice")}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "tag < \"alice\" by UTF-8 bytes (CouchDB's ICU order would say 0): %d\n", n)
	_, err = db.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("$where", dbservice.Eq, "1")}})
	fmt.Fprintf(w, "a query on an operator field is refused before any request: invalid=%v\n", errors.Is(err, dbservice.ErrInvalid))

	fmt.Fprintln(w, "\n== security posture ==")
	for _, f := range db.CheckPosture(ctx) {
		fmt.Fprintf(w, "%-18s %-4s %s\n", f.ID, f.Status, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(w, "%-23s fix: %s\n", "", f.Fix)
		}
	}

	for _, it := range items {
		if err := db.Delete(ctx, coll, it.ID); err != nil {
			return err
		}
	}
	return db.Delete(ctx, coll, "a1")
}

// Command dynamodb walks through the DynamoDB provider: conditional writes,
// a filtered query, a bulk write, the security posture of the deployment
// and the IAM policy the application needs.
//
// It runs against DynamoDB Local (or any endpoint) when DYNAMODB_ENDPOINT_URL
// is set, and against AWS when DYNAMODB_REGION is set, with credentials from
// the AWS SDK's default chain (a role, AWS_PROFILE, ...). With neither it
// explains what to set and exits 0. Tables are named
// DYNAMODB_TABLE_PREFIX+collection (default prefix "securedb_example_"); the
// example removes its documents but, like the library, never deletes
// tables.
//
//	scripts/servers.sh start dynamodb
//	eval "$(scripts/servers.sh env dynamodb)"
//	go run ./examples/dynamodb
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
	"github.com/securedb-go/securedb/dbservice/dynamodb"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	if os.Getenv(dynamodb.EnvEndpointURL) == "" && os.Getenv(dynamodb.EnvRegion) == "" {
		fmt.Fprintln(w, "dynamodb example: nothing configured; set DYNAMODB_ENDPOINT_URL (e.g. `eval \"$(scripts/servers.sh env dynamodb)\"` after `scripts/servers.sh start dynamodb`) or DYNAMODB_REGION with AWS credentials, then run it again")
		return nil
	}
	cfg, err := dynamodb.FromEnv()
	if err != nil {
		return err
	}
	if cfg.TablePrefix == "" {
		cfg.TablePrefix = "securedb_example_"
	}
	fmt.Fprintf(w, "config: %v\n", cfg) // credentials print as [REDACTED] or "default chain"
	db, err := dynamodb.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		return err
	}

	const coll = "agents"
	fmt.Fprintln(w, "\n== conditional writes ==")
	_ = db.Delete(ctx, coll, "a1") // a previous run's document, if any
	rev, err := db.Save(ctx, coll, "a1", dbservice.Doc{"name": "gofannon", "runs": 1, "owner": map[string]any{"id": "u1"}}, dbservice.IfAbsent())
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "created a1 (a first write creates the table if needed: on-demand billing, KMS encryption, point-in-time recovery)")
	_, err = db.Save(ctx, coll, "a1", dbservice.Doc{"name": "impostor"}, dbservice.IfAbsent())
	fmt.Fprintf(w, "IfAbsent on an existing document: conflict=%v\n", errors.Is(err, dbservice.ErrConflict))
	if _, err := db.Save(ctx, coll, "a1", dbservice.Doc{"name": "gofannon", "runs": 2, "owner": map[string]any{"id": "u1"}}, dbservice.IfRev(rev)); err != nil {
		return err
	}
	_, err = db.Save(ctx, coll, "a1", dbservice.Doc{"name": "lost update"}, dbservice.IfRev(rev))
	fmt.Fprintf(w, "IfRev with a stale revision: conflict=%v\n", errors.Is(err, dbservice.ErrConflict))
	doc, err := db.Get(ctx, coll, "a1")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "a1: name=%v runs=%v owner.id=%v\n", doc["name"], doc["runs"], doc["owner"].(map[string]any)["id"])

	fmt.Fprintln(w, "\n== bulk write (BatchWriteItem) and a filtered query (Scan + FilterExpression) ==")
	var items []dbservice.BulkItem
	for i := range 30 {
		items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("bulk-%02d", i), Doc: dbservice.Doc{"n": i, "even": i%2 == 0}})
	}
	if err := db.SaveMany(ctx, coll, items); err != nil {
		return err
	}
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("even", dbservice.Eq, true), dbservice.Where("n", dbservice.Gte, 20)}, Limit: 2}
	found := 0
	for _, err := range dbservice.All(ctx, db, coll, q) {
		if err != nil {
			return err
		}
		found++
	}
	fmt.Fprintf(w, "even documents with n >= 20: %d (pages of 2, in scan order)\n", found)
	_, err = db.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("$where", dbservice.Eq, "1")}})
	fmt.Fprintf(w, "a query on an operator field is refused before any request: invalid=%v\n", errors.Is(err, dbservice.ErrInvalid))

	fmt.Fprintln(w, "\n== security posture ==")
	for _, f := range db.CheckPosture(ctx) {
		fmt.Fprintf(w, "%-18s %-4s %s\n", f.ID, f.Status, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(w, "%-23s fix: %s\n", "", f.Fix)
		}
	}

	fmt.Fprintln(w, "\n== IAM policy for these tables (put your account ID in place of 123456789012) ==")
	policy, err := dynamodb.LeastPrivilegePolicy(cfg.Region, "123456789012", cfg.TablePrefix+"*")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, string(policy))

	for _, it := range items {
		if err := db.Delete(ctx, coll, it.ID); err != nil {
			return err
		}
	}
	return db.Delete(ctx, coll, "a1")
}

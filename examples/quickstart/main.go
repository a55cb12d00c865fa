// Command quickstart shows securedb in one minute with zero setup: it opens
// the in-memory provider through securedb.OpenFromEnv's configuration,
// stores and queries a few agents, and shows hostile input refused before
// it reaches the database, with the audit record of every operation.
//
//	go run ./examples/quickstart
//
// It imports no other provider, so its binary links no cloud SDK; with
// DATABASE_PROVIDER=couchdb it stops with the error that names the import
// to add (_ "github.com/securedb-go/securedb/dbservice/couchdb").
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// Audit records go to the default slog logger; print them compactly.
	slog.SetDefault(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		return err
	}
	db, err := securedb.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	provider := cfg.Provider
	if provider == "" {
		provider = securedb.Memory
	}
	fmt.Fprintf(out, "== securedb quickstart (provider: %s)\n", provider)
	ctx = dbservice.WithPrincipal(ctx, "quickstart")

	agents := []struct {
		id   string
		name string
		tags []string
		live bool
	}{
		{"gofannon", "Gofannon", []string{"builder", "search"}, true},
		{"scribe", "Scribe", []string{"summarize"}, true},
		{"archivist", "Archivist", []string{"backup"}, false},
	}
	fmt.Fprintln(out, "\n-- save three agents")
	var rev string
	for _, a := range agents {
		r, err := db.Save(ctx, "agents", a.id, dbservice.Doc{
			"name": a.name, "tags": a.tags, "active": a.live, "owner": map[string]any{"id": "team-1"},
		})
		if err != nil {
			return err
		}
		if a.id == "gofannon" {
			rev = r
		}
	}

	fmt.Fprintln(out, "\n-- read one back")
	doc, err := db.Get(ctx, "agents", "gofannon")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "gofannon: name=%v tags=%v active=%v\n", doc["name"], doc["tags"], doc["active"])

	fmt.Fprintln(out, "\n-- query active agents")
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("active", dbservice.Eq, true)}}
	for d, err := range dbservice.All(ctx, db, "agents", q) {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "active: %v\n", d["_id"])
	}

	fmt.Fprintln(out, "\n-- optimistic concurrency: a stale revision loses")
	doc["runs"] = 1
	if _, err := db.Save(ctx, "agents", "gofannon", doc, dbservice.IfRev(rev)); err != nil {
		return err
	}
	_, err = db.Save(ctx, "agents", "gofannon", doc, dbservice.IfRev(rev))
	fmt.Fprintf(out, "second write with the same revision: %v (HTTP %d)\n", err, dbservice.HTTPStatus(err))

	fmt.Fprintln(out, "\n-- hostile input is refused before it reaches the database")
	_, err = db.Get(ctx, "agents", "../../etc/passwd")
	fmt.Fprintf(out, "path traversal ID: %v (HTTP %d)\n", err, dbservice.HTTPStatus(err))
	_, err = db.Save(ctx, "agents", "evil", dbservice.Doc{"$where": "sleep(1000)"})
	fmt.Fprintf(out, "operator injection in a document: %v\n", err)
	_, err = db.Query(ctx, "agents", dbservice.Query{Where: []dbservice.Cond{{Field: "name", Op: "$where", Value: "1==1"}}})
	fmt.Fprintf(out, "operator injection in a query: %v\n", err)
	return nil
}

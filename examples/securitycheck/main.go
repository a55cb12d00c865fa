// Command securitycheck prints the security checklist report for the
// service the environment configures (the in-memory provider when
// DATABASE_PROVIDER is unset): every item of the security guide's
// checklist, as checked by the provider, by Guard and by securedb.Open, and
// how to check by hand what the library cannot see from inside.
//
//	go run ./examples/securitycheck          # aligned text table
//	go run ./examples/securitycheck -json    # for machines
//
// The exit status makes it a CI gate: 0 when no item fails, 1 when any
// item fails, 2 when the check could not run (bad flags or configuration,
// database unreachable). Warnings and skipped items do not fail the gate;
// read them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	_ "github.com/securedb-go/securedb/dbservice/all" // checks any provider DATABASE_PROVIDER names
	"github.com/securedb-go/securedb/masking"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitCannot = 2
)

func main() {
	// Audit records of the check's own calls go to stderr, masked like
	// every log of a service should be.
	slog.SetDefault(slog.New(masking.NewHandler(slog.NewJSONHandler(os.Stderr, nil), nil)))
	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "securitycheck:", err)
		os.Exit(exitCannot)
	}
	os.Exit(run(context.Background(), os.Args[1:], cfg, os.Stdout, os.Stderr))
}

// run checks the service cfg opens and writes the report to stdout. It
// returns the process exit status.
func run(ctx context.Context, args []string, cfg securedb.Config, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("securitycheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on the database after this long")
	if err := fs.Parse(args); err != nil {
		return exitCannot
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "securitycheck: unexpected arguments; see -h")
		return exitCannot
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	db, err := securedb.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "securitycheck:", err)
		return exitCannot
	}
	defer db.Close()
	// A database that does not answer cannot be checked; saying "pass"
	// or "skip" for it would mislead a pipeline.
	if err := db.Ping(dbservice.WithPrincipal(ctx, "securitycheck")); err != nil {
		fmt.Fprintln(stderr, "securitycheck:", err)
		return exitCannot
	}

	provider := cfg.Provider
	if provider == "" {
		provider = securedb.Memory
	}
	report := dbservice.NewReport(ctx, provider, db)
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "securitycheck:", err)
		return exitCannot
	}
	if report.HasFail() {
		return exitFail
	}
	return exitOK
}

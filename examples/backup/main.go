// Command backup runs a backup and restore drill: it exports the guide's
// collections from one service to a JSON Lines file, validates the whole
// file (dry run), imports it into a second service, and verifies that both
// hold the same documents. Then it shows a tampered backup being refused
// with the number of the bad line.
//
//	go run ./examples/backup                       # memory -> memory, demo data
//	SECUREDB_BACKUP_FROM=dynamodb SECUREDB_BACKUP_TO=memory go run ./examples/backup
//
// SECUREDB_BACKUP_FROM and SECUREDB_BACKUP_TO name the providers (memory
// when unset); each reads its own variables (COUCHDB_URL, DYNAMODB_REGION,
// FIRESTORE_PROJECT_ID, ...). A memory source is filled with demo data
// first. The target should start empty: documents it already holds show
// up as "extra" and fail the drill.
//
// Flags: -file PATH keeps the backup there (created 0600, never
// overwritten; by default a temporary file that is removed), -collections
// a,b,c, and -v to print the audit record of every call. The exit status
// is 0 when the restore verifies, 1 when it does not, 2 when the drill
// could not run.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	_ "github.com/securedb-go/securedb/dbservice/all" // the drill runs between any two providers
	"github.com/securedb-go/securedb/masking"
)

// guideCollections are the collections of the security guide's examples.
var guideCollections = []string{"agents", "deployments", "users", "sessions", "tickets", "demos"}

// Environment variables naming the two providers of the drill.
const (
	envFrom = "SECUREDB_BACKUP_FROM"
	envTo   = "SECUREDB_BACKUP_TO"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "keep the backup in this new file (default: a temporary file, removed afterwards)")
	colls := fs.String("collections", strings.Join(guideCollections, ","), "comma-separated collections to back up")
	verbose := fs.Bool("v", false, "print the audit record of every call to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	audit := slog.New(masking.NewHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}), nil))
	ctx = dbservice.WithPrincipal(ctx, "backup-drill")

	if err := drill(ctx, stdout, audit, *file, strings.Split(*colls, ",")); err != nil {
		fmt.Fprintln(stderr, "backup:", err)
		if errors.Is(err, errNotVerified) {
			return 1
		}
		return 2
	}
	return 0
}

var errNotVerified = errors.New("the restored service differs from the source")

func drill(ctx context.Context, out io.Writer, audit *slog.Logger, file string, colls []string) error {
	fromName, toName := providerEnv(envFrom), providerEnv(envTo)
	if fromName == toName && fromName != securedb.Memory {
		return fmt.Errorf("%s and %s both name %s: restore into another provider, or the drill compares a database with itself", envFrom, envTo, fromName)
	}
	from, err := open(ctx, fromName, audit)
	if err != nil {
		return fmt.Errorf("opening the source: %w", err)
	}
	defer from.Close()
	to, err := open(ctx, toName, audit)
	if err != nil {
		return fmt.Errorf("opening the target: %w", err)
	}
	defer to.Close()
	fmt.Fprintf(out, "== backup drill: %s -> %s\n", fromName, toName)

	if fromName == securedb.Memory {
		n, err := fillDemo(ctx, from, colls)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "stored %d demo documents in the memory source\n", n)
	}

	f, path, err := createBackupFile(file)
	if err != nil {
		return err
	}
	if file == "" {
		defer os.Remove(path)
	}
	defer f.Close()

	est, err := dbservice.Export(ctx, from, f, colls...)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "export: %d documents, %d bytes -> %s\n", est.Docs, est.Bytes, path)

	// A dry run first, so a damaged file is found before the target is
	// touched; Import itself commits batch by batch.
	opts := dbservice.ImportOptions{Collections: colls, DryRun: true}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dry, err := dbservice.Import(ctx, to, f, opts)
	if err != nil {
		return fmt.Errorf("the backup does not validate: %w", err)
	}
	fmt.Fprintf(out, "dry run: %d documents valid\n", dry.Docs)

	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	opts.DryRun = false
	ist, err := dbservice.Import(ctx, to, f, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "import: %d documents in %d batches\n", ist.Docs, ist.Batches)

	rep, err := dbservice.Verify(ctx, from, to, colls...)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "verify (a = source, b = restored):")
	for line := range strings.SplitSeq(rep.String(), "\n") {
		fmt.Fprintln(out, "  "+line)
	}
	if !rep.Equal() {
		return errNotVerified
	}
	fmt.Fprintln(out, "verify: ok")

	return tamperDrill(ctx, out, audit)
}

// tamperDrill shows a backup with an injected line being refused: the
// error names the line and never repeats it.
func tamperDrill(ctx context.Context, out io.Writer, audit *slog.Logger) error {
	scratch, err := securedb.Open(ctx, securedb.Config{Policy: dbservice.Policy{Audit: audit}})
	if err != nil {
		return err
	}
	defer scratch.Close()
	tampered := `{"collection":"agents","doc":{"_id":"a1","name":"ok"}}
{"collection":"agents","doc":{"_id":"../../etc/passwd","$where":"sleep(5000)"}}
`
	_, err = dbservice.Import(ctx, scratch, bytes.NewReader([]byte(tampered)), dbservice.ImportOptions{})
	if err == nil {
		return errors.New("a tampered backup was accepted")
	}
	fmt.Fprintln(out, "tampered backup refused:", err)
	return nil
}

// providerEnv reads a provider name; unset means memory.
func providerEnv(name string) string {
	if v := strings.ToLower(strings.TrimSpace(os.Getenv(name))); v != "" {
		return v
	}
	return securedb.Memory
}

// open opens a provider by name, configured by its own variables
// (COUCHDB_*, DYNAMODB_*, FIRESTORE_*), so both sides of the drill can be
// any provider whatever DATABASE_PROVIDER says.
func open(ctx context.Context, provider string, audit *slog.Logger) (dbservice.Service, error) {
	cfg, err := securedb.ConfigFromEnvFor(provider)
	if err != nil {
		return nil, err
	}
	cfg.Policy.Audit = audit
	return securedb.Open(ctx, cfg)
}

// createBackupFile creates path (or a temporary file) readable by its
// owner only: a backup holds every document. An existing file is never
// overwritten.
func createBackupFile(path string) (*os.File, string, error) {
	if path == "" {
		f, err := os.CreateTemp("", "securedb-backup-*.jsonl")
		if err != nil {
			return nil, "", err
		}
		return f, f.Name(), nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", err
	}
	return f, path, nil
}

// fillDemo fills a memory source with demo documents in every collection.
func fillDemo(ctx context.Context, db dbservice.Service, colls []string) (int, error) {
	n := 0
	for ci, c := range colls {
		count := 20 + 37*ci
		for i := range count {
			doc := dbservice.Doc{
				"name":   fmt.Sprintf("%s %d", strings.TrimSuffix(c, "s"), i),
				"active": i%4 != 0,
				"runs":   i * 3,
				"tags":   []string{"demo", c},
				"owner":  map[string]any{"id": fmt.Sprintf("team-%d", i%5)},
			}
			if _, err := db.Save(ctx, c, fmt.Sprintf("%s-%04d", c[:1], i), doc); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Command auditverify checks an audit trail written by package
// dbservice/audit and reports the first line where it breaks.
//
//	go run ./examples/auditverify                                 # a demonstration in a temporary directory
//	go run ./examples/auditverify -key "$(cat audit.vkey)" trail-1.jsonl trail-2.jsonl
//	go run ./examples/auditverify -genkey audit.example.com       # audit.example.com.key (secret) and .vkey
//
// With files, it verifies them as one trail, in the order given (rotated
// files oldest first), against the verifier key, and prints a summary. The
// exit status is 0 when the trail verifies, 1 when it breaks (or, with
// -strict, when records are unsigned or no key was given), 2 when it could
// not run.
//
// With no arguments it shows what the trail detects: it writes a small
// trail through Guard into two rotated files, verifies them, then tampers
// with copies (an edited, a deleted, a swapped and an inserted record, a
// cut tail, a forged checkpoint) and shows each detection, and checks a
// Merkle inclusion proof for one record.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// Exit statuses.
const (
	exitOK     = 0
	exitBroken = 1
	exitCannot = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", "verifier key (name+hash+key, from note.GenerateKey or -genkey)")
	strict := fs.Bool("strict", false, "also fail when records are after the last checkpoint or no key is given")
	genkey := fs.String("genkey", "", "write a new key pair NAME.key (signing, mode 0600) and NAME.vkey (verifier) to -dir")
	dir := fs.String("dir", ".", "where -genkey writes the keys")
	if err := fs.Parse(args); err != nil {
		return exitCannot
	}
	switch {
	case *genkey != "":
		return generate(*genkey, *dir, stdout, stderr)
	case fs.NArg() == 0 && *key == "":
		if err := demo(stdout); err != nil {
			fmt.Fprintln(stderr, "auditverify:", err)
			return exitCannot
		}
		return exitOK
	case fs.NArg() == 0:
		fmt.Fprintln(stderr, "auditverify: no trail files given")
		return exitCannot
	}
	var keys []string
	if *key != "" {
		keys = append(keys, strings.TrimSpace(*key))
	}
	rep, err := audit.VerifyFiles(fs.Args(), keys...)
	var b *audit.Break
	switch {
	case errors.As(err, &b):
		fmt.Fprintln(stdout, rep)
		return exitBroken
	case err != nil:
		fmt.Fprintln(stderr, "auditverify:", err)
		return exitCannot
	}
	fmt.Fprintln(stdout, rep)
	if *strict && !rep.Clean() {
		return exitBroken
	}
	return exitOK
}

// generate writes a key pair; it prints the paths and the verifier key,
// never the signing key.
func generate(name, dir string, stdout, stderr io.Writer) int {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		fmt.Fprintln(stderr, "auditverify:", err)
		return exitCannot
	}
	sk, vk := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".vkey")
	// O_EXCL: never overwrite a signing key, whose loss ends a trail.
	f, err := os.OpenFile(sk, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.WriteString(skey + "\n")
		err = errors.Join(err, f.Close())
	}
	if err == nil {
		err = os.WriteFile(vk, []byte(vkey+"\n"), 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "auditverify:", err)
		return exitCannot
	}
	fmt.Fprintf(stdout, "signing key:  %s (secret: give it to the service as SECUREDB_AUDIT_KEY, through a secret manager)\nverifier key: %s\n%s\n", sk, vk, vkey)
	return exitOK
}

// demo writes a trail in two files, verifies it, and shows what tampering
// looks like.
func demo(stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "auditverify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	skey, vkey, err := note.GenerateKey(rand.Reader, "demo.example.com")
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}

	// A service whose Guard writes a trail, checkpointed every 4 records,
	// rotated into a second file half way.
	var part1, part2 bytes.Buffer
	sink := audit.New(&part1, audit.Options{Signer: signer, CheckpointEvery: 4, CheckpointInterval: -1})
	db := dbservice.Guard(memory.New(), dbservice.Policy{AuditTrail: sink})
	ctx := dbservice.WithPrincipal(context.Background(), "alice")
	for i, id := range []string{"gofannon", "brigid", "lugh"} {
		if _, err := db.Save(ctx, "agents", id, dbservice.Doc{"n": i}); err != nil {
			return err
		}
	}
	_, _ = db.Get(ctx, "agents", "../../etc/passwd") // refused, and recorded as denied
	_, _ = db.Get(ctx, "agents", "brigid")
	if err := sink.Rotate(&part2); err != nil {
		return err
	}
	_ = db.Delete(ctx, "agents", "lugh")
	_, _ = db.Query(ctx, "agents", dbservice.Query{})
	_, _ = db.Get(ctx, "agents", "lugh") // not found
	if err := sink.Close(); err != nil {
		return err
	}
	files := []string{filepath.Join(dir, "trail-1.jsonl"), filepath.Join(dir, "trail-2.jsonl")}
	for i, b := range [][]byte{part1.Bytes(), part2.Bytes()} {
		if err := os.WriteFile(files[i], b, 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s and %s; the first records:\n", filepath.Base(files[0]), filepath.Base(files[1]))
	for _, l := range lines(part1.Bytes())[:2] {
		fmt.Fprintln(stdout, "  "+l)
	}
	rep, err := audit.VerifyFiles(files, vkey)
	fmt.Fprintf(stdout, "\nverify as written: %v\n", rep)
	if err != nil || !rep.Clean() {
		return fmt.Errorf("the trail as written does not verify: %w", err)
	}

	other, _, _ := note.GenerateKey(rand.Reader, "demo.example.com")
	otherSigner, _ := note.NewSigner(other)
	tampered := []struct {
		what string
		file int
		edit func([]string) []string
	}{
		{"edit record 1 (outcome ok -> denied)", 0, func(l []string) []string {
			l[1] = strings.Replace(l[1], `"outcome":"ok"`, `"outcome":"denied"`, 1)
			return l
		}},
		{"delete the record of the refused read", 0, func(l []string) []string { return append(l[:3:3], l[4:]...) }},
		{"swap two records", 1, func(l []string) []string { l[0], l[1] = l[1], l[0]; return l }},
		{"insert a copy of a record", 1, func(l []string) []string { return append(l[:2:2], append([]string{l[1]}, l[2:]...)...) }},
		{"cut the tail after the last checkpoint, with it", 1, func(l []string) []string { return l[:len(l)-2] }},
		{"re-sign the last checkpoint with another key", 1, func(l []string) []string {
			l[len(l)-1] = resign(l[len(l)-1], otherSigner)
			return l
		}},
	}
	fmt.Fprintln(stdout, "\ntampered copies:")
	for _, tc := range tampered {
		copies := []string{filepath.Join(dir, "t-1.jsonl"), filepath.Join(dir, "t-2.jsonl")}
		parts := [][]byte{part1.Bytes(), part2.Bytes()}
		parts[tc.file] = []byte(strings.Join(tc.edit(lines(parts[tc.file])), "\n") + "\n")
		for i := range copies {
			if err := os.WriteFile(copies[i], parts[i], 0o600); err != nil {
				return err
			}
		}
		rep, err := audit.VerifyFiles(copies, vkey)
		var b *audit.Break
		switch {
		case errors.As(err, &b):
			fmt.Fprintf(stdout, "  %-50s -> %s at %s:%d: %s\n", tc.what, b.Kind, filepath.Base(b.File), b.Line, b.Detail)
		case err != nil:
			return err
		case rep.Unsigned > 0:
			fmt.Fprintf(stdout, "  %-50s -> tail unsigned: %d records after the last checkpoint\n", tc.what, rep.Unsigned)
		default:
			return fmt.Errorf("%s went undetected", tc.what)
		}
	}

	// One record, proved to someone who has only the verifier key.
	p, err := audit.Prove(io.MultiReader(bytes.NewReader(part1.Bytes()), bytes.NewReader(part2.Bytes())), 3)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nproof for record 3 (%d hashes against a checkpoint): %v\n", len(p.Hashes), errOK(audit.CheckProof(p, vkey)))
	p.Record = strings.Replace(p.Record, `"outcome":"denied"`, `"outcome":"ok"`, 1)
	fmt.Fprintf(stdout, "the same proof for an edited record: %v\n", errOK(audit.CheckProof(p, vkey)))
	return nil
}

func errOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func lines(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// resign replaces the signature of a checkpoint line with signer's, as a
// forger with a key of the same name would.
func resign(line string, signer note.Signer) string {
	const prefix, suffix = `{"checkpoint":"`, `"}`
	text := strings.TrimSuffix(strings.TrimPrefix(line, prefix), suffix)
	text = strings.ReplaceAll(text, `\n`, "\n")
	body := text[:strings.Index(text, "\n\n")+1]
	signed, err := note.Sign(&note.Note{Text: body}, signer)
	if err != nil {
		return line
	}
	return prefix + strings.ReplaceAll(string(signed), "\n", `\n`) + suffix
}

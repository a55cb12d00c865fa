// Command secrets shows how securedb resolves credentials from secret
// references without ever printing them. It needs no setup: it sets an
// environment variable and writes a 0600 file in a temporary directory, then
// resolves references to both. AWS and Google references are only parsed and
// printed, because resolving them needs cloud credentials.
//
//	go run ./examples/secrets
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/secrets/awssm"
	"github.com/securedb-go/securedb/secrets/gcpsm"
)

func main() {
	// A password that differs on every run, so the output visibly never
	// depends on it.
	if err := run(context.Background(), os.Stdout, rand.Text()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer, password string) error {
	// The security guide's secret shape: one JSON document per database.
	doc := `{"url":"https://couchdb.internal:6984","username":"app","password":"` + password + `"}`
	if err := os.Setenv("EXAMPLE_COUCHDB", doc); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "securedb-secrets-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "couchdb.json")
	if err := os.WriteFile(file, []byte(doc+"\n"), 0o600); err != nil {
		return err
	}

	// env:// and file:// out of the box; cloud resolvers are registered
	// explicitly (mux.Register(awssm.Scheme, awssm.New(cfg))) so nothing here
	// talks to a network.
	r := secrets.Cache(secrets.Default(), secrets.Options{TTL: 5 * time.Minute, MaxStale: time.Hour})
	log := slog.New(slog.NewTextHandler(w, nil))

	fmt.Fprintln(w, "== resolving references (values print as [REDACTED]) ==")
	for _, ref := range []string{
		"env://EXAMPLE_COUCHDB#username",
		"env://EXAMPLE_COUCHDB#password",
		"file://" + filepath.ToSlash(file) + "#password",
	} {
		s, err := r.Resolve(ctx, ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-40.40s -> %v (%d bytes, %%#v %#v)\n", ref, s, len(s.Reveal()), s)
		log.Info("resolved", "ref", ref, "value", s)
	}

	fmt.Fprintln(w, "\n== Expand: a config value is resolved only when it is a reference ==")
	for _, value := range []string{"env://EXAMPLE_COUCHDB#url", "a-plain-password", "p@ss://word"} {
		s, err := secrets.Expand(ctx, r, value)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-28s -> %v, same as input: %v\n", value, s, s.Reveal() == value)
	}

	fmt.Fprintln(w, "\n== a password source for providers (refresh=true bypasses the cache after a 401) ==")
	src := secrets.Source(r, "env://EXAMPLE_COUCHDB#password")
	for _, refresh := range []bool{false, true} {
		p, err := src(ctx, refresh)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "refresh=%v -> %d-byte password\n", refresh, len(p))
	}

	fmt.Fprintln(w, "\n== errors name the reference and the key, never the value ==")
	for _, ref := range []string{"env://EXAMPLE_COUCHDB#token", "vault://kv/couchdb#password", "env://MISSING_VAR"} {
		_, err := r.Resolve(ctx, ref)
		fmt.Fprintf(w, "%v\n   not found: %v, invalid: %v\n", err,
			errors.Is(err, secrets.ErrNotFound), errors.Is(err, secrets.ErrInvalidRef))
	}
	if err := os.Chmod(file, 0o664); err != nil {
		return err
	}
	r.Invalidate("file://" + filepath.ToSlash(file) + "#password")
	_, err = r.Resolve(ctx, "file://"+filepath.ToSlash(file)+"#password")
	fmt.Fprintf(w, "after chmod 0664: insecure: %v\n", errors.Is(err, secrets.ErrInsecure))

	fmt.Fprintln(w, "\n== cloud references (parsed, not resolved) ==")
	a, err := awssm.ParseRef("awssm://arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf?version-stage=AWSCURRENT#password")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "AWS:    secret id %s, stage %s, key %s\n", a.SecretID, a.VersionStage, a.Key)
	g, err := gcpsm.ParseRef("gcpsm://projects/my-project/secrets/couchdb#password")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Google: version %s, key %s\n", g.Name(), g.Key)
	return nil
}

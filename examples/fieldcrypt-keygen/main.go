// Command fieldcrypt-keygen makes a new local key-encryption keyset for
// field encryption: one AES-256-GCM key in Tink's JSON format, the format
// localkek.Open reads. No Tink command-line tool is needed.
//
//	go run ./examples/fieldcrypt-keygen -out /run/secrets/kek.json
//	go run ./examples/fieldcrypt-keygen > kek.json   # stdout, as tinkey does
//
// With -out the file is created only if it does not exist yet, readable by
// its owner alone (0600), and the secret reference to use is printed on
// stderr. The keyset is cleartext: it is for development and tests; in
// production use a KMS key (packages awskms, gcpkms).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek"
)

func main() {
	out := flag.String("out", "", "file to create (mode 0600); empty writes the keyset to stdout")
	flag.Parse()
	if err := run(os.Stdout, os.Stderr, *out); err != nil {
		log.Fatal(err)
	}
}

func run(stdout, stderr io.Writer, out string) error {
	js, err := localkek.Generate()
	if err != nil {
		return err
	}
	kek, err := localkek.FromJSON(js, localkek.Options{Development: true})
	if err != nil {
		return err
	}
	if out == "" {
		_, err := stdout.Write(append(js, '\n'))
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	// O_EXCL: never replace an existing keyset, which would make every
	// data keyset it wraps unreadable.
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; refusing to replace a keyset", abs)
		}
		return err
	}
	if _, err := f.Write(append(js, '\n')); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stderr, "wrote a new keyset (%s) to %s\nsecret reference: file://%s\n", kek.ID(), abs, abs)
	return err
}

package localkek_test

import (
	"fmt"
	"log"

	"github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek"
)

// A development KEK from a freshly generated keyset. A program reads the
// keyset from a secret reference with Open instead, e.g.
// localkek.Open(ctx, secrets.Default(), "file:///run/secrets/kek.json", localkek.Options{Development: true}).
func ExampleFromJSON() {
	keysetJSON, err := localkek.Generate()
	if err != nil {
		log.Fatal(err)
	}
	kek, err := localkek.FromJSON(keysetJSON, localkek.Options{Development: true})
	if err != nil {
		log.Fatal(err)
	}
	wrapped, err := kek.Encrypt([]byte("a data keyset"), []byte("collection users"))
	if err != nil {
		log.Fatal(err)
	}
	unwrapped, err := kek.Decrypt(wrapped, []byte("collection users"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kek.Kind(), string(unwrapped))
	_, err = kek.Decrypt(wrapped, []byte("collection orders"))
	fmt.Println(err != nil)
	// Output:
	// local-keyset a data keyset
	// true
}

package fieldcrypt_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func ExampleNew() {
	ctx := context.Background()
	store := memory.New()
	kek := exampleKEK() // in production: AWS KMS, Google Cloud KMS or a local keyset
	fc, err := fieldcrypt.New(store, fieldcrypt.Config{
		KEK: kek,
		Collections: map[string]fieldcrypt.Fields{
			"users": {"email": fieldcrypt.Deterministic, "ssn": fieldcrypt.Randomized},
		},
	})
	if err != nil {
		panic(err)
	}
	svc := dbservice.Guard(fc, dbservice.Policy{})

	if _, err := svc.Save(ctx, "users", "alice", dbservice.Doc{"email": "alice@example.com", "ssn": "078-05-1120", "name": "Alice"}); err != nil {
		panic(err)
	}
	// Equality on a deterministic field is served on its ciphertext.
	page, _ := svc.Query(ctx, "users", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, "alice@example.com")}})
	fmt.Println(page.Docs[0]["ssn"], page.Docs[0]["name"])

	// The provider holds ciphertext only.
	stored, _ := store.Get(ctx, "users", "alice")
	fmt.Println(strings.HasPrefix(stored["ssn"].(string), "sdbenc:v1:r:"), stored["name"])

	// A range cannot be answered on ciphertext.
	_, err = svc.Query(ctx, "users", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Gt, "a")}})
	fmt.Println(dbservice.ErrorKind(err))
	// Output:
	// 078-05-1120 Alice
	// true Alice
	// invalid
}

package gcpkms_test

import (
	"context"
	"log"

	kms "cloud.google.com/go/kms/apiv1"

	"github.com/securedb-go/securedb/dbservice/fieldcrypt/gcpkms"
)

// A KEK for a Cloud KMS key, with Application Default Credentials. It
// needs Google Cloud credentials and a key, so it only compiles here.
func ExampleNew() {
	ctx := context.Background()
	client, err := kms.NewKeyManagementClient(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	kek, err := gcpkms.New(client, gcpkms.Config{
		KeyName: "projects/my-project/locations/europe-west1/keyRings/securedb/cryptoKeys/fields",
	})
	if err != nil {
		log.Fatal(err)
	}
	wrapped, err := kek.EncryptWithContext(ctx, []byte("a data keyset"), []byte("collection users"))
	if err != nil {
		log.Fatal(err) // matches dbservice.ErrUnavailable when Cloud KMS cannot be reached
	}
	_ = wrapped
}

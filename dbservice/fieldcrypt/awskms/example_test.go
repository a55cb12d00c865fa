package awskms_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/securedb-go/securedb/dbservice/fieldcrypt/awskms"
)

// A KEK for a key ARN, with the SDK's default credential chain. It needs
// AWS credentials and a key, so it only compiles here.
func ExampleNew() {
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	kek, err := awskms.New(kms.NewFromConfig(cfg), awskms.Config{
		KeyID: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	})
	if err != nil {
		log.Fatal(err)
	}
	wrapped, err := kek.EncryptWithContext(context.Background(), []byte("a data keyset"), []byte("collection users"))
	if err != nil {
		log.Fatal(err) // matches dbservice.ErrUnavailable when KMS cannot be reached
	}
	_ = wrapped
}

package awssm_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/secrets/awssm"
)

// ExampleNew registers AWS Secrets Manager next to env:// and file:// and
// caches answers. It needs AWS credentials, so it is compiled but not run.
func ExampleNew() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		log.Fatal(err)
	}
	mux := secrets.Default()
	mux.Register(awssm.Scheme, awssm.New(cfg))
	r := secrets.Cache(mux, secrets.Options{TTL: 5 * time.Minute, MaxStale: time.Hour})

	password, err := secrets.Expand(ctx, r, "awssm://prod/couchdb#password")
	if err != nil {
		log.Fatal(err) // names the reference, never the value
	}
	fmt.Println(password) // [REDACTED]
}

func ExampleParseRef() {
	for _, ref := range []string{
		"awssm://prod/couchdb#password",
		"awssm://arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf?version-stage=AWSPREVIOUS#password",
		"awssm://prod/couchdb?version_stage=AWSCURRENT",
	} {
		r, err := awssm.ParseRef(ref)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("id=%s stage=%q key=%s\n", r.SecretID, r.VersionStage, r.Key)
	}
	// Output:
	// id=prod/couchdb stage="" key=password
	// id=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf stage="AWSPREVIOUS" key=password
	// secrets: "awssm://prod/couchdb?version_stage=AWSCURRENT": invalid secret reference: unknown parameter "version_stage" for scheme awssm (allowed: version-stage, version-id)
}

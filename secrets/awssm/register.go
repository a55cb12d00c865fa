package awssm

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/securedb-go/securedb/secrets"
)

// Importing this package enables awssm:// references in securedb.Open:
// the resolver is built on first use, from the AWS SDK's default
// configuration chain (role, profile, environment).
func init() {
	secrets.RegisterOpener(Scheme, func(ctx context.Context) (secrets.Resolver, error) {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: loading the AWS configuration for awssm:// references: %w", secrets.ErrUnavailable, err)
		}
		return New(cfg), nil
	})
}

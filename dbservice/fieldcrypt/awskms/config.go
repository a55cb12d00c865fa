package awskms

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/secrets"
)

// Importing this package makes SECUREDB_FIELD_KEK=aws-kms://KEY (a key
// ARN or ID) open a KEK with the AWS SDK's default configuration
// (credentials chain, AWS_REGION; AWS_ENDPOINT_URL_KMS for another
// endpoint). The region of a key ARN wins over AWS_REGION, since the key
// lives there.
func init() { fieldcrypt.RegisterKEK(Kind, fromConfig) }

func fromConfig(ctx context.Context, keyID string, _ secrets.Resolver) (fieldcrypt.KEK, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if r := arnRegion(keyID); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// Without err: a shared config file's parser may quote its lines.
		return nil, fmt.Errorf("%w: awskms: the AWS SDK's default configuration does not load", dbservice.ErrInvalid)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: awskms: no region (give a key ARN or set AWS_REGION)", dbservice.ErrInvalid)
	}
	return New(kms.NewFromConfig(cfg), Config{KeyID: keyID})
}

// arnRegion is the region of a key ARN (arn:PARTITION:kms:REGION:...), or "".
func arnRegion(id string) string {
	p := strings.Split(id, ":")
	if len(p) >= 6 && p[0] == "arn" && p[2] == "kms" {
		return p[3]
	}
	return ""
}

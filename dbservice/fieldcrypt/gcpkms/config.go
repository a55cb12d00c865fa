package gcpkms

import (
	"context"
	"fmt"

	kms "cloud.google.com/go/kms/apiv1"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/secrets"
)

// Importing this package makes
// SECUREDB_FIELD_KEK=gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K
// open a KEK with a Cloud KMS client on Application Default Credentials.
// That client lives as long as the process: the configuration owns no
// Close.
func init() { fieldcrypt.RegisterKEK(Kind, fromConfig) }

func fromConfig(ctx context.Context, name string, _ secrets.Resolver) (fieldcrypt.KEK, error) {
	if !keyName.MatchString(name) {
		return nil, fmt.Errorf("%w: gcpkms: key name must be projects/P/locations/L/keyRings/R/cryptoKeys/K", dbservice.ErrInvalid)
	}
	c, err := kms.NewKeyManagementClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: gcpkms: no Cloud KMS client (Application Default Credentials)", dbservice.ErrUnavailable)
	}
	return New(c, Config{KeyName: name})
}

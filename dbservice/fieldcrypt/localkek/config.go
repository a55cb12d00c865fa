package localkek

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/secrets"
)

var configAllowed atomic.Bool

// AllowInConfiguration lets SECUREDB_FIELD_KEK=local-keyset:REF (REF a
// secret reference such as file:///run/secrets/kek.json) open a cleartext
// keyset. A program calls it in its code, where review sees it, as it
// would set [Options.Development]; without it such a configuration is an
// error matching dbservice.ErrInsecure. For development and tests only.
func AllowInConfiguration() { configAllowed.Store(true) }

func init() { fieldcrypt.RegisterKEK(Kind, fromConfig) }

func fromConfig(ctx context.Context, ref string, r secrets.Resolver) (fieldcrypt.KEK, error) {
	if !configAllowed.Load() {
		return nil, fmt.Errorf("%w: localkek: a cleartext keyset is for development only; the program must call localkek.AllowInConfiguration, or use a KMS key", dbservice.ErrInsecure)
	}
	if r == nil {
		r = secrets.Default()
	}
	return Open(ctx, r, ref, Options{Development: true})
}

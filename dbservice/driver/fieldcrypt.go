package driver

import (
	"context"
	"sync"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/secrets"
)

// FieldLayer is client-side field encryption that securedb.Open places
// between the security rules and the provider: a fieldcrypt.Config of
// package dbservice/fieldcrypt. Keeping it an interface links Tink only
// into programs that import that package.
type FieldLayer interface {
	// Layer returns next with the configured fields encrypted on their
	// way to it, or ErrInvalid for a bad configuration. It makes no
	// network call.
	Layer(next dbservice.Service) (dbservice.Service, error)
}

// FieldConfigOpener builds field encryption from configuration text: kek
// names the key-encryption key (SECUREDB_FIELD_KEK) and fields the
// encrypted fields (SECUREDB_FIELD_ENCRYPTION); r resolves secret
// references.
type FieldConfigOpener func(ctx context.Context, kek, fields string, r secrets.Resolver) (FieldLayer, error)

var (
	fieldMu     sync.RWMutex
	fieldOpener FieldConfigOpener
)

// RegisterFieldConfig makes securedb.Open able to configure field
// encryption from text (Config.FieldKEK, Config.EncryptedFields). Package
// dbservice/fieldcrypt calls it when imported, so that a program without
// field encryption does not link Tink or a KMS SDK.
func RegisterFieldConfig(o FieldConfigOpener) {
	fieldMu.Lock()
	defer fieldMu.Unlock()
	fieldOpener = o
}

// OpenFieldConfig builds field encryption with the registered opener; ok
// is false when no package registered one.
func OpenFieldConfig(ctx context.Context, kek, fields string, r secrets.Resolver) (layer FieldLayer, ok bool, err error) {
	fieldMu.RLock()
	o := fieldOpener
	fieldMu.RUnlock()
	if o == nil {
		return nil, false, nil
	}
	layer, err = o(ctx, kek, fields, r)
	return layer, true, err
}

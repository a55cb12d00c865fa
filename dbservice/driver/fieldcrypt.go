package driver

import "github.com/securedb-go/securedb/dbservice"

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

// Package securedb opens a document database the secure way: one
// [dbservice.Service] for CouchDB, Google Cloud Firestore, Amazon DynamoDB or
// an in-memory store, with credentials resolved from secret managers, every
// input validated before it reaches the database, and an audit record for
// every operation.
//
// # Security model
//
// securedb enforces by default what its security guide asks for and
// reports what it cannot enforce; docs/security-checklist.md in the
// repository walks the guide's fifteen checklist items. Providers refuse to send credentials over
// plain HTTP to a remote host (ErrInsecure), never print a password or a DSN
// with userinfo, and take passwords from a source that can be re-read after
// rotation. [dbservice.Guard] refuses hostile IDs, collection names outside
// an allowlist, NoSQL operator keys ($where, $gt), non-JSON values and
// oversize documents before any network call, and writes one structured
// audit record per operation to log/slog without document contents. The
// masking package keeps secrets out of the rest of the logs; secrets
// resolves env://, file://, awssm:// and gcpsm:// references. Providers that
// can inspect their deployment implement [dbservice.PostureChecker].
//
// # Providers are linked on import
//
// The root package links only the in-memory provider and the env:// and
// file:// secret resolvers. Every other provider, and every cloud secret
// resolver, registers itself with Open when its package is imported, as
// database/sql drivers do, so a program links only the SDKs it uses:
//
//	import (
//		"github.com/securedb-go/securedb"
//		_ "github.com/securedb-go/securedb/dbservice/couchdb" // DATABASE_PROVIDER=couchdb
//		_ "github.com/securedb-go/securedb/secrets/awssm"      // awssm:// references
//	)
//
// DATABASE_PROVIDER naming a provider the program did not import is
// dbservice.ErrInvalid with the import line to add. Package dbservice/all
// imports every provider and resolver at once; package dbservice/driver is
// the registry, for provider authors and for tests that register a fake.
// A provider's typed settings (couchdb.Config, dynamodb.Config,
// firestore.Config) go in [Config.Settings].
//
// # Tour
//
//	ctx := context.Background()
//	db, err := securedb.OpenFromEnv(ctx) // DATABASE_PROVIDER, memory by default
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer db.Close()
//
//	rev, err := db.Save(ctx, "agents", "gofannon", dbservice.Doc{"name": "Gofannon", "active": true})
//	doc, err := db.Get(ctx, "agents", "gofannon")
//	_, err = db.Save(ctx, "agents", "gofannon", doc, dbservice.IfRev(rev)) // ErrConflict if stale
//
//	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("active", dbservice.Eq, true)}}
//	for doc, err := range dbservice.All(ctx, db, "agents", q) {
//		// every matching document exactly once, one page in memory at a time
//	}
//
//	_, err = db.Get(ctx, "agents", "../../etc/passwd")
//	errors.Is(err, dbservice.ErrInvalid) // true, and nothing was sent
package securedb

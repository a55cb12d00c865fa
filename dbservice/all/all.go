// Package all links every provider and every secret resolver securedb
// ships, for a program that wants to choose among all of them at run time
// (DATABASE_PROVIDER) with one import:
//
//	import _ "github.com/securedb-go/securedb/dbservice/all"
//
// It registers the couchdb, dynamodb and firestore providers (memory is
// always there) and the awssm:// and gcpsm:// secret resolvers (env:// and
// file:// are always there). The price is the binary: every SDK is linked,
// the AWS SDK, the Google Cloud client libraries with gRPC, and kivik. A
// program that knows its provider imports only that provider's package
// instead, and the secret resolver package it uses.
package all

import (
	// Each import registers itself with securedb.Open in its init function.
	_ "github.com/securedb-go/securedb/dbservice/couchdb"
	_ "github.com/securedb-go/securedb/dbservice/dynamodb"
	_ "github.com/securedb-go/securedb/dbservice/firestore"
	_ "github.com/securedb-go/securedb/dbservice/memory"
	_ "github.com/securedb-go/securedb/secrets/awssm"
	_ "github.com/securedb-go/securedb/secrets/gcpsm"
)

// Package dynamodb stores securedb documents in Amazon DynamoDB, with the
// same behaviour as every other dbservice provider and DynamoDB's security
// features switched on by default.
//
// Each collection is one table, named TablePrefix+collection, with the hash
// key "_id" (a string). With CreateMissing (the default) the first write
// creates the table with on-demand billing and server-side encryption
// under KMS, waits until it is ACTIVE, then enables point-in-time recovery.
// DynamoDB Local has no point-in-time recovery API; there the table is
// created anyway and CheckPosture warns.
//
// Documents are items: strings, numbers (sent in strconv's shortest 'g'
// form, read back as float64), booleans, nulls, maps and lists map one to
// one, empty strings and empty maps included. "_rev" is an attribute the
// provider owns; IfAbsent and IfRev are condition expressions, so checking
// and writing is one atomic step. Before anything is sent, the provider
// refuses (ErrInvalid) what DynamoDB would refuse: items over MaxItemBytes
// counted DynamoDB's way, nesting beyond MaxNesting, and numbers outside
// DynamoDB's range (magnitudes 1E-130 to 1E+126), which would otherwise be
// rounded or rejected.
//
// EnsureIndex makes a global secondary index (unless Config.ScanOnly)
// on attributes the provider owns, holding dbservice.IndexKey text of the
// fields (with its control bytes written as printable pairs, which keeps
// the order and costs no JSON escapes), so that an indexed field may hold
// values of any type. Every
// item carries two such attributes per index (7-byte names, plus the
// keys), one fewer where another index holds the same key (every
// one-shard index shares the hash, and [a, b] sorts on b as [b] does),
// which DynamoDB stores and returns with the item, so each index makes
// every read of the collection a little dearer. Query
// reads it (Query on each shard of a one-field index, merged; Query on
// one partition of a multi-field index) for the plans dbservice.PlanQuery
// picks. Index reads are eventually consistent, as DynamoDB's global
// secondary indexes are. Other queries are Scans with a filter built from
// expression attribute names and values only. DynamoDB applies Limit
// before the filter, so Query scans on until the page is full;
// dbservice.Match re-checks every item on the client. Scan pages come in
// scan order, not ID order.
//
// The data API uses DynamoDB's native operations: Update is one
// UpdateItem whose condition expression checks the contract on the server
// (with a bounded read-modify-write on the revision for what UpdateItem
// cannot express, see Service.Update), GetMany is BatchGetItem, DeleteMany
// BatchWriteItem, Count a Scan with Select COUNT. An expiry is the
// ExpiresField text plus a TTL attribute (epoch seconds) on which tables
// the provider creates get DynamoDB's time to live; every read filters
// expired items too, since DynamoDB deletes them lazily. Service.As hands
// out the *dynamodb.Client.
//
// Requests go through the SDK's own HTTP client (awshttp.BuildableClient,
// with its connect, TLS handshake and read timeouts), and every API call,
// its retries included, is bounded by Config.CallTimeout (DefaultCallTimeout,
// 10 s): a hung server or a silent network costs a call ErrUnavailable, not
// a goroutine blocked forever.
//
// Credentials come from the AWS SDK's default chain (environment, profiles,
// SSO, web identity, ECS and EC2 roles); Config never holds keys as text.
// LeastPrivilegePolicy writes the IAM policy the application needs, and
// CheckPosture reports TLS, static access keys, encryption at rest and
// backups.
//
// Importing this package registers the provider with securedb.Open under
// the name dynamodb (DATABASE_PROVIDER=dynamodb); a dynamodb.Config in
// securedb.Config.Settings selects it too. A program that does not import
// it does not link its SDK.
package dynamodb

// Package firestore stores securedb documents in Google Cloud Firestore
// (or its emulator), with the same behaviour as every other dbservice
// provider and Firestore's own rules enforced before anything is sent.
//
// Each collection is a top-level Firestore collection named
// CollectionPrefix+collection; documents are stored at its top level, under
// their ID. Before any request the provider refuses (ErrInvalid) what
// Firestore would refuse or misread: IDs with '/' (which would address a
// document in another collection), "." and "..", names of the form __x__,
// IDs over 1500 bytes, documents over 1 MiB counted Firestore's way, and
// more than 20 levels of maps and arrays below a field.
//
// Documents map one to one onto Firestore values: strings, doubles (read
// back as float64, as are integers other writers store), booleans, nulls,
// maps and arrays. Firestore cannot store an array directly inside an
// array, which JSON allows, so such an array is stored as a one-entry map
// {"securedb.array": [...]} and turned back into an array on the way out.
// No caller document can contain that key (validate refuses '.' in field
// names); it costs one level of the 20-level nesting limit per nested
// array.
//
// "_rev" is the document's update time, encoded opaquely. IfRev becomes a
// LastUpdateTime precondition committed atomically with the write, and
// IfAbsent is Create, so check and write are one step on the server.
// Commits that Firestore aborts under contention are retried with bounded
// backoff.
//
// Queries are ordered by document ID and continue from the last ID
// returned, so paging is exactly-once. Equality, in and array-contains
// conditions are sent
// to Firestore; the rest are evaluated on the client with dbservice.Match
// (see Service.Query for why, and for indexes).
//
// The data API maps onto Firestore's own operations: Update is a read and
// a DocumentRef.Update of only the mutated field paths with a
// LastUpdateTime precondition on the version read (retried when another
// writer got in between), so the contract's type checks, which
// Firestore's transforms would skip, hold atomically; GetMany is
// Client.GetAll (one BatchGetDocuments); DeleteMany is batched commits of
// up to 500 deletes; Count is the count() aggregation query under a Limit
// of the scan budget + 1 where the filters sent decide the answer, else a
// walk of Query's pages; Contains is array-contains. Expiry is a
// timestamp in the field "_expires", which a TTL policy (EnsureExpiry,
// through the Admin API) lets Firestore delete; every read filters expired
// documents by the process clock as well, since TTL deletion runs up to a
// day late. As gives the *firestore.Client.
//
// Credentials come from Application Default Credentials, or from the file
// GOOGLE_APPLICATION_CREDENTIALS names; Config never holds them as text.
// CheckPosture reports the emulator, key files used instead of workload
// identity, key-file permissions and location, and what a server SDK
// cannot see (security rules, VPC Service Controls).
//
// Importing this package registers the provider with securedb.Open under
// the name firestore (DATABASE_PROVIDER=firestore); a firestore.Config in
// securedb.Config.Settings selects it too. A program that does not import
// it does not link its SDK.
package firestore

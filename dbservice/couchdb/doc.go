// Package couchdb stores securedb documents in Apache CouchDB through kivik
// v4, with the same behaviour as every other dbservice provider and
// CouchDB's own protections (authentication, TLS, per-database _security)
// switched on and checked.
//
// Each collection is one database named Prefix+collection. With
// CreateMissing (the default) the first write, or EnsureIndex, creates a
// missing database when the credentials are a server admin's; an
// application running, as it should, with a non-admin user gets a clear
// ErrForbidden telling it to run Provision. Provision, a separate step an
// operator runs with admin credentials, creates the databases and indexes,
// creates or updates the application user in _users, and sets each
// database's _security so that only that user (or its roles) and the server
// admins can use it.
//
// # Authentication
//
// New refuses to work without credentials, and refuses plain http:// to a
// host other than loopback (ErrInsecure) unless AllowInsecureHTTP is set.
// By default it logs in with a cookie session (POST /_session) and sends the
// AuthSession cookie: the password crosses the network once per session
// rather than with every request, and CouchDB hashes it (pbkdf2 with 600000
// iterations by default, about 0.2 s of server CPU) once per login rather
// than whenever its credential cache misses. AuthBasic sends the password
// with every request instead. The password comes from a
// PasswordSource, so a secret manager can rotate it: when CouchDB answers 401
// the provider asks the source again with refresh set (bypassing any cache),
// logs in once more and retries the call once; concurrent calls share that
// one login. A password that is still wrong gives ErrUnauthorized, without a
// retry loop.
//
// Not every 401 is a dead credential: a validate_doc_update function that
// throws {unauthorized: ...} is answered with 401 too. The provider asks
// GET /_session with the same cookie (in Basic mode it reads CouchDB's
// fixed "Name or password is incorrect." reason) and, while the session is
// valid, reports the refusal as ErrForbidden, with no login, no password
// refresh and no retry. Refused logins back off (1 s, 4 s, 16 s, ... up to
// 5 min; calls in between fail at once with the same ErrUnauthorized,
// without a request or a refresh), and at most 3 passwords are refused in
// any 5 min 10 s: CouchDB 3.5's [chttpd_auth_lockout] (on by default:
// mode = enforce, threshold = 5, max_lifetime = 300000 ms, per user and
// client IP) locks a user out, the right password included, after more
// than 5 refusals within 5 minutes, so the provider alone never triggers
// it. Other instances of the application sharing the user and IP, and
// calls in flight with a stale Basic credential, count towards the same
// threshold.
//
// The provider talks to kivik without credentials in its DSN: they live only
// in its own http.RoundTripper, so kivik's Client.DSN() holds none and is
// never exposed anyway. Errors are built from status codes and CouchDB's
// fixed error names, never from server or transport text that could carry a
// URL with userinfo, a password or document content; printing a Config or a
// Spec shows no password. A COUCHDB_URL with user:password@ is accepted (many
// hosted CouchDB services hand out such URLs): the userinfo is moved into
// User and the password source, and never printed.
//
// # Documents and revisions
//
// Revisions are CouchDB's _rev. Save without options is an upsert: it sends
// the revision it last saw for the document (a small in-memory cache) and,
// on 409, reads the current revision and tries again, a bounded number of
// times. IfAbsent is a PUT without a revision. IfRev first checks that the
// document exists with that revision, because CouchDB accepts a PUT with an
// invented revision for a document that never existed and would create it;
// any revision that is not current, including garbage CouchDB calls an
// "Invalid rev format", is ErrConflict. CouchDB reserves document IDs that
// start with '_': such IDs (valid in securedb) are stored as "~"+ID and
// returned unchanged.
//
// # Queries
//
// EnsureIndex(coll, fields...) makes an ordered index: a JavaScript view
// with raw collation in its own design document, _design/securedb-ix- and a
// hash of the fields (the field list is recorded in it, so any process and
// any node of a cluster finds it). Its map function emits, for each document
// that holds every field, one key: dbservice.IndexKey of each value and then
// of the ID, concatenated. Raw collation compares keys as UTF-8 bytes, which
// is dbservice.Compare's order of the values, then the ID, exactly; so a
// query with equalities on the index's leading fields, a range on the next
// one (bounded by its value's type: a range compares only values of one
// type) and an order that is the remaining fields reads one key range of the
// view, forwards or backwards, and nothing else (see dbservice.PlanQuery).
// The cursor is the last key read, and a page reads its documents plus one.
// EnsureIndex queries the new view once so that CouchDB builds it before
// EnsureIndex returns rather than on the first Query; the view is then kept
// current on each query. Mango indexes are not used: Mango collates strings
// with ICU, which is not the contract's order.
//
// Query without conditions reads _all_docs from a start key. Other queries
// no index serves use Mango's _find on a budgeted _id range, with the
// conditions pushed down only where Mango's meaning is the same as
// dbservice.Match's or wider: Mango compares strings with ICU collation
// ("Bob" sorts after "alice") and orders values of different types against
// each other (a $gt of 5 matches every string), so range conditions are sent
// as a type check plus, for numbers, the bound; string ranges, $ne on
// strings and $exists false on nested paths are left to the client. Those
// pages are in _id order (CouchDB's raw collation) and the cursor is the last
// _id read. dbservice.Match re-checks every document on every path, and
// paging is exactly-once under concurrent writes to other documents.
// Orders no index serves are sorted on the client (dbservice.SortedPage).
//
// # The data API
//
// CouchDB has no partial update without a design document, so Update
// reads the document, applies the mutations with dbservice.ApplyMutations
// and writes the result at the revision read (a GET and a PUT when
// uncontended); a 409 reads again, at most 128 times. Updates of one
// document by one Service take turns in-process, so a hot counter does not
// lose rounds to its own process; across processes the loop settles it. On
// a cluster the write takes the settled conditional path of Save with
// IfRev, so no update is lost there either. GetMany is one POST _all_docs
// with keys and include_docs; DeleteMany one _all_docs for the revisions
// and one _bulk_docs of deletions. Count walks Query's pages with only the
// fields the conditions need (dbservice.CountPages) under the scan budget:
// Mango has no count, and a _count view could neither skip documents by an
// expiry that depends on the clock nor evaluate the conditions. Contains is
// pushed down as $elemMatch with $eq; Prefix only as a string type check,
// because Mango's $beginsWith compares collated text (prefix "e" does not
// select "e\u0301x") and would drop matches. Field names holding "." are
// sent as Mango's `\.`; a name Mango cannot express (one starting with "$"
// or holding "\") leaves its condition to the client and cannot be indexed.
//
// Expiry: a document saved or updated with dbservice.ExpiresAt carries the
// instant in a stored field whose name starts with a control character, so
// no caller document, path or query can reach it; reads present it as
// _expires. Every read compares it with the process clock, so an expired
// document is absent from that instant for every operation.
// SweepExpired (dbservice.Sweeper) reclaims them: one _find for the
// expired documents, one _bulk_docs to delete them. Run it periodically.
//
// As reaches the *kivik.Client underneath (see dbservice.As); what is done
// with it bypasses this library's checks and sees the stored form.
//
// # Posture
//
// CheckPosture reports TLS, whether anonymous requests can act as admin
// (admin party), list databases or read or write the collections' databases,
// whether the application's credentials are a server admin's, empty
// _security objects, require_valid_user, and a CouchDB older than 3.
//
// Importing this package registers the provider with securedb.Open under
// the name couchdb (DATABASE_PROVIDER=couchdb); a couchdb.Config in
// securedb.Config.Settings selects it too. A program that does not import
// it does not link its SDK.
package couchdb

// Package rules enforces security rules in the shape of Firestore's rules
// language, in-process, on every provider.
//
// Firestore's rules bind only its web and mobile client SDKs: the server
// libraries, Go's included, run with full access. CouchDB's _security is
// per database and DynamoDB's IAM conditions bind an AWS identity, not the
// service's end user. A Go service that serves many users from one
// database therefore has no rules engine on any backend; this package is
// one, between Guard and the provider:
//
//	rs, err := rules.LoadFile("firestore.rules")
//	svc := dbservice.Guard(rules.Enforce(provider, rs), policy)
//	ctx = dbservice.WithAuth(ctx, dbservice.Auth{UID: uid, Claims: claims})
//
// securedb.Open builds the same stack when Config.Rules (or
// SECUREDB_RULES naming a file) is set.
//
// # The language
//
//	rules_version = '2';
//	service cloud.firestore {
//	  match /databases/{database}/documents {
//	    match /users/{userId} {
//	      allow read, write: if request.auth.uid == userId;
//	    }
//	    match /{document=**} {
//	      allow read, write: if request.auth.token.email == "svc@example.iam.gserviceaccount.com";
//	    }
//	  }
//	}
//
// Match blocks name one collection (/users/{userId}), any collection
// (/{coll}/{id}) or every document (/{document=**}); the rules_version,
// service and databases wrappers are optional. Statements are `allow
// <methods>: if <condition>;` (or `allow <methods>;` for always), with the
// methods get, list, create, update, delete and the groups read (get,
// list) and write (create, update, delete). What no statement allows is
// denied. Several matching statements are alternatives: one that holds is
// enough.
//
// Conditions are CEL (cel.dev/cel-go), the language Firestore's rules are
// built on, over these variables:
//   - request.auth: null when unauthenticated, else uid and token (the
//     claims of dbservice.Auth);
//   - request.resource.data: the document as it would be after the write
//     (for Update, the stored document after the mutations);
//   - resource.data and resource.id: the stored document (system fields
//     such as _id and _rev are not in data), null when there is none;
//   - request.time (a timestamp), request.method, request.path,
//     request.query.limit (list);
//   - the path variables of the match.
//
// A condition that fails to evaluate (a missing field, request.auth.uid
// when unauthenticated) is false: rules fail closed. Every condition runs
// under a CEL cost budget (CostLimit); a condition whose estimated worst
// case exceeds it is refused at load, with its line and column, and one
// that exceeds it at run time is denied. Compiled programs are cached in
// the Ruleset and safe for concurrent use.
//
// # Enforcement
//
//   - get: decided against the stored document. A missing document is
//     decided with resource null, so a denied read and a missing document
//     answer alike (ErrForbidden) unless the rule allows seeing absence.
//   - create and update are told apart by reading the document (skipped
//     when the rules read neither document and agree on both). The write
//     is then conditional on what was checked: IfAbsent for a create, IfRev
//     of the revision read for an update or delete, so a write that slips
//     in between makes the call ErrConflict instead of being overwritten.
//   - list (Query, All, Count): rules are not filters. A query is allowed
//     only when a list rule holds for every document it could return,
//     decided before it runs by partial evaluation: what the query's
//     equality conditions pin is known, every other field the rule reads is
//     unknown, and the rule must evaluate to true regardless. For
//     resource.data.owner == request.auth.uid the query must carry
//     Where("owner", Eq, uid); for request.auth.uid == userId it must carry
//     Where("_id", Eq, uid). Otherwise the call is ErrForbidden naming the
//     missing conditions (never their values). Each returned document is
//     still checked, and one that fails is an error, never a silent drop.
//   - GetMany and DeleteMany decide get or delete per ID; one denied ID
//     fails the whole call before anything is returned or deleted.
//   - A projection is widened to the fields the rules read and narrowed
//     after the check, so it cannot hide a field from the check.
//   - Page cursors are bound to the principal: a cursor issued to one user
//     is ErrInvalid for another.
//   - The rule that allowed or denied a call (file:line) is noted for
//     Guard's audit record (attribute dbservice.AuditRuleKey).
//
// Package rulestest tests rules in plain Go tests.
//
// # Differences from Firestore
//
// Supported: match blocks of flat collections, the recursive wildcard at
// the top, allow with the five methods and two groups, CEL conditions with
// the standard functions and macros (size, in, has, exists, all, matches,
// startsWith, timestamp, duration), the variables above. Not supported
// (refused at load): functions, nested matches (subcollections), paths of
// other depths, get() and exists() (cross-document reads), Firestore's
// own library (request.resource.data.diff, keys().hasAll, the rules.*
// namespaces, the `is` type test), and let bindings. Document values
// compare as JSON values: numbers are float64 (1 == 1.0 holds), times are
// strings, not timestamps. A list rule that reads request.query.limit
// denies Count, which has no limit. Only equality conditions pin a field
// for list decisions (Firestore also reasons about in and ranges).
package rules

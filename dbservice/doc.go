// Package dbservice defines the one document-store contract every securedb
// provider implements, and the middleware that makes any of them safe to
// expose.
//
// A [Service] stores JSON documents ([Doc]) by collection and ID. Providers
// live in sub-packages (memory, couchdb, dynamodb, firestore) and all behave
// the same: the same document in gives the same document out, conditional
// writes ([IfRev], [IfAbsent]) report [ErrConflict], queries ([Query]) use
// the same operators with the same type rules, and pages ([Page]) carry an
// opaque cursor that walks every matching document exactly once. The
// package-level [All] turns pages into an iter.Seq2.
//
// [Guard] wraps any Service with the security guide's input validation
// (collection allowlist, ID rule, document limits, read-only collections)
// and writes one structured audit record per operation to a log/slog
// logger: operation, collection, ID, principal ([WithPrincipal]), outcome,
// error kind and duration, never document contents.
//
// Errors are wrapped in [*Error] and match the sentinels ([ErrNotFound],
// [ErrConflict], [ErrInvalid], ...) with errors.Is; [HTTPStatus] maps them to
// status codes. No error string contains a credential or a whole document.
//
// [CheckPosture] turns the security guide's checklist into findings about a
// running service ([Report] renders them), and [Export], [Import], [Copy]
// and [Verify] run backup and restore drills between any two providers in
// constant memory.
//
// Providers use [CheckCall], [CheckCollection], [CheckID], [NormalizeDoc], [CheckQuery],
// [Match] and a [CursorSigner] so that validation and semantics are shared
// rather than re-implemented.
package dbservice

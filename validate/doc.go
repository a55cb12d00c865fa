// Package validate stops hostile or oversize input before it reaches a database.
//
// It checks document IDs ([IDRule]), collection names ([CollectionName],
// [Allowlist]), documents ([Sanitize] with [Limits]), query field paths and
// operators ([FieldPath], [QueryValue]) and opaque cursors ([Cursor]). Every
// refusal is an [*Error] that wraps [ErrInvalid], so callers test it with
// errors.Is(err, validate.ErrInvalid). Error messages quote at most a short,
// escaped prefix of the offending value, never the whole input.
//
// The rules follow the security guide the library implements (see
// docs/security-checklist.md): document IDs match ^[a-zA-Z0-9_-]+$ and are
// at most 100 bytes long, system fields (keys
// starting with "_") dropped from caller documents, and keys starting with "$"
// refused because they are NoSQL operator injection on CouchDB and MongoDB-like
// backends. Names are chosen so that one value is valid on every backend
// (CouchDB, Firestore, DynamoDB and memory), which keeps behaviour identical.
//
// This package imports nothing else from securedb.
package validate

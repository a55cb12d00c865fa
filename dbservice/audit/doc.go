// Package audit is a tamper-evident audit trail that dbservice.Guard writes
// to (set dbservice.Policy.AuditTrail to a *Sink).
//
// Each operation becomes one JSON Lines record: a sequence number, the time,
// the fields of Guard's slog audit record (op, collection, id, principal,
// outcome, error_kind, count, duration; never a document or query value)
// and "prev", the SHA-256 of the line before it. Editing, deleting,
// inserting, reordering or repeating a line breaks that hash chain at the
// line. Every CheckpointEvery records, every CheckpointInterval and on Close
// and Rotate, the Sink writes a checkpoint: a note in the signed-note format
// of golang.org/x/mod/sumdb/note, signed with Ed25519, naming the number of
// records, the root of a golang.org/x/mod/sumdb/tlog Merkle tree over them
// and the head of the chain. Rewriting the whole chain to hide an edit then
// needs the signing key; Prove and CheckProof show that one record is in the
// signed tree without handing over the rest of the trail.
//
// Verify and VerifyFiles read a trail (across rotated files) and report the
// first line where it breaks. What a trail cannot show: records after the
// last checkpoint can be cut off without a trace beyond "tail unsigned"
// (Report.Unsigned); a trail cut back to an earlier checkpoint looks whole
// unless the operator kept a later checkpoint elsewhere; and whoever holds
// the signing key can write a new history.
package audit

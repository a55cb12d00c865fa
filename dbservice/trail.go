package dbservice

import (
	"context"
	"time"
)

// AuditTrail is a tamper-evident record of operations that Guard writes to
// besides (or instead of) Policy.Audit. Package dbservice/audit implements
// it; the interface lives here so that dbservice does not depend on it.
//
// Guard calls Ready before an operation reaches the provider and Append
// once the operation has ended, with its outcome. An error from either
// becomes the operation's error: that is how a fail-closed trail stops
// the service from acting without leaving a record. A fail-open trail
// returns nil from both and counts its failures itself.
type AuditTrail interface {
	// Ready reports whether an operation may start. A fail-closed trail
	// that could not write an earlier record refuses every operation until
	// it is repaired, so that no write happens unrecorded.
	Ready() error
	// Append records one operation that has ended.
	Append(ctx context.Context, rec AuditRecord) error
	// TrailInfo says what the trail can prove, for the posture report.
	TrailInfo() AuditTrailInfo
}

// AuditRecord is what Guard tells an AuditTrail about one operation: the
// fields of its slog audit record and never a document or query value.
type AuditRecord struct {
	// Op is the operation: get, save, delete, query, ensure-index, ping,
	// save-many.
	Op string
	// Collection is the collection name, or a short escaped excerpt of a
	// name the policy refused.
	Collection string
	// ID is the document ID, or "(refused)" for an ID the policy refused.
	ID string
	// Principal is what WithPrincipal put in the context. The caller chose
	// it, so a trail treats it as untrusted text.
	Principal string
	// Outcome is ok, rejected (not found, conflict), denied (invalid,
	// forbidden, unauthorized, insecure) or error.
	Outcome string
	// ErrorKind is ErrorKind of the operation's error, "" on success.
	ErrorKind string
	// Count is the number of documents a query returned; HasCount says
	// whether the operation returns a count at all.
	Count    int
	HasCount bool
	// Duration is how long the operation took.
	Duration time.Duration
}

// AuditTrailInfo describes an AuditTrail for the audit-logging posture
// finding.
type AuditTrailInfo struct {
	// Chained: each record carries the hash of the one before it, so an
	// edit, deletion or insertion breaks the chain.
	Chained bool
	// Signed: checkpoints sign the head of the chain, so rewriting the
	// whole chain needs the signing key. SignerName names the key.
	Signed     bool
	SignerName string
	// CheckpointEvery and CheckpointInterval say how often checkpoints are
	// written (0: never by that measure).
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// FailClosed: an operation fails when its record cannot be written.
	FailClosed bool
}

package dbservice

import (
	"context"
	"time"
)

// Doc is a document in the JSON data model: string, float64, bool, nil,
// []any and map[string]any. Documents a Service returns carry "_id" and
// "_rev" (an opaque string); documents a caller saves must not set keys
// starting with "_" (they are dropped) or "$" (refused).
type Doc = map[string]any

// Service is a document store. Every provider implements it with the same
// behaviour; dbtest.Run is the proof. Methods are safe for concurrent use.
type Service interface {
	// Get returns the document, or ErrNotFound.
	Get(ctx context.Context, collection, id string) (Doc, error)
	// Save stores doc under id, replacing any previous version entirely
	// (upsert, last writer wins) unless IfRev or IfAbsent make it
	// conditional. It returns the new revision.
	Save(ctx context.Context, collection, id string, doc Doc, opts ...WriteOption) (rev string, err error)
	// Delete removes the document; ErrNotFound when there is none.
	Delete(ctx context.Context, collection, id string, opts ...WriteOption) error
	// Update changes fields of the stored document atomically, without
	// replacing it: every mutation applies, in order, or none (see
	// Mutation and ApplyMutations for the semantics). A missing document is
	// ErrNotFound unless Upsert is given; IfRev makes it conditional;
	// ExpiresAt sets a new expiry. It returns the new revision.
	Update(ctx context.Context, collection, id string, mods []Mutation, opts ...WriteOption) (rev string, err error)
	// GetMany reads the documents with the given IDs (at most MaxBatch, none
	// twice): docs holds the ones found, in the order of ids, and missing
	// the IDs that have no document, in the order of ids. An invalid ID
	// anywhere in ids is ErrInvalid before any request.
	GetMany(ctx context.Context, collection string, ids []string) (docs []Doc, missing []string, err error)
	// DeleteMany removes the documents with the given IDs (at most
	// MaxBatch, none twice); IDs with no document are skipped, so a retry
	// after an error is safe. It is not atomic across documents: after an
	// error some may be deleted. An invalid ID anywhere in ids is
	// ErrInvalid and deletes nothing.
	DeleteMany(ctx context.Context, collection string, ids []string) error
	// Count returns how many documents match where (conditions as in
	// Query.Where). It reads at most the scan budget (see ScanBudget) of
	// documents or index entries; a count that needs more returns the
	// number counted so far, a lower bound, with an error that wraps
	// ErrBudgetExceeded.
	Count(ctx context.Context, collection string, where []Cond) (int, error)
	// Query returns one page of the documents that match q.
	Query(ctx context.Context, collection string, q Query) (Page, error)
	// EnsureIndex makes queries on fields efficient where the backend needs
	// an index. It is idempotent.
	EnsureIndex(ctx context.Context, collection string, fields ...string) error
	// Ping checks that the database answers with the configured credentials.
	Ping(ctx context.Context) error
	// Close releases the Service's resources; later calls return ErrClosed.
	Close() error
}

// Op is a condition operator.
type Op string

// The operators every provider implements. Comparisons never cross types: a
// number never equals or orders against a string, and strings order by
// their UTF-8 bytes.
const (
	// Eq: the field is present and equal to Value (string, number, bool or
	// nil; nil matches an explicit null).
	Eq Op = "eq"
	// Ne: the field is present, not null, and not equal to Value.
	Ne Op = "ne"
	// Gt, Gte, Lt, Lte: the field holds a value of Value's type (number or
	// string) that orders after, after or equal, before, before or equal.
	Gt  Op = "gt"
	Gte Op = "gte"
	Lt  Op = "lt"
	Lte Op = "lte"
	// In: the field equals one of Value's elements (a slice of at most 30
	// strings, numbers, bools or nils).
	In Op = "in"
	// Exists: with Value true the field is present (null counts); with false
	// it is absent.
	Exists Op = "exists"
	// Contains: the field is an array with an element equal to Value (a
	// string, number, bool or nil), like Firestore's array-contains.
	Contains Op = "contains"
	// Prefix: the field is a string that starts with Value (a string); the
	// empty prefix matches every string. Served as a range on an index.
	Prefix Op = "prefix"
)

// Cond is one condition of a query on a dotted field path ("owner.id").
// "_id" is the only system field that can be queried.
type Cond struct {
	Field string
	Op    Op
	Value any
}

// Where is shorthand for Cond{field, op, value}.
func Where(field string, op Op, value any) Cond {
	return Cond{Field: field, Op: op, Value: value}
}

// Query selects documents of one collection.
type Query struct {
	// Where holds conditions that must all hold; empty lists every document.
	Where []Cond
	// OrderBy sorts the results by these keys, in the order of [Compare],
	// then by "_id" in the direction of the last key. Only documents that
	// hold every OrderBy field (null counts) are returned, as with
	// Firestore's own ordering. Empty means "_id" ascending.
	OrderBy []Order
	// Fields projects the result to these dotted paths; "_id" and "_rev" are
	// always returned. Empty returns whole documents.
	Fields []string
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// Cursor continues from a previous Page.Next. It is user input and is
	// validated: a cursor from another query or collection is ErrInvalid.
	Cursor string
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of query results. Next is "" after the last page. A page
// may be short, or empty, and still have a Next: that happens when the scan
// budget (see [ScanBudget]) ran out before the page was full, and on
// DynamoDB when an index served a full page, since finding out whether
// another match follows would cost every page a read it does not return;
// the page Next leads to is then empty when nothing followed.
type Page struct {
	Docs  []Doc
	Next  string
	Stats Stats
}

// Stats says what one Query call cost.
type Stats struct {
	// Read is how many documents the provider read from the database to
	// answer the call (what a backend that bills per read charges for).
	Read int
	// Returned is len(Docs).
	Returned int
	// Index names the index that served the conditions or the order, or is
	// "" when the call scanned the collection in ID order.
	Index string
	// BudgetReached reports that the call stopped at its scan budget; Next
	// continues where it stopped.
	BudgetReached bool
}

// WriteOption makes a Save or Delete conditional.
type WriteOption func(*WriteOptions)

// WriteOptions is the resolved form of a list of WriteOption; providers get
// it from ApplyWriteOptions.
type WriteOptions struct {
	// IfRev, when set, makes the write succeed only if the stored revision
	// is exactly this one; otherwise ErrConflict.
	IfRev string
	// IfAbsent makes a Save succeed only when no document has the ID;
	// otherwise ErrConflict.
	IfAbsent bool
	// Upsert makes an Update of a missing document create it.
	Upsert bool
	// ExpiresAt, when not zero, is when the written document expires (see
	// ExpiresAt); always in UTC and truncated to the microsecond, so every
	// backend stores the same instant.
	ExpiresAt time.Time

	// expirySet records that ExpiresAt was given, so a zero time is refused
	// rather than read as no expiry.
	expirySet bool

	// ifRevSet records that IfRev was given, so that IfRev("") is refused
	// rather than read as no condition at all.
	ifRevSet bool
}

// IfRev makes the write conditional on the document's current revision
// (optimistic concurrency). A stale revision, a revision of a deleted or
// missing document, or one this provider never issued gives ErrConflict.
// An empty rev is ErrInvalid: it would otherwise make the write
// unconditional, the very thing the caller asked to prevent.
func IfRev(rev string) WriteOption {
	return func(o *WriteOptions) { o.IfRev, o.ifRevSet = rev, true }
}

// IfAbsent makes Save create the document only if it does not exist yet;
// otherwise ErrConflict.
func IfAbsent() WriteOption {
	return func(o *WriteOptions) { o.IfAbsent = true }
}

// BulkItem is one document of a bulk write.
type BulkItem struct {
	ID  string
	Doc Doc
}

// BulkWriter is implemented by providers with a native bulk write path
// (CouchDB _bulk_docs, DynamoDB BatchWriteItem, Firestore BulkWriter).
// Import uses it when present. SaveMany upserts every item; it validates all
// items before writing any, so invalid input writes nothing.
type BulkWriter interface {
	SaveMany(ctx context.Context, collection string, items []BulkItem) error
}

// Status is the outcome of one posture check.
type Status string

// Posture statuses.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	// Skip: the library cannot see this from inside; Fix says how to check.
	Skip Status = "skip"
)

// Finding is one item of the security checklist as seen on a deployment.
type Finding struct {
	ID     string `json:"id"` // stable: "auth-enabled", "tls", "least-privilege", ...
	Title  string `json:"title"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// PostureChecker is implemented by providers that can inspect their own
// deployment (TLS, authentication, encryption at rest, backups, ...).
type PostureChecker interface {
	CheckPosture(ctx context.Context) []Finding
}

// Wrapper is implemented by middleware such as Guard so that callers can
// reach the provider underneath (to find a PostureChecker, for example).
type Wrapper interface {
	Unwrap() Service
}

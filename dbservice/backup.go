package dbservice

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/securedb-go/securedb/validate"
)

// The backup format is JSON Lines: one {"collection": name, "doc": {...}}
// object per line, the document with its "_id" and without "_rev" (a
// revision means nothing to another database). Export writes it, Import
// reads it, Copy pipes one into the other and Verify compares two services.
// All of them stream: memory is bounded by one page or one batch, whatever
// the size of the data.

// Backup tuning. Pages of 500 keep round trips few without holding much;
// batches of 100 match the bulk APIs (DynamoDB writes 25 per call,
// CouchDB and Firestore take more), and a line of 1 MiB is four times the
// largest document the default limits admit.
const (
	// ExportPageSize is the page size Export and Verify read with.
	ExportPageSize = 500
	// DefaultImportBatch is ImportOptions.BatchSize's default.
	DefaultImportBatch = 100
	// MaxImportBatch is the largest ImportOptions.BatchSize.
	MaxImportBatch = 1000
	// DefaultMaxLineBytes is ImportOptions.MaxLineBytes's default.
	DefaultMaxLineBytes = 1 << 20
	// MaxListedIDs bounds each ID list of a CollectionDiff.
	MaxListedIDs = 20
)

// maxBatchBytes bounds the input bytes one batch holds, so a batch of
// large documents cannot take BatchSize × MaxLineBytes of memory.
const maxBatchBytes = 8 << 20

// maxLineLimit bounds ImportOptions.MaxLineBytes.
const maxLineLimit = 64 << 20

// backupLine is one line of the format. Field order is the output order.
type backupLine struct {
	Collection string `json:"collection"`
	Doc        Doc    `json:"doc"`
}

// ExportStats says what Export wrote.
type ExportStats struct {
	// Docs is the number of documents (lines) written.
	Docs int64
	// Bytes is the number of bytes written.
	Bytes int64
}

// Export writes every document of the named collections to w as JSON
// Lines, one {"collection": ..., "doc": {...}} per line, in the order All
// returns them. Documents keep "_id" and lose "_rev". It reads through All
// with pages of ExportPageSize, so memory stays bounded by one page.
// At least one collection must be named; names are checked before anything
// is read. It reads in the stored form (WithStoredForm), so fields that
// package fieldcrypt encrypts are exported as their ciphertext.
func Export(ctx context.Context, s Service, w io.Writer, collections ...string) (ExportStats, error) {
	var st ExportStats
	if err := checkCollectionList("export", collections); err != nil {
		return st, err
	}
	ctx = WithStoredForm(ctx) // a backup never holds decrypted fields
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, c := range collections {
		for doc, err := range All(ctx, s, c, Query{Limit: ExportPageSize}) {
			if err != nil {
				st.Bytes = cw.n
				return st, err
			}
			id, ok := doc["_id"].(string)
			if !ok || CheckID(id) != nil {
				st.Bytes = cw.n
				return st, NewError("export", "backup", c, "", errors.New("the service returned a document without a valid _id"))
			}
			delete(doc, "_rev")
			buf.Reset()
			if err := enc.Encode(backupLine{Collection: c, Doc: doc}); err != nil {
				st.Bytes = cw.n
				return st, NewError("export", "backup", c, id, errors.New("document cannot be encoded as JSON"))
			}
			if _, err := bw.Write(buf.Bytes()); err != nil {
				st.Bytes = cw.n
				return st, NewError("export", "backup", c, id, fmt.Errorf("writing: %w", err))
			}
			st.Docs++
		}
	}
	err := bw.Flush()
	st.Bytes = cw.n
	if err != nil {
		return st, NewError("export", "backup", "", "", fmt.Errorf("writing: %w", err))
	}
	return st, nil
}

// ImportOptions tune Import. The zero value writes batches of 100 and
// accepts lines of up to 1 MiB naming any valid collection.
type ImportOptions struct {
	// DryRun validates every line and writes nothing. Run it first for an
	// all-or-nothing restore: Import itself writes batch by batch.
	DryRun bool
	// BatchSize is the number of lines validated and then written
	// together; 0 means DefaultImportBatch, at most MaxImportBatch.
	BatchSize int
	// MaxLineBytes bounds one line; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// Collections, when not empty, are the only collections the input may
	// name; any other is an error.
	Collections validate.Allowlist
	// Limits apply to every document; the zero value is
	// validate.DefaultLimits. The target service applies its own as well.
	Limits validate.Limits
}

// ImportStats says what Import read and wrote.
type ImportStats struct {
	// Lines is the number of lines read, blank ones included.
	Lines int64
	// Docs is the number of documents written (with DryRun: validated).
	Docs int64
	// Batches is the number of batches written (with DryRun: validated).
	Batches int64
}

// LineError is an Import input line that was refused. It names the line,
// never its content. It unwraps to a *validate.Error, so errors.Is(err,
// ErrInvalid) holds.
type LineError struct {
	// Line is the 1-based line number.
	Line int64
	// Err says what rule the line broke.
	Err error
}

// Error implements error: "line 7: invalid id: must not contain '/'".
func (e *LineError) Error() string {
	return "line " + strconv.FormatInt(e.Line, 10) + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *LineError) Unwrap() error { return e.Err }

// Import reads JSON Lines in Export's format from r and saves every
// document into s, in batches of consecutive lines of one collection.
//
// Every line of a batch is checked before any of it is written: valid JSON,
// exactly the fields "collection" and "doc", a valid (and, with
// opts.Collections, allowed) collection name, a valid "_id" not seen before
// in the input, a document that passes validate.Sanitize, a line no longer
// than opts.MaxLineBytes. The first bad line stops the import with a
// *LineError naming the line; its batch and everything after it are not
// written, batches before it are. A batch goes to s's BulkWriter (Guard
// and the providers have one) in one call, or one Save at a time when s
// has none.
//
// Memory is bounded by one batch plus about 35 bytes per document: a
// 16-byte hash of each collection and ID, kept to refuse a duplicate ID
// anywhere in the input (3.6 MB at 100,000 documents).
func Import(ctx context.Context, s Service, r io.Reader, opts ImportOptions) (ImportStats, error) {
	var st ImportStats
	o, err := opts.resolve()
	if err != nil {
		return st, NewError("import", "backup", "", "", err)
	}
	ctx = WithStoredForm(ctx) // restore the ciphertext Export wrote
	imp := importer{ctx: ctx, s: s, o: o, st: &st, seen: newIDSet()}
	rec := &readErrRecorder{r: r}
	sc := bufio.NewScanner(rec)
	// A line may end in \r\n; the extra room lets the length check below
	// report it rather than the scanner.
	sc.Buffer(make([]byte, 0, 64<<10), o.MaxLineBytes+3)
	sc.Split(rec.scanLines)
	for sc.Scan() {
		st.Lines++
		line := sc.Bytes()
		if len(line) > o.MaxLineBytes {
			return st, lineError(st.Lines, "line", "longer than "+strconv.Itoa(o.MaxLineBytes)+" bytes")
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		coll, id, doc, err := parseLine(line, o)
		if err != nil {
			return st, NewError("import", "backup", "", "", &LineError{Line: st.Lines, Err: err})
		}
		if err := imp.add(st.Lines, len(line), coll, id, doc); err != nil {
			return st, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return st, lineError(st.Lines+1, "line", "longer than "+strconv.Itoa(o.MaxLineBytes)+" bytes")
		}
		return st, NewError("import", "backup", "", "", fmt.Errorf("reading line %d: %w", st.Lines+1, err))
	}
	return st, imp.flush()
}

func (o ImportOptions) resolve() (ImportOptions, error) {
	switch {
	case o.BatchSize < 0 || o.BatchSize > MaxImportBatch:
		return o, &validate.Error{Field: "options.BatchSize", Reason: "must be 0 to " + strconv.Itoa(MaxImportBatch)}
	case o.MaxLineBytes < 0 || o.MaxLineBytes > maxLineLimit:
		return o, &validate.Error{Field: "options.MaxLineBytes", Reason: "must be 0 to " + strconv.Itoa(maxLineLimit)}
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultImportBatch
	}
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	for _, c := range o.Collections {
		if err := CheckCollection(c); err != nil {
			return o, err
		}
	}
	return o, nil
}

// readErrRecorder remembers a read error so that the partial line before
// it is reported as the read error it is, not as a truncated line:
// bufio.Scanner hands out unterminated data as a last line on any error.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func (e *readErrRecorder) scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && e.err != nil && bytes.IndexByte(data, '\n') < 0 {
		return 0, nil, e.err
	}
	return bufio.ScanLines(data, atEOF)
}

// importer holds the batch being assembled.
type importer struct {
	ctx  context.Context
	s    Service
	o    ImportOptions
	st   *ImportStats
	seen *idSet

	coll        string
	items       []BulkItem
	first, last int64 // line numbers of the batch
	bytes       int
}

func (im *importer) add(line int64, size int, coll, id string, doc Doc) error {
	if len(im.items) > 0 && (coll != im.coll || len(im.items) == im.o.BatchSize || im.bytes+size > maxBatchBytes) {
		if err := im.flush(); err != nil {
			return err
		}
	}
	if prev, dup := im.seen.add(coll, id, line); dup {
		return lineError(line, "id", "duplicate _id in this collection; first on line "+strconv.FormatInt(prev, 10))
	}
	if len(im.items) == 0 {
		im.coll, im.first, im.bytes = coll, line, 0
	}
	im.items = append(im.items, BulkItem{ID: id, Doc: doc})
	im.last = line
	im.bytes += size
	return nil
}

// flush writes the pending batch.
func (im *importer) flush() error {
	if len(im.items) == 0 {
		return nil
	}
	defer func() {
		clear(im.items) // drop the documents, keep the backing array
		im.items = im.items[:0]
	}()
	if err := im.ctx.Err(); err != nil {
		return NewError("import", "backup", im.coll, "", err)
	}
	if !im.o.DryRun {
		written, err := im.write()
		im.st.Docs += int64(written)
		if err != nil {
			return NewError("import", "backup", im.coll, "", fmt.Errorf("lines %d-%d: %d of %d documents written: %w",
				im.first, im.last, written, len(im.items), err))
		}
	} else {
		im.st.Docs += int64(len(im.items))
	}
	im.st.Batches++
	return nil
}

func (im *importer) write() (int, error) {
	if bw, ok := im.s.(BulkWriter); ok {
		if err := bw.SaveMany(im.ctx, im.coll, im.items); err != nil {
			return 0, err
		}
		return len(im.items), nil
	}
	for i, it := range im.items {
		if _, err := im.s.Save(im.ctx, im.coll, it.ID, it.Doc); err != nil {
			return i, err
		}
	}
	return len(im.items), nil
}

// parseLine checks one line and returns its collection, ID and sanitized
// document. Its errors never quote the line.
func parseLine(line []byte, o ImportOptions) (coll, id string, doc Doc, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil {
		return "", "", nil, jsonReason("line", err)
	}
	if top == nil {
		return "", "", nil, &validate.Error{Field: "line", Reason: `must be a JSON object with "collection" and "doc"`}
	}
	rawColl, okColl := top["collection"]
	rawDoc, okDoc := top["doc"]
	switch {
	case !okColl:
		return "", "", nil, &validate.Error{Field: "collection", Reason: "missing"}
	case !okDoc:
		return "", "", nil, &validate.Error{Field: "doc", Reason: "missing"}
	case len(top) != 2:
		return "", "", nil, &validate.Error{Field: "line", Reason: `has fields other than "collection" and "doc"`}
	}
	if err := json.Unmarshal(rawColl, &coll); err != nil {
		return "", "", nil, &validate.Error{Field: "collection", Reason: "must be a string"}
	}
	if err := o.Collections.Check(coll); err != nil {
		return "", "", nil, scrub(err)
	}
	dec := json.NewDecoder(bytes.NewReader(rawDoc))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return "", "", nil, jsonReason("doc", err)
	}
	if raw == nil {
		return "", "", nil, &validate.Error{Field: "doc", Reason: "must be a JSON object"}
	}
	switch v := raw["_id"].(type) {
	case string:
		id = v
	case nil:
		return "", "", nil, &validate.Error{Field: "id", Reason: `doc has no "_id"`}
	default:
		return "", "", nil, &validate.Error{Field: "id", Reason: `"_id" must be a string`}
	}
	if err := CheckID(id); err != nil {
		return "", "", nil, scrub(err)
	}
	doc, err = NormalizeDoc(raw, o.Limits)
	if err != nil {
		return "", "", nil, scrub(err)
	}
	return coll, id, doc, nil
}

// jsonReason describes a decoding error without the input text that
// encoding/json's messages can quote.
func jsonReason(field string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "unexpected end"):
		return &validate.Error{Field: field, Reason: "not valid JSON: ends early (truncated?)"}
	case errors.As(err, &se):
		return &validate.Error{Field: field, Reason: "not valid JSON at byte " + strconv.FormatInt(se.Offset, 10)}
	case errors.As(err, &te):
		if field == "doc" {
			return &validate.Error{Field: field, Reason: "must be a JSON object"}
		}
		return &validate.Error{Field: field, Reason: `must be a JSON object with "collection" and "doc"`}
	}
	return &validate.Error{Field: field, Reason: "not valid JSON"}
}

// scrub keeps the rule a validation error reports and drops what it quotes
// of the input: the excerpt of a value, and field paths, since field names
// are input too.
func scrub(err error) error {
	var ve *validate.Error
	if !errors.As(err, &ve) {
		return &validate.Error{Field: "line", Reason: "refused"}
	}
	field := ve.Field
	if strings.HasPrefix(field, "doc") {
		field = "doc"
	}
	return &validate.Error{Field: field, Reason: ve.Reason}
}

func lineError(line int64, field, reason string) error {
	return NewError("import", "backup", "", "", &LineError{Line: line, Err: &validate.Error{Field: field, Reason: reason}})
}

// idSet remembers which (collection, ID) pairs an import has seen, as two
// independently keyed 64-bit hashes: 16 bytes per document instead of the
// IDs themselves, with a collision chance far below one in 10^20 at a
// billion documents.
type idSet struct {
	s1, s2 maphash.Seed
	m      map[[2]uint64]int64
}

func newIDSet() *idSet {
	return &idSet{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), m: map[[2]uint64]int64{}}
}

// add records the pair at line; when it was seen before it returns that
// line and true.
func (s *idSet) add(coll, id string, line int64) (int64, bool) {
	k := [2]uint64{pairHash(s.s1, coll, id), pairHash(s.s2, coll, id)}
	if prev, ok := s.m[k]; ok {
		return prev, true
	}
	s.m[k] = line
	return 0, false
}

func pairHash(key maphash.Seed, coll, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(key)
	h.WriteString(coll)
	h.WriteByte(0)
	h.WriteString(id)
	return h.Sum64()
}

// errCopyStopped ends Copy's export when the import side stopped first.
var errCopyStopped = errors.New("copy stopped")

// Copy streams every document of the named collections from one service to
// another: Export piped into Import (with the collections as the allowlist),
// so the copy is validated exactly like a restore from a file and memory
// stays bounded by a page and a batch. It returns the import's stats.
func Copy(ctx context.Context, from, to Service, collections ...string) (ImportStats, error) {
	if err := checkCollectionList("copy", collections); err != nil {
		return ImportStats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	exported := make(chan error, 1)
	go func() {
		_, err := Export(ctx, from, pw, collections...)
		pw.CloseWithError(err) // nil: the reader sees io.EOF
		exported <- err
	}()
	st, err := Import(ctx, to, pr, ImportOptions{Collections: collections})
	pr.CloseWithError(errCopyStopped)
	cancel()
	expErr := <-exported
	if expErr != nil && (err == nil || errors.Is(err, expErr)) {
		// The export failed first; its error is the cause, not the
		// import's "reading" wrapper of it.
		return st, expErr
	}
	return st, err
}

// VerifyReport compares two services collection by collection.
type VerifyReport struct {
	// Collections holds one entry per collection, in the order given.
	Collections []CollectionDiff
}

// CollectionDiff compares one collection of service a with the same
// collection of service b. Documents compare by a SHA-256 hash of their
// canonical JSON (sorted keys), "_id" and "_rev" excluded.
type CollectionDiff struct {
	Collection string
	// CountA and CountB count the documents in a and in b.
	CountA, CountB int64
	// Missing: IDs in a but not in b. Extra: in b but not in a. Different:
	// in both with different contents. Each lists at most MaxListedIDs
	// IDs, sorted; the counts are exact.
	Missing, Extra, Different                []string
	MissingCount, ExtraCount, DifferentCount int64
}

// Equal reports whether the collection holds the same documents in a and b.
func (d CollectionDiff) Equal() bool {
	return d.MissingCount == 0 && d.ExtraCount == 0 && d.DifferentCount == 0
}

// Equal reports whether every compared collection is equal.
func (r VerifyReport) Equal() bool {
	for _, d := range r.Collections {
		if !d.Equal() {
			return false
		}
	}
	return true
}

// String summarizes the report, one line per collection, for example
// "agents: 120 in a, 119 in b, 1 missing (a7)".
func (r VerifyReport) String() string {
	var b strings.Builder
	for i, d := range r.Collections {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: %d in a, %d in b", d.Collection, d.CountA, d.CountB)
		if d.Equal() {
			b.WriteString(", identical")
			continue
		}
		for _, part := range []struct {
			what string
			n    int64
			ids  []string
		}{{"missing", d.MissingCount, d.Missing}, {"extra", d.ExtraCount, d.Extra}, {"different", d.DifferentCount, d.Different}} {
			if part.n == 0 {
				continue
			}
			fmt.Fprintf(&b, ", %d %s (%s", part.n, part.what, strings.Join(part.ids, " "))
			if part.n > int64(len(part.ids)) {
				b.WriteString(" …")
			}
			b.WriteByte(')')
		}
	}
	return b.String()
}

// Verify compares the named collections of a and b: document counts, and
// per document a SHA-256 hash of its canonical JSON with "_rev" ignored, so
// a restore into another provider verifies although revisions differ. It
// streams: a's hashes are held (about 50 bytes per document plus the ID),
// b is walked page by page. The report is complete only when err is nil.
func Verify(ctx context.Context, a, b Service, collections ...string) (VerifyReport, error) {
	var r VerifyReport
	if err := checkCollectionList("verify", collections); err != nil {
		return r, err
	}
	ctx = WithStoredForm(ctx) // compare what is stored, ciphertext included
	for _, c := range collections {
		d, err := verifyCollection(ctx, a, b, c)
		r.Collections = append(r.Collections, d)
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

func verifyCollection(ctx context.Context, a, b Service, c string) (CollectionDiff, error) {
	d := CollectionDiff{Collection: c}
	hashes := map[string][32]byte{}
	for doc, err := range All(ctx, a, c, Query{Limit: ExportPageSize}) {
		if err != nil {
			return d, err
		}
		id, h, err := docHash(c, doc)
		if err != nil {
			return d, err
		}
		hashes[id] = h
		d.CountA++
	}
	for doc, err := range All(ctx, b, c, Query{Limit: ExportPageSize}) {
		if err != nil {
			return d, err
		}
		id, h, err := docHash(c, doc)
		if err != nil {
			return d, err
		}
		d.CountB++
		ha, ok := hashes[id]
		switch {
		case !ok:
			d.ExtraCount++
			d.Extra = appendBounded(d.Extra, id)
		case ha != h:
			d.DifferentCount++
			d.Different = appendBounded(d.Different, id)
		}
		delete(hashes, id)
	}
	d.MissingCount = int64(len(hashes))
	if len(hashes) > 0 {
		missing := make([]string, 0, len(hashes))
		for id := range hashes {
			missing = append(missing, id)
		}
		slices.Sort(missing)
		d.Missing = missing[:min(len(missing), MaxListedIDs)]
	}
	slices.Sort(d.Extra)
	slices.Sort(d.Different)
	return d, nil
}

// docHash hashes doc's canonical JSON without its system fields.
// encoding/json sorts map keys and formats each float64 one way, so equal
// documents hash equally on every provider.
func docHash(c string, doc Doc) (string, [32]byte, error) {
	id, ok := doc["_id"].(string)
	if !ok {
		return "", [32]byte{}, NewError("verify", "backup", c, "", errors.New("the service returned a document without _id"))
	}
	delete(doc, "_id")
	delete(doc, "_rev")
	b, err := json.Marshal(doc)
	if err != nil {
		return "", [32]byte{}, NewError("verify", "backup", c, id, errors.New("document cannot be encoded as JSON"))
	}
	return id, sha256.Sum256(b), nil
}

func appendBounded(ids []string, id string) []string {
	if len(ids) < MaxListedIDs {
		ids = append(ids, id)
	}
	return ids
}

// checkCollectionList refuses an empty list, invalid names and duplicates
// before anything is read.
func checkCollectionList(op string, collections []string) error {
	if len(collections) == 0 {
		return NewError(op, "backup", "", "", &validate.Error{Field: "collections", Reason: "name at least one collection"})
	}
	for i, c := range collections {
		if err := CheckCollection(c); err != nil {
			return NewError(op, "backup", c, "", err)
		}
		if slices.Contains(collections[:i], c) {
			return NewError(op, "backup", c, "", &validate.Error{Field: "collections", Reason: "named twice"})
		}
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

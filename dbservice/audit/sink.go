package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/masking"
)

// Defaults for Options.
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Minute
)

// ErrWriteFailed is wrapped by the error a fail-closed Sink returns once it
// could not write a record or checkpoint. Such errors also match
// dbservice.ErrUnavailable, so a caller that retries unavailable services
// treats the trail the same way.
var ErrWriteFailed = errors.New("audit trail write failed")

// Options configure a Sink. The zero Options chain records without
// signing them, fail closed, and would checkpoint with the defaults once a
// Signer is set.
type Options struct {
	// Signer signs checkpoints; make one with note.NewSigner from a key
	// note.GenerateKey returned. nil writes no checkpoints: the records are
	// still chained, but whoever can write the file can rewrite the chain.
	// The private key stays inside the Signer, which prints no part of it.
	Signer note.Signer
	// CheckpointEvery writes a checkpoint after that many records; 0 means
	// DefaultCheckpointEvery, a negative value never (Close and Rotate
	// still do).
	CheckpointEvery int
	// CheckpointInterval writes a checkpoint that often when records were
	// added since the last one; 0 means DefaultCheckpointInterval, a
	// negative value never.
	CheckpointInterval time.Duration
	// FailOpen lets operations go on when a record cannot be written: the
	// failure is counted (Failures) and reported to OnError, and the
	// missing record shows in the trail as a break. The default is fail
	// closed (see Sink).
	FailOpen bool
	// OnError is called, outside the Sink's lock, with every write
	// failure, in both modes: for a metric or an alert.
	OnError func(error)
	// Now is the clock records are stamped with; nil is time.Now.
	Now func() time.Time
}

// Sink writes an audit trail to an io.Writer: a file, or stdout for a log
// shipper. It is a dbservice.AuditTrail; all its methods are safe for
// concurrent use, and records are written in the order of their sequence
// numbers.
//
// Guard appends a record after each operation, when its outcome is known.
// When a write fails, a fail-closed Sink (the default) returns an error
// that wraps ErrWriteFailed from that Append, so the operation that just
// ran reports the failure (a write it made is not undone), and from Ready
// on every later operation, which Guard then refuses before it reaches the
// provider. It stays so until Rotate gives it a writer that works. A
// fail-open Sink lets every operation go on and counts the failures.
type Sink struct {
	opts  Options
	every int

	mu       sync.Mutex
	w        io.Writer
	seq      int64     // sequence number of the next record
	prev     tlog.Hash // hash of the last line written
	head     tlog.Hash // hash of the last record line
	tree     *frontier
	since    int   // records since the last checkpoint
	failed   error // set when a fail-closed Sink lost a line
	lost     int   // records a fail-closed Sink refused since it failed
	closed   bool
	buf      []byte
	failures atomic.Uint64

	done chan struct{}
	wg   sync.WaitGroup
}

// New returns a Sink that starts a new trail on w.
func New(w io.Writer, opts Options) *Sink {
	return newSink(w, opts, nil, nil)
}

// Resume returns a Sink that continues the trail read from trail (every
// file of it, in order, for example with io.MultiReader) and writes to w,
// typically the last file opened for appending. It refuses, with the
// *Break error, a trail that does not verify: extending a broken trail
// would hide where it broke.
func Resume(w io.Writer, trail io.Reader, opts Options) (*Sink, error) {
	v := newVerifier(nil, &frontier{})
	rep, err := v.run([]source{{r: trail}})
	if err != nil {
		return nil, err
	}
	return newSink(w, opts, &resumeState{seq: rep.Records, prev: v.h, head: v.lastRec.hash, tree: v.tree.(*frontier).clone(), since: int(rep.Unsigned)}, nil), nil
}

type resumeState struct {
	seq        int64
	prev, head tlog.Hash
	tree       *frontier
	since      int
}

// newSink makes a Sink; ticks, when not nil, replaces the checkpoint
// ticker (for tests).
func newSink(w io.Writer, opts Options, st *resumeState, ticks <-chan time.Time) *Sink {
	s := &Sink{opts: opts, w: w, tree: &frontier{}, done: make(chan struct{})}
	if st != nil {
		s.seq, s.prev, s.head, s.tree, s.since = st.seq, st.prev, st.head, st.tree, st.since
	}
	s.every = opts.CheckpointEvery
	if s.every == 0 {
		s.every = DefaultCheckpointEvery
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.CheckpointInterval == 0 {
		s.opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.Signer != nil && (s.opts.CheckpointInterval > 0 || ticks != nil) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if ticks == nil {
				t := time.NewTicker(s.opts.CheckpointInterval)
				defer t.Stop()
				ticks = t.C
			}
			s.tick(ticks)
		}()
	}
	return s
}

// tick writes a checkpoint on every tick until Close.
func (s *Sink) tick(c <-chan time.Time) {
	for {
		select {
		case <-c:
			_ = s.locked(s.checkpointLocked)
		case <-s.done:
			return
		}
	}
}

// Ready implements dbservice.AuditTrail: a fail-closed Sink that lost a
// line refuses every operation until Rotate.
func (s *Sink) Ready() error {
	if s.opts.FailOpen {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: audit trail closed", dbservice.ErrClosed)
	}
	return s.failed
}

// Append implements dbservice.AuditTrail: it writes one record and, when
// CheckpointEvery records have accumulated, a checkpoint.
func (s *Sink) Append(_ context.Context, rec dbservice.AuditRecord) error {
	err := s.locked(func() error { return s.appendLocked(&rec) })
	if s.opts.FailOpen {
		return nil
	}
	return err
}

func (s *Sink) appendLocked(rec *dbservice.AuditRecord) error {
	if s.closed {
		return fmt.Errorf("%w: audit trail closed", dbservice.ErrClosed)
	}
	if s.failed != nil && !s.opts.FailOpen {
		s.lost++
		return s.failed
	}
	var tb [40]byte
	l := line{
		seq:        s.seq,
		time:       s.opts.Now().UTC().AppendFormat(tb[:0], time.RFC3339Nano),
		op:         rec.Op,
		collection: untrusted(rec.Collection),
		id:         untrusted(rec.ID),
		principal:  untrusted(rec.Principal),
		outcome:    rec.Outcome,
		errorKind:  rec.ErrorKind,
		count:      int64(rec.Count),
		hasCount:   rec.HasCount,
		durationNS: int64(rec.Duration),
		prev:       s.prev,
	}
	if l.op == "" {
		l.op = "unknown"
	}
	if l.outcome == "" {
		l.outcome = "unknown"
	}
	s.buf = appendLine(s.buf[:0], &l)
	h := tlog.RecordHash(s.buf)
	hashes, err := tlog.StoredHashesForRecordHash(s.seq, h, s.tree)
	if err != nil {
		return s.fail(err) // the frontier is the Sink's own; this is a bug
	}
	s.buf = append(s.buf, '\n')
	_, werr := s.w.Write(s.buf)
	if werr != nil && !s.opts.FailOpen {
		// The record is not part of the chain: after Rotate, the next one
		// links to the last line that was written.
		s.lost++
		return s.fail(werr)
	}
	// Written, or lost by a fail-open Sink: the chain goes on as if it had
	// been written, so that the loss shows where it happened.
	s.tree.add(s.seq, hashes)
	s.seq++
	s.prev, s.head = h, h
	s.since++
	if werr != nil {
		return s.fail(werr)
	}
	if s.every > 0 && s.since >= s.every {
		return s.checkpointLocked()
	}
	return nil
}

// untrusted returns v as is when it is a plain name (what an ID rule or a
// collection rule admits), else masked the way masking.Mask masks text:
// principals are whatever the caller put in the context, and a token
// there must not reach the trail.
func untrusted(v string) string {
	if plainName(v) {
		return v
	}
	return masking.Mask(v)
}

func plainName(v string) bool {
	if len(v) > 100 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Checkpoint writes a checkpoint now, if records were added since the last
// one and the Sink has a Signer.
func (s *Sink) Checkpoint() error {
	return s.locked(s.checkpointLocked)
}

// locked runs f under the Sink's lock and then, outside it, tells OnError
// about each new write failure (not about operations refused because of
// an earlier one).
func (s *Sink) locked(f func() error) error {
	s.mu.Lock()
	before := s.failures.Load()
	err := f()
	fresh := s.failures.Load() != before
	s.mu.Unlock()
	if fresh && s.opts.OnError != nil {
		s.opts.OnError(err)
	}
	return err
}

func (s *Sink) checkpointLocked() error {
	if s.opts.Signer == nil || s.since == 0 || s.closed || (s.failed != nil && !s.opts.FailOpen) {
		return nil
	}
	root, err := tlog.TreeHash(s.seq, s.tree)
	if err != nil {
		return s.fail(err)
	}
	signed, err := note.Sign(&note.Note{Text: formatCheckpoint(s.seq, root, s.head)}, s.opts.Signer)
	if err != nil {
		return s.fail(err)
	}
	s.buf = appendLine(s.buf[:0], &line{checkpoint: string(signed)})
	h := tlog.RecordHash(s.buf)
	s.buf = append(s.buf, '\n')
	if _, err := s.w.Write(s.buf); err != nil {
		return s.fail(err)
	}
	s.prev = h
	s.since = 0
	return nil
}

// fail records a write failure: counted always, sticky when fail-closed.
func (s *Sink) fail(cause error) error {
	s.failures.Add(1)
	err := fmt.Errorf("%w: %w: %v", dbservice.ErrUnavailable, ErrWriteFailed, cause)
	if !s.opts.FailOpen {
		s.failed = err
	}
	return err
}

// Failures returns how many records and checkpoints could not be written.
func (s *Sink) Failures() uint64 { return s.failures.Load() }

// Records returns how many records the trail holds, including those of
// the trail Resume continued.
func (s *Sink) Records() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Rotate ends the current writer's part of the trail with a checkpoint and
// goes on writing to w; the caller closes the old writer. The first line
// written to w links to the last line written before, so VerifyFiles
// checks the files as one trail. Rotate always switches writers and clears
// a fail-closed Sink's failure: it is how a trail is repaired. Its error
// says the old writer's final checkpoint could not be written.
//
// A fail-closed Sink that lost records starts w with a record of op
// "audit-gap", outcome "error" and error_kind "audit", whose count is the
// number of operations it refused or could not record (0 when only a
// checkpoint was lost): the trail verifies,
// and says where and how much it missed.
func (s *Sink) Rotate(w io.Writer) error {
	var err error
	gapErr := s.locked(func() error {
		wasFailed := s.failed != nil
		err = s.checkpointLocked()
		s.w, s.failed = w, nil
		if !wasFailed {
			return nil
		}
		gap := dbservice.AuditRecord{Op: "audit-gap", Outcome: "error", ErrorKind: "audit", Count: s.lost, HasCount: true}
		s.lost = 0
		return s.appendLocked(&gap)
	})
	return errors.Join(err, gapErr)
}

// TrailInfo implements dbservice.AuditTrail.
func (s *Sink) TrailInfo() dbservice.AuditTrailInfo {
	info := dbservice.AuditTrailInfo{Chained: true, FailClosed: !s.opts.FailOpen}
	if s.opts.Signer != nil {
		info.Signed, info.SignerName = true, s.opts.Signer.Name()
		info.CheckpointEvery = max(s.every, 0)
		info.CheckpointInterval = max(s.opts.CheckpointInterval, 0)
	}
	return info
}

// Close writes a last checkpoint and stops the Sink; it does not close the
// writer. Operations after Close fail with dbservice.ErrClosed.
func (s *Sink) Close() error {
	already := false
	err := s.locked(func() error {
		if already = s.closed; already {
			return nil
		}
		err := s.checkpointLocked()
		s.closed = true
		return err
	})
	if !already {
		close(s.done)
		s.wg.Wait()
	}
	return err
}

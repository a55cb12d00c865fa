package audit

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrTampered is matched (errors.Is) by every *Break: the trail is not
// what the Sink wrote.
var ErrTampered = errors.New("audit trail does not verify")

// Kind names how a trail breaks.
type Kind string

// The ways a trail breaks. Verify names the first line it cannot accept
// and the most likely kind; an attacker who edits one line and fixes the
// next one's link shows as Modified one line later, and one who recomputes
// the whole chain after an edit shows only at the next checkpoint.
const (
	// Modified: a line was changed (or is not a line this package writes).
	Modified Kind = "modified"
	// Deleted: records are missing before this line.
	Deleted Kind = "deleted"
	// Inserted: this line was added; the line after it continues the trail.
	Inserted Kind = "inserted"
	// Reordered: this line belongs elsewhere in the trail.
	Reordered Kind = "reordered"
	// Duplicated: this line repeats an earlier one.
	Duplicated Kind = "duplicated"
	// Truncated: the trail, or one of its files, ends inside a line (a
	// write was cut short), or holds no line at all.
	Truncated Kind = "truncated"
	// ForgedCheckpoint: a checkpoint's signature is not valid for any key
	// Verify was given.
	ForgedCheckpoint Kind = "forged-checkpoint"
)

// Break says where and how a trail stops verifying. It is an error that
// matches ErrTampered. It names lines and sequence numbers only, never
// what a line holds.
type Break struct {
	File   string // the file, for VerifyFiles; "" for Verify
	Line   int    // 1-based line number within File
	Kind   Kind
	Detail string
}

// Error says where and how: "audit: trail-2.jsonl:7: deleted: record 5 is
// missing before this line".
func (b *Break) Error() string {
	where := "line " + strconv.Itoa(b.Line)
	if b.File != "" {
		where = b.File + ":" + strconv.Itoa(b.Line)
	}
	return "audit: " + where + ": " + string(b.Kind) + ": " + b.Detail
}

// Is makes errors.Is(b, ErrTampered) true.
func (b *Break) Is(target error) bool { return target == ErrTampered }

// Report is what Verify found.
type Report struct {
	Files       int   // files read
	Lines       int   // lines read up to the break, or all of them
	Records     int64 // records accepted
	Checkpoints int   // checkpoints accepted
	// Signed is the number of records the last accepted checkpoint covers;
	// Unsigned the records after it. Those can be cut off without a
	// break: only the checkpoint that would have covered them can tell.
	Signed, Unsigned int64
	// KeyChecked says checkpoint signatures were checked against the keys
	// given to Verify. Without a key, Verify checks the chain and the
	// Merkle roots, but a checkpoint signed by anyone passes.
	KeyChecked bool
	// Break is the first place the trail does not verify, or nil. Verify
	// returns it as its error too.
	Break *Break
}

// Clean reports whether the trail verified, every record is covered by a
// checkpoint and the signatures were checked.
func (r Report) Clean() bool {
	return r.Break == nil && r.Unsigned == 0 && r.KeyChecked && r.Records > 0
}

// String is a one-line summary.
func (r Report) String() string {
	s := strconv.FormatInt(r.Records, 10) + " records, " + strconv.Itoa(r.Checkpoints) + " checkpoints"
	if r.Files > 1 {
		s += " in " + strconv.Itoa(r.Files) + " files"
	}
	switch {
	case r.Break != nil:
		s += "; broken at " + r.Break.Error()
	case r.Unsigned > 0:
		s += "; tail unsigned: the last " + strconv.FormatInt(r.Unsigned, 10) + " records are after the last checkpoint"
	default:
		s += "; every record signed"
	}
	if !r.KeyChecked {
		s += " (signatures not checked: no verifier key)"
	}
	return s
}

// Verify reads one trail and reports the first line where it breaks,
// checking checkpoint signatures against the verifier keys given (as
// note.GenerateKey returns them). The error is the *Break, or a read or
// key error; a trail whose tail is unsigned verifies with Report.Unsigned
// set.
func Verify(r io.Reader, verifierKey ...string) (Report, error) {
	known, err := verifiers(verifierKey)
	if err != nil {
		return Report{}, err
	}
	return newVerifier(known, &frontier{}).run([]source{{r: r}})
}

// VerifyFiles is Verify over a trail rotated across files, given in the
// order they were written; a Break names the file.
func VerifyFiles(paths []string, verifierKey ...string) (Report, error) {
	known, err := verifiers(verifierKey)
	if err != nil {
		return Report{}, err
	}
	srcs := make([]source, len(paths))
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return Report{}, err
		}
		defer f.Close()
		srcs[i] = source{name: p, r: f}
	}
	return newVerifier(known, &frontier{}).run(srcs)
}

func verifiers(keys []string) (note.Verifiers, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	vs := make([]note.Verifier, len(keys))
	for i, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("audit: verifier key %d: %w", i+1, err)
		}
		vs[i] = v
	}
	return note.VerifierList(vs...), nil
}

type source struct {
	name string
	r    io.Reader
}

// pos is where a line is.
type pos struct {
	file string
	line int
}

// maxLine bounds a line so that a hostile file without newlines cannot
// exhaust memory; the Sink writes lines of a few hundred bytes.
const maxLine = 1 << 20

// rawLine is one line as read.
type rawLine struct {
	pos
	data     []byte // without the newline
	complete bool   // ended with a newline
	tooLong  bool
}

// lines reads the sources one line at a time.
type lines struct {
	srcs  []source
	i     int
	br    *bufio.Reader
	n     int
	files int
}

func (ls *lines) next() (*rawLine, error) {
	for ls.i < len(ls.srcs) {
		if ls.br == nil {
			ls.br, ls.n = bufio.NewReaderSize(ls.srcs[ls.i].r, 64<<10), 0
			ls.files++
		}
		var data []byte
		tooLong := false
		for {
			chunk, err := ls.br.ReadSlice('\n')
			if len(data)+len(chunk) <= maxLine+1 {
				data = append(data, chunk...)
			} else {
				tooLong = true
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			break
		}
		if len(data) == 0 && !tooLong {
			ls.i, ls.br = ls.i+1, nil
			continue
		}
		ls.n++
		l := &rawLine{pos: pos{ls.srcs[ls.i].name, ls.n}, tooLong: tooLong}
		if n := len(data); n > 0 && data[n-1] == '\n' {
			l.data, l.complete = data[:n-1], true
		} else {
			l.data = data
		}
		return l, nil
	}
	return nil, nil
}

// recLine is what the verifier remembers of an accepted record.
type recLine struct {
	pos
	hash tlog.Hash
	prev tlog.Hash
}

// recent remembers the hashes of the last records, to tell a repeated
// record from an inserted one.
const recent = 1024

type verifier struct {
	known note.Verifiers
	tree  hashStore

	e       int64     // sequence number the next record must have
	h       tlog.Hash // hash of the last accepted line
	last    pos       // where the last accepted line is
	lastRec recLine   // the last accepted record
	ring    [recent]struct {
		seq int64
		rec recLine
	}
	cp struct {
		n    int64
		text string
		at   pos
	}
	rep Report

	// onRecord, when set, sees every accepted record (for Prove).
	onRecord func(seq int64, data []byte)
	// onCheckpoint, when set, sees every accepted checkpoint.
	onCheckpoint func(n int64, signed string)
}

func newVerifier(known note.Verifiers, tree hashStore) *verifier {
	v := &verifier{known: known, tree: tree}
	v.rep.KeyChecked = known != nil
	for i := range v.ring {
		v.ring[i].seq = -1
	}
	return v
}

func (v *verifier) run(srcs []source) (Report, error) {
	ls := &lines{srcs: srcs}
	cur, err := ls.next()
	if err != nil {
		return v.rep, err
	}
	if cur == nil {
		return v.broken(&Break{Line: 1, Kind: Truncated, Detail: "the trail holds no line"})
	}
	for cur != nil {
		nxt, err := ls.next()
		if err != nil {
			return v.rep, err
		}
		v.rep.Lines++
		v.rep.Files = ls.files
		if b := v.step(cur, nxt); b != nil {
			return v.broken(b)
		}
		cur = nxt
	}
	v.rep.Files = ls.files
	v.rep.Records = v.e
	v.rep.Unsigned = v.e - v.rep.Signed
	return v.rep, nil
}

func (v *verifier) broken(b *Break) (Report, error) {
	v.rep.Records = v.e
	v.rep.Unsigned = v.e - v.rep.Signed
	v.rep.Break = b
	return v.rep, b
}

func brk(p pos, k Kind, format string, args ...any) *Break {
	return &Break{File: p.file, Line: p.line, Kind: k, Detail: fmt.Sprintf(format, args...)}
}

// from names p as seen from the line b: "line 7" within the same file.
func (p pos) from(b pos) string {
	if p.file == b.file {
		return "line " + strconv.Itoa(p.line)
	}
	return p.String()
}

func (p pos) String() string {
	if p.file == "" {
		return "line " + strconv.Itoa(p.line)
	}
	return p.file + ":" + strconv.Itoa(p.line)
}

// continues reports whether raw would be accepted as the next record.
func (v *verifier) continues(raw *rawLine) bool {
	if raw == nil || !raw.complete || raw.tooLong {
		return false
	}
	l, err := parseLine(raw.data)
	return err == nil && l.checkpoint == "" && l.seq == v.e && l.prev == v.h
}

func (v *verifier) step(cur, nxt *rawLine) *Break {
	var l *line
	var err error
	if cur.tooLong {
		err = errNotCanonical
	} else {
		l, err = parseLine(cur.data)
	}
	if !cur.complete {
		return brk(cur.pos, Truncated, "the line is cut short (no newline at the end of the file)")
	}
	if err != nil {
		if v.continues(nxt) {
			return brk(cur.pos, Inserted, "not a trail line; the next line continues the trail without it")
		}
		return brk(cur.pos, Modified, "not a trail line in canonical form")
	}
	h := tlog.RecordHash(cur.data)
	if l.checkpoint != "" {
		return v.checkpoint(cur, l.checkpoint, h)
	}
	switch s := l.seq; {
	case s == v.e && l.prev == v.h:
	case s == v.e:
		switch {
		case v.continues(nxt):
			return brk(cur.pos, Inserted, "record %d does not link to the line before it, and the next line continues the trail without it", s)
		case v.e == 0 && v.last.line == 0:
			return brk(cur.pos, Deleted, "the first record links to a line before it: the start of the trail (or an earlier file) is missing")
		case v.last == v.lastRec.pos:
			return brk(v.last, Modified, "the next record (%s) links to a different line: this one was changed, or a checkpoint after it deleted", cur.pos.from(v.last))
		default:
			return brk(cur.pos, Modified, "record %d does not link to the checkpoint before it", s)
		}
	case s > v.e:
		if nxt != nil && nxt.complete {
			if n, err := parseLine(nxt.data); err == nil && n.checkpoint == "" && n.seq == v.e {
				return brk(cur.pos, Reordered, "record %d comes before record %d", s, v.e)
			}
		}
		if s == v.e+1 {
			return brk(cur.pos, Deleted, "record %d is missing before this line", v.e)
		}
		return brk(cur.pos, Deleted, "records %d to %d are missing before this line", v.e, s-1)
	default: // s < v.e
		if s == v.e-1 && l.prev == v.lastRec.prev && h != v.lastRec.hash {
			return brk(v.lastRec.pos, Inserted, "record %d here is not the one the trail continues from (%s is)", s, cur.pos.from(v.lastRec.pos))
		}
		if r := v.ring[s%recent]; r.seq == s && r.rec.hash == h {
			return brk(cur.pos, Duplicated, "repeats record %d (%s)", s, r.rec.pos.from(cur.pos))
		}
		return brk(cur.pos, Inserted, "a second record %d, after record %d", s, v.e-1)
	}
	hashes, err := tlog.StoredHashesForRecordHash(v.e, h, v.tree)
	if err != nil {
		return brk(cur.pos, Modified, "tree: %v", err)
	}
	v.tree.add(v.e, hashes)
	if v.onRecord != nil {
		v.onRecord(v.e, cur.data)
	}
	rl := recLine{pos: cur.pos, hash: h, prev: l.prev}
	v.ring[v.e%recent].seq, v.ring[v.e%recent].rec = v.e, rl
	v.lastRec, v.last, v.h = rl, cur.pos, h
	v.e++
	return nil
}

func (v *verifier) checkpoint(cur *rawLine, signed string, h tlog.Hash) *Break {
	if v.cp.n > 0 && signed == v.cp.text {
		return brk(cur.pos, Duplicated, "repeats the checkpoint at %s", v.cp.at.from(cur.pos))
	}
	n, err := note.Open([]byte(signed), v.known)
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case err == nil:
	case errors.As(err, &invalid):
		return brk(cur.pos, ForgedCheckpoint, "the signature of key %s does not match the checkpoint", invalid.Name)
	case errors.As(err, &unverified) && v.known != nil:
		return brk(cur.pos, ForgedCheckpoint, "no verifier key given to Verify signed this checkpoint")
	case errors.As(err, &unverified):
		n = unverified.Note
	default:
		return brk(cur.pos, Modified, "the checkpoint is not a signed note")
	}
	// note.Open accepts base64 with stray bits in its last character;
	// only the exact encoding of each signature counts, so that a changed
	// character is a changed line.
	for _, sig := range append(n.Sigs, n.UnverifiedSigs...) {
		raw, err := base64.StdEncoding.DecodeString(sig.Base64)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != sig.Base64 {
			return brk(cur.pos, Modified, "a checkpoint signature is not in canonical base64")
		}
	}
	size, root, head, ok := parseCheckpoint(n.Text)
	if !ok {
		return brk(cur.pos, Modified, "the checkpoint text is not a trail checkpoint")
	}
	switch {
	case size > v.e:
		return brk(cur.pos, Deleted, "the checkpoint signs %d records but %d precede it", size, v.e)
	case size < v.e:
		return brk(cur.pos, Reordered, "the checkpoint signs %d records but %d precede it", size, v.e)
	}
	want, err := tlog.TreeHash(v.e, v.tree)
	if err != nil || want != root || head != v.lastRec.hash {
		return brk(v.lastRec.pos, Modified, "the records up to here are not what the checkpoint at %s signs (this record changed, or one before it and the chain recomputed)", cur.pos.from(v.lastRec.pos))
	}
	if v.onCheckpoint != nil {
		v.onCheckpoint(size, signed)
	}
	v.cp.n, v.cp.text, v.cp.at = size, signed, cur.pos
	v.rep.Checkpoints++
	v.rep.Signed = size
	v.last, v.h = cur.pos, h
	return nil
}

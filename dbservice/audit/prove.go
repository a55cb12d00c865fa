package audit

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Proof shows that one record is in the tree a signed checkpoint names,
// without the rest of the trail: give it, with the verifier key, to
// someone who must trust that record (CheckProof). It encodes as JSON.
type Proof struct {
	Seq        int64            `json:"seq"`        // the record's sequence number
	Record     string           `json:"record"`     // the record's line, without its newline
	Checkpoint string           `json:"checkpoint"` // the signed note
	Hashes     tlog.RecordProof `json:"hashes"`     // the Merkle path (tlog.ProveRecord)
}

// ErrNotCovered: no checkpoint in the trail covers the record yet.
var ErrNotCovered = errors.New("audit: no checkpoint covers this record yet")

// Prove reads a trail (every file of it, in order) and returns the proof
// that record seq is in the tree of the trail's last checkpoint. The trail
// must verify up to its end. A Sink keeps only O(log n) hashes, so proofs
// are made from the trail, which holds every record.
func Prove(trail io.Reader, seq int64) (Proof, error) {
	var store fullStore
	v := newVerifier(nil, &store)
	var rec []byte
	var cpN int64
	var cp string
	v.onRecord = func(n int64, data []byte) {
		if n == seq {
			rec = append([]byte(nil), data...)
		}
	}
	v.onCheckpoint = func(n int64, signed string) { cpN, cp = n, signed }
	if _, err := v.run([]source{{r: trail}}); err != nil {
		return Proof{}, err
	}
	if rec == nil {
		return Proof{}, fmt.Errorf("audit: the trail has no record %d", seq)
	}
	if cpN <= seq {
		return Proof{}, ErrNotCovered
	}
	hashes, err := tlog.ProveRecord(cpN, seq, &store)
	if err != nil {
		return Proof{}, err
	}
	return Proof{Seq: seq, Record: string(rec), Checkpoint: cp, Hashes: hashes}, nil
}

// CheckProof checks p against the verifier key: the checkpoint is signed
// by it, and the record is leaf p.Seq of the tree it names. Errors match
// ErrTampered when the proof does not hold.
func CheckProof(p Proof, verifierKey string) error {
	known, err := verifiers([]string{verifierKey})
	if err != nil {
		return err
	}
	n, err := note.Open([]byte(p.Checkpoint), known)
	if err != nil {
		return fmt.Errorf("%w: the checkpoint is not signed by this key", ErrTampered)
	}
	size, root, _, ok := parseCheckpoint(n.Text)
	if !ok {
		return fmt.Errorf("%w: the checkpoint text is not a trail checkpoint", ErrTampered)
	}
	l, err := parseLine([]byte(p.Record))
	if err != nil || l.checkpoint != "" || l.seq != p.Seq {
		return fmt.Errorf("%w: the record is not trail record %d", ErrTampered, p.Seq)
	}
	if p.Seq < 0 || p.Seq >= size {
		return fmt.Errorf("%w: record %d is outside the %d records the checkpoint signs", ErrTampered, p.Seq, size)
	}
	if err := tlog.CheckRecord(p.Hashes, size, root, p.Seq, tlog.RecordHash([]byte(p.Record))); err != nil {
		return fmt.Errorf("%w: the record is not in the signed tree", ErrTampered)
	}
	return nil
}

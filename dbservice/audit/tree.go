package audit

import (
	"errors"

	"golang.org/x/mod/sumdb/tlog"
)

// hashStore holds the tlog hashes a trail needs: a frontier for appending
// and checking (O(log n) memory), or all of them for proofs.
type hashStore interface {
	tlog.HashReader
	// add stores the hashes tlog.StoredHashes returned for record n.
	add(n int64, hashes []tlog.Hash)
}

var errHashMissing = errors.New("audit: tree hash not kept")

// frontier keeps only the roots of the complete subtrees on the right edge
// of the tree: exactly what tlog.StoredHashes reads to add the next record
// and what tlog.TreeHash reads for the root. A sink that runs for months
// thus holds at most 64 hashes, not two per record.
type frontier struct {
	idx []int64
	h   []tlog.Hash
}

func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
next:
	for i, want := range indexes {
		for j := len(f.idx) - 1; j >= 0; j-- {
			if f.idx[j] == want {
				out[i] = f.h[j]
				continue next
			}
		}
		return nil, errHashMissing
	}
	return out, nil
}

// add pops the subtrees record n completed (one per trailing 1 bit of n)
// and pushes the subtree it ends.
func (f *frontier) add(n int64, hashes []tlog.Hash) {
	level := len(hashes) - 1
	f.idx = append(f.idx[:len(f.idx)-level], tlog.StoredHashIndex(level, n>>level))
	f.h = append(f.h[:len(f.h)-level], hashes[level])
}

func (f *frontier) clone() *frontier {
	return &frontier{idx: append([]int64(nil), f.idx...), h: append([]tlog.Hash(nil), f.h...)}
}

// fullStore keeps every stored hash, in tlog's storage order, for proofs.
type fullStore []tlog.Hash

func (s *fullStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(*s)) {
			return nil, errHashMissing
		}
		out[i] = (*s)[x]
	}
	return out, nil
}

func (s *fullStore) add(_ int64, hashes []tlog.Hash) { *s = append(*s, hashes...) }

package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
)

const keyName = "audit.test.example"

// newKey returns a fresh signer and its verifier key.
func newKey(t testing.TB) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, keyName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// clock returns a clock that advances a millisecond per call, so record
// times differ and are reproducible.
func clock() func() time.Time {
	t := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

// rec is the i-th record of a test trail.
func rec(i int) dbservice.AuditRecord {
	ops := []string{"get", "save", "delete", "query"}
	r := dbservice.AuditRecord{Op: ops[i%4], Collection: "agents", ID: "a" + strings.Repeat("x", i%3), Principal: "svc-1", Outcome: "ok", Duration: time.Duration(1000 + i)}
	if r.Op == "query" {
		r.ID, r.Count, r.HasCount = "", i, true
	}
	return r
}

// writeTrail appends n records to a new Sink with opts and closes it.
func writeTrail(t testing.TB, n int, opts audit.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if opts.Now == nil {
		opts.Now = clock()
	}
	s := audit.New(&buf, opts)
	for i := range n {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// splitLines returns the trail's lines without their newlines.
func splitLines(trail []byte) []string {
	return strings.Split(strings.TrimSuffix(string(trail), "\n"), "\n")
}

func joinLines(lines []string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

// failingWriter fails every write after the first ok ones, or while
// broken is set.
type failingWriter struct {
	buf    bytes.Buffer
	ok     int
	broken bool
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.broken || w.ok == 0 {
		return 0, errDiskFull
	}
	w.ok--
	return w.buf.Write(p)
}

var errDiskFull = errorString("no space left on device")

type errorString string

func (e errorString) Error() string { return string(e) }

// leafHash is what "prev" holds: the RFC 6962 leaf hash of the line before,
// SHA-256 of a zero byte and the line, which is also the line's leaf in
// the checkpoints' Merkle tree.
func leafHash(line string) [sha256.Size]byte {
	return sha256.Sum256(append([]byte{0}, line...))
}

package audit_test

import (
	"bytes"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice/audit"
)

// FuzzVerifyMutatedTrail replaces a span of a signed trail with other
// bytes. Whatever the mutation, Verify must not panic, and a trail that is
// not byte for byte the original must not come out clean. The trail has a
// single checkpoint, at its end: a trail cut back to an earlier checkpoint
// is whole by construction, which is the limit the package documents.
func FuzzVerifyMutatedTrail(f *testing.F) {
	// A fixed key, so the corpus stays meaningful between runs.
	skey, vkey, err := note.GenerateKey(bytes.NewReader(make([]byte, 64)), "fuzz.example")
	if err != nil {
		f.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	trail := writeTrail(f, 6, audit.Options{Signer: signer, CheckpointEvery: -1, CheckpointInterval: -1})
	if rep, err := audit.Verify(bytes.NewReader(trail), vkey); err != nil || !rep.Clean() {
		f.Fatalf("the original trail does not verify: %v, %v", rep, err)
	}
	lines := splitLines(trail)
	f.Add(uint(0), uint(0), []byte(nil))
	f.Add(uint(len(lines[0])+1), uint(len(lines[1])+1), []byte(nil))         // delete a record
	f.Add(uint(len(lines[0])+1), uint(0), []byte(lines[0]+"\n"))             // repeat a record
	f.Add(uint(10), uint(1), []byte("9"))                                    // edit a digit
	f.Add(uint(len(trail)-3), uint(3), []byte(`="}`+"\n"))                   // edit the signature's end
	f.Add(uint(len(trail)-len(lines[6])-1), uint(len(lines[6])+1), []byte{}) // drop the checkpoint
	f.Add(uint(30), uint(0), []byte(`\u0041`))
	f.Fuzz(func(t *testing.T, at, n uint, with []byte) {
		at = min(at, uint(len(trail)))
		end := min(at+n, uint(len(trail)))
		mutated := append(append(append([]byte(nil), trail[:at]...), with...), trail[end:]...)
		rep, err := audit.Verify(bytes.NewReader(mutated), vkey)
		if bytes.Equal(mutated, trail) {
			if err != nil || !rep.Clean() {
				t.Fatalf("a no-op mutation broke the trail: %v, %v", rep, err)
			}
			return
		}
		if err == nil && rep.Clean() {
			t.Fatalf("a mutated trail verifies clean: %v\n%q", rep, mutated)
		}
	})
}

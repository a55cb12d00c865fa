package audit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice/audit"
)

var prevField = regexp.MustCompile(`"prev":"[^"]*"`)

// rechain recomputes the prev field of lines[from:to] from the line before
// each, as an attacker without the signing key can.
func rechain(lines []string, from, to int) {
	for i := from; i < to; i++ {
		h := leafHash(lines[i-1])
		lines[i] = prevField.ReplaceAllString(lines[i], `"prev":"`+base64.StdEncoding.EncodeToString(h[:])+`"`)
	}
}

// checkpointText returns the signed text of a checkpoint line.
func checkpointText(t *testing.T, l string) string {
	t.Helper()
	var cp struct{ Checkpoint string }
	if err := json.Unmarshal([]byte(l), &cp); err != nil || cp.Checkpoint == "" {
		t.Fatalf("not a checkpoint line: %s", l)
	}
	return cp.Checkpoint
}

func checkpointLine(signed []byte) string {
	b, _ := json.Marshal(map[string]string{"checkpoint": string(signed)})
	return string(b)
}

func TestVerifyFindsEveryTamperingAtItsLine(t *testing.T) {
	signer, vkey := newKey(t)
	other, _ := newKey(t)
	trail := writeTrail(t, 10, audit.Options{Signer: signer, CheckpointEvery: 4, CheckpointInterval: -1})
	orig := splitLines(trail)
	// r0..r3 are lines 1-4, a checkpoint of 4 records line 5, r4..r7
	// lines 6-9, a checkpoint of 8 line 10, r8 and r9 lines 11-12, the
	// checkpoint Close writes line 13.
	if len(orig) != 13 || !strings.HasPrefix(orig[4], `{"checkpoint"`) || !strings.HasPrefix(orig[9], `{"checkpoint"`) || !strings.HasPrefix(orig[12], `{"checkpoint"`) {
		t.Fatalf("unexpected trail layout:\n%s", trail)
	}
	if rep, err := audit.Verify(bytes.NewReader(trail), vkey); err != nil || !rep.Clean() || rep.Records != 10 || rep.Checkpoints != 3 {
		t.Fatalf("the untouched trail: %v, %v", rep, err)
	}

	edit := func(i int, from, to string) func([]string) []string {
		return func(l []string) []string {
			if !strings.Contains(l[i], from) {
				t.Fatalf("line %d lacks %q", i+1, from)
			}
			l[i] = strings.Replace(l[i], from, to, 1)
			return l
		}
	}
	cases := []struct {
		name     string
		mutate   func([]string) []string
		raw      func([]byte) []byte // applied to the bytes instead, when set
		kind     audit.Kind
		line     int
		unsigned int64
	}{
		{name: "an edited outcome is found at the edited line", mutate: edit(1, `"outcome":"ok"`, `"outcome":"denied"`), kind: audit.Modified, line: 2},
		{name: "an edited record just before a checkpoint is found at that record", mutate: edit(3, `"principal":"svc-1"`, `"principal":"svc-2"`), kind: audit.Modified, line: 4},
		{name: "an edit of the last record is found by the final checkpoint", mutate: edit(11, `"collection":"agents"`, `"collection":"users"`), kind: audit.Modified, line: 12},
		{name: "a record reformatted without a change of meaning counts as modified", mutate: edit(6, `,"op"`, `, "op"`), kind: audit.Modified, line: 7},
		{name: "an escape spelt differently counts as modified", mutate: edit(6, `"agents"`, `"\u0061gents"`), kind: audit.Modified, line: 7},
		{name: "a deleted record is found at the line after the gap", mutate: func(l []string) []string { return slices.Delete(l, 6, 7) }, kind: audit.Deleted, line: 7},
		{name: "two deleted records are found at the line after the gap", mutate: func(l []string) []string { return slices.Delete(l, 6, 8) }, kind: audit.Deleted, line: 7},
		{name: "a deleted first record is found at line 1", mutate: func(l []string) []string { return slices.Delete(l, 0, 1) }, kind: audit.Deleted, line: 1},
		{name: "an inserted forged record is found at the inserted line", mutate: func(l []string) []string {
			return slices.Insert(l, 6, strings.Replace(l[6], `"id":"axx"`, `"id":"evil"`, 1))
		}, kind: audit.Inserted, line: 7},
		{name: "an inserted line that is no record is found at that line", mutate: func(l []string) []string { return slices.Insert(l, 6, `{"note":"hello"}`) }, kind: audit.Inserted, line: 7},
		{name: "two swapped records are found at the first of them", mutate: func(l []string) []string { l[6], l[7] = l[7], l[6]; return l }, kind: audit.Reordered, line: 7},
		{name: "a repeated record is found at the repetition", mutate: func(l []string) []string { return slices.Insert(l, 7, l[6]) }, kind: audit.Duplicated, line: 8},
		{name: "a record repeated further down is found at the repetition", mutate: func(l []string) []string { return slices.Insert(l, 8, l[5]) }, kind: audit.Duplicated, line: 9},
		{name: "a repeated checkpoint is found at the repetition", mutate: func(l []string) []string { return slices.Insert(l, 5, l[4]) }, kind: audit.Duplicated, line: 6},
		{name: "a deleted checkpoint breaks the link of the record before it", mutate: func(l []string) []string { return slices.Delete(l, 4, 5) }, kind: audit.Modified, line: 4},
		{name: "a moved checkpoint is found where it now is", mutate: func(l []string) []string {
			cp := l[4]
			l = slices.Delete(l, 4, 5)
			return slices.Insert(l, 6, cp)
		}, kind: audit.Modified, line: 4},
		{name: "a history rewritten from record 1 with the chain recomputed is found at the next checkpoint", mutate: func(l []string) []string {
			l[1] = strings.Replace(l[1], `"outcome":"ok"`, `"outcome":"rejected"`, 1)
			rechain(l, 2, 4)
			return l
		}, kind: audit.Modified, line: 4},
		{name: "a checkpoint signed by another key is forged", mutate: func(l []string) []string {
			_, err := note.Open([]byte(checkpointText(t, l[9])), note.VerifierList())
			var u *note.UnverifiedNoteError
			if !errors.As(err, &u) {
				t.Fatal(err)
			}
			signed, err := note.Sign(&note.Note{Text: u.Note.Text}, other)
			if err != nil {
				t.Fatal(err)
			}
			l[9] = checkpointLine(signed)
			return l
		}, kind: audit.ForgedCheckpoint, line: 10},
		{name: "a checkpoint with a flipped signature bit is forged", mutate: func(l []string) []string {
			text := checkpointText(t, l[9])
			i := strings.LastIndex(text, " ") + 1
			sig, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(text[i:], "\n"))
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)-1] ^= 1
			l[9] = checkpointLine([]byte(text[:i] + base64.StdEncoding.EncodeToString(sig) + "\n"))
			return l
		}, kind: audit.ForgedCheckpoint, line: 10},
		{name: "a checkpoint whose record count was raised is forged", mutate: func(l []string) []string {
			l[9] = checkpointLine([]byte(strings.Replace(checkpointText(t, l[9]), "\n8\n", "\n9\n", 1)))
			return l
		}, kind: audit.ForgedCheckpoint, line: 10},
		{name: "a cut inside the last line is found at that line", raw: func(b []byte) []byte { return b[:len(b)-10] }, kind: audit.Truncated, line: 13},
		{name: "a cut after the last signed record leaves an unsigned tail", mutate: func(l []string) []string { return l[:11] }, unsigned: 1},
		{name: "the final checkpoint deleted leaves an unsigned tail", mutate: func(l []string) []string { return l[:12] }, unsigned: 2},
		{name: "an empty trail is truncated", raw: func([]byte) []byte { return nil }, kind: audit.Truncated, line: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mutated []byte
			if tc.raw != nil {
				mutated = tc.raw(slices.Clone(trail))
			} else {
				mutated = joinLines(tc.mutate(slices.Clone(orig)))
			}
			rep, err := audit.Verify(bytes.NewReader(mutated), vkey)
			if tc.kind == "" {
				if err != nil || rep.Unsigned != tc.unsigned || rep.Clean() {
					t.Fatalf("got %v (%v), want no break and %d unsigned records", rep, err, tc.unsigned)
				}
				if !strings.Contains(rep.String(), "tail unsigned") {
					t.Errorf("the summary %q does not say the tail is unsigned", rep.String())
				}
				return
			}
			var b *audit.Break
			if !errors.As(err, &b) || !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("Verify = %v, %v; want a break", rep, err)
			}
			if b.Kind != tc.kind || b.Line != tc.line {
				t.Fatalf("break %v, want %s at line %d", b, tc.kind, tc.line)
			}
			if rep.Clean() || rep.Break != b {
				t.Errorf("a broken trail reports clean or a different break: %v", rep)
			}
		})
	}
}

func TestVerifyWithoutAKeyChecksTheChainButNotWhoSigned(t *testing.T) {
	signer, _ := newKey(t)
	trail := writeTrail(t, 3, audit.Options{Signer: signer})
	rep, err := audit.Verify(bytes.NewReader(trail))
	if err != nil || rep.KeyChecked || rep.Clean() || rep.Records != 3 || rep.Unsigned != 0 {
		t.Fatalf("Verify without a key = %v, %v; want a verified chain, KeyChecked false and not clean", rep, err)
	}
	if !strings.Contains(rep.String(), "signatures not checked") {
		t.Errorf("summary %q does not say signatures were not checked", rep.String())
	}
	// A key that is not the signer's turns the same trail into a forgery.
	_, otherKey := newKey(t)
	if _, err := audit.Verify(bytes.NewReader(trail), otherKey); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("Verify with the wrong key = %v, want a forged checkpoint", err)
	}
}

func TestRotationKeepsTheChainAcrossFiles(t *testing.T) {
	signer, vkey := newKey(t)
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "trail-1.jsonl"), filepath.Join(dir, "trail-2.jsonl")
	var b1, b2 bytes.Buffer
	s := audit.New(&b1, audit.Options{Signer: signer, Now: clock(), CheckpointEvery: -1, CheckpointInterval: -1})
	for i := range 5 {
		if err := s.Append(t.Context(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Rotate(&b2); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ {
		if err := s.Append(t.Context(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string][]byte{f1: b1.Bytes(), f2: b2.Bytes()} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l1, l2 := splitLines(b1.Bytes()), splitLines(b2.Bytes())
	if !strings.HasPrefix(l1[len(l1)-1], `{"checkpoint"`) {
		t.Fatalf("the first file does not end with a checkpoint: %s", l1[len(l1)-1])
	}
	var first struct{ Seq int64 }
	var firstPrev struct{ Prev []byte }
	_ = json.Unmarshal([]byte(l2[0]), &first)
	_ = json.Unmarshal([]byte(l2[0]), &firstPrev)
	if h := leafHash(l1[len(l1)-1]); first.Seq != 5 || !bytes.Equal(firstPrev.Prev, h[:]) {
		t.Fatalf("the second file starts with seq %d linking to %x, want seq 5 linking to the first file's last line %x", first.Seq, firstPrev.Prev, h)
	}

	rep, err := audit.VerifyFiles([]string{f1, f2}, vkey)
	if err != nil || !rep.Clean() || rep.Records != 10 || rep.Files != 2 || rep.Checkpoints != 2 {
		t.Fatalf("VerifyFiles = %v, %v; want 10 clean records in 2 files", rep, err)
	}

	breaks := []struct {
		name  string
		files func() []string
		file  string
		line  int
		kind  audit.Kind
	}{
		{"an edit in the second file names that file", func() []string {
			l := slices.Clone(l2)
			l[1] = strings.Replace(l[1], `"outcome":"ok"`, `"outcome":"error"`, 1)
			p := filepath.Join(dir, "edited-2.jsonl")
			write(t, p, joinLines(l))
			return []string{f1, p}
		}, "edited-2.jsonl", 2, audit.Modified},
		{"a missing first file is a deletion at the start of the second", func() []string { return []string{f2} }, "trail-2.jsonl", 1, audit.Deleted},
		{"files in the wrong order break at the first line", func() []string { return []string{f2, f1} }, "trail-2.jsonl", 1, audit.Deleted},
		{"a first file cut inside its last line is truncated there", func() []string {
			p := filepath.Join(dir, "cut-1.jsonl")
			write(t, p, b1.Bytes()[:b1.Len()-5])
			return []string{p, f2}
		}, "cut-1.jsonl", len(l1), audit.Truncated},
	}
	for _, tc := range breaks {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.VerifyFiles(tc.files(), vkey)
			var b *audit.Break
			if !errors.As(err, &b) || filepath.Base(b.File) != tc.file || b.Line != tc.line || b.Kind != tc.kind {
				t.Fatalf("VerifyFiles = %v, want %s at %s:%d", err, tc.kind, tc.file, tc.line)
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

package masking

import (
	"bytes"
	"errors"
	"io"
	"log"
	"strings"
	"sync"
	"testing"
)

// countingWriter counts the writes it gets.
type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) String() string { return c.buf.String() }

func TestWriterMasksLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"a whole line is masked",
			[]string{"password=hunter2 user=ana\n"}, "password=" + R + " user=ana\n"},
		{"a line split inside the secret is masked whole",
			[]string{"dial postgres://app:hun", "ter2@db/x\n"}, "dial postgres://app:" + R + "@db/x\n"},
		{"a line split byte by byte is masked whole",
			strings.Split("Authorization: Bearer abcdef123456\n", ""), "Authorization: Bearer " + R + "\n"},
		{"several lines in one write are masked",
			[]string{"a token=x1\nb secret=y2\n"}, "a token=" + R + "\nb secret=" + R + "\n"},
		{"a PEM key written line by line stays masked", []string{
			"-----BEGIN RSA PRIVATE KEY-----\n", "MIIEowIBAAKCAQEA\n", "x9Yb==\n", "-----END RSA PRIVATE KEY-----\n", "after\n"},
			"-----BEGIN RSA PRIVATE KEY-----\n" + R + "\n" + R + "\n-----END RSA PRIVATE KEY-----\nafter\n"},
		{"prose after a cut-off PEM key is not masked", []string{
			"-----BEGIN PRIVATE KEY-----\n", "MIIE\n", "server restarted\n"},
			"-----BEGIN PRIVATE KEY-----\n" + R + "\nserver restarted\n"},
		{"text without secrets is unchanged", []string{"hello ", "world\n"}, "hello world\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := New(nil).NewWriter(&out)
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestWriterHoldsOnlyPartialLines(t *testing.T) {
	var out countingWriter
	w := New(nil).NewWriter(&out)
	w.Write([]byte("first line\nsecond "))
	if got := out.String(); got != "first line\n" {
		t.Fatalf("after the first write got %q", got)
	}
	w.Write([]byte("line token=abc\nthird"))
	if got := out.String(); got != "first line\nsecond line token="+R+"\n" {
		t.Fatalf("after the second write got %q", got)
	}
	if out.writes != 2 {
		t.Errorf("underlying writes = %d, want one per Write", out.writes)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "\nthird") {
		t.Errorf("Flush lost the partial line: %q", out.String())
	}
	if err := w.Flush(); err != nil || out.writes != 3 {
		t.Errorf("a second Flush wrote again: %d writes, %v", out.writes, err)
	}
}

func TestWriterBoundsItsBuffer(t *testing.T) {
	var out bytes.Buffer
	w := New(nil).NewWriter(&out)
	word := "lorem ipsum dolor "
	long := strings.Repeat(word, (maxPending/len(word))+100) // no newline, over the bound
	w.Write([]byte("password=hunter2 " + long))
	if out.Len() == 0 {
		t.Fatal("a line over the bound was held back")
	}
	if len(w.buf) >= maxPending {
		t.Errorf("buffer holds %d bytes, want less than %d", len(w.buf), maxPending)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("secret in output")
	}
	w.Flush()
	if got := out.Len(); got != len("password="+R+" ")+len(long) {
		t.Errorf("wrote %d bytes; lost or duplicated text", got)
	}
	// The cut falls after a space, so no word is split.
	if !strings.HasSuffix(out.String(), word) {
		t.Errorf("unexpected tail %q", out.String()[out.Len()-20:])
	}
}

func TestWriterReportsWriteErrors(t *testing.T) {
	boom := errors.New("disk full")
	w := New(nil).NewWriter(failingWriter{boom})
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestNewWriterWorksWithTheLogPackage(t *testing.T) {
	var out bytes.Buffer
	l := log.New(NewWriter(&out), "", 0)
	l.Printf("connecting with dsn %s", "mysql://root:toor@db:3306/app")
	if got, want := out.String(), "connecting with dsn mysql://root:"+R+"@db:3306/app\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, ok := NewWriter(io.Discard).(*Writer); !ok {
		t.Error("NewWriter does not return a *Writer")
	}
}

// TestWriterIsSafeForConcurrentUse writes whole and split lines from many
// goroutines; run it with -race.
func TestWriterIsSafeForConcurrentUse(t *testing.T) {
	var out bytes.Buffer
	w := New(nil).NewWriter(&out)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				w.Write([]byte("api_key=canary1 ok\n"))
			}
		})
	}
	wg.Wait()
	if strings.Contains(out.String(), "canary") {
		t.Fatal("secret in output")
	}
	if n := strings.Count(out.String(), "api_key="+R+" ok\n"); n != 800 {
		t.Errorf("got %d masked lines, want 800", n)
	}
}

package masking

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// maxPending bounds the bytes a Writer holds while it waits for the end of a
// line.
const maxPending = 64 << 10

// NewWriter returns an io.Writer that masks what is written to it, with the
// default options, before passing it to w; for log.SetOutput and any other
// logger that writes text. It is a *Writer: call its Flush before exit so a
// last line without a newline is not lost.
func NewWriter(w io.Writer) io.Writer {
	return defaultMasker.NewWriter(w)
}

// NewWriter returns a Writer that masks with m and writes to w.
func (m *Masker) NewWriter(w io.Writer) *Writer {
	return &Writer{m: m, w: w}
}

// Writer masks a stream of text line by line: a secret is only recognized
// whole, so a line is masked once all of it has arrived, however the writes
// split it. Each Write masks and passes on every complete line it has, in
// one write to the underlying writer, and keeps the rest.
//
// Between writes a Writer holds at most 64 KiB: a longer line is masked
// and written in pieces, cut at a space or tab where possible. A secret that
// straddles such a cut can escape masking, so keep lines shorter than that.
// Flush writes a pending partial line. A PEM private key written line by
// line stays masked across writes.
//
// A Writer is safe for concurrent use; each Write's lines reach the
// underlying writer in order and are not interleaved with another's.
type Writer struct {
	m     *Masker
	w     io.Writer
	mu    sync.Mutex
	buf   []byte // the start of an unfinished line
	inPEM bool   // the previous line ended inside a PEM private key block
}

// Write masks and writes every complete line now buffered. It reports all
// of p as consumed; an error comes from the underlying writer, and the
// lines of that Write are lost.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 && len(p) > 0 && p[len(p)-1] == '\n' && len(p) <= maxPending {
		// One or more whole lines, as log.Logger writes them.
		return len(p), w.emit(p)
	}
	w.buf = append(w.buf, p...)
	var err error
	if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		err = w.emit(w.buf[:i+1])
		w.buf = w.buf[:copy(w.buf, w.buf[i+1:])]
	}
	for err == nil && len(w.buf) >= maxPending {
		cut := cutPoint(w.buf)
		err = w.emit(w.buf[:cut])
		w.buf = w.buf[:copy(w.buf, w.buf[cut:])]
	}
	return len(p), err
}

// Flush masks and writes a pending partial line, if any.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	err := w.emit(w.buf)
	w.buf = w.buf[:0]
	return err
}

func (w *Writer) emit(chunk []byte) error {
	out, _, open := w.m.maskPEM(string(chunk), w.inPEM)
	w.inPEM = open
	if _, err := io.WriteString(w.w, out); err != nil {
		return fmt.Errorf("masking: write: %w", err)
	}
	return nil
}

// cutPoint picks where to split an over-long line: after the last space or
// tab in the second half of the limit, so a token is not cut in two, or at
// the limit.
func cutPoint(b []byte) int {
	lim := min(len(b), maxPending)
	if i := bytes.LastIndexAny(b[lim/2:lim], " \t"); i >= 0 {
		return lim/2 + i + 1
	}
	return lim
}

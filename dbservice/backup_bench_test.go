package dbservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

// The benchmarks and the test below measure the backup path's own memory:
// documents come from a synthetic source that makes them up on the fly and
// go to a sink that drops them, so no store's growth hides in the figures.

// synthetic is a read-only Service of n made-up documents in one
// collection; its cursor is the position as decimal digits.
type synthetic struct {
	dbservice.Service
	n int
}

func synthDoc(i int) dbservice.Doc {
	return dbservice.Doc{
		"_id":    fmt.Sprintf("doc-%07d", i),
		"_rev":   "1-" + strconv.Itoa(i),
		"name":   fmt.Sprintf("agent number %d", i),
		"active": i%3 != 0,
		"runs":   float64(i % 1000),
		"tags":   []any{"builder", "search", float64(i % 7)},
		"owner":  map[string]any{"id": fmt.Sprintf("team-%d", i%50), "region": "eu-west-1"},
	}
}

func (s *synthetic) Query(_ context.Context, _ string, q dbservice.Query) (dbservice.Page, error) {
	start := 0
	if q.Cursor != "" {
		start, _ = strconv.Atoi(q.Cursor)
	}
	end := min(start+q.Limit, s.n)
	p := dbservice.Page{Docs: make([]dbservice.Doc, 0, end-start)}
	for i := start; i < end; i++ {
		p.Docs = append(p.Docs, synthDoc(i))
	}
	if end < s.n {
		p.Next = strconv.Itoa(end)
	}
	return p, nil
}

// heapPeak samples the live heap (after a full GC) and keeps the peak
// above the baseline taken by reset.
type heapPeak struct{ base, peak uint64 }

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (h *heapPeak) reset() { h.base, h.peak = liveHeap(), 0 }

func (h *heapPeak) sample() {
	if live := liveHeap(); live > h.base && live-h.base > h.peak {
		h.peak = live - h.base
	}
}

func (h *heapPeak) mb() float64 { return float64(h.peak) / (1 << 20) }

// sampleEvery is how many documents pass between two heap samples.
const sampleEvery = 10_000

// samplingWriter discards what Export writes and samples the heap at every
// sampleEvery-th line.
type samplingWriter struct {
	h     *heapPeak
	lines int
}

func (w *samplingWriter) Write(p []byte) (int, error) {
	before := w.lines
	w.lines += bytes.Count(p, []byte{'\n'})
	if w.lines/sampleEvery != before/sampleEvery {
		w.h.sample()
	}
	return len(p), nil
}

// sink is a BulkWriter that drops documents and samples the heap every
// sampleEvery documents.
type sink struct {
	dbservice.Service
	h    *heapPeak
	docs int
}

func (s *sink) SaveMany(_ context.Context, _ string, items []dbservice.BulkItem) error {
	before := s.docs
	s.docs += len(items)
	if s.docs/sampleEvery != before/sampleEvery {
		s.h.sample()
	}
	return nil
}

// genReader produces n backup lines on demand.
type genReader struct {
	n, i int
	buf  bytes.Buffer
}

func (g *genReader) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && g.i < g.n {
		d := synthDoc(g.i)
		delete(d, "_rev")
		b, _ := json.Marshal(map[string]any{"collection": "agents", "doc": d})
		g.buf.Write(b)
		g.buf.WriteByte('\n')
		g.i++
	}
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

func measureExport(tb testing.TB, n int) *heapPeak {
	h := &heapPeak{}
	h.reset()
	w := &samplingWriter{h: h}
	st, err := dbservice.Export(context.Background(), &synthetic{n: n}, w, "agents")
	if err != nil || st.Docs != int64(n) {
		tb.Fatalf("export = %+v, %v", st, err)
	}
	h.sample()
	return h
}

func measureImport(tb testing.TB, n int) *heapPeak {
	h := &heapPeak{}
	h.reset()
	s := &sink{h: h}
	st, err := dbservice.Import(context.Background(), s, &genReader{n: n}, dbservice.ImportOptions{})
	if err != nil || st.Docs != int64(n) {
		tb.Fatalf("import = %+v, %v", st, err)
	}
	h.sample()
	return h
}

func measureCopy(tb testing.TB, n int) *heapPeak {
	h := &heapPeak{}
	h.reset()
	st, err := dbservice.Copy(context.Background(), &synthetic{n: n}, &sink{h: h}, "agents")
	if err != nil || st.Docs != int64(n) {
		tb.Fatalf("copy = %+v, %v", st, err)
	}
	h.sample()
	return h
}

// TestBackupMemoryIsBounded holds Export to constant memory and Import to a
// batch plus its duplicate-ID set (16-byte keys), whatever the input size.
func TestBackupMemoryIsBounded(t *testing.T) {
	const small, large = 5_000, 50_000
	t.Run("export memory does not grow with the number of documents", func(t *testing.T) {
		s, l := measureExport(t, small), measureExport(t, large)
		if l.peak > s.peak+512<<10 {
			t.Errorf("peak live heap %d B for %d docs vs %d B for %d: export holds documents", l.peak, large, s.peak, small)
		}
	})
	t.Run("import memory grows only by its duplicate-ID set", func(t *testing.T) {
		s, l := measureImport(t, small), measureImport(t, large)
		perDoc := float64(int64(l.peak)-int64(s.peak)) / (large - small)
		if perDoc > 96 {
			t.Errorf("import keeps %.0f B per document (peak %d B for %d docs, %d B for %d), want at most 96", perDoc, l.peak, large, s.peak, small)
		}
	})
}

// BenchmarkBackup100k exports, imports and copies 100,000 documents and
// reports the peak live heap above the baseline, sampled after a full GC
// every 10,000 documents.
func BenchmarkBackup100k(b *testing.B) {
	const n = 100_000
	for _, bc := range []struct {
		name string
		run  func(testing.TB, int) *heapPeak
	}{
		{"export", measureExport},
		{"import", measureImport},
		{"copy", measureCopy},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var peak float64
			for b.Loop() {
				peak = max(peak, bc.run(b, n).mb())
			}
			b.ReportMetric(peak, "peak-live-heap-MB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

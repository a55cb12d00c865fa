package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
)

// labelKey is the pprof label Labeled puts on the goroutines it tracks.
const labelKey = "securedb-testenv-goroutines"

// Labeled runs f under a pprof label unique to this call. Every goroutine f
// starts, and every goroutine those start, inherits the label, so the
// returned count reports how many goroutines begun by f are still alive:
// after f has closed what it opened, anything counted was left behind. It
// counts the test's own goroutines only, unlike runtime.NumGoroutine, so a
// test checking for leaks this way can run in parallel with others.
// Goroutines a library starts once per process on first use are counted
// too: use the library once before, outside f.
func Labeled(t testing.TB, f func(ctx context.Context)) (alive func() int) {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(b[:])
	pprof.Do(context.Background(), pprof.Labels(labelKey, id), f)
	return func() int { return countLabeled(labelKey, id) }
}

// countLabeled counts the live goroutines whose labels hold key=value, from
// the goroutine profile's text form: records of "N @ ..." followed by a
// "# labels: {...}" line.
func countLabeled(key, value string) int {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return -1
	}
	want := strconv.Quote(key) + ":" + strconv.Quote(value)
	n, count := 0, 0
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if head, _, ok := strings.Cut(line, " @ "); ok {
			count, _ = strconv.Atoi(head)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# labels: "); ok && strings.Contains(rest, want) {
			n += count
		}
	}
	return n
}

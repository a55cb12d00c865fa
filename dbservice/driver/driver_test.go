package driver_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/dbservice/driver"
)

func mustPanic(t *testing.T, what, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("%s did not panic", what)
		}
		if !strings.Contains(fmt.Sprint(r), want) {
			t.Fatalf("%s panicked with %q, want it to mention %q", what, r, want)
		}
	}()
	f()
}

// TestRegisterRefusesDuplicatesAndBadNames: a second registration under a
// taken name, a nil driver and a name DATABASE_PROVIDER could not carry are
// refused, and the first registration stays in place.
func TestRegisterRefusesDuplicatesAndBadNames(t *testing.T) {
	first := countingDriver{new(int)}
	driver.Register("dup-test", first)
	mustPanic(t, "a duplicate Register", "twice", func() { driver.Register("dup-test", countingDriver{new(int)}) })
	if d, ok := driver.Lookup("dup-test"); !ok || d != first {
		t.Fatalf("after a refused duplicate, Lookup = %v, %v; want the first driver", d, ok)
	}
	mustPanic(t, "a nil driver", "nil driver", func() { driver.Register("nil-test", nil) })
	for _, name := range []string{"", "Upper", "1digit", "with space", "dot.name", strings.Repeat("a", 33)} {
		mustPanic(t, fmt.Sprintf("Register(%q)", name), "invalid provider name", func() { driver.Register(name, first) })
	}
	if _, ok := driver.Lookup("nil-test"); ok {
		t.Fatal("a refused registration is visible")
	}
}

// TestRegisterIsSafeForConcurrentUse registers and looks up from many
// goroutines at once; the race detector (make test) checks the locking.
func TestRegisterIsSafeForConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			driver.Register(fmt.Sprintf("conc-%d", i), countingDriver{new(int)})
		}()
		go func() {
			defer wg.Done()
			_ = driver.Names()
			_, _ = driver.Lookup("conc-0")
		}()
	}
	wg.Wait()
	names := strings.Join(driver.Names(), " ")
	for i := range 16 {
		if !strings.Contains(names, fmt.Sprintf("conc-%d", i)) {
			t.Errorf("conc-%d is missing from %s", i, names)
		}
	}
}

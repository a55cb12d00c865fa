package secrets_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/secrets"
)

func openNothing(context.Context) (secrets.Resolver, error) { return secrets.Env(), nil }

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

// TestRegisterOpenerRefusesDuplicatesAndBuiltins: a scheme registers once;
// env and file cannot be replaced; invalid schemes and nil openers are
// refused.
func TestRegisterOpenerRefusesDuplicatesAndBuiltins(t *testing.T) {
	secrets.RegisterOpener("dupsm", openNothing)
	mustPanic(t, "a duplicate", "twice", func() { secrets.RegisterOpener("DUPSM", openNothing) })
	mustPanic(t, "env", "built in", func() { secrets.RegisterOpener("env", openNothing) })
	mustPanic(t, "file", "built in", func() { secrets.RegisterOpener("File", openNothing) })
	mustPanic(t, "nil", "nil opener", func() { secrets.RegisterOpener("nilsm", nil) })
	mustPanic(t, "bad scheme", "invalid scheme", func() { secrets.RegisterOpener("a b", openNothing) })
	got := secrets.Openers()
	if got["dupsm"] == nil || got["nilsm"] != nil {
		t.Fatalf("Openers() = %v; want dupsm and no nilsm", got)
	}
	delete(got, "dupsm") // a copy: the registry keeps it
	if secrets.Openers()["dupsm"] == nil {
		t.Fatal("Openers returned the registry itself")
	}
}

func TestRegisterOpenerIsSafeForConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(2)
		go func() { defer wg.Done(); secrets.RegisterOpener(fmt.Sprintf("conc%d", i), openNothing) }()
		go func() { defer wg.Done(); _ = secrets.Openers() }()
	}
	wg.Wait()
	if n := len(secrets.Openers()); n < 16 {
		t.Fatalf("%d openers registered, want at least 16", n)
	}
}

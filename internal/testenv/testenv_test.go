package testenv

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		val  string
		want bool
	}{{"", false}, {"0", false}, {"false", false}, {"no", false}, {"1", true}, {"true", true}, {"yes", true}} {
		t.Setenv(RequireVar, c.val)
		if got := Required(); got != c.want {
			t.Errorf("Required() with %s=%q = %v, want %v", RequireVar, c.val, got, c.want)
		}
	}
}

func TestNeedReturnsValuesInOrder(t *testing.T) {
	t.Setenv("TESTENV_A", "a")
	t.Setenv("TESTENV_B", "b")
	got := Need(t, "demo", "TESTENV_A", "TESTENV_B")
	if strings.Join(got, ",") != "a,b" {
		t.Fatalf("Need = %v, want [a b]", got)
	}
}

// TestMissingServer runs a child test that needs an unset variable, once
// without and once with SECUREDB_REQUIRE_SERVERS, and checks it skips in the
// first case and fails in the second.
func TestMissingServer(t *testing.T) {
	for _, c := range []struct {
		require  string
		wantFail bool
		wantText string
	}{
		{"", false, "--- SKIP: TestChildNeedsServer"},
		{"1", true, "--- FAIL: TestChildNeedsServer"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildNeedsServer$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", RequireVar+"="+c.require, "TESTENV_UNSET=")
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.wantFail || !strings.Contains(string(out), c.wantText) {
			t.Errorf("%s=%q: err %v, output:\n%s\nwant %q", RequireVar, c.require, err, out, c.wantText)
		}
		if !strings.Contains(string(out), "TESTENV_UNSET not set") {
			t.Errorf("the reason does not name the variable:\n%s", out)
		}
	}
}

func TestChildNeedsServer(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "" {
		t.Skip("child process of TestMissingServer only")
	}
	Need(t, "demo", "TESTENV_UNSET")
	t.Fatal("Need returned although the variable is unset")
}

func TestLabeledCountsOnlyTheGoroutinesItStarted(t *testing.T) {
	stop := make(chan struct{})
	other := make(chan struct{})
	go func() { <-other }() // not started under the label
	defer close(other)
	started := make(chan struct{})
	alive := Labeled(t, func(context.Context) {
		go func() {
			go func() { <-stop }() // a grandchild inherits the label too
			close(started)
			<-stop
		}()
	})
	<-started
	if n := alive(); n != 2 {
		t.Fatalf("alive() = %d with a child and a grandchild running, want 2", n)
	}
	close(stop)
	WaitFor(t, 10*time.Second, "the labeled goroutines to end", func() bool { return alive() == 0 })
}

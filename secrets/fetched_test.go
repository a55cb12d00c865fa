package secrets_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/securedb-go/securedb/secrets"
)

// Fetched says when each cached value came from its source, by scheme
// only; a value served from the cache keeps its time, a Refresh renews it.
func TestFetchedTimes(t *testing.T) {
	b := &backend{value: "v1"}
	c, clk := newCache(b, secrets.Options{TTL: time.Hour})
	start := clk.now()
	if got := c.Fetched(); len(got) != 0 {
		t.Fatalf("an empty cache reports %v", got)
	}
	resolveValue(t, c, ref)
	clk.advance(10 * time.Minute)
	resolveValue(t, c, ref) // from the cache
	got := c.Fetched()
	if len(got) != 1 || got[0].Scheme != "awssm" || !got[0].At.Equal(start) {
		t.Fatalf("Fetched = %v, want one awssm entry fetched at %v", got, start)
	}
	if _, err := c.Refresh(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if got := c.Fetched(); !got[0].At.Equal(start.Add(10 * time.Minute)) {
		t.Fatalf("after Refresh Fetched = %v, want the refresh time", got)
	}
}

// OnRefresh runs once per successful Refresh with the caller's context,
// and not for a Resolve or a failed Refresh.
func TestOnRefresh(t *testing.T) {
	type key struct{}
	var calls []string
	b := &backend{value: "v1"}
	c, _ := newCache(b, secrets.Options{TTL: time.Hour, OnRefresh: func(ctx context.Context, r string) {
		if ctx.Value(key{}) != "caller" {
			t.Error("OnRefresh did not get the caller's context")
		}
		calls = append(calls, r)
	}})
	ctx := context.WithValue(context.Background(), key{}, "caller")
	resolveValue(t, c, ref)
	if _, err := c.Refresh(ctx, ref); err != nil {
		t.Fatal(err)
	}
	b.set("", errors.New("backend down"))
	if _, err := c.Refresh(ctx, ref); err == nil {
		t.Fatal("Refresh with a failing backend succeeded")
	}
	if len(calls) != 1 || calls[0] != ref {
		t.Fatalf("OnRefresh calls %q, want one for %q", calls, ref)
	}
}

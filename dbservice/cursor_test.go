package dbservice_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

const cursorKeyCanary = "CANARY-cursor-key-0123456789abcdef"

// TestCursorSignerSharesAKeyAndNothingElse: two signers made from the same
// key bytes (two instances of a service) accept each other's cursors; a
// signer with another key, or the per-process one, refuses them.
func TestCursorSignerSharesAKeyAndNothingElse(t *testing.T) {
	q, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{dbservice.Where("a", dbservice.Eq, "x")}})
	if err != nil {
		t.Fatal(err)
	}
	a, errA := dbservice.NewCursorSigner([]byte(cursorKeyCanary))
	b, errB := dbservice.NewCursorSigner([]byte(cursorKeyCanary))
	other, errO := dbservice.NewCursorSigner([]byte(strings.Repeat("k", 32)))
	if errA != nil || errB != nil || errO != nil {
		t.Fatal(errA, errB, errO)
	}
	if a.Ephemeral() || !dbservice.ProcessCursorSigner().Ephemeral() {
		t.Fatal("Ephemeral is wrong")
	}
	c, err := a.Encode("agents", q, map[string]string{"a": "a1"})
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]string
	if err := b.Decode("agents", q, c, &st); err != nil || st["a"] != "a1" {
		t.Fatalf("another signer with the same key: %v, %v", st, err)
	}
	for name, s := range map[string]*dbservice.CursorSigner{"another key": other, "the per-process key": nil} {
		if err := s.Decode("agents", q, c, &st); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := dbservice.NewCursorSigner([]byte("short")); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("a 5-byte key: %v, want ErrInvalid", err)
	}
}

// TestCursorsCrossInstancesWithOneKey: a cursor one memory Service issued
// pages on in another holding the same key, and is refused by one holding
// another key.
func TestCursorsCrossInstancesWithOneKey(t *testing.T) {
	ctx := context.Background()
	key, _ := dbservice.NewCursorSigner([]byte(cursorKeyCanary))
	otherKey, _ := dbservice.NewCursorSigner([]byte(strings.Repeat("z", 40)))
	a := memory.New(memory.WithCursorSigner(key))
	b := memory.New(memory.WithCursorSigner(key))
	c := memory.New(memory.WithCursorSigner(otherKey))
	for _, s := range []*memory.Service{a, b, c} {
		for i := range 5 {
			if _, err := s.Save(ctx, "agents", fmt.Sprintf("a%d", i), dbservice.Doc{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	p, err := a.Query(ctx, "agents", dbservice.Query{Limit: 2})
	if err != nil || p.Next == "" {
		t.Fatal(p, err)
	}
	p2, err := b.Query(ctx, "agents", dbservice.Query{Limit: 2, Cursor: p.Next})
	if err != nil || len(p2.Docs) != 2 || p2.Docs[0]["_id"] != "a2" {
		t.Fatalf("page 2 on the other instance: %v, %v", p2.Docs, err)
	}
	if _, err := c.Query(ctx, "agents", dbservice.Query{Limit: 2, Cursor: p.Next}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("an instance with another key: %v, want ErrInvalid", err)
	}
}

// TestCursorSignerNeverShowsItsKey prints a signer every way a program
// might, with a canary key.
func TestCursorSignerNeverShowsItsKey(t *testing.T) {
	s, err := dbservice.NewCursorSigner([]byte(cursorKeyCanary))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		fmt.Fprintf(&out, verb+"\n", s)
		fmt.Fprintf(&out, verb+"\n", struct{ S *dbservice.CursorSigner }{s})
	}
	j, _ := json.Marshal(struct{ S *dbservice.CursorSigner }{s})
	out.Write(j)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("m", "s", s)
	slog.New(slog.NewTextHandler(&out, nil)).Info("m", "s", s)
	for _, leak := range []string{cursorKeyCanary, hex.EncodeToString([]byte(cursorKeyCanary)), strings.ToUpper(hex.EncodeToString([]byte(cursorKeyCanary)))} {
		if strings.Contains(out.String(), leak) {
			t.Fatalf("the key shows:\n%s", out.String())
		}
	}
}

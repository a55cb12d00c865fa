package securedb_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func randomKey(t *testing.T) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// findingStatus returns the status of the posture item id for db.
func findingStatus(db dbservice.Service, id string) (dbservice.Status, string) {
	for _, f := range dbservice.CheckPosture(context.Background(), db) {
		if f.ID == id {
			return f.Status, f.Detail
		}
	}
	return "", ""
}

// TestCursorKeyIsSharedAcrossInstances opens two services with the same
// SECUREDB_CURSOR_KEY (an env:// reference) and a third with another key,
// on every provider this run has a server for: a cursor from the first
// pages on in the second, as behind a load balancer, and the third refuses
// it. The posture item cursor-key passes with a key and warns without.
func TestCursorKeyIsSharedAcrossInstances(t *testing.T) {
	for _, provider := range securedb.Providers {
		t.Run(provider, func(t *testing.T) {
			ctx := context.Background()
			t.Setenv("SECUREDB_TEST_CURSOR_KEY", randomKey(t))
			t.Setenv(securedb.EnvCursorKey, "env://SECUREDB_TEST_CURSOR_KEY")
			a := openFromEnv(t, provider)
			b := openFromEnv(t, provider)
			t.Setenv(securedb.EnvCursorKey, randomKey(t))
			other := openFromEnv(t, provider)
			t.Setenv(securedb.EnvCursorKey, "")
			keyless := openFromEnv(t, provider)

			coll := dbtest.Collection(t)
			for _, s := range []dbservice.Service{a, b, other} {
				for i := range 5 {
					if _, err := s.Save(ctx, coll, fmt.Sprintf("a%d", i), dbservice.Doc{"i": i}); err != nil {
						t.Fatal(err)
					}
				}
				if provider != securedb.Memory {
					break // one store behind every instance
				}
			}
			p, err := a.Query(ctx, coll, dbservice.Query{Limit: 2})
			if err != nil || p.Next == "" {
				t.Fatalf("first page: %v, next %q", err, p.Next)
			}
			p2, err := b.Query(ctx, coll, dbservice.Query{Limit: 2, Cursor: p.Next})
			if err != nil || len(p2.Docs) != 2 {
				t.Fatalf("second page on another instance with the same key: %d documents, %v", len(p2.Docs), err)
			}
			if provider != securedb.DynamoDB { // DynamoDB pages in scan order
				if p2.Docs[0]["_id"] != "a2" || p2.Docs[1]["_id"] != "a3" {
					t.Fatalf("second page: %v %v, want a2 a3", p2.Docs[0]["_id"], p2.Docs[1]["_id"])
				}
			}
			for name, s := range map[string]dbservice.Service{"another key": other, "no key": keyless} {
				if _, err := s.Query(ctx, coll, dbservice.Query{Limit: 2, Cursor: p.Next}); !errors.Is(err, dbservice.ErrInvalid) {
					t.Errorf("an instance with %s: %v, want ErrInvalid", name, err)
				}
			}
			if provider != securedb.Memory {
				if st, d := findingStatus(a, dbservice.ItemCursorKey); st != dbservice.Pass {
					t.Errorf("cursor-key with a shared key: %s (%s), want pass", st, d)
				}
				if st, d := findingStatus(keyless, dbservice.ItemCursorKey); st != dbservice.Warn || !strings.Contains(d, "restart") {
					t.Errorf("cursor-key without a key: %s (%s), want warn", st, d)
				}
			}
		})
	}
}

// TestCursorKeyIsCheckedAtOpen: a short key, a literal key and a reference
// that does not resolve are told apart at Open, and no error shows the key.
func TestCursorKeyIsCheckedAtOpen(t *testing.T) {
	ctx := context.Background()
	const short = "CANARY-short-key"
	_, err := securedb.Open(ctx, securedb.Config{CursorKey: short})
	if !errors.Is(err, dbservice.ErrInvalid) || strings.Contains(err.Error(), short) {
		t.Fatalf("a 16-byte key: %v, want ErrInvalid without the key", err)
	}
	_, err = securedb.Open(ctx, securedb.Config{CursorKey: "env://SECUREDB_TEST_NO_SUCH_VARIABLE"})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("an unresolvable reference: %v, want ErrInvalid", err)
	}
	literal := "CANARY-" + randomKey(t)
	db, err := securedb.Open(ctx, securedb.Config{CursorKey: literal})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, d := findingStatus(db, dbservice.ItemCursorKey)
	if st != dbservice.Warn || !strings.Contains(d, "holds the cursor key itself") || strings.Contains(d, literal) {
		t.Fatalf("cursor-key with a literal key: %s (%s), want warn naming the variable, not the key", st, d)
	}
}

package gcpkms_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// The middleware end to end with this KEK through the real Cloud KMS
// client, against the gRPC fake.

func layer(t testing.TB, raw dbservice.Service, kek fieldcrypt.KEK, colls ...string) *fieldcrypt.Service {
	t.Helper()
	f := fieldcrypt.Fields{"email": fieldcrypt.Deterministic, "token": fieldcrypt.Randomized, "profile.phone": fieldcrypt.Randomized}
	cs := map[string]fieldcrypt.Fields{}
	for _, c := range colls {
		cs[c] = f
	}
	fc, err := fieldcrypt.New(raw, fieldcrypt.Config{KEK: kek, KeysCollection: "fc_keys", Collections: cs})
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

func person(c string, i int) dbservice.Doc {
	return dbservice.Doc{
		"email":   fmt.Sprintf("%s-%d@example.com", c, i),
		"token":   c + "-token",
		"profile": map[string]any{"phone": c + "-phone"},
	}
}

func TestFieldEncryptionThroughCloudKMS(t *testing.T) {
	f := newFakeKMS(t, keyA)
	c, _ := newClient(t, f)
	kek := newKEK(t, c, keyA)
	raw := memory.New()
	ctx := t.Context()
	fc := layer(t, raw, kek, "people")
	for i := range 3 {
		if _, err := fc.Save(ctx, "people", fmt.Sprint("p", i), person(canary, i)); err != nil {
			t.Fatalf("Save: %v", err)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d Cloud KMS calls for a collection's first writes, want 2 (one per data keyset)", n)
	}
	got, err := fc.Get(ctx, "people", "p2")
	if err != nil || got["email"] != person(canary, 2)["email"] || got["token"] != canary+"-token" || got["profile"].(map[string]any)["phone"] != canary+"-phone" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	page, err := fc.Query(ctx, "people", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, person(canary, 1)["email"])}})
	if err != nil || len(page.Docs) != 1 || page.Docs[0]["_id"] != "p1" {
		t.Fatalf("equality on the encrypted email = %v, %v; want p1", page.Docs, err)
	}
	stored, err := raw.Get(ctx, "people", "p1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(stored)
	if bytes.Contains(b, []byte(canary)) || !bytes.Contains(b, []byte("sdbenc:v1:")) {
		t.Fatalf("stored document is not encrypted or holds the canary: %s", b)
	}
	if k, err := raw.Get(ctx, "fc_keys", "people"); err != nil || k["kek_kind"] != "gcp-kms" || k["kek_id"] != keyA {
		t.Fatalf("stored keyset = %v, %v; want wrapped by %s", k, err, keyA)
	}
}

// TestCloudKMSCallsPer10kOperations counts the calls the fake receives
// over 10,000 mixed operations of a process that starts with stored keys.
func TestCloudKMSCallsPer10kOperations(t *testing.T) {
	f := newFakeKMS(t, keyA)
	c, _ := newClient(t, f)
	kek := newKEK(t, c, keyA)
	raw := memory.New()
	ctx := t.Context()
	colls := []string{"people", "orders", "devices"}
	first := layer(t, raw, kek, colls...)
	for _, coll := range colls {
		if _, err := first.Save(ctx, coll, "first", person(coll, 0)); err != nil {
			t.Fatal(err)
		}
	}
	f.calls.Store(0)
	fc := layer(t, raw, kek, colls...)
	const ops = 10000
	for i := range ops {
		coll := colls[i%len(colls)]
		id := fmt.Sprint("d", i%200)
		var err error
		switch i % 4 {
		case 0, 1:
			_, err = fc.Save(ctx, coll, id, person(coll, i))
		case 2:
			if _, err = fc.Get(ctx, coll, id); errors.Is(err, dbservice.ErrNotFound) {
				err = nil
			}
		case 3:
			_, err = fc.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, fmt.Sprintf("%s-%d@example.com", coll, i-1))}})
		}
		if err != nil {
			t.Fatalf("operation %d: %v", i, err)
		}
	}
	n := f.calls.Load()
	t.Logf("Cloud KMS calls over %d mixed operations (%d collections, 2 data keysets each): %d", ops, len(colls), n)
	if n != int64(2*len(colls)) {
		t.Fatalf("the fake received %d calls over %d operations; want exactly %d, one per data keyset", n, ops, 2*len(colls))
	}
}

package fieldcrypt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
)

func TestOpenWithFieldEncryption(t *testing.T) {
	ctx := t.Context()
	kek := newTestKEK(t)
	db, err := securedb.Open(ctx, securedb.Config{DisableAudit: true, FieldEncryption: fieldcrypt.Config{
		KEK: kek, Collections: map[string]fieldcrypt.Fields{"users": {"ssn": fieldcrypt.Randomized}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := canary(t)
	if _, err := db.Save(ctx, "users", "u1", dbservice.Doc{"ssn": c}); err != nil {
		t.Fatal(err)
	}
	if d, err := db.Get(ctx, "users", "u1"); err != nil || d["ssn"] != c {
		t.Fatalf("read back = %v, %v", d, err)
	}
	// Below the layer the provider holds ciphertext.
	var below dbservice.Service
	for cur := dbservice.Service(db); cur != nil; {
		if fc, ok := cur.(*fieldcrypt.Service); ok {
			below = fc.Unwrap()
			break
		}
		w, ok := cur.(dbservice.Wrapper)
		if !ok {
			break
		}
		cur = w.Unwrap()
	}
	if below == nil {
		t.Fatal("no field encryption layer in the opened stack")
	}
	if d, err := below.Get(ctx, "users", "u1"); err != nil || !strings.HasPrefix(d["ssn"].(string), "sdbenc:v1:r:") {
		t.Errorf("stored = %v, %v", d, err)
	}
	for _, f := range dbservice.CheckPosture(ctx, db) {
		if f.ID == dbservice.ItemEncryptionAtRest && !strings.Contains(f.Detail, "users.ssn (randomized)") {
			t.Errorf("encryption-at-rest = %s %q", f.Status, f.Detail)
		}
	}
	_, err = securedb.Open(ctx, securedb.Config{FieldEncryption: fieldcrypt.Config{}})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Open with a field encryption config without KEK = %v, want ErrInvalid", err)
	}
}

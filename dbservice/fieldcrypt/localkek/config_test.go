package localkek_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek"
)

func TestConfiguredLocalKeyset(t *testing.T) {
	js, err := localkek.Generate()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kek.json")
	if err := os.WriteFile(path, js, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := securedb.Config{DisableAudit: true, FieldKEK: "local-keyset:file://" + path, EncryptedFields: "users:ssn=randomized"}
	ctx := t.Context()

	// Refused until the program's code allows it.
	_, err = securedb.Open(ctx, cfg)
	if !errors.Is(err, dbservice.ErrInsecure) || !strings.Contains(err.Error(), fieldcrypt.EnvKEK) {
		t.Fatalf("Open with a local keyset not allowed in code = %v; want ErrInsecure naming %s", err, fieldcrypt.EnvKEK)
	}
	if strings.Contains(err.Error(), string(js)) {
		t.Fatal("error quotes the keyset")
	}

	localkek.AllowInConfiguration()
	db, err := securedb.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := db.Save(ctx, "users", "u1", dbservice.Doc{"ssn": "123-45-6789"}); err != nil {
		t.Fatal(err)
	}
	if d, err := db.Get(ctx, "users", "u1"); err != nil || d["ssn"] != "123-45-6789" {
		t.Fatalf("Get = %v, %v", d, err)
	}
	k, err := fieldcrypt.OpenKEK(ctx, cfg.FieldKEK, nil)
	if err != nil || k.Kind() != localkek.Kind {
		t.Fatalf("OpenKEK = %v, %v", k, err)
	}
	if _, err := fieldcrypt.OpenKEK(ctx, "local-keyset:file://"+filepath.Join(t.TempDir(), "missing.json"), nil); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("OpenKEK of a missing file = %v; want ErrNotFound", err)
	}
}

package fieldcrypt_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
)

func TestParseFields(t *testing.T) {
	want := map[string]fieldcrypt.Fields{
		"users":  {"email": fieldcrypt.Deterministic, "token": fieldcrypt.Randomized, "profile.phone": fieldcrypt.Randomized},
		"orders": {"card": fieldcrypt.Deterministic},
	}
	for _, text := range []string{
		"users:email=deterministic,users:token=randomized, users:profile.phone = Randomized ,orders:card=deterministic",
		`{"users": {"email": "deterministic", "token": "randomized", "profile.phone": "randomized"}, "orders": {"card": "deterministic"}}`,
	} {
		got, err := fieldcrypt.ParseFields(text)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseFields(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
}

func TestBadFieldConfigurationIsInvalidAndNamesTheVariable(t *testing.T) {
	c := canary(t)
	for _, text := range []string{
		"", "  ", "users", "users:email", c + "=deterministic", "users:email=" + c, ":email=randomized", "users:=randomized",
		"users:email=randomized,users:email=deterministic", "users:email=randomized,", `{"users": ` + c, `{"users": {}}`,
		`{"users": {"email": "` + c + `"}}`,
	} {
		_, err := fieldcrypt.ParseFields(text)
		if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), fieldcrypt.EnvFields) {
			t.Errorf("ParseFields(%q) = %v; want ErrInvalid naming %s", text, err, fieldcrypt.EnvFields)
		}
		if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), c) {
			t.Errorf("error quotes the configuration: %v", err)
		}
	}
}

func TestBadKEKConfigurationIsInvalidAndNamesTheVariable(t *testing.T) {
	c := canary(t)
	for _, tc := range []struct{ text, says string }{
		{"", "is empty"},
		{c, "SCHEME://KEY"},
		{"aws-kms://", "SCHEME://KEY"},
		{"vault://" + c, "unknown scheme"},
		// This test binary links no KEK package: the error names the import.
		{"aws-kms://arn:aws:kms:us-east-1:111122223333:key/" + c, "dbservice/fieldcrypt/awskms"},
		{"gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/" + c, "dbservice/fieldcrypt/gcpkms"},
		{"local-keyset:file:///" + c, "dbservice/fieldcrypt/localkek"},
	} {
		_, err := fieldcrypt.OpenKEK(t.Context(), tc.text, nil)
		if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), fieldcrypt.EnvKEK) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("OpenKEK(%q) = %v; want ErrInvalid naming %s and saying %q", tc.text, err, fieldcrypt.EnvKEK, tc.says)
		}
		if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), c) {
			t.Errorf("error quotes the KEK configuration: %v", err)
		}
	}
}

func TestOpenFromEnvChecksFieldVariables(t *testing.T) {
	for _, tc := range []struct{ kek, fields, names string }{
		{"aws-kms://alias/x", "", securedb.EnvFieldEncryption},
		{"", "users:email=deterministic", securedb.EnvFieldKEK},
		{"aws-kms://alias/x", "users:email", securedb.EnvFieldEncryption},
		{"aws-kms://alias/x", "users:email=deterministic", "dbservice/fieldcrypt/awskms"},
	} {
		t.Setenv("DATABASE_PROVIDER", "memory")
		t.Setenv(securedb.EnvFieldKEK, tc.kek)
		t.Setenv(securedb.EnvFieldEncryption, tc.fields)
		cfg, err := securedb.ConfigFromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.FieldKEK != tc.kek || cfg.EncryptedFields != tc.fields {
			t.Fatalf("ConfigFromEnv read %q, %q", cfg.FieldKEK, cfg.EncryptedFields)
		}
		cfg.DisableAudit = true
		db, err := securedb.Open(t.Context(), cfg)
		if err == nil {
			_ = db.Close()
		}
		if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("Open(%q, %q) = %v; want ErrInvalid naming %s", tc.kek, tc.fields, err, tc.names)
		}
	}
	_, err := securedb.Open(t.Context(), securedb.Config{DisableAudit: true, FieldKEK: "aws-kms://alias/x", EncryptedFields: "u:e=randomized",
		FieldEncryption: fieldcrypt.Config{KEK: newTestKEK(t)}})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Open with both forms = %v, want ErrInvalid", err)
	}
}

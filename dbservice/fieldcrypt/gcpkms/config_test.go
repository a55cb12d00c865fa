package gcpkms_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
)

func TestConfiguredKeyNameIsChecked(t *testing.T) {
	for _, text := range []string{"gcp-kms://" + canary, "gcp-kms://projects/p/locations/l/keyRings/r", "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"} {
		_, err := fieldcrypt.OpenKEK(t.Context(), text, nil)
		if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), fieldcrypt.EnvKEK) {
			t.Errorf("OpenKEK(%q) = %v; want ErrInvalid naming %s", text, err, fieldcrypt.EnvKEK)
		}
		noLeak(t, err)
	}
}

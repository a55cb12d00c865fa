package securedb_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
)

func TestConfigFromEnvPicksTheProvider(t *testing.T) {
	for _, c := range []struct {
		env, want string
		ok        bool
	}{
		{"", "", true},
		{"memory", "memory", true},
		{" CouchDB ", "couchdb", true},
		{"dynamodb", "dynamodb", true},
		{"firestore", "firestore", true},
		{"mongodb", "", false},
	} {
		t.Setenv("DATABASE_PROVIDER", c.env)
		cfg, err := securedb.ConfigFromEnv()
		if (err == nil) != c.ok || (err == nil && cfg.Provider != c.want) {
			t.Errorf("DATABASE_PROVIDER=%q: %+v, %v; want %q ok=%v", c.env, cfg.Provider, err, c.want, c.ok)
		}
		if err != nil {
			if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), "use one of "+strings.Join(securedb.Registered(), ", ")) {
				t.Errorf("unknown provider error %q must be ErrInvalid and list the valid names", err)
			}
		}
	}
}

func TestOpenDefaultsToGuardedMemoryWithAudit(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer slog.SetDefault(prev)

	db, err := securedb.Open(context.Background(), securedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, ok := db.(dbservice.Wrapper); !ok {
		t.Fatal("Open did not wrap the provider in Guard")
	}
	_, err = db.Get(context.Background(), "agents", "../x")
	var e *dbservice.Error
	if !errors.As(err, &e) || e.Provider != "guard" || !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("hostile ID: %v, want ErrInvalid from the guard", err)
	}
	if !strings.Contains(buf.String(), `"msg":"securedb.audit"`) {
		t.Fatalf("no audit record on the default logger: %q", buf.String())
	}

	buf.Reset()
	quiet, err := securedb.Open(context.Background(), securedb.Config{DisableAudit: true})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = quiet.Get(context.Background(), "agents", "x")
	if buf.Len() != 0 {
		t.Fatalf("DisableAudit still audited: %s", buf.String())
	}
}

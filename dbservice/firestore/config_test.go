package firestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/securedb-go/securedb/dbservice"
)

// clearEnv unsets every variable FromEnv and the SDK read, for the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{EnvProjectID, EnvDatabaseID, EnvCredentials, EnvEmulatorHost, EnvCollectionPrefix, EnvAllowRemoteEmulator} {
		t.Setenv(v, "")
	}
}

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want Config
		err  error
	}{
		{"nothing set gives Application Default Credentials and the default database", nil, Config{}, nil},
		{"every variable is read", map[string]string{
			EnvProjectID: "my-project", EnvDatabaseID: "orders-db", EnvCredentials: "/run/secrets/sa.json",
			EnvEmulatorHost: "127.0.0.1:8080", EnvCollectionPrefix: "dev_",
		}, Config{ProjectID: "my-project", DatabaseID: "orders-db", CredentialsFile: "/run/secrets/sa.json", EmulatorHost: "127.0.0.1:8080", CollectionPrefix: "dev_"}, nil},
		{"a domain-scoped project is accepted", map[string]string{EnvProjectID: "example.com:my-project"}, Config{ProjectID: "example.com:my-project"}, nil},
		{"the default database may be named", map[string]string{EnvDatabaseID: "(default)"}, Config{DatabaseID: "(default)"}, nil},
		{"localhost and IPv6 loopback emulators are accepted", map[string]string{EnvEmulatorHost: "[::1]:8080"}, Config{EmulatorHost: "[::1]:8080"}, nil},
		{"a remote emulator is accepted when allowed", map[string]string{EnvEmulatorHost: "firestore:8080", EnvAllowRemoteEmulator: "true"}, Config{EmulatorHost: "firestore:8080", AllowRemoteEmulator: true}, nil},
		{"a remote emulator is insecure", map[string]string{EnvEmulatorHost: "firestore:8080"}, Config{}, dbservice.ErrInsecure},
		{"a project ID with a slash would change the resource path", map[string]string{EnvProjectID: "p/databases/x"}, Config{}, dbservice.ErrInvalid},
		{"an upper-case project ID is refused", map[string]string{EnvProjectID: "MyProject"}, Config{}, dbservice.ErrInvalid},
		{"a database ID with a slash is refused", map[string]string{EnvDatabaseID: "db/x"}, Config{}, dbservice.ErrInvalid},
		{"a prefix with a slash is refused", map[string]string{EnvCollectionPrefix: "a/"}, Config{}, dbservice.ErrInvalid},
		{"a prefix starting with __ is refused", map[string]string{EnvCollectionPrefix: "__x"}, Config{}, dbservice.ErrInvalid},
		{"an emulator URL instead of host:port is refused", map[string]string{EnvEmulatorHost: "http://127.0.0.1:8080"}, Config{}, dbservice.ErrInvalid},
		{"an emulator without a port is refused", map[string]string{EnvEmulatorHost: "127.0.0.1"}, Config{}, dbservice.ErrInvalid},
		{"an emulator port out of range is refused", map[string]string{EnvEmulatorHost: "127.0.0.1:70000"}, Config{}, dbservice.ErrInvalid},
		{"an allow flag that is not a bool is refused", map[string]string{EnvAllowRemoteEmulator: "sure"}, Config{}, dbservice.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			got, err := FromEnv()
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("FromEnv = %v, want %v", err, c.err)
				}
				var e *dbservice.Error
				if !errors.As(err, &e) || e.Op != "open" || e.Provider != provider {
					t.Fatalf("error %#v is not a firestore open *dbservice.Error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if got.String() != c.want.String() || got.AllowRemoteEmulator != c.want.AllowRemoteEmulator {
				t.Fatalf("FromEnv = %v, want %v", got, c.want)
			}
		})
	}
}

func TestConfigPrintsNoSecret(t *testing.T) {
	canary := "canary-api-key-" + runPrefix
	cfg := Config{
		ProjectID:       "my-project",
		CredentialsFile: "/run/secrets/sa.json",
		ClientOptions:   []option.ClientOption{option.WithAPIKey(canary)},
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	for _, text := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", cfg),
		fmt.Sprintf("%v", &cfg), logged.String(),
	} {
		if strings.Contains(text, canary) {
			t.Fatalf("printed config shows a client option's secret: %s", text)
		}
		if !strings.Contains(text, "ClientOptions: 1 [REDACTED]") {
			t.Fatalf("printed config = %s, want the options redacted", text)
		}
	}
}

func TestNewChecksTheConfigurationBeforeConnecting(t *testing.T) {
	dir := t.TempDir()
	canary := "canary-secret-" + runPrefix
	notJSON := filepath.Join(dir, "notjson")
	if err := os.WriteFile(notJSON, []byte("-----BEGIN PRIVATE KEY-----\n"+canary), 0o600); err != nil {
		t.Fatal(err)
	}
	oddType := filepath.Join(dir, "odd.json")
	if err := os.WriteFile(oddType, []byte(`{"type":"`+canary+`","private_key":"`+canary+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  string // FIRESTORE_EMULATOR_HOST in the process
		cfg  Config
		want error
	}{
		{"the emulator variable and Config.EmulatorHost must agree", "127.0.0.1:9001",
			Config{ProjectID: "demo-project", EmulatorHost: "127.0.0.1:9002"}, dbservice.ErrInvalid},
		{"a remote emulator in the variable is insecure", "emulator.example:9001",
			Config{ProjectID: "demo-project"}, dbservice.ErrInsecure},
		{"the emulator needs a project ID", "127.0.0.1:9001", Config{}, dbservice.ErrInvalid},
		{"a missing credentials file is unauthorized", "",
			Config{ProjectID: "demo-project", CredentialsFile: filepath.Join(dir, "absent.json")}, dbservice.ErrUnauthorized},
		{"a credentials file that is not JSON is refused without quoting it", "",
			Config{ProjectID: "demo-project", CredentialsFile: notJSON}, dbservice.ErrInvalid},
		{"a credentials file of an unknown type is refused without quoting it", "",
			Config{ProjectID: "demo-project", CredentialsFile: oddType}, dbservice.ErrInvalid},
		{"a negative call timeout is refused", "",
			Config{ProjectID: "demo-project", CallTimeout: -time.Second}, dbservice.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(EnvEmulatorHost, c.env)
			s, err := New(context.Background(), c.cfg)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("New = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(fmt.Sprintf("%+v", err), canary) {
				t.Fatalf("error quotes the credentials file: %v", err)
			}
		})
	}
}

func TestNewHonoursACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(ctx, Config{ProjectID: "demo-project", EmulatorHost: "127.0.0.1:9001"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("New with a cancelled context = %v, want context.Canceled", err)
	}
}

package dynamodb

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/securedb-go/securedb/dbservice"
)

func clearEnv(t *testing.T) {
	for _, v := range []string{EnvRegion, EnvEndpointURL, EnvTablePrefix, EnvKMSKeyID, EnvCreateMissing, EnvAllowInsecure, EnvScanOnly, EnvIndexRefresh} {
		t.Setenv(v, "")
	}
}

func TestFromEnvReadsTheGuideVariables(t *testing.T) {
	t.Run("nothing set gives the defaults", func(t *testing.T) {
		clearEnv(t)
		cfg, err := FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Region != DefaultRegion || cfg.EndpointURL != "" || !cfg.createMissing() || cfg.AllowInsecureEndpoint || cfg.ScanOnly || cfg.IndexRefresh != 0 {
			t.Fatalf("FromEnv() = %v, want the defaults", cfg)
		}
	})
	t.Run("every variable is read", func(t *testing.T) {
		clearEnv(t)
		t.Setenv(EnvRegion, "eu-west-1")
		t.Setenv(EnvEndpointURL, "http://127.0.0.1:8000")
		t.Setenv(EnvTablePrefix, "app_")
		t.Setenv(EnvKMSKeyID, "alias/app")
		t.Setenv(EnvCreateMissing, "false")
		t.Setenv(EnvAllowInsecure, "true")
		t.Setenv(EnvScanOnly, "true")
		t.Setenv(EnvIndexRefresh, "30s")
		cfg, err := FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		want := Config{Region: "eu-west-1", EndpointURL: "http://127.0.0.1:8000", TablePrefix: "app_", KMSKeyID: "alias/app", AllowInsecureEndpoint: true}
		if cfg.Region != want.Region || cfg.EndpointURL != want.EndpointURL || cfg.TablePrefix != want.TablePrefix ||
			cfg.KMSKeyID != want.KMSKeyID || cfg.createMissing() || !cfg.AllowInsecureEndpoint || !cfg.ScanOnly || cfg.IndexRefresh != 30*time.Second {
			t.Fatalf("FromEnv() = %v, want %v with CreateMissing false, ScanOnly and IndexRefresh 30s", cfg, want)
		}
	})
	bad := []struct {
		name, variable, value string
		sentinel              error
	}{
		{"a region that is not one", EnvRegion, "moon-1; drop", dbservice.ErrInvalid},
		{"a prefix with a slash", EnvTablePrefix, "a/b", dbservice.ErrInvalid},
		{"a boolean that is not one", EnvCreateMissing, "sometimes", dbservice.ErrInvalid},
		{"a scan-only switch that is not a boolean", EnvScanOnly, "maybe", dbservice.ErrInvalid},
		{"an index refresh that is not a duration", EnvIndexRefresh, "soon", dbservice.ErrInvalid},
		{"a negative index refresh", EnvIndexRefresh, "-1s", dbservice.ErrInvalid},
		{"an endpoint with credentials", EnvEndpointURL, "https://user:hunter2@dynamodb.example.com", dbservice.ErrInvalid},
		{"an endpoint of another scheme", EnvEndpointURL, "ftp://dynamodb.example.com", dbservice.ErrInvalid},
		{"plain http to a remote host", EnvEndpointURL, "http://dynamodb.example.com", dbservice.ErrInsecure},
	}
	for _, b := range bad {
		t.Run(b.name+" is refused", func(t *testing.T) {
			clearEnv(t)
			t.Setenv(b.variable, b.value)
			_, err := FromEnv()
			if !errors.Is(err, b.sentinel) {
				t.Fatalf("FromEnv with %s=%q: err = %v, want %v", b.variable, b.value, err, b.sentinel)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error echoes a password: %v", err)
			}
		})
	}
}

func TestNewRefusesInsecureEndpoints(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		sentinel error
	}{
		{"https to a remote host is accepted", Config{EndpointURL: "https://dynamodb.eu-west-1.amazonaws.com"}, nil},
		{"plain http to 127.0.0.1 is accepted", Config{EndpointURL: "http://127.0.0.1:8000"}, nil},
		{"plain http to ::1 is accepted", Config{EndpointURL: "http://[::1]:8000"}, nil},
		{"plain http to localhost is accepted", Config{EndpointURL: "http://localhost:8000"}, nil},
		{"plain http to a remote host is insecure", Config{EndpointURL: "http://10.0.0.5:8000"}, dbservice.ErrInsecure},
		{"plain http to a name that only starts like loopback is insecure", Config{EndpointURL: "http://127.0.0.1.evil.example:8000"}, dbservice.ErrInsecure},
		{"plain http to a remote host is accepted when allowed", Config{EndpointURL: "http://10.0.0.5:8000", AllowInsecureEndpoint: true}, nil},
		{"credentials in the endpoint are refused", Config{EndpointURL: "https://k:s@example.com"}, dbservice.ErrInvalid},
		{"a bad KMS key ID is refused", Config{KMSKeyID: "alias/x y"}, dbservice.ErrInvalid},
		{"a bad collection for posture is refused", Config{Collections: []string{"Bad Name"}}, dbservice.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(context.Background(), c.cfg)
			if c.sentinel == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				_ = s.Close()
				return
			}
			if !errors.Is(err, c.sentinel) {
				t.Fatalf("New: err = %v, want %v", err, c.sentinel)
			}
			var e *dbservice.Error
			if !errors.As(err, &e) || e.Op != "open" || e.Provider != provider {
				t.Fatalf("New: err = %#v, want a *dbservice.Error for op open", err)
			}
		})
	}
}

func TestPrintingAConfigShowsNoSecret(t *testing.T) {
	const canaryKey, canarySecret = "AKIACANARYKEY0000000", "canary-secret-9f8e7d"
	static := credentials.NewStaticCredentialsProvider(canaryKey, canarySecret, "canary-token")
	configs := map[string]Config{
		"credentials provider": {Credentials: static, EndpointURL: "http://127.0.0.1:8000"},
		"base AWS config":      {AWS: &aws.Config{Credentials: static, Region: "eu-west-1"}},
	}
	for name, cfg := range configs {
		t.Run("with a "+name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg)
			outputs := []string{
				fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%q", cfg),
				fmt.Sprintf("%v", &cfg), fmt.Sprint(cfg), cfg.String(), buf.String(),
			}
			for _, out := range outputs {
				for _, secret := range []string{canaryKey, canarySecret, "canary-token"} {
					if strings.Contains(out, secret) {
						t.Fatalf("printed config contains a credential: %s", out)
					}
				}
				if !strings.Contains(out, "REDACTED") {
					t.Fatalf("printed config does not say credentials are redacted: %s", out)
				}
			}
		})
	}
}

func TestServiceWithCredentialsNeverPrintsThem(t *testing.T) {
	const canarySecret = "canary-secret-1a2b3c"
	s, err := New(context.Background(), Config{
		EndpointURL: "http://127.0.0.1:1", // nothing listens: requests fail fast
		Credentials: credentials.NewStaticCredentialsProvider("localkey", canarySecret, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Get(ctx, "agents", "a1")
	for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", s)} {
		if strings.Contains(out, canarySecret) {
			t.Fatalf("output contains the secret: %s", out)
		}
	}
}

func TestMissingCredentialsAreUnauthorized(t *testing.T) {
	const canary = "canary-credential-error-5d6e"
	s, err := New(context.Background(), Config{
		EndpointURL: "http://127.0.0.1:1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no credentials: " + canary)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Get(context.Background(), "agents", "a1")
	if !errors.Is(err, dbservice.ErrUnauthorized) {
		t.Fatalf("Get without credentials: %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatalf("error repeats the credential provider's message: %v", err)
	}
}

// httpClientFunc is an aws.HTTPClient whose TLS nobody can see.
type httpClientFunc func(*http.Request) (*http.Response, error)

func (f httpClientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestTLSPostureJudgesTheEffectiveSettings checks that "tls" looks past
// the https:// scheme at what the HTTP client will do.
func TestTLSPostureJudgesTheEffectiveSettings(t *testing.T) {
	skip := func(tr *http.Transport) { tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} }
	cases := []struct {
		name     string
		endpoint string
		client   aws.HTTPClient // nil: the SDK's default
		want     dbservice.Status
	}{
		{"the regional endpoint with the SDK's client", "", nil, dbservice.Pass},
		{"an https endpoint with the SDK's client", "https://dynamodb.example", nil, dbservice.Pass},
		{"a BuildableClient with InsecureSkipVerify", "https://dynamodb.example", awshttp.NewBuildableClient().WithTransportOptions(skip), dbservice.Fail},
		{"the regional endpoint with InsecureSkipVerify", "", awshttp.NewBuildableClient().WithTransportOptions(skip), dbservice.Fail},
		{"an *http.Client with InsecureSkipVerify", "https://dynamodb.example",
			&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}, dbservice.Fail},
		{"an *http.Client that verifies", "https://dynamodb.example", &http.Client{Transport: &http.Transport{}}, dbservice.Pass},
		{"an opaque HTTP client", "https://dynamodb.example", httpClientFunc(http.DefaultClient.Do), dbservice.Warn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := aws.Config{HTTPClient: c.client}
			cfg := Config{EndpointURL: c.endpoint, AWS: &base, Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f := s.tlsFinding()
			t.Logf("%s: %s", f.Status, f.Detail)
			if f.Status != c.want {
				t.Fatalf("tls = %s (%s), want %s", f.Status, f.Detail, c.want)
			}
		})
	}
}

func TestIndexSettingsAreChecked(t *testing.T) {
	for name, cfg := range map[string]Config{
		"shards past the limit": {IndexShards: MaxIndexShards + 1},
		"negative shards":       {IndexShards: -1},
		"a negative refresh":    {IndexRefresh: -time.Second},
		"shards with ScanOnly":  {ScanOnly: true, IndexShards: 8},
	} {
		if err := cfg.check(); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("%s: check() = %v, want ErrInvalid", name, err)
		}
	}
	if err := (Config{ScanOnly: true, IndexRefresh: time.Second}).check(); err != nil {
		t.Errorf("ScanOnly with a refresh: %v", err)
	}
}

package firestore

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/option"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/otel/trace"
)

// The environment variables FromEnv reads.
const (
	EnvProjectID           = "FIRESTORE_PROJECT_ID"            // Config.ProjectID
	EnvDatabaseID          = "FIRESTORE_DATABASE_ID"           // Config.DatabaseID
	EnvCredentials         = "GOOGLE_APPLICATION_CREDENTIALS"  // Config.CredentialsFile
	EnvEmulatorHost        = "FIRESTORE_EMULATOR_HOST"         // Config.EmulatorHost
	EnvCollectionPrefix    = "FIRESTORE_COLLECTION_PREFIX"     // Config.CollectionPrefix
	EnvAllowRemoteEmulator = "FIRESTORE_ALLOW_REMOTE_EMULATOR" // Config.AllowRemoteEmulator (true|false)
)

// DefaultDatabaseID is the database used when none is configured.
const DefaultDatabaseID = "(default)"

// DefaultCallTimeout bounds one call, the SDK's own retries included, when
// Config.CallTimeout is zero.
const DefaultCallTimeout = 30 * time.Second

// Config configures a Service. Credentials are never part of it as text:
// in production they come from Application Default Credentials (the
// attached service account, workload identity federation, gcloud's user
// credentials) or from the key file CredentialsFile names. Printing a
// Config (any fmt verb, slog) shows no secret.
type Config struct {
	// ProjectID is the Google Cloud project. Empty means: detect it from
	// the credentials (production only; the emulator needs it set).
	ProjectID string
	// DatabaseID is the Firestore database; empty means "(default)".
	DatabaseID string
	// CredentialsFile is a JSON credentials file (a service-account key,
	// an authorized-user or external-account configuration). Empty means
	// Application Default Credentials, which is what production should
	// use: a key file is a long-lived private key, and CheckPosture warns
	// about it. The file's "type" is checked before the SDK reads it, so a
	// file of an unexpected kind is refused. Unused with the emulator.
	CredentialsFile string
	// EmulatorHost ("127.0.0.1:8080") connects to the Firestore emulator
	// instead of Google Cloud: plain-text gRPC, no credentials. It must be
	// a loopback address unless AllowRemoteEmulator is set.
	//
	// The Go SDK dials FIRESTORE_EMULATOR_HOST by itself whenever that
	// variable is set in the process environment. Then EmulatorHost must be
	// empty or equal to it, and gRPC dial options in ClientOptions do not
	// apply to the SDK's connection. With the variable unset, EmulatorHost
	// makes New dial the emulator itself, with ClientOptions applied.
	EmulatorHost string
	// AllowRemoteEmulator permits an EmulatorHost that is not a loopback
	// address (an emulator in another container). Documents then travel in
	// clear text; CheckPosture reports it as a failure.
	AllowRemoteEmulator bool
	// CollectionPrefix is put in front of every collection name to form
	// the Firestore collection ID (prefix+collection), so that several
	// applications or test runs can share a database. Letters, digits,
	// '_' and '-', at most 100 bytes, not starting with "__".
	CollectionPrefix string
	// Limits bounds documents before they are sent; the zero value is
	// validate.DefaultLimits. Firestore's own limits (1 MiB documents, 20
	// levels of nesting) apply on top.
	Limits validate.Limits
	// ScanBudget is the most documents one Query call reads from the
	// database; 0 means dbservice.DefaultScanBudget. Past it a call returns
	// the matches found so far and a Next cursor (see dbservice.Page).
	ScanBudget int
	// ManageIndexes makes EnsureIndex create the composite indexes it
	// declares through the Firestore Admin API, with the client's
	// credentials, which then need roles/datastore.indexAdmin. Off, the
	// indexes are deployed with the application (WriteIndexesJSON). The
	// emulator needs no indexes and has no Admin API: it is ignored there.
	ManageIndexes bool
	// Cursors signs the page cursors this Service issues and checks the
	// ones it is given; nil means dbservice.ProcessCursorSigner, whose
	// cursors do not survive a restart or cross instances. Give every
	// instance of a service the same key (securedb.Config.CursorKey).
	Cursors *dbservice.CursorSigner
	// CallTimeout bounds each call, the SDK's retries of unavailable
	// servers included; a call that runs out of it returns ErrUnavailable.
	// Zero means DefaultCallTimeout. The caller's context still applies.
	CallTimeout time.Duration
	// ClientOptions adjust the Firestore client (gRPC dial options such as
	// interceptors, an endpoint, a token source). They come after the
	// options New derives from the fields above.
	ClientOptions []option.ClientOption
	// Logger receives the provider's few log lines (retries, partial bulk
	// writes), never document contents or credentials; nil means
	// slog.Default(). It is not handed to the SDK, whose debug logging can
	// include request payloads.
	Logger *slog.Logger
	// TracerProvider, when set, traces the client's gRPC calls (otelgrpc)
	// under the securedb span of each call, in place of the client
	// library's own gRPC instrumentation. The library's spans for its own
	// methods (cloud.google.com/go/firestore.DocumentRef.Get, ...) always
	// come from the global provider (otel.SetTracerProvider). securedb.Open
	// sets it from Config.TracerProvider or a global provider set before
	// Open; nil leaves the client as it is.
	TracerProvider trace.TracerProvider
}

// FromEnv returns the Config described by the environment:
//
//	FIRESTORE_PROJECT_ID             project (detected from the credentials when unset)
//	FIRESTORE_DATABASE_ID            database (default "(default)")
//	GOOGLE_APPLICATION_CREDENTIALS   credentials file (default: Application Default Credentials)
//	FIRESTORE_EMULATOR_HOST          emulator address, e.g. 127.0.0.1:8080
//	FIRESTORE_COLLECTION_PREFIX      collection ID prefix
//	FIRESTORE_ALLOW_REMOTE_EMULATOR  true|false (default false)
//
// Malformed values are ErrInvalid; a non-loopback emulator without
// FIRESTORE_ALLOW_REMOTE_EMULATOR=true is ErrInsecure. It only reads the
// environment: the credentials file is opened by New.
func FromEnv() (Config, error) {
	cfg := Config{
		ProjectID:        strings.TrimSpace(os.Getenv(EnvProjectID)),
		DatabaseID:       strings.TrimSpace(os.Getenv(EnvDatabaseID)),
		CredentialsFile:  strings.TrimSpace(os.Getenv(EnvCredentials)),
		EmulatorHost:     strings.TrimSpace(os.Getenv(EnvEmulatorHost)),
		CollectionPrefix: strings.TrimSpace(os.Getenv(EnvCollectionPrefix)),
	}
	b, _, err := dbservice.EnvBool(EnvAllowRemoteEmulator)
	if err != nil {
		return Config{}, openErr(err)
	}
	cfg.AllowRemoteEmulator = b
	if err := cfg.check(); err != nil {
		return Config{}, openErr(err)
	}
	return cfg, nil
}

func openErr(err error) error {
	return dbservice.NewError("open", provider, "", "", err)
}

var (
	// Project IDs are 6 to 30 lower-case letters, digits and hyphens;
	// older ones may be domain-scoped ("example.com:proj"). Anything else,
	// '/' above all, would change the resource path requests are for.
	projectRe  = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]{0,61}:)?[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
	databaseRe = regexp.MustCompile(`^[a-z][a-z0-9-]{2,61}[a-z0-9]$`)
	prefixRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{0,100}$`)
	hostRe     = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$`)
)

// check validates cfg; the emulator address is checked by emulatorHost.
func (c Config) check() error {
	switch {
	case c.ProjectID != "" && !projectRe.MatchString(c.ProjectID):
		return &validate.Error{Field: "project id", Reason: "not a Google Cloud project ID"}
	case c.DatabaseID != "" && c.DatabaseID != DefaultDatabaseID && !databaseRe.MatchString(c.DatabaseID):
		return &validate.Error{Field: "database id", Reason: "use (default) or 4 to 63 lower-case letters, digits and hyphens"}
	case !prefixRe.MatchString(c.CollectionPrefix) || strings.HasPrefix(c.CollectionPrefix, "__"):
		return &validate.Error{Field: "collection prefix", Reason: "use at most 100 letters, digits, '_' or '-', not starting with __"}
	case strings.ContainsRune(c.CredentialsFile, 0):
		return &validate.Error{Field: "credentials file", Reason: "not a file path"}
	case c.CallTimeout < 0:
		return &validate.Error{Field: "call timeout", Reason: "must not be negative"}
	}
	if c.EmulatorHost != "" {
		if err := checkEmulatorHost(c.EmulatorHost, c.AllowRemoteEmulator); err != nil {
			return err
		}
	}
	return nil
}

// checkEmulatorHost accepts host:port (the form FIRESTORE_EMULATOR_HOST
// takes) on loopback, or anywhere when allowRemote is set.
func checkEmulatorHost(hostport string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || !hostRe.MatchString(host) && net.ParseIP(host) == nil {
		return &validate.Error{Field: "emulator host", Reason: "use host:port, for example 127.0.0.1:8080"}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return &validate.Error{Field: "emulator host", Reason: "port must be 1 to 65535"}
	}
	if !isLoopback(host) && !allowRemote {
		return fmt.Errorf("%w: the emulator at %s is not on loopback and speaks plain-text gRPC; set AllowRemoteEmulator (%s=true) to use it anyway", dbservice.ErrInsecure, hostport, EnvAllowRemoteEmulator)
	}
	return nil
}

// isLoopback reports whether host is "localhost" or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (c Config) databaseID() string {
	if c.DatabaseID == "" {
		return DefaultDatabaseID
	}
	return c.DatabaseID
}

func (c Config) callTimeout() time.Duration {
	if c.CallTimeout == 0 {
		return DefaultCallTimeout
	}
	return c.CallTimeout
}

// String describes the configuration without anything secret. Client
// options can carry credentials (a token source, credentials JSON), so
// only their number is shown.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("firestore.Config{ProjectID: ")
	if c.ProjectID == "" {
		b.WriteString("detect")
	} else {
		b.WriteString(c.ProjectID)
	}
	b.WriteString(", DatabaseID: ")
	b.WriteString(c.databaseID())
	if c.EmulatorHost != "" {
		b.WriteString(", EmulatorHost: ")
		b.WriteString(c.EmulatorHost)
	}
	if c.AllowRemoteEmulator {
		b.WriteString(", AllowRemoteEmulator: true")
	}
	if c.CollectionPrefix != "" {
		b.WriteString(", CollectionPrefix: ")
		b.WriteString(strconv.Quote(c.CollectionPrefix))
	}
	b.WriteString(", Credentials: ")
	if c.CredentialsFile != "" {
		b.WriteString("file ")
		b.WriteString(strconv.Quote(c.CredentialsFile))
	} else {
		b.WriteString("application default")
	}
	if n := len(c.ClientOptions); n > 0 {
		b.WriteString(", ClientOptions: ")
		b.WriteString(strconv.Itoa(n))
		b.WriteString(" [REDACTED]")
	}
	if c.TracerProvider != nil {
		b.WriteString(", TracerProvider: set")
	}
	b.WriteString("}")
	return b.String()
}

// GoString implements fmt.GoStringer with the same redacted text.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s)
// prints the redacted form rather than the fields.
func (c Config) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the redacted form, so a Config never reaches JSON (a
// debug endpoint, a crash report, a slog.JSONHandler) with a credential.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

package dynamodb

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/otel/trace"
)

// The environment variables FromEnv reads.
const (
	EnvRegion        = "DYNAMODB_REGION"                  // Config.Region
	EnvEndpointURL   = "DYNAMODB_ENDPOINT_URL"            // Config.EndpointURL
	EnvTablePrefix   = "DYNAMODB_TABLE_PREFIX"            // Config.TablePrefix
	EnvKMSKeyID      = "DYNAMODB_KMS_KEY_ID"              // Config.KMSKeyID
	EnvCreateMissing = "DYNAMODB_CREATE_MISSING"          // Config.CreateMissing (true|false)
	EnvAllowInsecure = "DYNAMODB_ALLOW_INSECURE_ENDPOINT" // Config.AllowInsecureEndpoint (true|false)
	EnvScanOnly      = "DYNAMODB_SCAN_ONLY"               // Config.ScanOnly (true|false)
	EnvIndexRefresh  = "DYNAMODB_INDEX_REFRESH"           // Config.IndexRefresh (a Go duration: 30s, 1m)
)

// DefaultRegion is the region used when none is configured.
const DefaultRegion = "us-east-1"

// DefaultCallTimeout bounds one DynamoDB API call, the SDK's retries
// included, when Config.CallTimeout is zero. DynamoDB answers in
// milliseconds; a call still waiting after this is talking to a server
// that hangs or a network that drops packets.
const DefaultCallTimeout = 10 * time.Second

// Config configures a Service. Credentials are never part of it as text:
// they come from the AWS SDK's default chain (environment, shared profiles,
// SSO, web identity, ECS and EC2 roles), or from AWS or Credentials when a
// program supplies its own. Printing a Config (any fmt verb, slog) shows no
// secret.
type Config struct {
	// Region is the AWS region, for example "eu-west-1"; empty means
	// DefaultRegion.
	Region string
	// EndpointURL replaces the regional endpoint, for DynamoDB Local or a
	// VPC endpoint. It must be https:// unless its host is a loopback
	// address or AllowInsecureEndpoint is set, and must not carry
	// credentials (user:password@).
	EndpointURL string
	// AllowInsecureEndpoint permits a plain http:// EndpointURL on a
	// non-loopback host. Requests are still signed, but their contents
	// travel in clear text; CheckPosture reports it as a failure.
	AllowInsecureEndpoint bool
	// TablePrefix is put in front of every collection name to form the
	// table name (prefix+collection), so several applications or
	// environments can share an account. Letters, digits, '_', '-' and '.'.
	TablePrefix string
	// CreateMissing creates a collection's table on first write (and on
	// EnsureIndex): on-demand billing, server-side encryption with KMS, and
	// point-in-time recovery. nil means true; set aws.Bool(false) when tables
	// are provisioned elsewhere (for example by Terraform).
	CreateMissing *bool
	// KMSKeyID is the KMS key (ID, ARN, alias name or alias ARN) new tables
	// are encrypted with; empty uses the AWS managed key aws/dynamodb.
	KMSKeyID string
	// Collections lists the collections CheckPosture inspects in addition
	// to those this Service has already used.
	Collections []string
	// Limits bounds documents before they are sent; the zero value is
	// validate.DefaultLimits. DynamoDB's own limits (MaxItemBytes,
	// MaxNesting, number range) apply on top.
	Limits validate.Limits
	// ScanBudget is the most documents one Query call reads from the
	// database; 0 means dbservice.DefaultScanBudget. Past it a call returns
	// the matches found so far and a Next cursor (see dbservice.Page).
	ScanBudget int
	// ScanOnly turns global secondary indexes off for this Service:
	// EnsureIndex then only validates its fields and creates a missing
	// table, and every query is a Scan bounded by the scan budget. Its
	// writes still maintain the indexes a table has (made by processes
	// without ScanOnly), so mixing both never drops documents from an
	// index. By default (false) EnsureIndex creates a global secondary
	// index that queries read (see Service.EnsureIndex). Set it where the
	// provider's role may not call UpdateTable or Query.
	ScanOnly bool
	// IndexShards is the number of partitions of the index EnsureIndex
	// makes for a single field (see Service.EnsureIndex); 0 means
	// DefaultIndexShards, at most MaxIndexShards. It is fixed per index
	// when the index is created: changing it later makes new indexes only.
	IndexShards int
	// IndexRefresh is how long the Service trusts its list of a table's
	// indexes before it asks DynamoDB again (one DescribeTable); 0 means
	// DefaultIndexRefresh (1 min). An index another process creates is
	// maintained by this Service's writes, and read by its queries, at
	// most this long after it appears. The process that creates an index
	// waits as long before it backfills the documents written before, so
	// that no write is missed: a new index costs at least IndexRefresh
	// plus DynamoDB's own creation time in EnsureIndex. Every process of
	// an application must use the same value (or a shorter one).
	IndexRefresh time.Duration
	// Cursors signs the page cursors this Service issues and checks the
	// ones it is given; nil means dbservice.ProcessCursorSigner, whose
	// cursors do not survive a restart or cross instances. Give every
	// instance of a service the same key (securedb.Config.CursorKey).
	Cursors *dbservice.CursorSigner
	// AWS, when set, is the base AWS configuration (credentials, retryer,
	// HTTP client, API options) instead of the SDK's default loading.
	// Region and EndpointURL above still apply.
	AWS *aws.Config
	// Credentials, when set, replaces the credentials provider, for example
	// an stscreds.AssumeRoleProvider.
	Credentials aws.CredentialsProvider
	// ClientOptions adjust the DynamoDB client (retry attempts, middleware
	// such as request recorders in tests).
	ClientOptions []func(*dynamodb.Options)
	// CallTimeout bounds each DynamoDB API call, the SDK's retries
	// included, so a hung server or a silent network costs a call
	// ErrUnavailable instead of blocking it forever. Zero means
	// DefaultCallTimeout. The caller's context still applies.
	CallTimeout time.Duration
	// Logger receives the provider's and the AWS SDK's warnings; nil means
	// slog.Default().
	Logger *slog.Logger
	// TracerProvider, when set, receives the AWS SDK's own spans (each
	// attempt, signing, the HTTP round trip), nested under the securedb
	// span of the call. securedb.Open sets it from Config.TracerProvider
	// or a global provider set before Open; nil leaves the SDK's no-op
	// tracer.
	TracerProvider trace.TracerProvider
}

// FromEnv returns the Config described by the environment:
//
//	DYNAMODB_REGION                   region (default us-east-1)
//	DYNAMODB_ENDPOINT_URL             endpoint override, e.g. http://127.0.0.1:8000 for DynamoDB Local
//	DYNAMODB_TABLE_PREFIX             table name prefix
//	DYNAMODB_KMS_KEY_ID               KMS key for new tables (default: AWS managed key)
//	DYNAMODB_CREATE_MISSING           true|false (default true)
//	DYNAMODB_ALLOW_INSECURE_ENDPOINT  true|false (default false)
//	DYNAMODB_SCAN_ONLY                true|false (default false: EnsureIndex makes global secondary indexes)
//	DYNAMODB_INDEX_REFRESH            how long a table's list of indexes is trusted, e.g. 30s (default 1m)
//
// Credentials are left to the SDK's default chain (AWS_PROFILE,
// AWS_ACCESS_KEY_ID, web identity, instance roles, ...). Malformed values
// are ErrInvalid.
func FromEnv() (Config, error) {
	cfg := Config{
		Region:      strings.TrimSpace(os.Getenv(EnvRegion)),
		EndpointURL: strings.TrimSpace(os.Getenv(EnvEndpointURL)),
		TablePrefix: strings.TrimSpace(os.Getenv(EnvTablePrefix)),
		KMSKeyID:    strings.TrimSpace(os.Getenv(EnvKMSKeyID)),
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if v, ok, err := dbservice.EnvBool(EnvCreateMissing); err != nil {
		return Config{}, openErr(err)
	} else if ok {
		cfg.CreateMissing = aws.Bool(v)
	}
	v, _, err := dbservice.EnvBool(EnvAllowInsecure)
	if err != nil {
		return Config{}, openErr(err)
	}
	cfg.AllowInsecureEndpoint = v
	if cfg.ScanOnly, _, err = dbservice.EnvBool(EnvScanOnly); err != nil {
		return Config{}, openErr(err)
	}
	if raw := strings.TrimSpace(os.Getenv(EnvIndexRefresh)); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return Config{}, openErr(&validate.Error{Field: "index refresh", Reason: EnvIndexRefresh + " is not a duration such as 30s or 1m"})
		}
		cfg.IndexRefresh = d
	}
	if _, err := cfg.endpoint(); err != nil {
		return Config{}, openErr(err)
	}
	if err := cfg.check(); err != nil {
		return Config{}, openErr(err)
	}
	return cfg, nil
}

func openErr(err error) error {
	return dbservice.NewError("open", provider, "", "", err)
}

var (
	regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	prefixRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,150}$`)
	kmsRe    = regexp.MustCompile(`^[A-Za-z0-9:/_.+=,@-]+$`)
)

// check validates everything but the endpoint.
func (c Config) check() error {
	region := c.region()
	if !regionRe.MatchString(region) {
		return &validate.Error{Field: "region", Reason: "not an AWS region name"}
	}
	if !prefixRe.MatchString(c.TablePrefix) {
		return &validate.Error{Field: "table prefix", Reason: "use at most 150 letters, digits, '_', '-' or '.'"}
	}
	if c.ScanOnly && c.IndexShards != 0 {
		return &validate.Error{Field: "index shards", Reason: "set with ScanOnly, which makes no index"}
	}
	if c.IndexShards < 0 || c.IndexShards > MaxIndexShards {
		return &validate.Error{Field: "index shards", Reason: "must be 0 to " + strconv.Itoa(MaxIndexShards)}
	}
	if c.IndexRefresh < 0 {
		return &validate.Error{Field: "index refresh", Reason: "must not be negative"}
	}
	if c.CallTimeout < 0 {
		return &validate.Error{Field: "call timeout", Reason: "must not be negative"}
	}
	if c.KMSKeyID != "" && (len(c.KMSKeyID) > 2048 || !kmsRe.MatchString(c.KMSKeyID)) {
		return &validate.Error{Field: "kms key id", Reason: "not a KMS key ID, ARN or alias"}
	}
	for _, coll := range c.Collections {
		if err := dbservice.CheckCollection(coll); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) region() string {
	if c.Region == "" {
		return DefaultRegion
	}
	return c.Region
}

func (c Config) callTimeout() time.Duration {
	if c.CallTimeout == 0 {
		return DefaultCallTimeout
	}
	return c.CallTimeout
}

func (c Config) createMissing() bool { return c.CreateMissing == nil || *c.CreateMissing }

// errInsecureEndpoint is the cause of ErrInsecure for a plain-HTTP endpoint.
var errInsecureEndpoint = errors.New("endpoint uses plain http on a non-loopback host; use https or set AllowInsecureEndpoint")

// endpoint parses EndpointURL; nil means the SDK's regional endpoint. A
// plain-HTTP endpoint off loopback is ErrInsecure unless allowed.
func (c Config) endpoint() (*url.URL, error) {
	if c.EndpointURL == "" {
		return nil, nil
	}
	u, err := url.Parse(c.EndpointURL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, &validate.Error{Field: "endpoint url", Reason: "not an absolute http(s) URL"}
	}
	if u.User != nil {
		return nil, &validate.Error{Field: "endpoint url", Reason: "must not contain credentials; they come from the AWS credential chain"}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, &validate.Error{Field: "endpoint url", Reason: "must not have a query or fragment"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) && !c.AllowInsecureEndpoint {
			return nil, fmt.Errorf("%w: %w", dbservice.ErrInsecure, errInsecureEndpoint)
		}
	default:
		return nil, &validate.Error{Field: "endpoint url", Reason: "scheme must be https (or http to loopback)"}
	}
	return u, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP, the only
// places plain HTTP is acceptable by default.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the configuration without anything secret: credentials
// and the base AWS configuration show only whether they are set.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("dynamodb.Config{Region: ")
	b.WriteString(c.region())
	if c.EndpointURL != "" {
		b.WriteString(", EndpointURL: ")
		b.WriteString(safeEndpoint(c.EndpointURL))
	}
	if c.AllowInsecureEndpoint {
		b.WriteString(", AllowInsecureEndpoint: true")
	}
	if c.TablePrefix != "" {
		b.WriteString(", TablePrefix: ")
		b.WriteString(strconv.Quote(c.TablePrefix))
	}
	b.WriteString(", CreateMissing: ")
	b.WriteString(strconv.FormatBool(c.createMissing()))
	if c.ScanOnly {
		b.WriteString(", ScanOnly: true")
	}
	if c.KMSKeyID != "" {
		b.WriteString(", KMSKeyID: set")
	}
	b.WriteString(", Credentials: ")
	switch {
	case c.Credentials != nil:
		b.WriteString("[REDACTED]")
	case c.AWS != nil && c.AWS.Credentials != nil:
		b.WriteString("[REDACTED] (from AWS)")
	default:
		b.WriteString("default chain")
	}
	if c.AWS != nil {
		b.WriteString(", AWS: set")
	}
	if c.CallTimeout != 0 {
		b.WriteString(", CallTimeout: ")
		b.WriteString(c.CallTimeout.String())
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

// safeEndpoint returns scheme://host[:port]/path of an endpoint, dropping
// anything that could carry a secret (userinfo, query).
func safeEndpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[unparsable]"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

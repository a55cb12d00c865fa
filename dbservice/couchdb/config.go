package couchdb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/otel/trace"
)

// The environment variables FromEnv reads.
const (
	EnvURL               = "COUCHDB_URL"                 // Config.URL
	EnvUser              = "COUCHDB_USER"                // Config.User
	EnvPassword          = "COUCHDB_PASSWORD"            // Config.Password
	EnvPrefix            = "COUCHDB_PREFIX"              // Config.Prefix
	EnvAuth              = "COUCHDB_AUTH"                // Config.AuthMode (cookie|basic)
	EnvCAFile            = "COUCHDB_CA_FILE"             // Config.CAFile
	EnvCreateMissing     = "COUCHDB_CREATE_MISSING"      // Config.CreateMissing (true|false)
	EnvAllowInsecureHTTP = "COUCHDB_ALLOW_INSECURE_HTTP" // Config.AllowInsecureHTTP (true|false)
)

// DefaultTimeout bounds one HTTP request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// AuthMode selects how the provider authenticates to CouchDB.
type AuthMode string

// Authentication modes.
const (
	// AuthCookie logs in once with POST /_session and sends the session
	// cookie; the default.
	AuthCookie AuthMode = "cookie"
	// AuthBasic sends the user and password with every request (HTTP Basic).
	AuthBasic AuthMode = "basic"
)

// PasswordSource returns the current password. refresh is true after CouchDB
// refused the previous one: the source must then bypass any cache it keeps
// (a rotated secret). secrets.Source builds one from a secret reference. The
// error should name where the password comes from, never the password.
type PasswordSource func(ctx context.Context, refresh bool) (string, error)

// Config configures a Service. Printing it (any fmt verb, slog) shows no
// password.
type Config struct {
	// URL is the server, for example https://couch.internal:6984 or
	// https://proxy.internal/couchdb. It must be https:// unless its host
	// is loopback or AllowInsecureHTTP is set. A user:password@ in it is
	// moved into User and the password source; giving credentials both
	// there and in User/Password is refused.
	URL string
	// User is the CouchDB user the application logs in as. Use a non-admin
	// user made by Provision; CheckPosture warns about admin credentials.
	User string
	// Password is a fixed password, a shorthand for a PasswordSource that
	// always returns it. PasswordSource wins when both are set.
	Password string
	// PasswordSource supplies the password, and a fresh one after CouchDB
	// refuses it (rotation).
	PasswordSource PasswordSource
	// AuthMode is AuthCookie (the default when empty) or AuthBasic.
	AuthMode AuthMode
	// Prefix is put in front of every collection name to form the database
	// name, so several applications or environments can share a server: a
	// lower-case letter, then lower-case letters, digits, '_' or '-', at
	// most 100 bytes.
	Prefix string
	// CreateMissing creates a collection's database on first write and on
	// EnsureIndex when the credentials allow it (server admins only). nil
	// means true; set a pointer to false when databases are provisioned
	// elsewhere, and writes to a missing database are ErrNotFound.
	CreateMissing *bool
	// AllowInsecureHTTP permits a plain http:// URL to a host other than
	// loopback. Passwords, session cookies and documents then travel in
	// clear text; CheckPosture reports it as a failure.
	AllowInsecureHTTP bool
	// TLSConfig is the TLS configuration for an https:// URL (client
	// certificates, pinned roots). It is cloned; TLS 1.2 is the minimum.
	TLSConfig *tls.Config
	// CAFile is a PEM file of certificate authorities to trust for an
	// https:// URL instead of the system roots, for a private CA.
	CAFile string
	// Timeout bounds each HTTP request, login included; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Transport replaces the base HTTP transport, for a proxy or to observe
	// requests. The provider's authentication wraps it. TLSConfig and
	// CAFile cannot be combined with it: configure TLS in the transport.
	Transport http.RoundTripper
	// Limits bounds documents before they are sent; the zero value is
	// validate.DefaultLimits.
	Limits validate.Limits
	// ScanBudget is the most documents one Query call reads from the
	// database; 0 means dbservice.DefaultScanBudget. Past it a call returns
	// the matches found so far and a Next cursor (see dbservice.Page).
	ScanBudget int
	// Cursors signs the page cursors this Service issues and checks the
	// ones it is given; nil means dbservice.ProcessCursorSigner, whose
	// cursors do not survive a restart or cross instances. Give every
	// instance of a service the same key (securedb.Config.CursorKey).
	Cursors *dbservice.CursorSigner
	// Collections lists the collections CheckPosture inspects in addition
	// to those this Service has already used.
	Collections []string
	// Logger receives the provider's notices (sessions renewed, logins
	// refused); nil means slog.Default(). Records never hold credentials.
	Logger *slog.Logger
	// TracerProvider, when set, traces every HTTP request to CouchDB
	// (otelhttp), so the requests of one call nest under its securedb
	// span. securedb.Open sets it from Config.TracerProvider or a global
	// provider set before Open; nil adds no HTTP instrumentation.
	TracerProvider trace.TracerProvider
}

// FromEnv returns the Config described by the environment:
//
//	COUCHDB_URL                  server URL, e.g. https://couch.internal:6984
//	COUCHDB_USER                 user name
//	COUCHDB_PASSWORD             password
//	COUCHDB_PREFIX               database name prefix
//	COUCHDB_AUTH                 cookie (default) or basic
//	COUCHDB_CA_FILE              PEM file of CAs to trust
//	COUCHDB_CREATE_MISSING       true|false (default true)
//	COUCHDB_ALLOW_INSECURE_HTTP  true|false (default false)
//
// Values are taken literally: securedb.Open turns a COUCHDB_PASSWORD that is
// a secret reference (awssm://..., file://...) into a PasswordSource.
// Malformed values are ErrInvalid; missing credentials and insecure URLs are
// reported by New.
func FromEnv() (Config, error) {
	cfg := Config{
		URL:      strings.TrimSpace(os.Getenv(EnvURL)),
		User:     strings.TrimSpace(os.Getenv(EnvUser)),
		Password: os.Getenv(EnvPassword),
		Prefix:   strings.TrimSpace(os.Getenv(EnvPrefix)),
		AuthMode: AuthMode(strings.ToLower(strings.TrimSpace(os.Getenv(EnvAuth)))),
		CAFile:   strings.TrimSpace(os.Getenv(EnvCAFile)),
	}
	if v, ok, err := dbservice.EnvBool(EnvCreateMissing); err != nil {
		return Config{}, openErr(err)
	} else if ok {
		cfg.CreateMissing = &v
	}
	v, _, err := dbservice.EnvBool(EnvAllowInsecureHTTP)
	if err != nil {
		return Config{}, openErr(err)
	}
	cfg.AllowInsecureHTTP = v
	if err := cfg.checkFields(); err != nil {
		return Config{}, openErr(err)
	}
	return cfg, nil
}

func openErr(err error) error {
	return dbservice.NewError("open", provider, "", "", err)
}

var (
	prefixRe = regexp.MustCompile(`^([a-z][a-z0-9_-]{0,99})?$`)
	// userRe keeps user names to what CouchDB accepts in _users IDs and
	// what needs no escaping anywhere: no ':' (the Basic separator) and no
	// leading '_' (reserved by CouchDB).
	userRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$`)
)

// checkFields validates what needs no parsing of the URL.
func (c Config) checkFields() error {
	if !prefixRe.MatchString(c.Prefix) {
		return &validate.Error{Field: "prefix", Reason: "use a lower-case letter, then at most 99 lower-case letters, digits, '_' or '-'"}
	}
	switch c.AuthMode {
	case "", AuthCookie, AuthBasic:
	default:
		return &validate.Error{Field: "auth mode", Reason: "use cookie or basic"}
	}
	if c.Timeout < 0 {
		return &validate.Error{Field: "timeout", Reason: "must not be negative"}
	}
	if c.Transport != nil && (c.TLSConfig != nil || c.CAFile != "") {
		return &validate.Error{Field: "transport", Reason: "TLSConfig and CAFile cannot be combined with a custom Transport; configure TLS in the transport"}
	}
	for _, coll := range c.Collections {
		if err := dbservice.CheckCollection(coll); err != nil {
			return err
		}
	}
	return nil
}

// resolved is a Config checked and ready to use: the URL without userinfo,
// the password as a source, TLS settled.
type resolved struct {
	base    *url.URL
	user    string
	source  PasswordSource
	mode    AuthMode
	tls     *tls.Config
	timeout time.Duration
}

// errInsecureHTTP is the cause of ErrInsecure for plain HTTP off loopback.
var errInsecureHTTP = errors.New("plain http to a host other than loopback sends passwords and documents in clear text; use https or set AllowInsecureHTTP")

// resolve checks c completely; every refusal happens here, before any
// network call.
func (c Config) resolve() (resolved, error) {
	var r resolved
	if err := c.checkFields(); err != nil {
		return r, err
	}
	if c.URL == "" {
		return r, &validate.Error{Field: "url", Reason: "is required (COUCHDB_URL)"}
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return r, &validate.Error{Field: "url", Reason: "not an absolute http(s) URL"}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return r, &validate.Error{Field: "url", Reason: "must not have a query or fragment"}
	}
	r.user, r.source = c.User, c.PasswordSource
	if r.source == nil && c.Password != "" {
		r.source = staticSource(c.Password)
	}
	if u.User != nil {
		pw, hasPW := u.User.Password()
		if c.User != "" || r.source != nil {
			return r, &validate.Error{Field: "url", Reason: "carries credentials and User/Password are set too; give them once"}
		}
		r.user = u.User.Username()
		if hasPW && pw != "" {
			r.source = staticSource(pw)
		}
	}
	base := *u
	base.User = nil
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""
	r.base = &base
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) && !c.AllowInsecureHTTP {
			return r, fmt.Errorf("%w: %w", dbservice.ErrInsecure, errInsecureHTTP)
		}
		if c.TLSConfig != nil || c.CAFile != "" {
			return r, &validate.Error{Field: "url", Reason: "TLSConfig or CAFile given for an http:// URL; use https"}
		}
	default:
		return r, &validate.Error{Field: "url", Reason: "scheme must be https (or http to loopback)"}
	}
	// Without both a user and a password CouchDB would serve the requests
	// anonymously, which is either refused or, worse, allowed.
	if r.user == "" || r.source == nil {
		return r, fmt.Errorf("%w: no credentials: set User and Password or PasswordSource (COUCHDB_USER, COUCHDB_PASSWORD); anonymous access is refused", dbservice.ErrInsecure)
	}
	if !userRe.MatchString(r.user) {
		return r, &validate.Error{Field: "user", Reason: "use letters, digits, '_', '.', '@', '+' or '-', starting with a letter or digit"}
	}
	r.mode = c.AuthMode
	if r.mode == "" {
		r.mode = AuthCookie
	}
	r.timeout = c.Timeout
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.tls, err = c.tlsConfig(); err != nil {
		return r, err
	}
	return r, nil
}

func staticSource(pw string) PasswordSource {
	return func(context.Context, bool) (string, error) { return pw, nil }
}

// tlsConfig returns the TLS settings for the base transport, or nil to keep
// the defaults.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.TLSConfig == nil && c.CAFile == "" {
		return nil, nil
	}
	t := &tls.Config{}
	if c.TLSConfig != nil {
		t = c.TLSConfig.Clone()
	}
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, &validate.Error{Field: "ca file", Reason: "cannot be read"}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &validate.Error{Field: "ca file", Reason: "holds no PEM certificate"}
		}
		t.RootCAs = pool
	}
	return t, nil
}

func (c Config) createMissing() bool { return c.CreateMissing == nil || *c.CreateMissing }

// isLoopback reports whether host is "localhost" or a loopback IP, the only
// places plain HTTP is acceptable by default.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the configuration without anything secret: the URL
// loses its userinfo, and the password shows only whether it is set.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("couchdb.Config{URL: ")
	b.WriteString(safeURL(c.URL))
	if c.User != "" {
		b.WriteString(", User: ")
		b.WriteString(strconv.Quote(c.User))
	}
	b.WriteString(", Password: ")
	switch {
	case c.PasswordSource != nil:
		b.WriteString("[REDACTED] (source)")
	case c.Password != "":
		b.WriteString("[REDACTED]")
	default:
		switch u, err := url.Parse(c.URL); {
		case err != nil:
			b.WriteString("[REDACTED] (unparsable URL)")
		case u.User != nil:
			b.WriteString("[REDACTED] (in URL)")
		default:
			b.WriteString("not set")
		}
	}
	mode := c.AuthMode
	if mode == "" {
		mode = AuthCookie
	}
	b.WriteString(", AuthMode: ")
	b.WriteString(string(mode))
	if c.Prefix != "" {
		b.WriteString(", Prefix: ")
		b.WriteString(strconv.Quote(c.Prefix))
	}
	b.WriteString(", CreateMissing: ")
	b.WriteString(strconv.FormatBool(c.createMissing()))
	if c.AllowInsecureHTTP {
		b.WriteString(", AllowInsecureHTTP: true")
	}
	if c.TLSConfig != nil {
		b.WriteString(", TLSConfig: set")
	}
	if c.CAFile != "" {
		b.WriteString(", CAFile: ")
		b.WriteString(strconv.Quote(c.CAFile))
	}
	if c.Timeout != 0 {
		b.WriteString(", Timeout: ")
		b.WriteString(c.Timeout.String())
	}
	if c.Transport != nil {
		b.WriteString(", Transport: set")
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
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the redacted form, so a Config never reaches JSON
// (a debug endpoint, a crash report) with its password.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// safeURL returns scheme://host[:port]/path of a URL, dropping userinfo and
// anything else that could carry a secret.
func safeURL(raw string) string {
	if raw == "" {
		return `""`
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[unparsable]"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

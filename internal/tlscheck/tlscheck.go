// Package tlscheck judges the TLS settings a provider's client will
// actually use, for the "tls" posture finding: an https:// URL alone says
// nothing when certificate verification is off or when a custom transport
// decides.
package tlscheck

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/securedb-go/securedb/dbservice"
)

// Config judges a TLS client configuration; nil is Go's default (system
// roots, verification on, TLS 1.2 or later).
func Config(c *tls.Config) (dbservice.Status, string) {
	switch {
	case c == nil:
		return dbservice.Pass, "the server's certificate is verified against the system roots"
	case c.InsecureSkipVerify && (c.VerifyPeerCertificate != nil || c.VerifyConnection != nil):
		return dbservice.Warn, "InsecureSkipVerify is set and the certificate is checked by custom code (VerifyPeerCertificate/VerifyConnection) that the check cannot see"
	case c.InsecureSkipVerify:
		return dbservice.Fail, "InsecureSkipVerify is set: the server's certificate is not checked, so anyone on the network path can impersonate the server and read the traffic"
	case c.MinVersion != 0 && c.MinVersion < tls.VersionTLS12:
		return dbservice.Warn, "TLS versions below 1.2 are allowed"
	case c.RootCAs != nil:
		return dbservice.Pass, "the server's certificate is verified against the configured roots"
	}
	return dbservice.Pass, "the server's certificate is verified against the system roots"
}

// Transport judges the TLS an http.RoundTripper will use: an
// *http.Transport by its TLSClientConfig (nil means http.DefaultTransport),
// anything else is opaque and a Warn.
func Transport(rt http.RoundTripper) (dbservice.Status, string) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok {
		return dbservice.Warn, fmt.Sprintf("cannot see the TLS settings of the custom transport (%T) in use", rt)
	}
	//lint:ignore SA1019 DialTLS, deprecated, still decides the TLS when set
	if t.DialTLSContext != nil || t.DialTLS != nil {
		return dbservice.Warn, "cannot see the TLS settings: the transport dials TLS itself (DialTLSContext)"
	}
	return Config(t.TLSClientConfig)
}

// Client judges an HTTP client: an *http.Client by its Transport, anything
// else (a client interface some SDKs accept) is opaque and a Warn.
func Client(c any) (dbservice.Status, string) {
	switch c := c.(type) {
	case nil:
		return Transport(nil)
	case *http.Client:
		return Transport(c.Transport)
	}
	return dbservice.Warn, fmt.Sprintf("cannot see the TLS settings of the custom HTTP client (%T) in use", c)
}

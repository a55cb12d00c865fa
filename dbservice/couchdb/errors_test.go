package couchdb

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

func TestStatusesMapToOneSentinel(t *testing.T) {
	cases := []struct {
		status int
		reason string
		want   error
	}{
		{401, "Name or password is incorrect.", dbservice.ErrUnauthorized},
		{401, reasonNotAdmin, dbservice.ErrForbidden},
		{403, "You are not allowed to access this db.", dbservice.ErrForbidden},
		{404, reasonNoDB, dbservice.ErrNotFound},
		{404, "missing", dbservice.ErrNotFound},
		{409, "Document update conflict.", dbservice.ErrConflict},
		{412, "The database could not be created, the file already exists.", dbservice.ErrConflict},
		{400, "Invalid rev format", dbservice.ErrInvalid},
		{413, "Document exceeds max_document_size", dbservice.ErrInvalid},
		{429, "", dbservice.ErrUnavailable},
		{500, "badarg", dbservice.ErrUnavailable},
		{503, "", dbservice.ErrUnavailable},
		{302, "", dbservice.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("HTTP %d %q", c.status, c.reason), func(t *testing.T) {
			err := statusCause(c.status, c.reason, "")
			matched := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					matched++
				}
			}
			if !errors.Is(err, c.want) || matched != 1 {
				t.Fatalf("statusCause = %v (matches %d sentinels), want only %v", err, matched, c.want)
			}
			if c.reason != "" && strings.Contains(err.Error(), c.reason) {
				t.Fatalf("the server's reason is copied into the error: %v", err)
			}
		})
	}
}

func TestTransportFailuresAreUnavailableAndNameNoURL(t *testing.T) {
	secretURL := "http://admin:" + canary + "@127.0.0.1:1/db/doc"
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: secretURL, Err: err} }
	cases := []struct {
		name string
		err  error
		want error
		text string
	}{
		{"a refused connection", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), dbservice.ErrUnavailable, "connection refused"},
		{"a reset connection", wrap(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), dbservice.ErrUnavailable, "connection reset"},
		{"a timeout", wrap(context.DeadlineExceeded), dbservice.ErrUnavailable, "timeout"},
		{"an unknown host", wrap(&net.DNSError{Err: "no such host", Name: "couch.internal"}), dbservice.ErrUnavailable, "resolve"},
		{"a dropped connection", wrap(io.ErrUnexpectedEOF), dbservice.ErrUnavailable, "closed"},
		{"an untrusted certificate", wrap(x509.UnknownAuthorityError{}), dbservice.ErrInsecure, "certificate"},
		{"anything else", wrap(errors.New("weird " + secretURL)), dbservice.ErrUnavailable, "cannot reach"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := transportCause(c.err)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("transportCause = %v, want %v mentioning %q", err, c.want, c.text)
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Fatalf("the error repeats the request URL: %v", err)
			}
		})
	}
}

func TestScrubRemovesURLCredentials(t *testing.T) {
	cases := map[string]string{
		"env://COUCHDB_PASSWORD is not set":                     "env://COUCHDB_PASSWORD is not set",
		"fetching https://app:" + canary + "@vault/x failed":    "fetching https://[REDACTED]@vault/x failed",
		"two: http://a:b@h1/ and couchdb://c:" + canary + "@h2": "two: http://[REDACTED]@h1/ and couchdb://[REDACTED]@h2",
		strings.Repeat("x", 300):                                strings.Repeat("x", 200) + "…",
	}
	for in, want := range cases {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%.40q) = %.60q, want %.60q", in, got, want)
		}
	}
}

func FuzzScrub(f *testing.F) {
	f.Add("see ", "https", "user", "secret-value", "@host/path")
	f.Add("", "couchdb", "", "p@ss", "")
	f.Fuzz(func(t *testing.T, before, scheme, user, password, after string) {
		if len(password) < 4 || strings.ContainsAny(password, "/@ \t\n\r\v\f\u0085\u00a0") || strings.Contains(before+after, password) ||
			scheme == "" || !isScheme(scheme) || strings.ContainsAny(user, "/@ \t\n\r\v\f\u0085\u00a0") {
			t.Skip()
		}
		in := before + " " + scheme + "://" + user + ":" + password + "@host" + after
		out := scrub(in)
		if len(in) <= 200 && strings.Contains(out, password) {
			t.Fatalf("scrub(%q) = %q keeps the password", in, out)
		}
	})
}

func isScheme(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '.' || r == '-'):
		default:
			return false
		}
	}
	return true
}

func FuzzPushdown(f *testing.F) {
	f.Add("name", "eq", "alice", 1.5, true)
	f.Add("owner.tier", "exists", "", 0.0, false)
	f.Add("_id", "in", "_x", 3.0, true)
	f.Fuzz(func(t *testing.T, field, op, s string, n float64, useString bool) {
		var v any = n
		if useString {
			v = s
		}
		switch dbservice.Op(op) {
		case dbservice.In:
			v = []any{v, nil}
		case dbservice.Exists:
			v = useString
		}
		q, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{{Field: field, Op: dbservice.Op(op), Value: v}}})
		if err != nil {
			t.Skip()
		}
		for _, clause := range pushdown(q.Where[0]) {
			m := clause.(map[string]any)
			if len(m) != 1 {
				t.Fatalf("clause %v has %d fields, want 1", m, len(m))
			}
			for k, ops := range m {
				if k != field {
					t.Fatalf("clause on %q for a condition on %q", k, field)
				}
				for o := range ops.(map[string]any) {
					switch o {
					case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$exists", "$type":
					default:
						t.Fatalf("operator %q sent", o)
					}
				}
			}
		}
	})
}

package couchdb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"

	"github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/securedb-go/securedb/dbservice"
)

const provider = "couchdb"

// CouchDB's fixed reasons the provider reacts to. They are matched, never
// copied into error text: a reason can also be free text from a
// validate_doc_update function quoting a document.
const (
	reasonNoDB      = "Database does not exist."
	reasonNotAdmin  = "You are not a server admin."
	reasonBadRevFmt = "Invalid rev format"
)

// fail builds the *dbservice.Error every method returns.
func fail(op, coll, id string, err error) error {
	return dbservice.NewError(op, provider, coll, id, err)
}

// classify turns whatever kivik, net/http or the session returned into a
// cause wrapping exactly one sentinel, or the caller's context error. Its
// text comes from status codes and fixed descriptions only: kivik's error
// strings embed request URLs and server reasons, which are never passed on.
func (s *Service) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var le *loginError
	if errors.As(err, &le) {
		return le.err
	}
	if isClassified(err) {
		return err
	}
	if s.closed.Load() && (errors.Is(err, context.Canceled) || errors.Is(err, kivik.ErrClientClosed)) {
		return dbservice.ErrClosed
	}
	var he *chttp.HTTPError
	if errors.As(err, &he) && he.Response != nil {
		return statusCause(he.HTTPStatus(), he.Reason, "")
	}
	return transportCause(err)
}

// statusCause describes a CouchDB answer by its status; what, when set,
// says what was being done.
func statusCause(status int, reason, what string) error {
	if what != "" {
		what = " " + what
	}
	code := " (HTTP " + strconv.Itoa(status) + ")"
	switch {
	case status == http.StatusUnauthorized && reason == reasonNotAdmin:
		return fmt.Errorf("%w: couchdb allows this%s to server admins only%s", dbservice.ErrForbidden, what, code)
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%w: couchdb refused the credentials%s%s", dbservice.ErrUnauthorized, what, code)
	case status == http.StatusForbidden:
		return fmt.Errorf("%w: couchdb denied access%s%s", dbservice.ErrForbidden, what, code)
	case status == http.StatusNotFound && reason == reasonNoDB:
		return fmt.Errorf("%w: database does not exist%s", dbservice.ErrNotFound, code)
	case status == http.StatusNotFound:
		return fmt.Errorf("%w%s%s", dbservice.ErrNotFound, what, code)
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: document update conflict%s%s", dbservice.ErrConflict, what, code)
	case status == http.StatusBadRequest, status == http.StatusRequestEntityTooLarge, status == http.StatusUnsupportedMediaType:
		return fmt.Errorf("%w: couchdb refused the request%s%s", dbservice.ErrInvalid, what, code)
	case status == http.StatusTooManyRequests, status >= 500:
		return fmt.Errorf("%w: couchdb is failing or overloaded%s%s", dbservice.ErrUnavailable, what, code)
	}
	return fmt.Errorf("%w: unexpected answer from couchdb%s%s", dbservice.ErrUnavailable, what, code)
}

// transportCause describes a failure to exchange a request with the
// server: a refused or dropped connection, a timeout, a TLS failure.
func transportCause(err error) error {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) {
		return fmt.Errorf("%w: cannot verify couchdb's TLS certificate; trust its CA with CAFile or TLSConfig", dbservice.ErrInsecure)
	}
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) {
		return fmt.Errorf("%w: cannot reach couchdb (the server did not answer with TLS)", dbservice.ErrUnavailable)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: cannot reach couchdb (timeout)", dbservice.ErrUnavailable)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: cannot reach couchdb (timeout)", dbservice.ErrUnavailable)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Errorf("%w: cannot reach couchdb (cannot resolve its host name)", dbservice.ErrUnavailable)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("%w: cannot reach couchdb (%s)", dbservice.ErrUnavailable, errno.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: cannot reach couchdb (connection closed)", dbservice.ErrUnavailable)
	}
	return fmt.Errorf("%w: cannot reach couchdb", dbservice.ErrUnavailable)
}

// sentinels are the errors a classified cause wraps.
var sentinels = []error{
	dbservice.ErrNotFound, dbservice.ErrConflict, dbservice.ErrInvalid, dbservice.ErrUnauthorized,
	dbservice.ErrForbidden, dbservice.ErrUnavailable, dbservice.ErrInsecure, dbservice.ErrClosed,
}

// isClassified reports whether err already wraps a sentinel.
func isClassified(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// httpStatus is the status of a CouchDB answer in err, or 0 when err is not
// one (a transport failure, a login failure).
func httpStatus(err error) int {
	var le *loginError
	if errors.As(err, &le) {
		return 0
	}
	var he *chttp.HTTPError
	if errors.As(err, &he) && he.Response != nil {
		return he.HTTPStatus()
	}
	return 0
}

// reasonOf is CouchDB's reason in an answer, for matching only.
func reasonOf(err error) string {
	var he *chttp.HTTPError
	if errors.As(err, &he) {
		return he.Reason
	}
	return ""
}

func isDBMissing(err error) bool {
	return httpStatus(err) == http.StatusNotFound && reasonOf(err) == reasonNoDB
}

// userinfoRe finds the user:password@ part of URLs inside text.
var userinfoRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]*@`)

// scrub removes URL userinfo from text from elsewhere (a password source's
// error) and bounds its length.
func scrub(s string) string {
	s = userinfoRe.ReplaceAllString(s, "${1}[REDACTED]@")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

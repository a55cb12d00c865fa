package couchdb

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/securedb-go/securedb/dbservice"
)

// sessionCookie is the name of CouchDB's session cookie.
const sessionCookie = "AuthSession"

// renewBefore is how long before its expiry a session cookie is replaced,
// so a request never races the expiry.
const renewBefore = 30 * time.Second

// session is the http.RoundTripper that holds the credentials: kivik and
// everything else above it never see them. It logs in lazily, renews the
// cookie when CouchDB sends a fresh one, and after a 401 drops the
// credential it used so that the next request logs in again with a
// refreshed password. Concurrent logins collapse into one (singleflight);
// a generation number stops a late 401 from discarding a newer session.
type session struct {
	base     http.RoundTripper
	mode     AuthMode
	user     string
	source   PasswordSource
	loginURL string
	life     context.Context // cancelled by Service.Close
	timeout  time.Duration
	log      *slog.Logger

	flight singleflight.Group

	mu      sync.Mutex
	gen     uint64 // counts successful logins
	header  string // "Cookie" or "Authorization"
	value   string // its value; "" when there is no usable credential
	expires time.Time
	roles   []string // from the login answer (cookie mode)
	stale   bool     // the last credential was refused: refresh the password
}

// loginError is a failed login. It carries an HTTP status so kivik keeps it
// (instead of reporting a bad gateway), and its cause is already
// classified, so Service methods neither retry it nor reword it.
type loginError struct {
	status int
	err    error
}

func (e *loginError) Error() string   { return e.err.Error() }
func (e *loginError) Unwrap() error   { return e.err }
func (e *loginError) HTTPStatus() int { return e.status }

// RoundTrip implements http.RoundTripper.
func (s *session) RoundTrip(req *http.Request) (*http.Response, error) {
	header, value, gen, err := s.credential(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set(header, value)
	resp, err := s.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &drainOnClose{resp.Body}
	if s.mode == AuthCookie {
		s.takeCookie(resp, gen)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		s.invalidate(gen)
	}
	return resp, nil
}

// drainOnClose reads what a caller left of a response body (JSON decoders
// stop before the end) before closing it, so the connection can serve the
// next request instead of being dropped.
type drainOnClose struct{ io.ReadCloser }

func (d *drainOnClose) Close() error {
	_, _ = io.CopyN(io.Discard, d.ReadCloser, 64<<10)
	return d.ReadCloser.Close()
}

// credential returns the header to send, logging in first when there is no
// usable credential.
func (s *session) credential(ctx context.Context) (header, value string, gen uint64, err error) {
	for range 2 {
		s.mu.Lock()
		if s.usableLocked() {
			header, value, gen = s.header, s.value, s.gen
			s.mu.Unlock()
			return header, value, gen, nil
		}
		s.mu.Unlock()
		if err := s.login(ctx); err != nil {
			return "", "", 0, err
		}
	}
	// Two fresh sessions were refused before this request could use one.
	return "", "", 0, &loginError{status: http.StatusUnauthorized, err: fmt.Errorf("%w: couchdb keeps refusing new sessions for user %s", dbservice.ErrUnauthorized, s.user)}
}

func (s *session) usableLocked() bool {
	if s.value == "" {
		return false
	}
	return s.expires.IsZero() || time.Until(s.expires) > renewBefore
}

// login makes sure a login happens, joining one already under way. The
// login itself runs under the Service's lifetime, not the caller's
// context, so one caller giving up does not fail the others waiting on it.
func (s *session) login(ctx context.Context) error {
	ch := s.flight.DoChan("login", func() (any, error) {
		s.mu.Lock()
		usable, refresh := s.usableLocked(), s.stale
		s.mu.Unlock()
		if usable {
			return nil, nil
		}
		lctx, cancel := context.WithTimeout(s.life, s.timeout)
		defer cancel()
		return nil, s.authenticate(lctx, refresh)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// authenticate gets the password and establishes a credential. A refused
// password is asked for once more with refresh set, in case the source
// cached a rotated one; a second refusal is final.
func (s *session) authenticate(ctx context.Context, refresh bool) error {
	pw, err := s.password(ctx, refresh)
	if err != nil {
		return err
	}
	if s.mode == AuthBasic {
		// Nothing to verify without a request: the next call does.
		s.install("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.user+":"+pw)), time.Time{}, nil, refresh)
		return nil
	}
	resp, err := s.postSession(ctx, pw)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && !refresh {
		again, perr := s.password(ctx, true)
		if perr != nil {
			_ = resp.Body.Close()
			return perr
		}
		if again != pw {
			_ = resp.Body.Close()
			resp, err = s.postSession(ctx, again)
		}
	}
	if err != nil {
		return &loginError{status: http.StatusServiceUnavailable, err: transportCause(err)}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized:
		s.log.Warn("couchdb refused the login", "user", s.user)
		return &loginError{status: resp.StatusCode, err: fmt.Errorf("%w: couchdb refused the password of user %s (it was fetched again from its source)", dbservice.ErrUnauthorized, s.user)}
	default:
		return &loginError{status: resp.StatusCode, err: statusCause(resp.StatusCode, "", "logging in")}
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == sessionCookie && k.Value != "" {
			c = k
		}
	}
	if c == nil {
		return &loginError{status: http.StatusBadGateway, err: fmt.Errorf("%w: couchdb accepted the login but sent no session cookie", dbservice.ErrUnavailable)}
	}
	var answer struct {
		Roles []string `json:"roles"`
	}
	_ = json.Unmarshal(body, &answer)
	s.install("Cookie", sessionCookie+"="+c.Value, cookieExpiry(c), answer.Roles, refresh)
	return nil
}

// password asks the source, keeping its error text (sources name the
// reference, never the value) but not its identity, so only a dbservice
// sentinel matches.
func (s *session) password(ctx context.Context, refresh bool) (string, error) {
	pw, err := s.source(ctx, refresh)
	switch {
	case err != nil && ctx.Err() != nil:
		return "", ctx.Err()
	case err != nil:
		return "", &loginError{status: http.StatusServiceUnavailable, err: fmt.Errorf("%w: the password source failed: %s", dbservice.ErrUnavailable, scrub(err.Error()))}
	case pw == "":
		return "", &loginError{status: http.StatusUnauthorized, err: fmt.Errorf("%w: the password source returned an empty password", dbservice.ErrUnauthorized)}
	}
	return pw, nil
}

func (s *session) postSession(ctx context.Context, pw string) (*http.Response, error) {
	body, err := json.Marshal(struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}{s.user, pw})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.loginURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return s.base.RoundTrip(req)
}

func (s *session) install(header, value string, expires time.Time, roles []string, refreshed bool) {
	s.mu.Lock()
	s.gen++
	s.header, s.value, s.expires, s.roles, s.stale = header, value, expires, roles, false
	gen := s.gen
	s.mu.Unlock()
	if refreshed {
		s.log.Info("couchdb credentials renewed with a freshly fetched password", "user", s.user, "mode", string(s.mode), "generation", gen)
	} else {
		s.log.Debug("couchdb session started", "user", s.user, "mode", string(s.mode), "generation", gen)
	}
}

// takeCookie keeps a session cookie CouchDB refreshed on the way (it does
// so as a session ages), or drops the session when CouchDB cleared it.
func (s *session) takeCookie(resp *http.Response, gen uint64) {
	for _, c := range resp.Cookies() {
		if c.Name != sessionCookie {
			continue
		}
		if c.Value == "" {
			s.invalidate(gen)
			return
		}
		s.mu.Lock()
		if s.gen == gen && s.value != "" {
			s.value, s.expires = sessionCookie+"="+c.Value, cookieExpiry(c)
		}
		s.mu.Unlock()
	}
}

// invalidate drops the credential of generation gen after CouchDB refused
// it; a newer one, from a login that happened meanwhile, is kept.
func (s *session) invalidate(gen uint64) {
	s.mu.Lock()
	dropped := s.gen == gen && s.value != ""
	if dropped {
		s.value, s.stale = "", true
	}
	s.mu.Unlock()
	if dropped {
		s.log.Info("couchdb refused the credentials; the next call logs in again with a refreshed password", "user", s.user, "generation", gen)
	}
}

// generation is the number of the current credential; a request sent
// after reading it uses that credential or a newer one.
func (s *session) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// isAdmin reports whether the current credentials carry the _admin role,
// or false with ok unset when that is not known yet (Basic, or no login).
func (s *session) isAdmin() (admin, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.value == "" || s.roles == nil {
		return false, false
	}
	return slices.Contains(s.roles, "_admin"), true
}

// learnRoles records the roles CouchDB reported for the current
// credentials (Basic mode learns them from GET /_session).
func (s *session) learnRoles(roles []string) {
	s.mu.Lock()
	if s.value != "" {
		s.roles = slices.Clone(roles)
		if s.roles == nil {
			s.roles = []string{}
		}
	}
	s.mu.Unlock()
}

func cookieExpiry(c *http.Cookie) time.Time {
	switch {
	case c.MaxAge > 0:
		return time.Now().Add(time.Duration(c.MaxAge) * time.Second)
	case !c.Expires.IsZero():
		return c.Expires
	}
	return time.Time{}
}

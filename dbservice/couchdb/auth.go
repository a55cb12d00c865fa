package couchdb

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
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

	// Refused logins are throttled: each one pushes retryAt further out
	// (loginBackoff), and refusals within lockoutWindow are capped at
	// lockoutBudget, so the provider alone can never trip CouchDB's
	// failed-login lockout. Until retryAt a login fails at once with
	// refusal, without a request and without asking the source again.
	streak   int         // consecutive refused login attempts
	retryAt  time.Time   // no login attempt before this
	refusal  error       // what a throttled login reports
	refusals []time.Time // refused credentials within lockoutWindow
}

// CouchDB 3.5's [chttpd_auth_lockout] defaults (mode = enforce,
// threshold = 5, max_lifetime = 300000 ms) lock a user out, per client
// IP, for five minutes from the first of more than five refused
// passwords, the right one included. The provider spends at most
// lockoutBudget refusals in any lockoutWindow (a little longer than
// max_lifetime, so every lockout period holds at most that many), leaving
// the rest of the threshold to an operator or another instance.
const (
	lockoutWindow   = 5*time.Minute + 10*time.Second
	lockoutBudget   = 3
	minLoginBackoff = time.Second
	maxLoginBackoff = 5 * time.Minute
)

// reasonBadPassword is CouchDB's fixed answer to a refused Basic
// credential (a validate_doc_update function may throw any other text).
const reasonBadPassword = "Name or password is incorrect."

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
	if resp.StatusCode == http.StatusUnauthorized && s.credentialRefused(r, resp, header, value) {
		s.invalidate(gen)
	}
	return resp, nil
}

// credentialRefused tells a 401 for a dead credential (the session expired
// or the password changed) from a 401 that refuses this request only (a
// validate_doc_update function throwing {unauthorized: ...}, which CouchDB
// also answers with 401). Only the first calls for a new login; the second
// is turned into the 403 it means, so it is ErrForbidden, not retried, and
// costs no login and no password refresh.
//
// In cookie mode CouchDB treats a dead cookie as no credential, so GET
// /_session with the same cookie says which it is (a dead cookie is not a
// refused password: it counts towards no lockout, checked on CouchDB
// 3.5). In Basic mode the answer's reason says it: CouchDB's own text
// for a refused password.
func (s *session) credentialRefused(req *http.Request, resp *http.Response, header, value string) bool {
	if strings.HasSuffix(req.URL.Path, "/_session") {
		return true
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return true
	}
	var answer struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(body, &answer)
	var valid bool
	switch s.mode {
	case AuthBasic:
		valid = answer.Reason != "" && answer.Reason != reasonBadPassword
	default:
		valid = answer.Reason != "" && s.sessionValid(req.Context(), header, value)
	}
	if !valid {
		return true
	}
	resp.StatusCode, resp.Status = http.StatusForbidden, "403 Forbidden"
	return false
}

// sessionValid asks CouchDB whether the credential still identifies the
// user.
func (s *session) sessionValid(ctx context.Context, header, value string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.loginURL, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(header, value)
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var answer struct {
		UserCtx struct {
			Name *string `json:"name"`
		} `json:"userCtx"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer) != nil {
		return false
	}
	return answer.UserCtx.Name != nil && *answer.UserCtx.Name == s.user
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
// cached a rotated one; a second refusal is final. Refusals are throttled
// (see session.retryAt): while one is fresh, authenticate repeats it.
func (s *session) authenticate(ctx context.Context, refresh bool) error {
	if err := s.throttled(); err != nil {
		return err
	}
	pw, err := s.password(ctx, refresh)
	if err != nil {
		return err
	}
	v, err := s.verify(ctx, pw)
	if errors.Is(err, errRefused) && !refresh {
		again, perr := s.password(ctx, true)
		if perr != nil {
			return perr
		}
		refresh = true
		if again != pw && s.throttled() == nil {
			v, err = s.verify(ctx, again)
		}
	}
	switch {
	case errors.Is(err, errRefused):
		return s.refused(ctx, fmt.Errorf("%w: couchdb refused the password of user %s (it was fetched again from its source)", dbservice.ErrUnauthorized, s.user), 0)
	case errors.Is(err, errLockedOut):
		return s.refused(ctx, fmt.Errorf("%w: couchdb has locked user %s out for a while after repeated failed logins ([chttpd_auth_lockout]); the provider waits before trying again", dbservice.ErrUnauthorized, s.user), lockoutWindow)
	case err != nil:
		return err
	}
	s.install(v.header, v.value, v.expires, v.roles, refresh)
	return nil
}

// errRefused and errLockedOut are verify's verdicts on a password.
var (
	errRefused   = errors.New("password refused")
	errLockedOut = errors.New("user locked out")
)

// credentialValue is what a successful login yields.
type credentialValue struct {
	header, value string
	expires       time.Time
	roles         []string
}

// verify logs in with pw: POST /_session in cookie mode, GET /_session
// with the Basic credential in Basic mode (so a wrong password is known
// here, where it is throttled, rather than at the next request).
func (s *session) verify(ctx context.Context, pw string) (credentialValue, error) {
	var req *http.Request
	var err error
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.user+":"+pw))
	if s.mode == AuthBasic {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.loginURL, nil)
		if err == nil {
			req.Header.Set("Authorization", basic)
		}
	} else {
		var body []byte
		body, err = json.Marshal(struct {
			Name     string `json:"name"`
			Password string `json:"password"`
		}{s.user, pw})
		if err == nil {
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.loginURL, bytes.NewReader(body))
		}
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return credentialValue{}, &loginError{status: http.StatusServiceUnavailable, err: fmt.Errorf("%w: cannot build the login request", dbservice.ErrUnavailable)}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		return credentialValue{}, &loginError{status: http.StatusServiceUnavailable, err: transportCause(err)}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	var answer struct {
		Name    *string  `json:"name"`
		Roles   []string `json:"roles"`
		UserCtx struct {
			Name  *string  `json:"name"`
			Roles []string `json:"roles"`
		} `json:"userCtx"`
	}
	_ = json.Unmarshal(body, &answer)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		s.noteRefusal()
		return credentialValue{}, errRefused
	case resp.StatusCode == http.StatusForbidden && strings.Contains(string(body), "locked"):
		return credentialValue{}, errLockedOut
	case resp.StatusCode != http.StatusOK:
		return credentialValue{}, &loginError{status: resp.StatusCode, err: statusCause(resp.StatusCode, "", "logging in")}
	}
	if s.mode == AuthBasic {
		if answer.UserCtx.Name == nil || *answer.UserCtx.Name != s.user {
			s.noteRefusal()
			return credentialValue{}, errRefused
		}
		roles := answer.UserCtx.Roles
		if roles == nil {
			roles = []string{}
		}
		return credentialValue{header: "Authorization", value: basic, roles: roles}, nil
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == sessionCookie && k.Value != "" {
			c = k
		}
	}
	if c == nil {
		return credentialValue{}, &loginError{status: http.StatusBadGateway, err: fmt.Errorf("%w: couchdb accepted the login but sent no session cookie", dbservice.ErrUnavailable)}
	}
	return credentialValue{header: "Cookie", value: sessionCookie + "=" + c.Value, expires: cookieExpiry(c), roles: answer.Roles}, nil
}

// noteRefusal counts a refused password against lockoutBudget.
func (s *session) noteRefusal() {
	s.mu.Lock()
	s.refusals = append(s.refusals, time.Now())
	s.mu.Unlock()
}

// throttled returns the last refusal while it is fresh: before retryAt, or
// while lockoutBudget refusals lie within lockoutWindow.
func (s *session) throttled() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.refusals = slices.DeleteFunc(s.refusals, func(t time.Time) bool { return now.Sub(t) >= lockoutWindow })
	if len(s.refusals) >= lockoutBudget {
		s.retryAt = later(s.retryAt, s.refusals[0].Add(lockoutWindow))
	}
	if !now.Before(s.retryAt) {
		return nil
	}
	cause := s.refusal
	if cause == nil {
		cause = fmt.Errorf("%w: couchdb refused the password of user %s", dbservice.ErrUnauthorized, s.user)
	}
	return &loginError{status: http.StatusUnauthorized, err: fmt.Errorf("%w (not tried again for %s, so as not to lock the user out)", cause, time.Until(s.retryAt).Round(time.Second))}
}

// refused records a refused login and returns it as a loginError; wait,
// when longer, replaces the backoff.
func (s *session) refused(ctx context.Context, err error, wait time.Duration) error {
	s.log.Warn("couchdb refused the login", "user", s.user)
	reason := "login"
	if wait > 0 {
		reason = "lockout"
	}
	dbservice.ReportSecurityEvent(ctx, dbservice.EventAuthFailure, reason)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streak++
	backoff := maxLoginBackoff
	if s.streak < 10 {
		backoff = min(minLoginBackoff<<(2*(s.streak-1)), maxLoginBackoff)
	}
	s.retryAt, s.refusal = time.Now().Add(max(backoff, wait)), err
	return &loginError{status: http.StatusUnauthorized, err: err}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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

func (s *session) install(header, value string, expires time.Time, roles []string, refreshed bool) {
	s.mu.Lock()
	s.gen++
	s.header, s.value, s.expires, s.roles, s.stale = header, value, expires, roles, false
	s.streak, s.retryAt, s.refusal = 0, time.Time{}, nil
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

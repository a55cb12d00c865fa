package couchdb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kivik/kivik/v4"
	kcouch "github.com/go-kivik/kivik/v4/couchdb"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// maxWriteAttempts bounds the read-revision-and-retry loop of an upsert
// (Save without options, Delete without IfRev, SaveMany) under write
// contention; past it the write reports ErrConflict.
const maxWriteAttempts = 16

// Service is a dbservice.Service on CouchDB. It is safe for concurrent use.
// The zero value is not usable; call New.
type Service struct {
	cfg        Config
	base       string   // server URL without userinfo or trailing slash
	baseURL    *url.URL // the same, parsed
	client     *kivik.Client
	auth       *session
	authClient *http.Client // with credentials, for the few calls kivik lacks
	anonClient *http.Client // no credentials: posture probes only
	ownRT      *http.Transport
	cancel     context.CancelFunc
	closed     atomic.Bool
	calls      callGate // calls in progress, which Close waits for
	log        *slog.Logger

	dbs     sync.Map // database name -> *kivik.DB
	known   sync.Map // database name -> struct{}: seen to exist
	opening sync.Map // database name -> chan struct{}: one useDB check at a time, see useDB
	copies  sync.Map // database name -> int: shard copies (n), see conflicts.go
	revs    revCache
	views   viewCache
	updates keyLocks // Update's turns per document, see Update

	mu   sync.Mutex
	used map[string]bool // collections this Service touched, for CheckPosture
}

var (
	_ dbservice.Service        = (*Service)(nil)
	_ dbservice.BulkWriter     = (*Service)(nil)
	_ dbservice.PostureChecker = (*Service)(nil)
)

// New checks cfg and returns a Service. It makes no network call: the
// first call logs in. Missing credentials and plain HTTP to a remote host
// are ErrInsecure; malformed settings are ErrInvalid.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, openErr(err)
	}
	r, err := cfg.resolve()
	if err != nil {
		return nil, openErr(err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("provider", provider)
	s := &Service{cfg: cfg, base: r.base.String(), baseURL: r.base, log: log, used: map[string]bool{}}
	baseRT := cfg.Transport
	if baseRT == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = r.tls
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		// Every call of a busy service goes to one host.
		t.MaxIdleConnsPerHost = 64
		s.ownRT, baseRT = t, t
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.auth = &session{
		base: baseRT, mode: r.mode, user: r.user, source: r.source,
		loginURL: r.base.String() + "/_session", life: life, timeout: r.timeout, log: log,
	}
	s.anonClient = &http.Client{Transport: baseRT, Timeout: r.timeout, CheckRedirect: noRedirects}
	var authRT http.RoundTripper = s.auth
	if cfg.TracerProvider != nil {
		// Outside the session, so a request retried after a new login is
		// one client span; otelhttp records method, status and URL
		// without userinfo, and the session keeps credentials to itself.
		authRT = otelhttp.NewTransport(s.auth, otelhttp.WithTracerProvider(cfg.TracerProvider),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()))
	}
	s.authClient = &http.Client{Transport: authRT, Timeout: r.timeout, CheckRedirect: noRedirects}
	// The DSN carries no credentials: they live in s.auth only. Request
	// bodies go uncompressed: kivik's gzip costs a ~850 KB writer per write
	// and measured 13% slower per Save here, for documents that are small.
	s.client, err = kivik.New("couch", r.base.String(), kcouch.OptionHTTPClient(s.authClient), kcouch.OptionNoRequestCompression())
	if err != nil {
		cancel()
		return nil, openErr(&validate.Error{Field: "url", Reason: "refused by the couchdb driver"})
	}
	return s, nil
}

// noRedirects keeps credentials from following a redirect to another host.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// precheck runs dbservice.CheckCall, the checks every method starts with,
// and then counts the call as in progress: a method whose precheck passed
// defers s.calls.leave().
func (s *Service) precheck(ctx context.Context, op, coll, id string, needID bool) error {
	if err := dbservice.CheckCall(ctx, s.closed.Load(), provider, op, coll, id, needID); err != nil {
		return err
	}
	if !s.calls.enter() {
		return fail(op, coll, id, dbservice.ErrClosed)
	}
	return nil
}

// callGate counts calls in progress. Once closed it admits none, and
// close returns when the last one has left.
type callGate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   *sync.Cond
}

func (g *callGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

func (g *callGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.idle != nil {
		g.idle.Broadcast()
	}
}

func (g *callGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.idle == nil {
		g.idle = sync.NewCond(&g.mu)
	}
	for g.n > 0 {
		g.idle.Wait()
	}
}

// dbName is the database of a collection.
func (s *Service) dbName(coll string) string { return s.cfg.Prefix + coll }

// DBSystemName implements telemetry.Describer: "couchdb".
func (s *Service) DBSystemName() string { return "couchdb" }

// DBNamespace implements telemetry.Describer: the database that holds the
// collection (Prefix + collection).
func (s *Service) DBNamespace(collection string) string { return s.dbName(collection) }

func (s *Service) db(name string) *kivik.DB {
	if d, ok := s.dbs.Load(name); ok {
		return d.(*kivik.DB)
	}
	d, _ := s.dbs.LoadOrStore(name, s.client.DB(name))
	return d.(*kivik.DB)
}

func (s *Service) touch(coll string) {
	s.mu.Lock()
	s.used[coll] = true
	s.mu.Unlock()
}

// do runs one operation, and once more after a 401 that was not a login
// failure: the session dropped the refused credential, so the second run
// logs in again with a refreshed password (rotation). A request CouchDB
// answered with 401 changed nothing, so repeating it is safe.
func (s *Service) do(f func() error) error {
	err := f()
	if err != nil && (httpStatus(err) == http.StatusUnauthorized || errors.As(err, new(*sessionIgnored))) {
		err = f()
	}
	return err
}

// couchID maps a securedb ID to a CouchDB document ID: CouchDB refuses IDs
// starting with '_' (other than its own _design/ and _local/), which
// securedb allows, so those get a '~' in front. '~' is outside the ID
// alphabet, so the mapping is one to one.
func couchID(id string) string {
	if strings.HasPrefix(id, "_") {
		return "~" + id
	}
	return id
}

// userID reverses couchID; ok is false for CouchDB's own documents
// (design documents), which are never returned.
func userID(cid string) (id string, ok bool) {
	switch {
	case strings.HasPrefix(cid, "~_"):
		return cid[1:], true
	case strings.HasPrefix(cid, "_"):
		return "", false
	}
	return cid, true
}

// Get implements dbservice.Service.
func (s *Service) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	if err := s.precheck(ctx, "get", coll, id, true); err != nil {
		return nil, err
	}
	defer s.calls.leave()
	s.touch(coll)
	db := s.dbName(coll)
	var doc dbservice.Doc
	err := s.do(func() error {
		doc = nil
		return scanDoc(s.db(db).Get(ctx, couchID(id)), &doc)
	})
	if err != nil {
		return nil, fail("get", coll, id, s.classify(ctx, err))
	}
	if expiredRaw(doc, time.Now()) {
		return nil, fail("get", coll, id, errNoDoc)
	}
	out := clean(doc, id)
	if rev, ok := out["_rev"].(string); ok {
		s.revs.put(db, id, rev)
	}
	return out, nil
}

// scanDoc decodes a fetched document and releases its response.
func scanDoc(d *kivik.Document, into any) error {
	defer d.Close()
	return d.ScanDoc(into)
}

// clean turns a document as CouchDB returns it into the securedb form: _id
// is the caller's ID, _rev stays, the expiry becomes ExpiresField, other
// system fields (_attachments, _conflicts, ...) go.
func clean(doc dbservice.Doc, id string) dbservice.Doc {
	exp, hasExp := doc[expiresKey].(string)
	for k := range doc {
		if strings.HasPrefix(k, "_") && k != "_rev" || k == writeTokenKey || k == expiresKey {
			delete(doc, k)
		}
	}
	doc["_id"] = id
	if hasExp {
		doc[dbservice.ExpiresField] = exp
	}
	return doc
}

// Save implements dbservice.Service.
func (s *Service) Save(ctx context.Context, coll, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	if err := s.precheck(ctx, "save", coll, id, true); err != nil {
		return "", err
	}
	defer s.calls.leave()
	o, err := dbservice.ApplySaveOptions(opts...)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	nd, err := dbservice.NormalizeDoc(doc, s.cfg.Limits)
	if err == nil {
		err = checkReserved(nd)
	}
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	nd = wireDoc(nd)
	setExpiry(nd, o.ExpiresAt)
	s.touch(coll)
	db := s.dbName(coll)
	var rev string
	err = s.do(func() error {
		exists, err := s.useDB(ctx, db, o.IfRev == "")
		switch {
		case err != nil:
			return err
		case !exists:
			return errIfRev // no database, no document, no current revision
		}
		n, err := s.copiesOf(ctx, db)
		switch {
		case err != nil:
			return err
		case n > 1 && o.IfRev != "":
			// The leaves conflicts.go reads carry no bodies: whether the
			// document has expired takes a read of its own.
			var raw map[string]any
			if raw, _, _, err = s.readDoc(ctx, db, id); err == nil && expiredRaw(raw, time.Now()) {
				err = errIfRev
			}
			if err == nil {
				rev, err = s.clusterPutIfRev(ctx, db, id, nd, o.IfRev, n)
			}
		case n > 1 && o.IfAbsent:
			rev, err = s.clusterPut(ctx, db, id, nd, "", n)
			if errorsIsConflict(err) {
				rev, err = s.saveOverExpired(ctx, db, id, nd, n, err)
			}
		case n > 1:
			rev, err = s.clusterUpsert(ctx, db, id, nd, n)
		case o.IfRev != "":
			rev, err = s.putIfRev(ctx, db, id, nd, o.IfRev)
		case o.IfAbsent:
			rev, err = s.putWithDB(ctx, db, id, nd, "")
			if httpStatus(err) == http.StatusConflict {
				rev, err = s.saveOverExpired(ctx, db, id, nd, n, err)
			}
		default:
			rev, err = s.upsert(ctx, db, id, nd)
		}
		return err
	})
	if err != nil {
		s.revs.drop(db, id)
		s.forgetOnTransportError(db, err)
		return "", fail("save", coll, id, s.classify(ctx, err))
	}
	s.revs.put(db, id, rev)
	return rev, nil
}

// saveOverExpired is the second chance of an IfAbsent Save that found the
// ID taken: an expired document counts as absent and is replaced; a live
// one keeps the original conflict.
func (s *Service) saveOverExpired(ctx context.Context, db, id string, doc dbservice.Doc, n int, conflict error) (string, error) {
	rev, ok, err := s.overExpired(ctx, db, id, doc, n)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", conflict
	}
	return rev, nil
}

// checkReserved refuses a caller document that holds the cluster write
// token's field, which validate lets through under Limits.LiteralKeys:
// every read drops that field, so storing it would lose data silently.
func checkReserved(doc dbservice.Doc) error {
	if _, ok := doc[writeTokenKey]; ok {
		return &validate.Error{Field: "doc." + writeTokenKey, Reason: "the couchdb provider reserves this field name"}
	}
	return nil
}

// errIfRev is the conflict of an IfRev write whose revision is not current.
var errIfRev = fmt.Errorf("%w: revision is not current", dbservice.ErrConflict)

// revFormat is the shape of the revisions CouchDB issues: generation, '-',
// a hash. Anything else cannot be current.
var revFormat = regexp.MustCompile(`^[1-9][0-9]{0,9}-[0-9a-zA-Z]{1,128}$`)

// putIfRev writes only if rev is the document's current revision. CouchDB
// would accept a PUT with an invented revision for a document that never
// existed (and create it), so the current document is read first (whole:
// an expired one has no current revision); the PUT itself still carries
// rev, so a write racing in between makes it 409.
func (s *Service) putIfRev(ctx context.Context, db, id string, doc dbservice.Doc, rev string) (string, error) {
	if !revFormat.MatchString(rev) {
		return "", errIfRev
	}
	raw, cur, found, err := s.readDoc(ctx, db, id)
	switch {
	case err != nil:
		return "", err
	case !found || cur != rev || expiredRaw(raw, time.Now()):
		return "", errIfRev
	}
	doc["_rev"] = rev
	newRev, err := s.db(db).Put(ctx, couchID(id), doc)
	switch st := httpStatus(err); {
	case st == http.StatusConflict, st == http.StatusNotFound,
		st == http.StatusBadRequest && reasonOf(err) == reasonBadRevFmt:
		return "", errIfRev
	}
	return newRev, err
}

// upsert writes doc whatever the stored revision: it tries the revision it
// last saw (none for a new document), and after a conflict reads the
// current one and tries again.
func (s *Service) upsert(ctx context.Context, db, id string, doc dbservice.Doc) (string, error) {
	rev := s.revs.get(db, id)
	for range maxWriteAttempts {
		newRev, err := s.putWithDB(ctx, db, id, doc, rev)
		if httpStatus(err) != http.StatusConflict {
			return newRev, err
		}
		rev, err = s.db(db).GetRev(ctx, couchID(id))
		switch {
		case httpStatus(err) == http.StatusNotFound:
			rev = "" // deleted meanwhile: a PUT without revision re-creates it
		case err != nil:
			return "", err
		}
	}
	return "", fmt.Errorf("%w: the document kept changing; gave up after %d attempts", dbservice.ErrConflict, maxWriteAttempts)
}

// putWithDB is a PUT with revision rev ("" for none) that creates the
// database first when it is missing and CreateMissing allows it.
func (s *Service) putWithDB(ctx context.Context, db, id string, doc dbservice.Doc, rev string) (string, error) {
	if rev != "" {
		doc["_rev"] = rev
	} else {
		delete(doc, "_rev")
	}
	newRev, err := s.db(db).Put(ctx, couchID(id), doc)
	if isDBMissing(err) { // deleted since useDB saw it
		s.known.Delete(db)
		if err := s.ensureDB(ctx, db); err != nil {
			return "", err
		}
		newRev, err = s.db(db).Put(ctx, couchID(id), doc)
	}
	return newRev, err
}

// useDB reports whether db exists, creating it when create is set and
// CreateMissing allows. The answer is remembered. Requests with a body go
// to a database only once it is known to exist: CouchDB answers a write to
// a missing database before reading the body and closes the connection,
// which the client may see as a broken pipe rather than the 404.
//
// Concurrent first uses of a database by one Service check and create it
// one at a time: the others wait and find it known. On a cluster this is
// what keeps a write from reaching a database still being created. A
// second creator's PUT /db answers 412 as soon as the shard files or the
// coordinator's copy of the shard map exist, before the creator has
// written the shard map to every node; a document write that reaches a
// node without it fails there (the validation functions cannot be
// loaded: database_does_not_exist), and CouchDB 3.5 answers the write
// with HTTP 500 (fabric_doc_update has no clause for that reply,
// function_clause) while other copies may have taken it. The creator's
// own PUT /db returns only once every node has the shard map.
func (s *Service) useDB(ctx context.Context, db string, create bool) (bool, error) {
	if _, ok := s.known.Load(db); ok {
		return true, nil
	}
	lock, _ := s.opening.LoadOrStore(db, make(chan struct{}, 1))
	select {
	case lock.(chan struct{}) <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-lock.(chan struct{}) }()
	if _, ok := s.known.Load(db); ok {
		return true, nil
	}
	exists, err := s.client.DBExists(ctx, db)
	switch {
	case err != nil:
		return false, err
	case !exists && !create:
		return false, nil
	case !exists:
		if err := s.ensureDB(ctx, db); err != nil {
			return false, err
		}
	}
	s.known.Store(db, struct{}{})
	return true, nil
}

// forgetOnTransportError makes the next call check db again when a request
// to it failed in transit (the database may have been deleted).
func (s *Service) forgetOnTransportError(db string, err error) {
	if httpStatus(err) == 0 {
		s.known.Delete(db)
	}
}

// ensureDB creates a missing database, or explains why it cannot.
func (s *Service) ensureDB(ctx context.Context, db string) error {
	if !s.cfg.createMissing() {
		return fmt.Errorf("%w: database %s does not exist and CreateMissing is off; create it with couchdb.Provision", dbservice.ErrNotFound, db)
	}
	admin, known := s.auth.isAdmin()
	if !known {
		roles, err := s.whoami(ctx)
		if err != nil {
			return err
		}
		admin = slices.Contains(roles, "_admin")
	}
	if !admin {
		return s.cannotCreate(db)
	}
	// Creators racing on a cluster can be answered HTTP 500 (none of
	// their shard maps won on every node); creating again is safe and
	// ends in 201 or 412.
	err := retryServerError(ctx, func() error { return s.client.CreateDB(ctx, db) })
	switch st := httpStatus(err); {
	case err == nil, st == http.StatusPreconditionFailed: // created, or by someone else meanwhile
		s.log.Info("created database", "database", db)
		s.known.Store(db, struct{}{})
		return nil
	case st == http.StatusForbidden, st == http.StatusUnauthorized && reasonOf(err) == reasonNotAdmin:
		return s.cannotCreate(db)
	}
	return err
}

func (s *Service) cannotCreate(db string) error {
	return fmt.Errorf("%w: database %s does not exist and user %s, not being a server admin, cannot create it; an operator provisions it with couchdb.Provision(ctx, adminConfig, couchdb.Spec{...}), which also grants this user access", dbservice.ErrForbidden, db, s.auth.user)
}

// Delete implements dbservice.Service.
func (s *Service) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	if err := s.precheck(ctx, "delete", coll, id, true); err != nil {
		return err
	}
	defer s.calls.leave()
	o, err := dbservice.ApplyDeleteOptions(opts...)
	if err != nil {
		return fail("delete", coll, id, err)
	}
	s.touch(coll)
	db := s.dbName(coll)
	err = s.do(func() error {
		n, err := s.copiesOf(ctx, db)
		switch {
		case httpStatus(err) == http.StatusNotFound:
			return errNoDoc
		case err != nil:
			return err
		case n > 1:
			// An expired document is absent: the leaves conflicts.go
			// reads carry no bodies, so it takes a read of its own.
			raw, _, _, err := s.readDoc(ctx, db, id)
			switch {
			case err != nil:
				return err
			case expiredRaw(raw, time.Now()):
				return errNoDoc
			}
			return s.clusterDelete(ctx, db, id, o.IfRev, n)
		}
		return s.delete(ctx, db, id, o.IfRev)
	})
	s.revs.drop(db, id)
	if err != nil {
		return fail("delete", coll, id, s.classify(ctx, err))
	}
	return nil
}

var errNoDoc = fmt.Errorf("%w: no such document", dbservice.ErrNotFound)

// delete removes the document at ifRev, or at whatever revision it has when
// ifRev is empty. The current document is read first (whole: an expired
// one is absent), so a missing document is ErrNotFound even with a
// revision in hand, as everywhere.
func (s *Service) delete(ctx context.Context, db, id, ifRev string) error {
	for range maxWriteAttempts {
		raw, cur, found, err := s.readDoc(ctx, db, id)
		switch {
		case err != nil:
			return err
		case !found || expiredRaw(raw, time.Now()):
			return errNoDoc
		case ifRev != "" && cur != ifRev:
			return errIfRev
		}
		_, err = s.db(db).Delete(ctx, couchID(id), cur)
		switch st := httpStatus(err); {
		case err == nil:
			return nil
		case st == http.StatusNotFound:
			return errNoDoc
		case st == http.StatusConflict && ifRev != "":
			return errIfRev
		case st != http.StatusConflict:
			return err
		}
	}
	return fmt.Errorf("%w: the document kept changing; gave up after %d attempts", dbservice.ErrConflict, maxWriteAttempts)
}

// Ping implements dbservice.Service: it asks CouchDB who the session
// belongs to, which fails unless the credentials are accepted.
func (s *Service) Ping(ctx context.Context) error {
	if err := s.precheck(ctx, "ping", "", "", false); err != nil {
		return err
	}
	defer s.calls.leave()
	_, err := s.whoami(ctx)
	if err != nil {
		return fail("ping", "", "", s.classify(ctx, err))
	}
	return nil
}

// whoami returns the roles of the current credentials. CouchDB answers
// GET /_session with a null user, not a 401, when it ignores a cookie, so
// that case counts as a refused credential too.
func (s *Service) whoami(ctx context.Context) ([]string, error) {
	var roles []string
	err := s.do(func() error {
		gen := s.auth.generation()
		sess, err := s.client.Session(ctx)
		if err != nil {
			return err
		}
		if sess.Name != s.auth.user {
			s.auth.invalidate(gen)
			return errSessionIgnored
		}
		roles = sess.Roles
		s.auth.learnRoles(roles)
		return nil
	})
	if errors.Is(err, errSessionIgnored) {
		err = fmt.Errorf("%w: couchdb does not recognise the session of user %s", dbservice.ErrUnauthorized, s.auth.user)
	}
	return roles, err
}

// errSessionIgnored stands in for a 401 when CouchDB answered anonymously.
var errSessionIgnored = &sessionIgnored{}

type sessionIgnored struct{}

func (*sessionIgnored) Error() string   { return "session not recognised" }
func (*sessionIgnored) HTTPStatus() int { return http.StatusUnauthorized }

// Close implements dbservice.Service. It waits for calls in progress,
// then releases connections; it is idempotent. Calls after Close are
// ErrClosed.
func (s *Service) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.calls.close()
	s.cancel()
	_ = s.client.Close() // the couchdb driver has nothing to release
	if s.ownRT != nil {
		s.ownRT.CloseIdleConnections()
	}
	return nil
}

// String describes the Service by its server and user, never its
// credentials.
func (s *Service) String() string {
	return "couchdb.Service{URL: " + s.base + ", User: " + s.auth.user + ", Prefix: " + strconv.Quote(s.cfg.Prefix) + "}"
}

// GoString implements fmt.GoStringer with the same text.
func (s *Service) GoString() string { return s.String() }

// Format implements fmt.Formatter so that no verb prints the fields.
func (s *Service) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// revCache remembers the last revision this Service saw per document, so
// an upsert usually takes one request. It is only a hint: a stale entry
// costs a 409 and a re-read, never a wrong write.
type revCache struct {
	mu sync.Mutex
	m  map[string]string
}

const revCacheSize = 4096

func (c *revCache) get(db, id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[db+"\x00"+id]
}

func (c *revCache) put(db, id, rev string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	if len(c.m) >= revCacheSize {
		for k := range c.m { // drop an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[db+"\x00"+id] = rev
}

func (c *revCache) drop(db, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, db+"\x00"+id)
}

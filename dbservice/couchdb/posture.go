package couchdb

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-kivik/kivik/v4"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/internal/tlscheck"
)

// CheckPosture implements dbservice.PostureChecker. It reports, in this
// order:
//
//   - "tls": the URL is https and the transport verifies the server's
//     certificate (InsecureSkipVerify is a failure, a custom Transport
//     whose settings cannot be seen a warning; plain HTTP is a warning on
//     loopback, a failure anywhere else);
//   - "version": CouchDB 3 or later (older versions make new databases
//     public and are unsupported upstream);
//   - "auth-enabled": anonymous requests are not a server admin (admin
//     party), cannot list databases, and cannot read or write the
//     collections' databases (probed with a read and an empty _bulk_docs,
//     which writes nothing);
//   - "auth-required": require_valid_user is on, so anonymous requests are
//     refused outright (probed with an anonymous GET /; an admin also reads
//     the setting from _node/_local/_config);
//   - "least-privilege": the application's user is not a server admin;
//   - "security-rules": every collection's database has a non-empty
//     _security (empty is a failure before CouchDB 3, a warning after);
//   - "encryption-at-rest" and "backups": skipped, since CouchDB has neither
//     built in; Fix says what to do instead.
//
// Databases are those this Service has used plus Config.Collections.
// Anonymous probes go without any credential. Findings name databases,
// users and settings, never credentials.
func (s *Service) CheckPosture(ctx context.Context) []dbservice.Finding {
	out := []dbservice.Finding{s.tlsFinding(), s.cfg.Cursors.Finding()}
	entered := !s.closed.Load() && s.calls.enter()
	if entered {
		defer s.calls.leave()
	}
	if ctx.Err() != nil || !entered {
		reason := "service closed"
		if ctx.Err() != nil {
			reason = "context done"
		}
		for _, f := range postureChecks[1:] {
			out = append(out, dbservice.Finding{ID: f.id, Title: f.title, Status: dbservice.Skip, Detail: reason})
		}
		return withFixes(out)
	}
	major, verFinding := s.versionFinding(ctx)
	roles, rolesErr := s.whoami(ctx)
	admin := rolesErr == nil && slices.Contains(roles, "_admin")
	dbs := s.postureDBs()
	return withFixes(append(out,
		verFinding,
		s.anonymousFinding(ctx, dbs),
		s.requireValidUserFinding(ctx, admin),
		s.leastPrivilegeFinding(ctx, roles, rolesErr),
		s.securityFinding(ctx, dbs, major),
		dbservice.Finding{ID: "encryption-at-rest", Title: postureTitle("encryption-at-rest"), Status: dbservice.Skip,
			Detail: "CouchDB does not encrypt its data files"},
		dbservice.Finding{ID: "backups", Title: postureTitle("backups"), Status: dbservice.Skip,
			Detail: "backups are not visible from the application"},
	))
}

// postureChecks lists the checks in report order, each with the Fix a
// finding that is not a pass gets when it has no more specific one.
var postureChecks = []struct{ id, title, fix string }{
	{"tls", "Requests travel over TLS",
		"serve CouchDB over TLS ([ssl] enable = true, or a TLS-terminating proxy) and use an https:// URL"},
	{"version", "CouchDB is version 3 or later",
		"check the version with GET / using the application's credentials, and run CouchDB 3.5 or later"},
	{"auth-enabled", "Anonymous requests cannot administer, list, read or write",
		"define at least one server admin ([admins]), keep [chttpd] admin_only_all_dbs = true, and give every database a _security object with members (couchdb.Provision does this)"},
	{"auth-required", "CouchDB refuses unauthenticated requests (require_valid_user)",
		"set [chttpd] require_valid_user = true (and require_valid_user_except_for_up = true for health checks)"},
	{"least-privilege", "The application's user is not a server admin",
		"create a non-admin application user with couchdb.Provision(ctx, adminConfig, couchdb.Spec{...}) and give the application only its credentials"},
	{"security-rules", "Every database has a _security object limiting its members",
		"set members in each database's _security (PUT /DB/_security) to the application's user or role; couchdb.Provision does it; list the collections in Config.Collections to check them before first use"},
	{"encryption-at-rest", "Data files are encrypted at rest",
		"keep CouchDB's data directory on an encrypted volume (LUKS, or encrypted EBS/persistent disks) and its backups encrypted"},
	{"backups", "Databases are backed up",
		"replicate each database continuously to a second server (_replicator documents) or snapshot the data directory, and rehearse restores with dbservice.Copy and dbservice.Verify"},
}

func postureTitle(id string) string {
	for _, c := range postureChecks {
		if c.id == id {
			return c.title
		}
	}
	return id
}

// withFixes gives every finding that is not a pass a Fix.
func withFixes(fs []dbservice.Finding) []dbservice.Finding {
	for i, f := range fs {
		if f.Status == dbservice.Pass || f.Fix != "" {
			continue
		}
		for _, c := range postureChecks {
			if c.id == f.ID {
				fs[i].Fix = c.fix
			}
		}
	}
	return fs
}

func (s *Service) postureDBs() []string {
	s.mu.Lock()
	colls := make([]string, 0, len(s.used)+len(s.cfg.Collections))
	for c := range s.used {
		colls = append(colls, c)
	}
	s.mu.Unlock()
	colls = append(colls, s.cfg.Collections...)
	slices.Sort(colls)
	colls = slices.Compact(colls)
	dbs := make([]string, len(colls))
	for i, c := range colls {
		dbs[i] = s.dbName(c)
	}
	return dbs
}

func (s *Service) tlsFinding() dbservice.Finding {
	f := dbservice.Finding{ID: "tls", Title: postureTitle("tls")}
	host := s.baseURL.Host
	switch {
	case s.baseURL.Scheme == "https":
		// The scheme alone proves nothing: judge what the transport will
		// really do (verification off is a failure; a custom Transport
		// that hides its settings is a warning).
		st, detail := tlscheck.Transport(s.auth.base)
		f.Status, f.Detail = st, "https to "+host+": "+detail
		if st != dbservice.Pass {
			f.Fix = "verify couchdb's certificate: trust its CA with CAFile or TLSConfig.RootCAs instead of InsecureSkipVerify, and give a custom Transport a verifying TLSClientConfig (an *http.Transport lets CheckPosture see it)"
		}
	case isLoopback(s.baseURL.Hostname()):
		f.Status, f.Detail = dbservice.Warn, "plain HTTP to loopback "+host+" (a local server; traffic stays on this machine)"
		f.Fix = "serve CouchDB over TLS ([ssl] enable = true, or a TLS-terminating proxy) and use an https:// URL outside development"
	default:
		f.Status, f.Detail = dbservice.Fail, "plain HTTP to "+host+": passwords, session cookies and documents travel in clear text"
		f.Fix = "serve CouchDB over TLS ([ssl] enable = true, or a TLS-terminating proxy), use an https:// URL and unset AllowInsecureHTTP"
	}
	return f
}

func (s *Service) versionFinding(ctx context.Context) (int, dbservice.Finding) {
	f := dbservice.Finding{ID: "version", Title: postureTitle("version")}
	var ver string
	err := s.do(func() error {
		v, err := s.client.Version(ctx)
		if err == nil {
			ver = v.Version
		}
		return err
	})
	if err != nil {
		f.Status, f.Detail = dbservice.Skip, "cannot read the server version ("+dbservice.ErrorKind(s.classify(ctx, err))+")"
		return 0, f
	}
	major, _ := strconv.Atoi(strings.SplitN(ver, ".", 2)[0])
	if major >= 3 {
		f.Status, f.Detail = dbservice.Pass, "CouchDB "+ver
	} else {
		f.Status, f.Detail = dbservice.Warn, "CouchDB "+ver+": versions before 3 create databases open to everyone and get no security fixes"
		f.Fix = "upgrade to CouchDB 3.5 or later"
	}
	return major, f
}

// anon sends one request without credentials and returns its status and
// (small) body.
func (s *Service) anon(ctx context.Context, method, path, body string) (int, []byte, error) {
	return s.raw(ctx, s.anonClient, method, path, body)
}

// raw sends one request with client and returns its status and (small)
// body.
func (s *Service) raw(ctx context.Context, client *http.Client, method, path, body string) (int, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, nil
}

func (s *Service) anonymousFinding(ctx context.Context, dbs []string) dbservice.Finding {
	f := dbservice.Finding{ID: "auth-enabled", Title: postureTitle("auth-enabled")}
	var problems []string
	status, body, err := s.anon(ctx, http.MethodGet, "/_session", "")
	if err != nil {
		f.Status, f.Detail = dbservice.Skip, "cannot reach couchdb without credentials ("+dbservice.ErrorKind(transportCause(err))+")"
		return f
	}
	var sess struct {
		UserCtx struct {
			Roles []string `json:"roles"`
		} `json:"userCtx"`
	}
	if status == http.StatusOK && json.Unmarshal(body, &sess) == nil && slices.Contains(sess.UserCtx.Roles, "_admin") {
		problems = append(problems, "admin party: anonymous requests are server admins")
	}
	if status, _, err := s.anon(ctx, http.MethodGet, "/_all_dbs", ""); err == nil && status == http.StatusOK {
		problems = append(problems, "anonymous requests can list every database")
	}
	for _, db := range dbs {
		if status, _, err := s.anon(ctx, http.MethodGet, "/"+db, ""); err == nil && status == http.StatusOK {
			problems = append(problems, db+": anyone can read it")
		}
		// An empty bulk write is authorised like any write and changes
		// nothing.
		if status, _, err := s.anon(ctx, http.MethodPost, "/"+db+"/_bulk_docs", `{"docs":[]}`); err == nil && status == http.StatusCreated {
			problems = append(problems, db+": anyone can write to it")
		}
	}
	if len(problems) > 0 {
		f.Status, f.Detail = dbservice.Fail, strings.Join(problems, "; ")
		f.Fix = "define at least one server admin ([admins]), keep [chttpd] admin_only_all_dbs = true, and give every database a _security object with members (couchdb.Provision does this)"
		return f
	}
	f.Status = dbservice.Pass
	f.Detail = "anonymous requests are refused everywhere probed"
	if len(dbs) == 0 {
		f.Detail += " (server only; no database used yet, list them in Config.Collections)"
	}
	return f
}

func (s *Service) requireValidUserFinding(ctx context.Context, admin bool) dbservice.Finding {
	f := dbservice.Finding{ID: "auth-required", Title: postureTitle("auth-required")}
	status, _, err := s.anon(ctx, http.MethodGet, "/", "")
	if err != nil {
		f.Status, f.Detail = dbservice.Skip, "cannot reach couchdb without credentials ("+dbservice.ErrorKind(transportCause(err))+")"
		return f
	}
	setting := ""
	if admin {
		for _, section := range []string{"chttpd", "chttpd_auth"} {
			status, body, err := s.raw(ctx, s.authClient, http.MethodGet, "/_node/_local/_config/"+section+"/require_valid_user", "")
			var v string
			if err == nil && status == http.StatusOK && json.Unmarshal(body, &v) == nil {
				setting += "; [" + section + "] require_valid_user = " + v
			}
		}
		if setting == "" {
			setting = "; require_valid_user is not set (default false)"
		}
	}
	if status == http.StatusUnauthorized {
		f.Status, f.Detail = dbservice.Pass, "anonymous GET / is refused (401)"+setting
		return f
	}
	f.Status, f.Detail = dbservice.Warn, "anonymous GET / is answered (HTTP "+strconv.Itoa(status)+"): require_valid_user is off"+setting
	f.Fix = "set [chttpd] require_valid_user = true (and require_valid_user_except_for_up = true for health checks) so that no request reaches CouchDB without credentials"
	return f
}

func (s *Service) leastPrivilegeFinding(ctx context.Context, roles []string, err error) dbservice.Finding {
	f := dbservice.Finding{ID: "least-privilege", Title: postureTitle("least-privilege")}
	switch {
	case err != nil:
		f.Status, f.Detail = dbservice.Skip, "cannot read the session ("+dbservice.ErrorKind(s.classify(ctx, err))+")"
	case slices.Contains(roles, "_admin"):
		f.Status = dbservice.Warn
		f.Detail = "the application logs in as " + s.auth.user + ", a server admin: a flaw in it exposes every database and the server's configuration"
		f.Fix = "create a non-admin application user with couchdb.Provision(ctx, adminConfig, couchdb.Spec{...}) and give the application only its credentials"
	default:
		f.Status, f.Detail = dbservice.Pass, "user "+s.auth.user+" is not a server admin"
	}
	return f
}

func (s *Service) securityFinding(ctx context.Context, dbs []string, major int) dbservice.Finding {
	f := dbservice.Finding{ID: "security-rules", Title: postureTitle("security-rules")}
	if len(dbs) == 0 {
		f.Status, f.Detail = dbservice.Skip, "no database used yet; list the collections in Config.Collections to check them before first use"
		return f
	}
	var r rollup
	for _, db := range dbs {
		var sec *kivik.Security
		err := s.do(func() error {
			var err error
			sec, err = s.db(db).Security(ctx)
			return err
		})
		switch {
		case isDBMissing(err):
			r.add(dbservice.Skip, db+": not created yet")
		case err != nil:
			r.add(dbservice.Skip, db+": cannot read _security ("+dbservice.ErrorKind(s.classify(ctx, err))+")")
		case len(sec.Members.Names) == 0 && len(sec.Members.Roles) == 0:
			st := dbservice.Warn
			if major > 0 && major < 3 {
				st = dbservice.Fail
			}
			r.add(st, db+": _security has no members, so the database is open to every user")
		case len(sec.Members.Names) == 0 && slices.Equal(sec.Members.Roles, []string{"_admin"}):
			r.add(dbservice.Pass, db+": server admins only")
		default:
			r.add(dbservice.Pass, db+": members "+strconv.Itoa(len(sec.Members.Names))+" names, "+strconv.Itoa(len(sec.Members.Roles))+" roles")
		}
	}
	f.Status, f.Detail = r.result()
	if f.Status == dbservice.Warn || f.Status == dbservice.Fail {
		f.Fix = "set members in each database's _security (PUT /DB/_security) to the application's user or role; couchdb.Provision does it"
	}
	return f
}

// rollup folds per-database results into one status (fail > warn > pass >
// skip) and a detail line.
type rollup struct {
	status dbservice.Status
	notes  []string
}

var severity = map[dbservice.Status]int{dbservice.Skip: 0, dbservice.Pass: 1, dbservice.Warn: 2, dbservice.Fail: 3}

func (r *rollup) add(st dbservice.Status, note string) {
	if r.status == "" || severity[st] > severity[r.status] {
		r.status = st
	}
	r.notes = append(r.notes, note)
}

func (r *rollup) result() (dbservice.Status, string) {
	if r.status == "" {
		return dbservice.Skip, "no databases"
	}
	return r.status, strings.Join(r.notes, "; ")
}

package couchdb

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-kivik/kivik/v4"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// MinAppPasswordLen is the shortest application password Provision accepts.
const MinAppPasswordLen = 16

// Spec is what Provision sets up for one application. Printing it shows no
// password.
type Spec struct {
	// Collections whose databases (admin Config's Prefix + name) are created
	// and restricted to the application.
	Collections []string
	// AppUser is the CouchDB user the application logs in as; it is created
	// in _users, or updated when it exists. It must not be a server admin.
	AppUser string
	// AppPassword becomes AppUser's password (at least MinAppPasswordLen
	// characters). Running Provision again with a new one rotates it.
	AppPassword string
	// Roles are given to AppUser and admitted as members of the databases,
	// so further users with a role share access. Lower-case names; none may
	// start with '_'.
	Roles []string
	// Indexes lists, per collection, the field lists to index (as
	// EnsureIndex would). The application's own EnsureIndex calls then find
	// them and need no database admin rights.
	Indexes map[string][][]string
}

var roleRe = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

func (sp Spec) check() error {
	for _, c := range sp.Collections {
		if err := dbservice.CheckCollection(c); err != nil {
			return err
		}
	}
	if !userRe.MatchString(sp.AppUser) {
		return &validate.Error{Field: "spec.AppUser", Reason: "use letters, digits, '_', '.', '@', '+' or '-', starting with a letter or digit"}
	}
	if len([]rune(sp.AppPassword)) < MinAppPasswordLen {
		return &validate.Error{Field: "spec.AppPassword", Reason: "shorter than " + strconv.Itoa(MinAppPasswordLen) + " characters"}
	}
	for _, r := range sp.AppPassword {
		if unicode.IsControl(r) {
			return &validate.Error{Field: "spec.AppPassword", Reason: "contains control characters"}
		}
	}
	for _, r := range sp.Roles {
		if !roleRe.MatchString(r) {
			return &validate.Error{Field: "spec.Roles", Reason: "use a lower-case letter, then lower-case letters, digits, '_', '.' or '-'"}
		}
	}
	for coll, lists := range sp.Indexes {
		if !slices.Contains(sp.Collections, coll) {
			return &validate.Error{Field: "spec.Indexes", Reason: "names a collection that is not in Collections"}
		}
		for _, fields := range lists {
			if err := dbservice.CheckFields(fields); err != nil {
				return err
			}
		}
	}
	return nil
}

// String describes the Spec with the password redacted.
func (sp Spec) String() string {
	return fmt.Sprintf("couchdb.Spec{Collections: %q, AppUser: %q, AppPassword: [REDACTED], Roles: %q, Indexes: %d collections}",
		sp.Collections, sp.AppUser, sp.Roles, len(sp.Indexes))
}

// GoString implements fmt.GoStringer with the same redacted text.
func (sp Spec) GoString() string { return sp.String() }

// Format implements fmt.Formatter so that every verb prints the redacted
// form.
func (sp Spec) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(sp.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (sp Spec) LogValue() slog.Value { return slog.StringValue(sp.String()) }

// MarshalJSON encodes the redacted form.
func (sp Spec) MarshalJSON() ([]byte, error) { return json.Marshal(sp.String()) }

// Provision prepares a server for an application that then runs with
// least privilege. With admin, a Config holding server admin credentials,
// it creates or updates spec.AppUser in _users (password and roles), creates
// each collection's database, sets its _security so that only AppUser, the
// holders of spec.Roles and the server admins can use it, and creates the
// listed indexes. It is idempotent, and rerunning it with a new password
// rotates the password. It is meant for an operator's tool or a deployment
// step, not for the application itself.
func Provision(ctx context.Context, admin Config, spec Spec) error {
	if err := spec.check(); err != nil {
		return fail("provision", "", "", err)
	}
	s, err := New(ctx, admin)
	if err != nil {
		return err
	}
	defer s.Close()
	roles, err := s.whoami(ctx)
	if err != nil {
		return fail("provision", "", "", s.classify(ctx, err))
	}
	if !slices.Contains(roles, "_admin") {
		return fail("provision", "", "", fmt.Errorf("%w: Provision needs a server admin's credentials; user %s is not one", dbservice.ErrForbidden, s.auth.user))
	}
	if spec.AppUser == s.auth.user {
		return fail("provision", "", "", &validate.Error{Field: "spec.AppUser", Reason: "is the admin user; the application needs a user of its own"})
	}
	if err := s.do(func() error { return s.putUser(ctx, spec) }); err != nil {
		return fail("provision", "_users", "", s.classify(ctx, err))
	}
	security := &kivik.Security{
		Admins:  kivik.Members{Roles: []string{"_admin"}},
		Members: kivik.Members{Names: []string{spec.AppUser}, Roles: spec.Roles},
	}
	for _, coll := range spec.Collections {
		db := s.dbName(coll)
		err := s.do(func() error {
			if err := s.client.CreateDB(ctx, db); err != nil && httpStatus(err) != http.StatusPreconditionFailed {
				return err
			}
			if err := s.db(db).SetSecurity(ctx, security); err != nil {
				return err
			}
			for _, fields := range spec.Indexes[coll] {
				fields, ok := indexFields(fields)
				if !ok {
					return &validate.Error{Field: "spec.Indexes", Reason: "_id can only be the last field of an index"}
				}
				if len(fields) == 0 {
					continue
				}
				if err := s.ensureView(ctx, db, fields); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fail("provision", coll, "", s.classify(ctx, err))
		}
		s.log.Info("provisioned database", "database", db, "member", spec.AppUser, "roles", strings.Join(spec.Roles, ","))
	}
	return nil
}

// putUser creates or updates the application user. CouchDB hashes the
// password field on write and stores only the hash.
func (s *Service) putUser(ctx context.Context, spec Spec) error {
	users := s.db("_users")
	id := "org.couchdb.user:" + spec.AppUser
	for range maxWriteAttempts {
		doc := map[string]any{}
		err := scanDoc(users.Get(ctx, id), &doc)
		switch {
		case httpStatus(err) == http.StatusNotFound:
			doc = map[string]any{}
		case err != nil:
			return err
		}
		doc["_id"], doc["name"], doc["type"] = id, spec.AppUser, "user"
		doc["roles"] = append([]string{}, spec.Roles...)
		doc["password"] = spec.AppPassword
		_, err = users.Put(ctx, id, doc)
		if httpStatus(err) != http.StatusConflict {
			if err == nil {
				s.log.Info("provisioned application user", "user", spec.AppUser)
			}
			return err
		}
	}
	return fmt.Errorf("%w: the user document kept changing", dbservice.ErrConflict)
}

package couchdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// newAppUser provisions a fresh non-admin user for colls (with indexes) and
// returns its name and password.
func newAppUser(t testing.TB, colls []string, indexes map[string][][]string, roles ...string) (user, password string) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	user, password = "sdbt-app-"+hex.EncodeToString(b[:]), randomSecret(t)
	err := Provision(context.Background(), serverConfig(t), Spec{
		Collections: colls, AppUser: user, AppPassword: password, Roles: roles, Indexes: indexes,
	})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return user, password
}

// appConfig is serverConfig with the application user's credentials.
func appConfig(t testing.TB, user, password string) Config {
	t.Helper()
	cfg := serverConfig(t)
	cfg.User, cfg.Password = user, password
	return cfg
}

func TestProvisionGrantsTheAppUserItsDatabasesOnly(t *testing.T) {
	admin := newServer(t)
	ctx := t.Context()
	mine, theirs, missing := dbtest.Collection(t), dbtest.Collection(t), dbtest.Collection(t)
	if _, err := admin.Save(ctx, theirs, "secret", dbservice.Doc{"v": 1}); err != nil {
		t.Fatalf("admin Save: %v", err)
	}
	user, pw := newAppUser(t, []string{mine}, map[string][][]string{mine: {{"name"}}})
	rec := newRecorder()
	cfg := appConfig(t, user, pw)
	cfg.Transport = rec
	app, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	t.Run("the app user reads and writes its own database", func(t *testing.T) {
		rev, err := app.Save(ctx, mine, "a1", dbservice.Doc{"name": "gofannon"})
		if err != nil {
			t.Fatalf("Save: %v", err)
		}
		if _, err := app.Save(ctx, mine, "a1", dbservice.Doc{"name": "gofannon", "runs": 2}, dbservice.IfRev(rev)); err != nil {
			t.Fatalf("Save with IfRev: %v", err)
		}
		p, err := app.Query(ctx, mine, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("name", dbservice.Eq, "gofannon")}})
		if err != nil || len(p.Docs) != 1 {
			t.Fatalf("Query = %d docs, %v; want 1", len(p.Docs), err)
		}
		if err := app.EnsureIndex(ctx, mine, "name"); err != nil {
			t.Fatalf("EnsureIndex of a provisioned index: %v", err)
		}
		if p.Stats.Index != indexName([]string{"name"}) {
			t.Fatalf("Query read %q, want the provisioned index", p.Stats.Index)
		}
		if err := app.EnsureIndex(ctx, mine, "runs"); !errors.Is(err, dbservice.ErrForbidden) || !strings.Contains(err.Error(), "Provision") {
			t.Fatalf("EnsureIndex of a new index as a member: %v, want ErrForbidden naming Provision", err)
		}
		if err := app.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("the app user cannot touch another database", func(t *testing.T) {
		_, err := app.Get(ctx, theirs, "secret")
		if !errors.Is(err, dbservice.ErrForbidden) {
			t.Fatalf("Get in another app's database: %v, want ErrForbidden", err)
		}
		_, err = app.Save(ctx, theirs, "x", dbservice.Doc{"v": 2})
		if !errors.Is(err, dbservice.ErrForbidden) {
			t.Fatalf("Save in another app's database: %v, want ErrForbidden", err)
		}
		_, err = app.Query(ctx, theirs, dbservice.Query{})
		if !errors.Is(err, dbservice.ErrForbidden) {
			t.Fatalf("Query of another app's database: %v, want ErrForbidden", err)
		}
	})
	t.Run("a missing database says how to provision it", func(t *testing.T) {
		_, err := app.Save(ctx, missing, "x", dbservice.Doc{"v": 1})
		if !errors.Is(err, dbservice.ErrForbidden) || !strings.Contains(err.Error(), "Provision") {
			t.Fatalf("Save to a missing database: %v, want ErrForbidden naming Provision", err)
		}
	})
	t.Run("a new index needs the operator", func(t *testing.T) {
		err := app.EnsureIndex(ctx, mine, "other")
		if !errors.Is(err, dbservice.ErrForbidden) || !strings.Contains(err.Error(), "Spec.Indexes") {
			t.Fatalf("EnsureIndex of a new index: %v, want ErrForbidden naming Spec.Indexes", err)
		}
	})
	t.Run("the app user is not refused and does not log in again", func(t *testing.T) {
		if n := rec.count(http.MethodPost, "/_session"); n != 1 {
			t.Fatalf("%d logins, want 1 (a forbidden answer is not a reason to log in again)", n)
		}
	})
	t.Run("anonymous requests are refused", func(t *testing.T) {
		status, _, err := admin.anon(ctx, http.MethodGet, "/"+admin.dbName(mine)+"/a1", "")
		if err != nil || status != http.StatusUnauthorized {
			t.Fatalf("anonymous GET of a document: status %d, %v; want 401", status, err)
		}
		status, _, err = admin.anon(ctx, http.MethodPost, "/"+admin.dbName(mine)+"/_bulk_docs", `{"docs":[{"_id":"anon"}]}`)
		if err != nil || status != http.StatusUnauthorized {
			t.Fatalf("anonymous write: status %d, %v; want 401", status, err)
		}
	})
}

func TestProvisionRefusesWhatWouldWeakenTheSetup(t *testing.T) {
	cfg := serverConfig(t)
	coll := dbtest.Collection(t)
	cases := []struct {
		name string
		spec Spec
		want error
	}{
		{"a short password", Spec{Collections: []string{coll}, AppUser: "app-x", AppPassword: "short"}, dbservice.ErrInvalid},
		{"the admin as app user", Spec{Collections: []string{coll}, AppUser: cfg.User, AppPassword: randomSecret(t)}, dbservice.ErrInvalid},
		{"a system role", Spec{Collections: []string{coll}, AppUser: "app-x", AppPassword: randomSecret(t), Roles: []string{"_admin"}}, dbservice.ErrInvalid},
		{"a user name with a colon", Spec{Collections: []string{coll}, AppUser: "a:b", AppPassword: randomSecret(t)}, dbservice.ErrInvalid},
		{"an index for an unlisted collection", Spec{Collections: []string{coll}, AppUser: "app-x", AppPassword: randomSecret(t), Indexes: map[string][][]string{"other": {{"a"}}}}, dbservice.ErrInvalid},
		{"a system database", Spec{Collections: []string{"_users"}, AppUser: "app-x", AppPassword: randomSecret(t)}, dbservice.ErrInvalid},
	}
	for _, c := range cases {
		t.Run("refuses "+c.name, func(t *testing.T) {
			err := Provision(t.Context(), cfg, c.spec)
			if !errors.Is(err, c.want) {
				t.Fatalf("Provision: %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), c.spec.AppPassword) && len(c.spec.AppPassword) > 8 {
				t.Fatal("error shows the password")
			}
		})
	}
	t.Run("refuses an app user's credentials", func(t *testing.T) {
		user, pw := newAppUser(t, []string{coll}, nil)
		err := Provision(t.Context(), appConfig(t, user, pw), Spec{Collections: []string{coll}, AppUser: "app-y", AppPassword: randomSecret(t)})
		if !errors.Is(err, dbservice.ErrForbidden) {
			t.Fatalf("Provision as a non-admin: %v, want ErrForbidden", err)
		}
	})
	t.Run("prints the spec without its password", func(t *testing.T) {
		spec := Spec{AppUser: "app", AppPassword: canary}
		encoded, _ := json.Marshal(spec)
		for _, text := range []string{fmt.Sprint(spec), fmt.Sprintf("%+v", spec), fmt.Sprintf("%#v", spec), string(encoded)} {
			if strings.Contains(text, canary) {
				t.Fatalf("printed spec shows the password: %s", text)
			}
		}
	})
}

// TestConformanceAsAProvisionedAppUser runs the whole contract with the
// credentials of a non-admin user. Such a user cannot create databases, and
// the suite invents collection names, so each name it uses is mapped to
// one of a pool of databases provisioned in advance (with the indexes the
// suite asks for, which also makes its equality conditions read an index).
func TestConformanceAsAProvisionedAppUser(t *testing.T) {
	t.Parallel()
	pool := make([]string, 48)
	indexes := map[string][][]string{}
	for i := range pool {
		pool[i] = fmt.Sprintf("pool%02d-%s", i, dbtest.Collection(t)[1:7])
		indexes[pool[i]] = [][]string{{"name"}, {"owner.tier", "age"}, {"v"}, {"rank"}}
	}
	user, pw := newAppUser(t, pool, indexes)
	p := &collPool{free: pool}
	dbtest.Run(t, func(t *testing.T) dbservice.Service {
		cfg := appConfig(t, user, pw)
		s, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return &pooled{t: t, Service: s, pool: p, names: map[string]string{}}
	})
}

type collPool struct {
	mu   sync.Mutex
	free []string
}

func (p *collPool) take(t *testing.T) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		t.Fatal("the pool of provisioned databases is used up")
	}
	c := p.free[0]
	p.free = p.free[1:]
	return c
}

// pooled maps the suite's collection names onto provisioned ones and maps
// them back in errors. Invalid names pass through, so the provider's own
// checks still refuse them.
type pooled struct {
	t *testing.T
	*Service
	pool  *collPool
	mu    sync.Mutex
	names map[string]string
}

func (p *pooled) coll(name string) string {
	if dbservice.CheckCollection(name) != nil {
		return name
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.names[name] == "" {
		p.names[name] = p.pool.take(p.t)
	}
	return p.names[name]
}

func (p *pooled) back(name string, err error) error {
	var e *dbservice.Error
	if errors.As(err, &e) && e.Collection != "" {
		e.Collection = name
	}
	return err
}

func (p *pooled) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	d, err := p.Service.Get(ctx, p.coll(coll), id)
	return d, p.back(coll, err)
}

func (p *pooled) Save(ctx context.Context, coll, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	rev, err := p.Service.Save(ctx, p.coll(coll), id, doc, opts...)
	return rev, p.back(coll, err)
}

func (p *pooled) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	return p.back(coll, p.Service.Delete(ctx, p.coll(coll), id, opts...))
}

func (p *pooled) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	pg, err := p.Service.Query(ctx, p.coll(coll), q)
	return pg, p.back(coll, err)
}

func (p *pooled) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	return p.back(coll, p.Service.EnsureIndex(ctx, p.coll(coll), fields...))
}

func (p *pooled) SaveMany(ctx context.Context, coll string, items []dbservice.BulkItem) error {
	return p.back(coll, p.Service.SaveMany(ctx, p.coll(coll), items))
}

func (p *pooled) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	rev, err := p.Service.Update(ctx, p.coll(coll), id, mods, opts...)
	return rev, p.back(coll, err)
}

func (p *pooled) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	docs, missing, err := p.Service.GetMany(ctx, p.coll(coll), ids)
	return docs, missing, p.back(coll, err)
}

func (p *pooled) DeleteMany(ctx context.Context, coll string, ids []string) error {
	return p.back(coll, p.Service.DeleteMany(ctx, p.coll(coll), ids))
}

func (p *pooled) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	n, err := p.Service.Count(ctx, p.coll(coll), where)
	return n, p.back(coll, err)
}

func (p *pooled) SweepExpired(ctx context.Context, coll string, budget int) (int, error) {
	n, err := p.Service.SweepExpired(ctx, p.coll(coll), budget)
	return n, p.back(coll, err)
}

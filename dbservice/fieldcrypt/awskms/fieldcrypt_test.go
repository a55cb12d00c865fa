package awskms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dynamodb"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt/awskms"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/internal/testenv"
)

// The middleware end to end with this KEK on a real KMS (local-kms).

const (
	kmsKeys = "fc_keys"
	people  = "people"
)

var peopleFields = fieldcrypt.Fields{
	"email":         fieldcrypt.Deterministic,
	"token":         fieldcrypt.Randomized,
	"profile.phone": fieldcrypt.Randomized,
}

// layer is the middleware over raw with kek, encrypting people and the
// collections named.
func layer(t testing.TB, raw dbservice.Service, kek fieldcrypt.KEK, colls ...string) *fieldcrypt.Service {
	t.Helper()
	cs := map[string]fieldcrypt.Fields{people: peopleFields}
	for _, c := range colls {
		cs[c] = peopleFields
	}
	fc, err := fieldcrypt.New(raw, fieldcrypt.Config{KEK: kek, KeysCollection: kmsKeys, Collections: cs})
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

func openDynamoDB(t testing.TB) dbservice.Service {
	testenv.Need(t, "dynamodb", dynamodb.EnvEndpointURL)
	cfg, err := dynamodb.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.TablePrefix = strings.ReplaceAll(testenv.RunPrefix+"fckms_", "_", "-")
	s, err := dynamodb.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func person(c string, i int) dbservice.Doc {
	return dbservice.Doc{
		"email":   fmt.Sprintf("%s-%d@example.com", c, i),
		"token":   c + "-token",
		"profile": map[string]any{"phone": c + "-phone", "city": "Lyon"},
		"n":       float64(i),
	}
}

func TestFieldEncryptionWithLocalKMS(t *testing.T) {
	rec := &recorder{}
	c := sharedClient(t, rec)
	kek := newKEK(t, c, createKey(t, c))
	rec.reset() // CreateKey is not the middleware's
	for _, p := range []struct {
		name string
		open func(testing.TB) dbservice.Service
	}{
		{"memory", func(testing.TB) dbservice.Service { return memory.New() }},
		{"dynamodb", openDynamoDB},
	} {
		t.Run(p.name, func(t *testing.T) {
			raw := p.open(t)
			fc := layer(t, raw, kek)
			ctx := t.Context()
			before := rec.count()
			for i := range 3 {
				if _, err := fc.Save(ctx, people, fmt.Sprint("p", i), person(canary, i)); err != nil {
					t.Fatalf("Save: %v", err)
				}
			}
			got, err := fc.Get(ctx, people, "p1")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			want := person(canary, 1)
			for _, f := range []string{"email", "token", "n"} {
				if !reflect.DeepEqual(got[f], want[f]) {
					t.Errorf("%s = %#v, want %#v", f, got[f], want[f])
				}
			}
			if !reflect.DeepEqual(got["profile"], want["profile"]) {
				t.Errorf("profile = %#v, want %#v", got["profile"], want["profile"])
			}
			page, err := fc.Query(ctx, people, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, want["email"])}})
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if len(page.Docs) != 1 || page.Docs[0]["_id"] != "p1" || page.Docs[0]["token"] != want["token"] {
				t.Fatalf("equality on the encrypted email found %v, want p1 decrypted", page.Docs)
			}
			for i := range 3 {
				stored, err := raw.Get(ctx, people, fmt.Sprint("p", i))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(stored)
				if bytes.Contains(b, []byte(canary)) || !bytes.Contains(b, []byte("sdbenc:v1:")) {
					t.Fatalf("stored document is not encrypted or holds the canary: %s", b)
				}
			}
			keysDoc, err := raw.Get(ctx, kmsKeys, people)
			if err != nil || keysDoc["kek_kind"] != awskms.Kind || keysDoc["kek_id"] != kek.ID() {
				t.Fatalf("stored keyset = %v, %v; want one wrapped by this KMS key", keysDoc, err)
			}
			// A new collection's first write wraps two data keysets (the
			// randomized and the deterministic one): two KMS Encrypt calls.
			if n := rec.count() - before; n != 2 {
				t.Errorf("%d KMS calls for one collection's first writes, want 2", n)
			}
		})
	}
}

// TestKMSCallsPer10kOperations counts the requests local-kms receives over
// 10,000 mixed operations of a process that starts with keys already
// stored: one Decrypt per data keyset (two per collection), then none.
func TestKMSCallsPer10kOperations(t *testing.T) {
	rec := &recorder{}
	c := sharedClient(t, rec)
	kek := newKEK(t, c, createKey(t, c))
	rec.reset() // CreateKey is not the middleware's
	rec.httpRequests.Store(0)
	raw := memory.New()
	colls := []string{people, "orders", "devices"}
	ctx := t.Context()
	first := layer(t, raw, kek, colls...)
	for _, coll := range colls {
		if _, err := first.Save(ctx, coll, "first", person(coll, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if n := rec.count(); n != 2*len(colls) {
		t.Fatalf("%d KMS calls to make %d collections' keys, want %d", n, len(colls), 2*len(colls))
	}

	// A second process over the same store.
	rec.reset()
	if sent := rec.httpRequests.Load(); sent != int64(2*len(colls)) {
		t.Fatalf("%d HTTP requests reached the KMS to make the keys, want %d", sent, 2*len(colls))
	}
	rec.httpRequests.Store(0)
	fc := layer(t, raw, kek, colls...)
	const ops = 10000
	for i := range ops {
		coll := colls[i%len(colls)]
		id := fmt.Sprint("d", i%200)
		var err error
		switch i % 4 {
		case 0, 1:
			_, err = fc.Save(ctx, coll, id, person(coll, i))
		case 2:
			_, err = fc.Get(ctx, coll, id)
			if errors.Is(err, dbservice.ErrNotFound) {
				err = nil
			}
		case 3:
			_, err = fc.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, fmt.Sprintf("%s-%d@example.com", coll, i-1))}})
		}
		if err != nil {
			t.Fatalf("operation %d: %v", i, err)
		}
	}
	ops2 := rec.opsCopy()
	decrypts := 0
	for _, op := range ops2 {
		if op == "Decrypt" {
			decrypts++
		}
	}
	sent := rec.httpRequests.Load()
	t.Logf("KMS requests over %d mixed operations (%d collections, 2 data keysets each): %d HTTP requests, operations %v", ops, len(colls), sent, ops2)
	if len(ops2) != 2*len(colls) || decrypts != len(ops2) || sent != int64(len(ops2)) {
		t.Fatalf("KMS received %v over %d operations; want exactly %d Decrypts, one per data keyset", ops2, ops, 2*len(colls))
	}
}

// TestFaultKMSOutage freezes a private local-kms (SIGSTOP): keys already
// unwrapped keep working, a collection whose keys must first be made fails
// with ErrUnavailable within the caller's deadline and writes nothing, and
// after SIGCONT everything works again.
func TestFaultKMSOutage(t *testing.T) {
	srv := testenv.StartServer(t, "kms")
	c := client(srv.Env["KMS_ENDPOINT_URL"], srv.Env["KMS_REGION"], nil)
	kek := newKEK(t, c, createKey(t, c))
	raw := memory.New()
	fc := layer(t, raw, kek, "fresh")
	ctx := t.Context()
	if _, err := fc.Save(ctx, people, "a", person(canary, 1)); err != nil {
		t.Fatal(err)
	}

	srv.Freeze()
	frozen := true
	defer func() {
		if frozen {
			srv.Resume()
		}
	}()
	t.Run("cached keys keep working", func(t *testing.T) {
		if _, err := fc.Save(ctx, people, "b", person(canary, 2)); err != nil {
			t.Fatalf("Save with cached keys during the outage: %v", err)
		}
		if d, err := fc.Get(ctx, people, "a"); err != nil || d["token"] != canary+"-token" {
			t.Fatalf("Get with cached keys during the outage = %v, %v", d, err)
		}
	})
	t.Run("a new collection fails typed within the deadline and writes nothing", func(t *testing.T) {
		const deadline = time.Second
		cctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		start := time.Now()
		_, err := fc.Save(cctx, "fresh", "x", person(canary, 3))
		took := time.Since(start)
		if !errors.Is(err, dbservice.ErrUnavailable) {
			t.Fatalf("Save = %v; want ErrUnavailable", err)
		}
		noLeak(t, err)
		// Scheduling slack on a loaded machine.
		if took > deadline+3*time.Second {
			t.Fatalf("Save took %v with a %v deadline", took, deadline)
		}
		if _, err := raw.Get(ctx, "fresh", "x"); !errors.Is(err, dbservice.ErrNotFound) {
			t.Fatalf("document below the layer after the failure: %v", err)
		}
		if _, err := raw.Get(ctx, kmsKeys, "fresh"); !errors.Is(err, dbservice.ErrNotFound) {
			t.Fatalf("keyset below the layer after the failure: %v", err)
		}
	})
	srv.Resume()
	frozen = false
	t.Run("after resuming, the new collection works", func(t *testing.T) {
		if _, err := fc.Save(ctx, "fresh", "x", person(canary, 3)); err != nil {
			t.Fatalf("Save after the outage: %v", err)
		}
		if d, err := fc.Get(ctx, "fresh", "x"); err != nil || d["token"] != canary+"-token" {
			t.Fatalf("Get after the outage = %v, %v", d, err)
		}
	})
}

// TestRewrapBetweenLocalKeysetAndKMS moves every data keyset from a local
// keyset KEK to the KMS key and back: documents stay byte for byte as they
// were, and a process holding only the new KEK reads them all.
func TestRewrapBetweenLocalKeysetAndKMS(t *testing.T) {
	c := sharedClient(t, nil)
	aws := newKEK(t, c, createKey(t, c))
	js, err := localkek.Generate()
	if err != nil {
		t.Fatal(err)
	}
	local, err := localkek.FromJSON(js, localkek.Options{Development: true})
	if err != nil {
		t.Fatal(err)
	}
	raw := memory.New()
	ctx := t.Context()
	colls := []string{people, "orders"}
	const perColl = 50
	fc := layer(t, raw, local, colls...)
	for _, coll := range colls {
		for i := range perColl {
			if _, err := fc.Save(ctx, coll, fmt.Sprint("d", i), person(coll, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	snapshot := func() map[string]dbservice.Doc {
		m := map[string]dbservice.Doc{}
		for _, coll := range colls {
			for i := range perColl {
				d, err := raw.Get(ctx, coll, fmt.Sprint("d", i))
				if err != nil {
					t.Fatal(err)
				}
				m[coll+"/"+fmt.Sprint(i)] = d
			}
		}
		return m
	}
	readAll := func(t *testing.T, kek fieldcrypt.KEK) {
		t.Helper()
		p := layer(t, raw, kek, colls...) // a process that knows only kek
		for _, coll := range colls {
			for i := range perColl {
				d, err := p.Get(ctx, coll, fmt.Sprint("d", i))
				if err != nil || d["email"] != person(coll, i)["email"] || d["token"] != coll+"-token" {
					t.Fatalf("%s/d%d with only the %s KEK = %v, %v", coll, i, kek.Kind(), d, err)
				}
			}
		}
	}
	before := snapshot()
	for _, step := range []struct {
		to   fieldcrypt.KEK
		kind string
	}{{aws, awskms.Kind}, {local, localkek.Kind}} {
		t.Run("to "+step.kind, func(t *testing.T) {
			n, err := fc.Rewrap(ctx, step.to)
			if err != nil || n != len(colls) {
				t.Fatalf("Rewrap = %d, %v; want %d keysets", n, err, len(colls))
			}
			for _, coll := range colls {
				k, err := raw.Get(ctx, kmsKeys, coll)
				if err != nil || k["kek_kind"] != step.kind || k["kek_id"] != step.to.ID() {
					t.Fatalf("keyset of %s = %v, %v; want wrapped by %s", coll, k["kek_kind"], err, step.kind)
				}
			}
			if after := snapshot(); !reflect.DeepEqual(after, before) {
				t.Fatal("Rewrap rewrote documents")
			}
			readAll(t, step.to)
		})
	}
}

// TestOpenFromEnvWithKMSKEK configures field encryption the way a service
// does, from SECUREDB_FIELD_KEK and SECUREDB_FIELD_ENCRYPTION, with the AWS
// SDK's default configuration pointed at local-kms.
func TestOpenFromEnvWithKMSKEK(t *testing.T) {
	v := testenv.Need(t, "kms", "KMS_ENDPOINT_URL", "KMS_REGION")
	c := sharedClient(t, nil)
	arn := createKey(t, c)
	t.Setenv("AWS_ENDPOINT_URL_KMS", v[0])
	t.Setenv("AWS_REGION", v[1])
	t.Setenv("AWS_ACCESS_KEY_ID", "localtest")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "localtest")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("DATABASE_PROVIDER", "memory")
	t.Setenv(securedb.EnvFieldKEK, "aws-kms://"+arn)
	t.Setenv(securedb.EnvFieldEncryption, "people:email=deterministic,people:token=randomized,people:profile.phone=randomized")
	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.DisableAudit = true
	ctx := t.Context()
	db, err := securedb.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := db.Save(ctx, "people", "p1", person(canary, 1)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	page, err := db.Query(ctx, "people", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, person(canary, 1)["email"])}})
	if err != nil || len(page.Docs) != 1 || page.Docs[0]["token"] != canary+"-token" {
		t.Fatalf("Query = %v, %v", page.Docs, err)
	}
	var below dbservice.Service
	for cur := dbservice.Service(db); cur != nil; {
		if fc, ok := cur.(*fieldcrypt.Service); ok {
			below = fc.Unwrap()
			break
		}
		w, ok := cur.(dbservice.Wrapper)
		if !ok {
			break
		}
		cur = w.Unwrap()
	}
	if below == nil {
		t.Fatal("no field encryption layer in the opened stack")
	}
	k, err := below.Get(ctx, fieldcrypt.DefaultKeysCollection, "people")
	if err != nil || k["kek_kind"] != awskms.Kind || k["kek_id"] != arn {
		t.Fatalf("stored keyset = %v, %v; want wrapped by the configured KMS key", k, err)
	}
	d, err := below.Get(ctx, "people", "p1")
	if b, _ := json.Marshal(d); err != nil || bytes.Contains(b, []byte(canary)) {
		t.Fatalf("stored document = %s, %v", b, err)
	}

	// A malformed key in the variable: ErrInvalid naming it, before any call.
	t.Setenv(securedb.EnvFieldKEK, "aws-kms://bad key "+canary)
	cfg, _ = securedb.ConfigFromEnv()
	cfg.DisableAudit = true
	if _, err := securedb.Open(ctx, cfg); !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), securedb.EnvFieldKEK) {
		t.Fatalf("Open with a malformed key = %v; want ErrInvalid naming %s", err, securedb.EnvFieldKEK)
	} else {
		noLeak(t, err)
	}
}

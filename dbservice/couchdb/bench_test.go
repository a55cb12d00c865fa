package couchdb

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"
	kcouch "github.com/go-kivik/kivik/v4/couchdb"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// BenchmarkLibraryVsRawKivik compares Get and Save with the same calls made
// directly on kivik (cookie auth, uncompressed requests as the provider
// sends them, same server, same database): the ratio is what validation,
// normalisation, ID mapping and error handling cost (goal ≤ 1.05x). The raw
// Save passes the revision it got last time, as the library's revision
// cache does.
func BenchmarkLibraryVsRawKivik(b *testing.B) {
	s := newServer(b)
	cfg := serverConfig(b)
	raw, err := kivik.New("couch", cfg.URL, kcouch.CookieAuth(cfg.User, cfg.Password), kcouch.OptionNoRequestCompression())
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	ctx, coll := context.Background(), dbtest.Collection(b)
	if _, err := s.Save(ctx, coll, "lib", dbtest.BenchDoc(1)); err != nil {
		b.Fatal(err)
	}
	db := raw.DB(s.dbName(coll))
	rawRev, err := db.Put(ctx, "raw", dbtest.BenchDoc(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Get", func(b *testing.B) {
		dbtest.Pair(b,
			func() error {
				d := db.Get(ctx, "raw")
				defer d.Close()
				var m map[string]any
				return d.ScanDoc(&m)
			},
			func() error { _, err := s.Get(ctx, coll, "lib"); return err })
	})
	b.Run("Save", func(b *testing.B) {
		dbtest.Pair(b,
			func() error {
				d := dbtest.BenchDoc(1)
				d["_rev"] = rawRev
				rawRev, err = db.Put(ctx, "raw", d)
				return err
			},
			func() error { _, err := s.Save(ctx, coll, "lib", dbtest.BenchDoc(1)); return err })
	})
}

// BenchmarkCookieVsBasicAuth reads one document 1000 times with a cookie
// session and 1000 times with Basic auth, as a user whose password is
// hashed the way CouchDB 3.5 hashes by default (pbkdf2-sha256, 600000
// iterations; the test server's lowered setting does not apply to it), and
// reports how many times faster the cookie session is.
func BenchmarkCookieVsBasicAuth(b *testing.B) {
	admin := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	user, pw := "sdbt-bench-"+hex.EncodeToString(randomBytes(b, 4)), randomSecret(b)
	if err := Provision(ctx, serverConfig(b), Spec{Collections: []string{coll}, AppUser: user, AppPassword: randomSecret(b)}); err != nil {
		b.Fatal(err)
	}
	salt := hex.EncodeToString(randomBytes(b, 16))
	key, err := pbkdf2.Key(sha256.New, pw, []byte(salt), 600000, 32)
	if err != nil {
		b.Fatal(err)
	}
	users := admin.db("_users")
	id := "org.couchdb.user:" + user
	rev, err := users.GetRev(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := users.Put(ctx, id, map[string]any{
		"_rev": rev, "name": user, "type": "user", "roles": []string{},
		"password_scheme": "pbkdf2", "pbkdf2_prf": "sha256", "iterations": 600000, "salt": salt, "derived_key": hex.EncodeToString(key),
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Save(ctx, coll, "doc", dbtest.BenchDoc(1)); err != nil {
		b.Fatal(err)
	}
	services := map[AuthMode]*Service{}
	first := map[AuthMode]time.Duration{}
	// Basic first: whichever goes second may find the password verified
	// in CouchDB's cache already.
	for _, mode := range []AuthMode{AuthBasic, AuthCookie} {
		cfg := appConfig(b, user, pw)
		cfg.AuthMode = mode
		s, err := New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		t0 := time.Now()
		if _, err := s.Get(ctx, coll, "doc"); err != nil { // log in outside the timing
			b.Fatalf("%s: %v", mode, err)
		}
		first[mode] = time.Since(t0)
		services[mode] = s
	}

	const gets = 1000
	took := map[AuthMode]time.Duration{}
	n := 0
	for b.Loop() {
		for _, mode := range []AuthMode{AuthCookie, AuthBasic} {
			t0 := time.Now()
			for range gets {
				if _, err := services[mode].Get(ctx, coll, "doc"); err != nil {
					b.Fatal(err)
				}
			}
			took[mode] += time.Since(t0)
		}
		n++
	}
	b.ReportMetric(float64(gets*n)/took[AuthCookie].Seconds(), "cookie-gets/s")
	b.ReportMetric(float64(gets*n)/took[AuthBasic].Seconds(), "basic-gets/s")
	b.ReportMetric(float64(took[AuthBasic])/float64(took[AuthCookie]), "x-cookie-vs-basic")
	// The first call pays the password hashing once (Basic before
	// CouchDB's credential cache holds it, or the session login).
	b.ReportMetric(float64(first[AuthBasic].Milliseconds()), "basic-first-call-ms")
	b.ReportMetric(float64(first[AuthCookie].Milliseconds()), "cookie-first-call-ms")
}

// BenchmarkImport1000 writes 1000 documents with SaveMany (_bulk_docs, which
// dbservice.Import uses) and with 1000 Saves, and reports how many times
// faster the bulk path is.
func BenchmarkImport1000(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	items := make([]dbservice.BulkItem, 1000)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("doc-%04d", i), Doc: dbtest.BenchDoc(i)}
	}
	if err := s.EnsureIndex(ctx, coll, "name"); err != nil { // creates the database outside the timing
		b.Fatal(err)
	}
	var bulk, single time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if err := s.SaveMany(ctx, coll, items); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for _, it := range items {
			if _, err := s.Save(ctx, coll, it.ID, it.Doc); err != nil {
				b.Fatal(err)
			}
		}
		bulk += t1.Sub(t0)
		single += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(bulk.Milliseconds())/float64(n), "savemany-ms/op")
	b.ReportMetric(float64(single.Milliseconds())/float64(n), "save-loop-ms/op")
	b.ReportMetric(float64(single)/float64(bulk), "x-faster")
}

func randomBytes(b testing.TB, n int) []byte {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		b.Fatal(err)
	}
	return buf
}

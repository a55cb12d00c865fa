package fieldcrypt_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// Collections of the suite. Each provider test gives the suite a fresh
// store (its own prefix on a real server).
const (
	users  = "users"
	rot    = "rotated"
	reenc  = "reenc"
	fresh  = "fresh"
	keys   = "fckeys"
	cstart = "concurrent"
)

// usersFields is the configuration the suite encrypts.
var usersFields = fieldcrypt.Fields{
	"email":         fieldcrypt.Deterministic,
	"national_id":   fieldcrypt.Deterministic,
	"ssn":           fieldcrypt.Randomized,
	"profile.phone": fieldcrypt.Randomized,
	"profile.card":  fieldcrypt.Deterministic,
}

func config(kek fieldcrypt.KEK) fieldcrypt.Config {
	return fieldcrypt.Config{
		KEK:            kek,
		KeysCollection: keys,
		Collections: map[string]fieldcrypt.Fields{
			users: usersFields, rot: usersFields, reenc: usersFields, fresh: usersFields, cstart: usersFields,
		},
	}
}

func newLayer(t testing.TB, raw dbservice.Service, cfg fieldcrypt.Config) *fieldcrypt.Service {
	t.Helper()
	fc, err := fieldcrypt.New(raw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

func canary(t testing.TB) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "canary-" + hex.EncodeToString(b[:])
}

// suite runs the field encryption cases on raw, a provider read and
// written directly to see what is stored. reencryptN is how many
// documents Reencrypt walks.
func suite(t *testing.T, raw dbservice.Service, reencryptN int) {
	kek := newTestKEK(t)
	fc := newLayer(t, raw, config(kek))
	svc := dbservice.Guard(fc, dbservice.Policy{})
	ctx := t.Context()

	t.Run("every JSON type round-trips in every encrypted field", func(t *testing.T) {
		values := []any{
			"plain text", "", "ünïcødé ✓ \x00 nul", 1.5, -0.25, float64(1 << 53), -float64(1 << 53), 0.0, 1e300,
			true, false, nil,
			[]any{}, []any{1.0, "a", nil, true, map[string]any{"k": []any{2.0}}},
			map[string]any{}, map[string]any{"a": map[string]any{"b": []any{"c", 3.0}}, "z": nil},
		}
		for i, v := range values {
			id := fmt.Sprintf("type-%02d", i)
			doc := dbservice.Doc{"email": v, "national_id": v, "ssn": v, "profile": map[string]any{"phone": v, "card": v, "plain": "p"}, "n": float64(i)}
			if _, err := svc.Save(ctx, users, id, doc); err != nil {
				t.Fatalf("save %T %v: %v", v, v, err)
			}
			got, err := svc.Get(ctx, users, id)
			if err != nil {
				t.Fatalf("get %s: %v", id, err)
			}
			for _, p := range []string{"email", "national_id", "ssn", "profile.phone", "profile.card"} {
				gv, ok := dbservice.Lookup(got, p)
				if !ok || !reflect.DeepEqual(gv, v) {
					t.Errorf("%s of %s = %#v, want %#v", p, id, gv, v)
				}
			}
			if got["n"] != float64(i) || got["profile"].(map[string]any)["plain"] != "p" {
				t.Errorf("plain fields of %s changed: %v", id, got)
			}
			stored, err := raw.Get(ctx, users, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"email", "national_id", "ssn", "profile.phone", "profile.card"} {
				sv, _ := dbservice.Lookup(stored, p)
				if s, _ := sv.(string); !strings.HasPrefix(s, "sdbenc:v1:") {
					t.Errorf("stored %s of %s = %#v, want ciphertext", p, id, sv)
				}
			}
		}
	})

	t.Run("the stored document and a backup hold no plaintext of a canary", func(t *testing.T) {
		c := canary(t)
		doc := dbservice.Doc{"email": c + "@example.com", "ssn": c, "national_id": c, "profile": map[string]any{"phone": c}}
		if _, err := svc.Save(ctx, users, "canary", doc); err != nil {
			t.Fatal(err)
		}
		if doc["ssn"] != c {
			t.Error("Save changed the caller's document")
		}
		stored, err := raw.Get(ctx, users, "canary")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(stored)
		if bytes.Contains(b, []byte(c)) {
			t.Fatalf("stored document holds the canary: %s", b)
		}
		var buf bytes.Buffer
		if _, err := dbservice.Export(ctx, svc, &buf, users); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte(c)) || !bytes.Contains(buf.Bytes(), []byte("sdbenc:v1:")) {
			t.Fatal("an export through the encrypting service holds plaintext of the canary")
		}
		got, err := svc.Get(ctx, users, "canary")
		if err != nil || got["ssn"] != c {
			t.Fatalf("read back = %v, %v", got["ssn"], err)
		}
	})

	t.Run("equality queries on deterministic fields", func(t *testing.T) {
		for id, email := range map[string]any{"eq-1": "a@x.test", "eq-2": "b@x.test", "eq-3": "a@x.test", "eq-4": nil} {
			if _, err := svc.Save(ctx, users, id, dbservice.Doc{"email": email, "kind": "eq", "ssn": id}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(docs []dbservice.Doc) []string {
			var out []string
			for _, d := range docs {
				out = append(out, d["_id"].(string))
			}
			return out
		}
		cases := []struct {
			name  string
			where []dbservice.Cond
			want  []string
		}{
			{"eq", []dbservice.Cond{dbservice.Where("email", dbservice.Eq, "a@x.test"), dbservice.Where("kind", dbservice.Eq, "eq")}, []string{"eq-1", "eq-3"}},
			{"in", []dbservice.Cond{dbservice.Where("email", dbservice.In, []string{"a@x.test", "b@x.test"}), dbservice.Where("kind", dbservice.Eq, "eq")}, []string{"eq-1", "eq-2", "eq-3"}},
			{"eq null", []dbservice.Cond{dbservice.Where("email", dbservice.Eq, nil), dbservice.Where("kind", dbservice.Eq, "eq")}, []string{"eq-4"}},
			{"no match", []dbservice.Cond{dbservice.Where("email", dbservice.Eq, "nobody@x.test")}, nil},
			{"exists on randomized", []dbservice.Cond{dbservice.Where("ssn", dbservice.Exists, true), dbservice.Where("kind", dbservice.Eq, "eq")}, []string{"eq-1", "eq-2", "eq-3", "eq-4"}},
		}
		for _, c := range cases {
			page, err := svc.Query(ctx, users, dbservice.Query{Where: c.where})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			// DynamoDB pages come in scan order: compare as sets.
			if got := ids(page.Docs); !reflect.DeepEqual(sorted(got), c.want) {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
			}
			for _, d := range page.Docs {
				if d["ssn"] != d["_id"] {
					t.Errorf("%s: ssn of %v not decrypted: %v", c.name, d["_id"], d["ssn"])
				}
			}
			n, err := svc.Count(ctx, users, c.where)
			if err != nil || n != len(c.want) {
				t.Errorf("count %s = %d, %v; want %d", c.name, n, err, len(c.want))
			}
		}
		// Projections, typed reads and batch reads decrypt too.
		page, err := svc.Query(ctx, users, dbservice.Query{Where: cases[0].where, Fields: []string{"email"}})
		if err != nil || len(page.Docs) != 2 || page.Docs[0]["email"] != "a@x.test" || page.Docs[0]["ssn"] != nil {
			t.Errorf("projected query = %v, %v", page.Docs, err)
		}
		type user struct {
			ID    string `json:"_id"`
			Email string `json:"email"`
			SSN   string `json:"ssn"`
		}
		typed, err := dbservice.QueryAs[user](ctx, svc, users, dbservice.Query{Where: cases[0].where})
		if err != nil || len(typed.Items) != 2 || typed.Items[0].SSN != typed.Items[0].ID || typed.Items[1].Email != "a@x.test" {
			t.Errorf("QueryAs = %+v, %v", typed.Items, err)
		}
		many, missing, err := dbservice.GetManyAs[user](ctx, svc, users, []string{"eq-2", "nope", "eq-1"})
		if err != nil || len(many) != 2 || many[0].SSN != "eq-2" || many[1].Email != "a@x.test" || len(missing) != 1 {
			t.Errorf("GetManyAs = %+v, %v, %v", many, missing, err)
		}
		var all []string
		for u, err := range dbservice.AllAs[user](ctx, svc, users, dbservice.Query{Where: cases[1].where, Limit: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, u.SSN)
		}
		if !reflect.DeepEqual(sorted(all), []string{"eq-1", "eq-2", "eq-3"}) {
			t.Errorf("AllAs over pages = %v", all)
		}
		if err := svc.DeleteMany(ctx, users, []string{"eq-4"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Get(ctx, users, "eq-4"); !errors.Is(err, dbservice.ErrNotFound) {
			t.Errorf("after DeleteMany: %v", err)
		}
	})

	t.Run("what ciphertext cannot answer is ErrInvalid naming the field", func(t *testing.T) {
		for _, c := range []struct {
			name, field string
			q           dbservice.Query
		}{
			{"range on deterministic", "email", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Gt, "a")}}},
			{"prefix", "email", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Prefix, "a")}}},
			{"contains", "national_id", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("national_id", dbservice.Contains, "a")}}},
			{"ne", "email", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Ne, "a")}}},
			{"eq on randomized", "ssn", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("ssn", dbservice.Eq, "a")}}},
			{"in on randomized", "profile.phone", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("profile.phone", dbservice.In, []any{"a"})}}},
			{"inside an encrypted field", "ssn", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("ssn.x", dbservice.Eq, "a")}}},
			{"order", "email", dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc("email")}}},
			{"order on a map holding one", "profile.", dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc("profile")}}},
			{"projection inside", "ssn", dbservice.Query{Fields: []string{"ssn.x"}}},
		} {
			_, err := svc.Query(ctx, users, c.q)
			if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), c.field) {
				t.Errorf("%s: %v, want ErrInvalid naming %s", c.name, err, c.field)
			}
		}
		if _, err := svc.Save(ctx, users, "upd", dbservice.Doc{"ssn": "s1", "email": "e1", "count": 1.0}); err != nil {
			t.Fatal(err)
		}
		for _, m := range []dbservice.Mutation{dbservice.Increment("ssn", 1), dbservice.Append("email", "x"), dbservice.Remove("national_id", "x"), dbservice.Set("ssn.inner", 1), dbservice.Unset("profile.phone.x")} {
			if _, err := svc.Update(ctx, users, "upd", []dbservice.Mutation{m}); !errors.Is(err, dbservice.ErrInvalid) {
				t.Errorf("update %s %s: %v, want ErrInvalid", m.Kind, m.Path, err)
			}
		}
		e2, phone := canary(t), canary(t)
		if _, err := svc.Update(ctx, users, "upd", []dbservice.Mutation{
			dbservice.Set("email", e2), dbservice.Unset("ssn"), dbservice.Set("profile", map[string]any{"phone": phone}), dbservice.Increment("count", 1),
		}); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, users, "upd")
		if err != nil || got["email"] != e2 || got["ssn"] != nil || got["count"] != 2.0 || got["profile"].(map[string]any)["phone"] != phone {
			t.Errorf("after update = %v, %v", got, err)
		}
		stored, _ := raw.Get(ctx, users, "upd")
		if b, _ := json.Marshal(stored); bytes.Contains(b, []byte(phone)) || bytes.Contains(b, []byte(e2)) {
			t.Errorf("update wrote plaintext: %s", b)
		}
		page, err := svc.Query(ctx, users, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, e2)}})
		if err != nil || len(page.Docs) != 1 {
			t.Errorf("query on an updated field = %v, %v", page.Docs, err)
		}
		if err := svc.EnsureIndex(ctx, users, "ssn"); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("index on a randomized field: %v", err)
		}
	})

	t.Run("copied and tampered ciphertexts fail typed", func(t *testing.T) {
		c := canary(t)
		for _, id := range []string{"src", "dst"} {
			if _, err := svc.Save(ctx, users, id, dbservice.Doc{"ssn": c + id, "email": c + id, "national_id": "n-" + id, "profile": map[string]any{"phone": "p-" + id}}); err != nil {
				t.Fatal(err)
			}
		}
		src, _ := raw.Get(ctx, users, "src")
		dst, _ := raw.Get(ctx, users, "dst")
		put := func(t *testing.T, path string, v any) {
			t.Helper()
			d := dbservice.Clone(dst)
			delete(d, "_rev")
			delete(d, "_id")
			names := dbservice.SplitPath(path)
			m := d
			for _, n := range names[:len(names)-1] {
				m = m[n].(map[string]any)
			}
			m[names[len(names)-1]] = v
			if _, err := raw.Save(ctx, users, "dst", d); err != nil {
				t.Fatal(err)
			}
		}
		flip := func(s string) string {
			b := []byte(s)
			i := len(b) - 3
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}
		srcSSN := src["ssn"].(string)
		srcEmail := src["email"].(string)
		for _, c2 := range []struct {
			name, path string
			v          any
		}{
			{"randomized copied from another document", "ssn", srcSSN},
			{"randomized copied to another field", "profile.phone", dst["ssn"]},
			{"deterministic copied to another field", "national_id", dst["email"]},
			{"bit flipped", "ssn", flip(dst["ssn"].(string))},
			{"header names the other mode", "ssn", strings.Replace(dst["ssn"].(string), ":r:", ":d:", 1)},
			{"header names another key", "email", strings.Replace(dst["email"].(string), "sdbenc:v1:d:", "sdbenc:v1:d:0", 1)[:len(dst["email"].(string))]},
			{"truncated", "ssn", dst["ssn"].(string)[:40]},
			{"plaintext in place of ciphertext", "ssn", c},
			{"a number in place of ciphertext", "email", 7.0},
		} {
			t.Run(c2.name, func(t *testing.T) {
				put(t, c2.path, c2.v)
				_, err := svc.Get(ctx, users, "dst")
				if !errors.Is(err, fieldcrypt.ErrDecrypt) || !errors.Is(err, dbservice.ErrInvalid) {
					t.Fatalf("get = %v, want ErrDecrypt", err)
				}
				msg := err.Error()
				if strings.Contains(msg, c) || strings.Contains(msg, "sdbenc") || !strings.Contains(msg, c2.path) {
					t.Errorf("error %q leaks a value or does not name %s", msg, c2.path)
				}
				if _, _, err := svc.GetMany(ctx, users, []string{"src", "dst"}); !errors.Is(err, fieldcrypt.ErrDecrypt) {
					t.Errorf("get-many = %v, want ErrDecrypt", err)
				}
			})
		}
		// Documented: a deterministic ciphertext is bound to collection and
		// field, not to the document, so it reads in another document.
		put(t, "email", srcEmail)
		got, err := svc.Get(ctx, users, "dst")
		if err != nil || got["email"] != c+"src" {
			t.Errorf("deterministic value moved between documents = %v, %v", got["email"], err)
		}
	})

	t.Run("rotation, rewrap and reencrypt keep every document readable", func(t *testing.T) {
		save := func(from, to int, tag string) {
			for i := from; i < to; i++ {
				id := fmt.Sprintf("r%03d", i)
				if _, err := svc.Save(ctx, rot, id, dbservice.Doc{"email": "same@x.test", "ssn": tag + id, "profile": map[string]any{"phone": id}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		checkAll := func(t *testing.T, s dbservice.Service, n int) {
			t.Helper()
			for i := range n {
				id := fmt.Sprintf("r%03d", i)
				d, err := s.Get(ctx, rot, id)
				if err != nil {
					t.Fatalf("get %s: %v", id, err)
				}
				if d["profile"].(map[string]any)["phone"] != id {
					t.Fatalf("%s decrypts to %v", id, d["profile"])
				}
			}
			c, err := s.Count(ctx, rot, []dbservice.Cond{dbservice.Where("email", dbservice.Eq, "same@x.test")})
			if err != nil || c != n {
				t.Errorf("equality over key versions counts %d, %v; want %d", c, err, n)
			}
		}
		save(0, 10, "v1-")
		if err := fc.Rotate(ctx, rot); err != nil {
			t.Fatal(err)
		}
		save(10, 20, "v2-")
		checkAll(t, svc, 20)
		keyIDs := func() map[string]int {
			out := map[string]int{}
			for d, err := range dbservice.All(ctx, raw, rot, dbservice.Query{}) {
				if err != nil {
					t.Fatal(err)
				}
				out[strings.Split(d["ssn"].(string), ":")[3]]++
			}
			return out
		}
		if k := keyIDs(); len(k) != 2 {
			t.Errorf("after a rotation the stored key IDs are %v, want two versions", k)
		}

		kek2 := newTestKEK(t)
		revBefore, err := raw.Get(ctx, rot, "r000")
		if err != nil {
			t.Fatal(err)
		}
		n, err := fc.Rewrap(ctx, kek2)
		if err != nil || n < 2 {
			t.Fatalf("rewrap = %d, %v; want the keysets of %s and %s at least", n, err, users, rot)
		}
		if n2, err := fc.Rewrap(ctx, kek2); err != nil || n2 != 0 {
			t.Errorf("second rewrap = %d, %v; want 0 (idempotent)", n2, err)
		}
		if d, err := raw.Get(ctx, rot, "r000"); err != nil || d["_rev"] != revBefore["_rev"] {
			t.Errorf("rewrap touched a document: rev %v → %v (%v)", revBefore["_rev"], d["_rev"], err)
		}
		onlyNew := newLayer(t, raw, config(kek2))
		checkAll(t, onlyNew, 20)
		onlyOld := newLayer(t, raw, config(kek))
		if _, err := onlyOld.Get(ctx, rot, "r000"); err == nil {
			t.Error("a service with only the old KEK still unwraps the rewrapped keys")
		}
		st, err := onlyNew.Reencrypt(ctx, rot, fieldcrypt.ReencryptOptions{PageSize: 7})
		if err != nil || st.Read != 20 || st.Rewritten != 10 {
			t.Errorf("reencrypt = %+v, %v; want 20 read, 10 rewritten", st, err)
		}
		if k := keyIDs(); len(k) != 1 {
			t.Errorf("after reencrypt the stored key IDs are %v, want one", k)
		}
		checkAll(t, onlyNew, 20)
		// Back to the suite's KEK, through the previous-KEK path.
		if n, err := fc.Rewrap(ctx, kek); err != nil || n < 2 {
			t.Fatalf("rewrap back = %d, %v", n, err)
		}
		checkAll(t, newLayer(t, raw, config(kek)), 20)
	})

	t.Run(fmt.Sprintf("reencrypt walks %d documents, resumable", reencryptN), func(t *testing.T) {
		for start := 0; start < reencryptN; start += 100 {
			var items []dbservice.BulkItem
			for i := start; i < min(start+100, reencryptN); i++ {
				items = append(items, dbservice.BulkItem{ID: fmt.Sprintf("d%05d", i), Doc: dbservice.Doc{"email": fmt.Sprintf("u%d@x.test", i%50), "ssn": fmt.Sprint(i)}})
			}
			if err := svc.(dbservice.BulkWriter).SaveMany(ctx, reenc, items); err != nil {
				t.Fatal(err)
			}
		}
		d0, err := raw.Get(ctx, reenc, "d00000")
		if err != nil {
			t.Fatal(err)
		}
		firstKeyID := strings.Split(d0["ssn"].(string), ":")[3]
		if err := fc.Rotate(ctx, reenc); err != nil {
			t.Fatal(err)
		}
		// A slice of five pages, then the rest from its cursor, then a
		// full walk that finds nothing left to do.
		start := time.Now()
		st, err := fc.Reencrypt(ctx, reenc, fieldcrypt.ReencryptOptions{PageSize: reencryptN / 20, MaxPages: 5})
		if err != nil || st.Read != reencryptN/4 || st.Rewritten != st.Read || st.Cursor == "" {
			t.Fatalf("first slice = %+v, %v", st, err)
		}
		st, err = fc.Reencrypt(ctx, reenc, fieldcrypt.ReencryptOptions{Cursor: st.Cursor, PageSize: 500})
		if err != nil || st.Read != reencryptN-reencryptN/4 || st.Rewritten != st.Read || st.Cursor != "" {
			t.Fatalf("resumed walk = %+v, %v", st, err)
		}
		t.Logf("Reencrypt rewrote %d documents in %v", reencryptN, time.Since(start).Round(time.Millisecond))
		st, err = fc.Reencrypt(ctx, reenc, fieldcrypt.ReencryptOptions{PageSize: 500})
		if err != nil || st.Read != reencryptN || st.Rewritten != 0 {
			t.Fatalf("walk after completion = %+v, %v; want nothing rewritten", st, err)
		}
		stored := 0
		for d, err := range dbservice.All(ctx, raw, reenc, dbservice.Query{Limit: 500}) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(d["ssn"].(string), fmt.Sprintf(":%s:", firstKeyID)) {
				stored++
			}
		}
		if stored != 0 {
			t.Errorf("%d documents still under the first key version", stored)
		}
		// Counted page by page: past a few thousand documents, one Count
		// of an unindexed equality exceeds a real provider's scan budget.
		c := 0
		for _, err := range dbservice.All(ctx, svc, reenc, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, "u7@x.test")}, Limit: 500}) {
			if err != nil {
				t.Fatalf("equality after reencrypt: %v", err)
			}
			c++
		}
		if c != reencryptN/50 {
			t.Errorf("equality after reencrypt finds %d, want %d", c, reencryptN/50)
		}
		d, err := svc.Get(ctx, reenc, fmt.Sprintf("d%05d", reencryptN-1))
		if err != nil || d["ssn"] != fmt.Sprint(reencryptN-1) {
			t.Errorf("last document = %v, %v", d, err)
		}
	})

	t.Run("an unreachable KEK: cached keys work, new keys fail closed", func(t *testing.T) {
		k := newTestKEK(t)
		cfg := config(k)
		// A keyset wrapped by the suite's KEK is unwrapped by it: give
		// the new process the KEKs the stored keysets name.
		cfg.PreviousKEKs = []fieldcrypt.KEK{kek}
		p := newLayer(t, raw, cfg)
		if _, err := p.Save(ctx, users, "warm", dbservice.Doc{"ssn": "w"}); err != nil {
			t.Fatal(err)
		}
		k.down.Store(true)
		kek.down.Store(true)
		defer k.down.Store(false)
		defer kek.down.Store(false)
		if _, err := p.Save(ctx, users, "warm2", dbservice.Doc{"ssn": "w2", "email": "w@x.test"}); err != nil {
			t.Errorf("write with cached keys during the outage: %v", err)
		}
		if d, err := p.Get(ctx, users, "warm2"); err != nil || d["ssn"] != "w2" {
			t.Errorf("read with cached keys during the outage: %v, %v", d, err)
		}
		c := canary(t)
		_, err := p.Save(ctx, fresh, "new", dbservice.Doc{"ssn": c})
		if !errors.Is(err, dbservice.ErrUnavailable) || strings.Contains(err.Error(), c) {
			t.Errorf("write needing a new data key = %v, want ErrUnavailable", err)
		}
		if _, err := raw.Get(ctx, fresh, "new"); !errors.Is(err, dbservice.ErrNotFound) {
			t.Errorf("the refused write left a document: %v", err)
		}
		if err := p.Rotate(ctx, users); !errors.Is(err, dbservice.ErrUnavailable) {
			t.Errorf("rotate during the outage = %v, want ErrUnavailable", err)
		}
		cold := newLayer(t, raw, cfg)
		if _, err := cold.Get(ctx, users, "warm"); !errors.Is(err, dbservice.ErrUnavailable) {
			t.Errorf("cold read during the outage = %v, want ErrUnavailable", err)
		}
	})

	t.Run("one KEK call per data key in steady state", func(t *testing.T) {
		k := newTestKEK(t)
		cfg := config(k)
		cfg.PreviousKEKs = []fieldcrypt.KEK{kek}
		// Reads and writes of a collection whose keys exist: only the two
		// unwraps (randomized and deterministic keyset) of the first call.
		p := dbservice.Guard(newLayer(t, raw, cfg), dbservice.Policy{})
		before := kek.calls() + k.calls()
		const ops = 300
		for i := range ops {
			id := fmt.Sprintf("steady-%d", i%20)
			switch i % 3 {
			case 0:
				_, err := p.Save(ctx, users, id, dbservice.Doc{"ssn": id, "email": id})
				if err != nil {
					t.Fatal(err)
				}
			case 1:
				if _, err := p.Get(ctx, users, "canary"); err != nil {
					t.Fatal(err)
				}
			case 2:
				if _, err := p.Query(ctx, users, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("email", dbservice.Eq, id)}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := kek.calls() + k.calls() - before; got != 2 {
			t.Errorf("%d operations made %d KEK calls, want 2 (one per data keyset)", ops, got)
		}
	})

	t.Run("two processes creating keys at once agree on one keyset", func(t *testing.T) {
		a, b := newLayer(t, raw, config(kek)), newLayer(t, raw, config(kek))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, p := range []*fieldcrypt.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = p.Save(ctx, cstart, fmt.Sprintf("p%d", i), dbservice.Doc{"ssn": fmt.Sprint(i), "email": "same"})
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*fieldcrypt.Service{a, b} {
			n, err := p.Count(ctx, cstart, []dbservice.Cond{dbservice.Where("email", dbservice.Eq, "same")})
			if err != nil || n != 2 {
				t.Errorf("each process finds both documents: %d, %v", n, err)
			}
			for i := range 2 {
				if d, err := p.Get(ctx, cstart, fmt.Sprintf("p%d", i)); err != nil || d["ssn"] != fmt.Sprint(i) {
					t.Errorf("read p%d: %v, %v", i, d, err)
				}
			}
		}
	})

	t.Run("backups stay ciphertext and restore round-trips", func(t *testing.T) {
		var buf bytes.Buffer
		if _, err := dbservice.Export(ctx, svc, &buf, users, keys); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte("a@x.test")) {
			t.Fatal("export holds plaintext of an encrypted field")
		}
		restored := memory.New()
		into := dbservice.Guard(newLayer(t, restored, config(kek)), dbservice.Policy{})
		if _, err := dbservice.Import(ctx, into, bytes.NewReader(buf.Bytes()), dbservice.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		// "dst" was left tampered above, so compare everything else by
		// reading, and the whole collection by Verify.
		d, err := into.Get(ctx, users, "canary")
		if err != nil || d["ssn"] == nil {
			t.Fatalf("restored read = %v, %v", d, err)
		}
		r, err := dbservice.Verify(ctx, svc, into, users)
		if err != nil || !r.Equal() {
			t.Errorf("verify = %v, %v", r, err)
		}
		// A restore refuses plaintext where ciphertext belongs.
		line := `{"collection":"users","doc":{"_id":"plain","ssn":"123-45-6789"}}` + "\n"
		if _, err := dbservice.Import(ctx, into, strings.NewReader(line), dbservice.ImportOptions{}); !errors.Is(err, dbservice.ErrInvalid) || strings.Contains(err.Error(), "6789") {
			t.Errorf("import of plaintext into an encrypted field = %v, want ErrInvalid", err)
		}
		if _, err := restored.Get(ctx, users, "plain"); !errors.Is(err, dbservice.ErrNotFound) {
			t.Errorf("refused import wrote: %v", err)
		}
	})

	t.Run("posture reports the encrypted fields and sensitive ones left plain", func(t *testing.T) {
		find := func() dbservice.Finding {
			for _, f := range dbservice.CheckPosture(ctx, svc) {
				if f.ID == dbservice.ItemEncryptionAtRest {
					return f
				}
			}
			return dbservice.Finding{}
		}
		f := find()
		if f.Status == dbservice.Fail || !strings.Contains(f.Detail, "local-keyset") || !strings.Contains(f.Detail, "concurrent.email (deterministic)") {
			t.Errorf("encryption-at-rest = %s %q", f.Status, f.Detail)
		}
		if _, err := svc.Save(ctx, users, "leaky", dbservice.Doc{"github_token": "t", "ssn": "x"}); err != nil {
			t.Fatal(err)
		}
		if f := find(); f.Status != dbservice.Warn || !strings.Contains(f.Detail, "users.github_token") {
			t.Errorf("after writing a plain token = %s %q, want warn naming it", f.Status, f.Detail)
		}
	})

	t.Run("the keys collection is not reachable through the layer", func(t *testing.T) {
		if _, err := svc.Get(ctx, keys, users); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("get of a keyset through the layer = %v, want ErrInvalid", err)
		}
		if _, err := svc.Save(ctx, keys, users, dbservice.Doc{}); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("overwrite of a keyset through the layer = %v, want ErrInvalid", err)
		}
	})
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

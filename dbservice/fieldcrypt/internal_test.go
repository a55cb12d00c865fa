package fieldcrypt

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

type countingKEK struct {
	tink.AEAD
	calls atomic.Int64
}

func (k *countingKEK) Encrypt(pt, ad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.AEAD.Encrypt(pt, ad)
}

func (k *countingKEK) Decrypt(ct, ad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.AEAD.Decrypt(ct, ad)
}

func (k *countingKEK) Kind() string { return "local-keyset" }
func (k *countingKEK) ID() string   { return "internal-test" }

func newCountingKEK(t *testing.T) *countingKEK {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	p, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return &countingKEK{AEAD: p}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	kek := newCountingKEK(t)
	for name, cfg := range map[string]Config{
		"no KEK":                 {Collections: map[string]Fields{"users": {"email": Randomized}}},
		"no mode":                {KEK: kek, Collections: map[string]Fields{"users": {"email": 0}}},
		"a system field":         {KEK: kek, Collections: map[string]Fields{"users": {"_id": Randomized}}},
		"overlapping paths":      {KEK: kek, Collections: map[string]Fields{"users": {"profile": Randomized, "profile.email": Deterministic}}},
		"bad collection":         {KEK: kek, Collections: map[string]Fields{"Users!": {"email": Randomized}}},
		"the keys collection":    {KEK: kek, Collections: map[string]Fields{DefaultKeysCollection: {"email": Randomized}}},
		"bad keys collection":    {KEK: kek, KeysCollection: "_keys"},
		"negative TTL":           {KEK: kek, CacheTTL: -time.Second},
		"a nil previous KEK":     {KEK: kek, PreviousKEKs: []KEK{nil}},
		"an empty path":          {KEK: kek, Collections: map[string]Fields{"users": {"": Randomized}}},
		"a path with a $ in it:": {KEK: kek, Collections: map[string]Fields{"users": {"$where": Randomized}}},
	} {
		if _, err := New(memory.New(), cfg); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("%s: New = %v, want ErrInvalid", name, err)
		}
	}
}

// Another process's rotation is seen after the cache TTL, with one KEK
// call per changed keyset; an unchanged keyset is re-read without any.
func TestCacheSeesRotationAfterTTL(t *testing.T) {
	ctx := t.Context()
	raw := memory.New()
	kek := newCountingKEK(t)
	cfg := Config{KEK: kek, Collections: map[string]Fields{"users": {"ssn": Randomized}}, CacheTTL: time.Minute}
	a, _ := New(raw, cfg)
	b, _ := New(raw, cfg)
	now := time.Now()
	b.now = func() time.Time { return now }

	if _, err := a.Save(ctx, "users", "1", dbservice.Doc{"ssn": "x"}); err != nil {
		t.Fatal(err)
	}
	keyOf := func(id string) string {
		d, err := raw.Get(ctx, "users", id)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(d["ssn"].(string), ":")[3]
	}
	before := kek.calls.Load()
	if _, err := b.Get(ctx, "users", "1"); err != nil {
		t.Fatal(err)
	}
	if n := kek.calls.Load() - before; n != 2 {
		t.Errorf("first load made %d KEK calls, want 2", n)
	}
	if err := a.Rotate(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Save(ctx, "users", "2", dbservice.Doc{"ssn": "y"}); err != nil {
		t.Fatal(err)
	}
	if keyOf("2") != keyOf("1") {
		t.Error("within the TTL, b wrote with a key it had not loaded")
	}
	now = now.Add(2 * time.Minute)
	before = kek.calls.Load()
	if _, err := b.Save(ctx, "users", "3", dbservice.Doc{"ssn": "z"}); err != nil {
		t.Fatal(err)
	}
	if keyOf("3") == keyOf("1") {
		t.Error("after the TTL, b still writes with the key before the rotation")
	}
	if n := kek.calls.Load() - before; n != 2 {
		t.Errorf("reload of a rotated keyset made %d KEK calls, want 2", n)
	}
	now = now.Add(2 * time.Minute)
	before = kek.calls.Load()
	for _, id := range []string{"1", "2", "3"} {
		if _, err := b.Get(ctx, "users", id); err != nil {
			t.Fatal(err)
		}
	}
	if n := kek.calls.Load() - before; n != 0 {
		t.Errorf("re-reading an unchanged keyset made %d KEK calls, want 0", n)
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add("sdbenc:v1:r:0a1b2c3d:AQID")
	f.Add("sdbenc:v1:d:ffffffff:AUnOLo34pJtWR6nQcIrvHoO-VvC7g6HYVw")
	f.Add("sdbenc:v1:x:00000000:AA")
	f.Add("sdbenc:v2:r:00000000:AA")
	f.Add("sdbenc:v1:r:0A1B2C3D:AQID")
	f.Add("sdbenc:v1:r:0a1b2c3d:AQID=")
	f.Add("sdbenc:v1:r:0a1b2c3d:")
	f.Add("sdbenc:")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseEnvelope(s)
		if err != nil {
			if !errors.Is(err, errNotEnvelope) {
				t.Fatalf("parse error %v is not errNotEnvelope", err)
			}
			return
		}
		// One spelling per envelope: what parses prints back the same,
		// so equal deterministic ciphertexts are equal text.
		if e.String() != s {
			t.Fatalf("parse(%q) prints as %q", s, e.String())
		}
		if e.mode != Randomized && e.mode != Deterministic || len(e.ct) == 0 {
			t.Fatalf("parse(%q) = %+v", s, e)
		}
		if !strings.HasPrefix(s, e.header()+":") {
			t.Fatalf("header %q is not the prefix of %q", e.header(), s)
		}
	})
}

func TestRotateWithoutKeysMakesTheFirst(t *testing.T) {
	ctx := t.Context()
	raw := memory.New()
	s, err := New(raw, Config{KEK: newCountingKEK(t), Collections: map[string]Fields{"users": {"ssn": Randomized}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(ctx, "users"); err != nil {
		t.Fatalf("rotate of a collection without keys = %v", err)
	}
	if _, err := raw.Get(ctx, DefaultKeysCollection, "users"); err != nil {
		t.Errorf("no keyset stored: %v", err)
	}
	if err := s.Rotate(ctx, "plain"); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("rotate of a collection without encrypted fields = %v, want ErrInvalid", err)
	}
}

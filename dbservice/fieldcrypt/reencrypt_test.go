package fieldcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// conflictOnce is a provider whose first conditional Update of each
// document loses to a concurrent write, made just before it: the document's
// ssn changes under Reencrypt, as another process's Save would.
type conflictOnce struct {
	dbservice.Service
	mu   sync.Mutex
	done map[string]bool
	// written is what the "other process" stored, per document.
	written map[string]string
	fc      func() dbservice.Service
}

func (c *conflictOnce) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	c.mu.Lock()
	first := !c.done[id]
	c.done[id] = true
	c.mu.Unlock()
	if first && coll == reenc {
		v := "concurrent-" + id
		if _, err := c.fc().Update(ctx, coll, id, []dbservice.Mutation{dbservice.Set("ssn", v)}); err != nil {
			return "", err
		}
		c.mu.Lock()
		c.written[id] = v
		c.mu.Unlock()
	}
	return c.Service.Update(ctx, coll, id, mods, opts...)
}

// TestReencryptWithWorkersLosesNoConcurrentWrite runs Reencrypt with many
// workers while every document is written concurrently right before its
// rewrite: each conflict is redone on the new revision, so every
// concurrent value survives, under the current key.
func TestReencryptWithWorkersLosesNoConcurrentWrite(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	raw := &conflictOnce{Service: mem, done: map[string]bool{}, written: map[string]string{}}
	kek := newTestKEK(t)
	fc := newLayer(t, raw, config(kek))
	raw.fc = func() dbservice.Service { return fc }
	const n = 300
	for i := range n {
		if _, err := fc.Save(ctx, reenc, fmt.Sprintf("d%03d", i), dbservice.Doc{"ssn": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The loading Saves were no Updates: start counting from here.
	raw.mu.Lock()
	raw.done = map[string]bool{}
	raw.mu.Unlock()
	if err := fc.Rotate(ctx, reenc); err != nil {
		t.Fatal(err)
	}
	st, err := fc.Reencrypt(ctx, reenc, fieldcrypt.ReencryptOptions{PageSize: 50, Workers: 16})
	// Each concurrent write went through the layer after the rotation, so
	// the re-read document is already current: nothing left to rewrite.
	if err != nil || st.Read != n || st.Rewritten != 0 || st.Conflicts != n {
		t.Fatalf("Reencrypt = %+v, %v; want %d read and conflicting, none rewritten", st, err, n)
	}
	d0, err := mem.Get(ctx, reenc, "d000")
	if err != nil {
		t.Fatal(err)
	}
	current := strings.Split(d0["ssn"].(string), ":")[3]
	for i := range n {
		id := fmt.Sprintf("d%03d", i)
		d, err := fc.Get(ctx, reenc, id)
		if err != nil || d["ssn"] != raw.written[id] {
			t.Fatalf("%s = %v, %v; want the concurrent write %q", id, d["ssn"], err, raw.written[id])
		}
		s, _ := mem.Get(ctx, reenc, id)
		if strings.Split(s["ssn"].(string), ":")[3] != current {
			t.Fatalf("%s not under the current key version", id)
		}
	}
	if _, err := fc.Reencrypt(ctx, reenc, fieldcrypt.ReencryptOptions{Workers: 65}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("Workers 65 = %v, want ErrInvalid", err)
	}
}

package dbservice_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func TestCheckQueryNormalizes(t *testing.T) {
	q, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{
		dbservice.Where("n", dbservice.Gt, int32(3)),
		dbservice.Where("tag", dbservice.In, []string{"a", "b"}),
		dbservice.Where("x", dbservice.Exists, false),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if q.Limit != dbservice.DefaultLimit || q.Where[0].Value != 3.0 || len(q.Where[1].Value.([]any)) != 2 || q.Where[2].Value != false {
		t.Fatalf("CheckQuery = %+v", q)
	}
}

func TestCursorIsBoundToItsQuery(t *testing.T) {
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("a", dbservice.Eq, "x")}}
	c, err := dbservice.ProcessCursorSigner().Encode("agents", q, map[string]string{"after": "a1"})
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]string
	if err := dbservice.ProcessCursorSigner().Decode("agents", q, c, &st); err != nil || st["after"] != "a1" {
		t.Fatalf("DecodeCursor = %v, %v", st, err)
	}
	q.Limit = 7 // page size may change between pages
	if err := dbservice.ProcessCursorSigner().Decode("agents", q, c, &st); err != nil {
		t.Fatalf("a new page size invalidated the cursor: %v", err)
	}
	other := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("a", dbservice.Eq, "y")}}
	for name, err := range map[string]error{
		"another query":      dbservice.ProcessCursorSigner().Decode("agents", other, c, &st),
		"another collection": dbservice.ProcessCursorSigner().Decode("users", q, c, &st),
		"a truncated cursor": dbservice.ProcessCursorSigner().Decode("agents", q, c[:len(c)-3], &st),
	} {
		if !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// pageCounter counts Query calls to prove All is lazy.
type pageCounter struct {
	dbservice.Service
	pages int
}

func (p *pageCounter) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	p.pages++
	return p.Service.Query(ctx, coll, q)
}

func TestAllFetchesPagesOnlyWhenNeeded(t *testing.T) {
	ctx := context.Background()
	m := memory.New()
	for i := range 25 {
		if _, err := m.Save(ctx, "agents", string(rune('a'+i)), dbservice.Doc{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	pc := &pageCounter{Service: m}
	n := 0
	for _, err := range dbservice.All(ctx, pc, "agents", dbservice.Query{Limit: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 12 {
			break
		}
	}
	if pc.pages != 2 {
		t.Fatalf("reading 12 documents in pages of 10 fetched %d pages, want 2", pc.pages)
	}
	pc.pages, n = 0, 0
	for _, err := range dbservice.All(ctx, pc, "agents", dbservice.Query{Limit: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 25 || pc.pages != 3 {
		t.Fatalf("All read %d documents in %d pages, want 25 in 3", n, pc.pages)
	}
}

func TestAllStopsAtTheFirstError(t *testing.T) {
	m := memory.New()
	_ = m.Close()
	var errs int
	for d, err := range dbservice.All(context.Background(), m, "agents", dbservice.Query{}) {
		if d != nil || !errors.Is(err, dbservice.ErrClosed) {
			t.Fatalf("All yielded %v, %v; want nil, ErrClosed", d, err)
		}
		errs++
	}
	if errs != 1 {
		t.Fatalf("All yielded %d errors, want 1", errs)
	}
}

func TestDisjointPathsDropsOverlaps(t *testing.T) {
	got := dbservice.DisjointPaths([]string{"a.b", "a-b", "a", "a.b.c", "ab", "a-b", "x.y", "x.z"})
	want := []string{"a", "a-b", "ab", "x.y", "x.z"}
	if !slices.Equal(got, want) {
		t.Fatalf("DisjointPaths = %v, want %v", got, want)
	}
}

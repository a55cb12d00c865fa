package dbtest

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// NewServiceWith returns a ready Service whose documents and paths follow
// lim (a provider's Config.Limits, memory.WithLimits).
type NewServiceWith func(t *testing.T, lim validate.Limits) dbservice.Service

// RunLiteralKeys is the contract of validate.Limits.LiteralKeys (keys as
// data): with the opt-in, a JSON Schema document with "$defs" and "$ref"
// and a map keyed by "main.py" and "v1.2" round-trip exactly, and queries,
// projections, orders, counts, indexes and updates address those keys by
// the escaped path of dbservice.Path; without it the same document, paths
// and mutation values are ErrInvalid and write nothing. Control
// characters, empty names, the __x__ form and paths into "_" fields stay
// refused either way.
func RunLiteralKeys(t *testing.T, newService NewServiceWith) {
	t.Helper()
	t.Run("OptInRoundTripsAndAddressesLiteralKeys", func(t *testing.T) {
		s := newService(t, validate.Limits{LiteralKeys: true})
		t.Cleanup(func() { _ = s.Close() })
		testLiteralKeysOptIn(t, s)
	})
	t.Run("WithoutOptInLiteralKeysAreRefused", func(t *testing.T) {
		s := newService(t, validate.Limits{})
		t.Cleanup(func() { _ = s.Close() })
		testLiteralKeysRefused(t, s)
	})
}

// toolDoc is an agent tool definition as real services store it: a JSON
// Schema with $schema, $defs and $ref, and source files keyed by name.
func toolDoc(rank float64, source string) dbservice.Doc {
	return dbservice.Doc{
		"name": "search",
		"parameters": map[string]any{
			"$schema": "https://json-schema.org/draft/2020-12/schema",
			"type":    "object",
			"$defs": map[string]any{
				"query": map[string]any{"type": "string", "minLength": 1.0},
			},
			"properties": map[string]any{
				"q": map[string]any{"$ref": "#/$defs/query"},
			},
			"required": []any{"q"},
		},
		"files": map[string]any{
			"main.py": source,
			"v1.2":    map[string]any{"rank": rank, "notes": "first cut"},
			`a\b`:     "a backslash in a key",
		},
	}
}

func testLiteralKeysOptIn(t *testing.T, s dbservice.Service) {
	c := ctx(t)
	coll := Collection(t)
	mainPy := dbservice.Path("files", "main.py")
	rank := dbservice.Path("files", "v1.2", "rank")
	ref := dbservice.Path("parameters", "properties", "q", "$ref")

	want := map[string]dbservice.Doc{
		"tool-a": toolDoc(2, "print('a')"),
		"tool-b": toolDoc(1, "print('b')"),
		"tool-c": toolDoc(3, "print('c')"),
	}
	for id, d := range want {
		mustSave(t, s, coll, id, d)
	}
	// A document whose keys "files" → "main" → "py" spell the unescaped
	// path: it must never match the escaped one, nor the other way round.
	mustSave(t, s, coll, "decoy", dbservice.Doc{"files": map[string]any{"main": map[string]any{"py": "print('a')"}}})

	for id, d := range want {
		wantBody(t, "round trip of "+id, body(mustGet(t, s, coll, id)), d)
	}

	byQuery := func(what string, q dbservice.Query) []string {
		t.Helper()
		got := walk(t, s, coll, q)
		if len(q.OrderBy) > 0 {
			out := make([]string, len(got)) // in the order returned
			for i, d := range got {
				out[i], _ = d["_id"].(string)
			}
			return out
		}
		return ids(got)
	}
	wantIDs := func(what string, got, want []string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}

	wantIDs("Eq on the escaped path files.main\\.py",
		byQuery("eq", dbservice.Query{Where: []dbservice.Cond{dbservice.Where(mainPy, dbservice.Eq, "print('a')")}}),
		[]string{"tool-a"})
	wantIDs("Eq on the unescaped path files.main.py",
		byQuery("eq", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("files.main.py", dbservice.Eq, "print('a')")}}),
		[]string{"decoy"})
	wantIDs("Eq on a $ref key",
		byQuery("ref", dbservice.Query{Where: []dbservice.Cond{dbservice.Where(ref, dbservice.Eq, "#/$defs/query")}}),
		[]string{"tool-a", "tool-b", "tool-c"})
	wantIDs("Prefix on the escaped path",
		byQuery("prefix", dbservice.Query{Where: []dbservice.Cond{dbservice.Where(mainPy, dbservice.Prefix, "print('")}}),
		[]string{"tool-a", "tool-b", "tool-c"})
	wantIDs("Eq on a key holding a backslash",
		byQuery("backslash", dbservice.Query{Where: []dbservice.Cond{dbservice.Where(dbservice.Path("files", `a\b`), dbservice.Exists, true)}}),
		[]string{"tool-a", "tool-b", "tool-c"})
	wantIDs("Gte on files.v1\\.2.rank",
		byQuery("gte", dbservice.Query{Where: []dbservice.Cond{dbservice.Where(rank, dbservice.Gte, 2.0)}}),
		[]string{"tool-a", "tool-c"})
	wantIDs("OrderBy the escaped path, descending",
		byQuery("order", dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc(rank)}}),
		[]string{"tool-c", "tool-a", "tool-b"})

	if err := s.EnsureIndex(c, coll, rank); err != nil {
		t.Fatalf("EnsureIndex on the escaped path: %v", err)
	}
	wantIDs("OrderBy the escaped path after EnsureIndex",
		byQuery("indexed order", dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc(rank)}, Limit: 2}),
		[]string{"tool-b", "tool-a", "tool-c"})

	// Projection of escaped paths returns the literal keys, nothing else.
	page, err := s.Query(c, coll, dbservice.Query{
		Where:  []dbservice.Cond{dbservice.Where("_id", dbservice.Eq, "tool-a")},
		Fields: []string{mainPy, dbservice.Path("parameters", "$defs")},
	})
	if err != nil || len(page.Docs) != 1 {
		t.Fatalf("projection: %d docs, %v", len(page.Docs), err)
	}
	wantBody(t, "projection of escaped paths", body(page.Docs[0]), dbservice.Doc{
		"files":      map[string]any{"main.py": "print('a')"},
		"parameters": map[string]any{"$defs": map[string]any{"query": map[string]any{"type": "string", "minLength": 1.0}}},
	})

	n, err := s.Count(c, coll, []dbservice.Cond{dbservice.Where(rank, dbservice.Lt, 3.0)})
	if err != nil || n != 2 {
		t.Errorf("Count on the escaped path = %d, %v; want 2", n, err)
	}

	// Updates address literal keys by the same escaped paths, and may
	// write values that hold them.
	mods := []dbservice.Mutation{
		dbservice.Increment(rank, 10),
		dbservice.Set(dbservice.Path("files", "v1.2", "notes"), "second cut"),
		dbservice.Unset(mainPy),
		dbservice.Set(dbservice.Path("files", "util.py"), "x = 1"),
		dbservice.Set(dbservice.Path("parameters", "$defs", "limit"), map[string]any{"type": "integer", "$comment": "page size"}),
		dbservice.Append(dbservice.Path("parameters", "required"), "limit"),
	}
	if _, err := s.Update(c, coll, "tool-a", mods); err != nil {
		t.Fatalf("Update by escaped paths: %v", err)
	}
	up := toolDoc(12, "")
	files := up["files"].(map[string]any)
	delete(files, "main.py")
	files["util.py"] = "x = 1"
	files["v1.2"].(map[string]any)["notes"] = "second cut"
	params := up["parameters"].(map[string]any)
	params["$defs"].(map[string]any)["limit"] = map[string]any{"type": "integer", "$comment": "page size"}
	params["required"] = []any{"q", "limit"}
	wantBody(t, "document after Update by escaped paths", body(mustGet(t, s, coll, "tool-a")), up)
	wantBody(t, "the decoy is untouched", body(mustGet(t, s, coll, "decoy")),
		dbservice.Doc{"files": map[string]any{"main": map[string]any{"py": "print('a')"}}})

	// Still refused with the opt-in, and nothing written.
	hostileDocs := map[string]dbservice.Doc{
		"a control character in a key": {"files": map[string]any{"main\x00.py": "x"}},
		"a reserved __x__ key":         {"files": map[string]any{"__proto__": "x"}},
		"an empty key":                 {"files": map[string]any{"": "x"}},
	}
	for what, d := range hostileDocs {
		_, err := s.Save(c, coll, "hostile", d)
		wantErr(t, "Save with "+what, err, dbservice.ErrInvalid)
	}
	_, err = s.Get(c, coll, "hostile")
	wantErr(t, "Get after the refused saves", err, dbservice.ErrNotFound)
	for _, p := range []string{"_rev", "_secret.x", `\_id`, "files..x", "files.", `files.main\py`, `files.x\`, "files.__x__", "files.a\x01b"} {
		_, err := s.Query(c, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where(p, dbservice.Eq, "x")}})
		wantErr(t, "Query on path "+strings.ToValidUTF8(p, "?"), err, dbservice.ErrInvalid)
		_, err = s.Update(c, coll, "tool-b", []dbservice.Mutation{dbservice.Set(p, "x")})
		wantErr(t, "Update of path "+strings.ToValidUTF8(p, "?"), err, dbservice.ErrInvalid)
	}
	wantBody(t, "tool-b after the refused updates", body(mustGet(t, s, coll, "tool-b")), want["tool-b"])
}

func testLiteralKeysRefused(t *testing.T, s dbservice.Service) {
	c := ctx(t)
	coll := Collection(t)

	_, err := s.Save(c, coll, "tool", toolDoc(1, "print(1)"))
	wantErr(t, "Save of a JSON Schema document without the opt-in", err, dbservice.ErrInvalid)
	if err != nil && !strings.Contains(err.Error(), "LiteralKeys") {
		t.Errorf("the refusal does not name the setting that allows it: %v", err)
	}
	for what, d := range map[string]dbservice.Doc{
		"a $defs key":   {"parameters": map[string]any{"$defs": map[string]any{}}},
		"a main.py key": {"files": map[string]any{"main.py": "print(1)"}},
		"a v1.2 key":    {"versions": map[string]any{"v1.2": true}},
	} {
		_, err := s.Save(c, coll, "tool", d)
		wantErr(t, "Save with "+what, err, dbservice.ErrInvalid)
	}
	_, err = s.Get(c, coll, "tool")
	wantErr(t, "Get after the refused saves", err, dbservice.ErrNotFound)

	mustSave(t, s, coll, "plain", dbservice.Doc{"files": map[string]any{"main": "x"}})
	for _, p := range []string{dbservice.Path("files", "main.py"), "parameters.$defs", "$ref", dbservice.Path("files", `a\b`)} {
		_, err := s.Query(c, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where(p, dbservice.Exists, true)}})
		wantErr(t, "Query on "+p, err, dbservice.ErrInvalid)
		_, err = s.Query(c, coll, dbservice.Query{Fields: []string{p}})
		wantErr(t, "projection of "+p, err, dbservice.ErrInvalid)
		_, err = s.Query(c, coll, dbservice.Query{OrderBy: []dbservice.Order{dbservice.Asc(p)}})
		wantErr(t, "order by "+p, err, dbservice.ErrInvalid)
		_, err = s.Count(c, coll, []dbservice.Cond{dbservice.Where(p, dbservice.Exists, true)})
		wantErr(t, "Count on "+p, err, dbservice.ErrInvalid)
		wantErr(t, "EnsureIndex on "+p, s.EnsureIndex(c, coll, p), dbservice.ErrInvalid)
		_, err = s.Update(c, coll, "plain", []dbservice.Mutation{dbservice.Set(p, "x")})
		wantErr(t, "Update of "+p, err, dbservice.ErrInvalid)
	}
	_, err = s.Update(c, coll, "plain", []dbservice.Mutation{dbservice.Set("schema", map[string]any{"$ref": "#/x"})})
	wantErr(t, "Update setting a value with a $ref key", err, dbservice.ErrInvalid)
	_, err = s.Update(c, coll, "plain", []dbservice.Mutation{dbservice.Append("files.list", map[string]any{"main.py": 1.0})})
	wantErr(t, "Update appending a value with a main.py key", err, dbservice.ErrInvalid)
	wantBody(t, "the document after the refused updates", body(mustGet(t, s, coll, "plain")),
		dbservice.Doc{"files": map[string]any{"main": "x"}})
	if errors.Is(err, dbservice.ErrNotFound) {
		t.Error("a refused mutation reported ErrNotFound instead of ErrInvalid")
	}
}

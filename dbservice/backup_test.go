package dbservice_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// canary is planted in every hostile line; no error may repeat it.
const canary = "CANARY-5f1e"

func fillDocs(t testing.TB, s dbservice.Service, coll string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		doc := dbservice.Doc{
			"name":  fmt.Sprintf("doc %d ✓ <b>&amp;", i),
			"n":     i,
			"f":     float64(i) + 0.25,
			"neg":   -1e-7,
			"big":   int64(1) << 53,
			"ok":    i%2 == 0,
			"none":  nil,
			"tags":  []any{"a", float64(i), nil, []any{}},
			"owner": map[string]any{"id": fmt.Sprintf("team-%d", i%7), "nested": map[string]any{"deep": true}},
			"empty": map[string]any{},
			"at":    time.Date(2026, 11, 22, 10, 0, i%60, 0, time.UTC),
		}
		if _, err := s.Save(ctx, coll, fmt.Sprintf("d%05d", i), doc); err != nil {
			t.Fatal(err)
		}
	}
}

func exportString(t testing.TB, s dbservice.Service, colls ...string) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := dbservice.Export(context.Background(), s, &buf, colls...); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// contents returns every document of the collections without revisions.
func contents(t testing.TB, s dbservice.Service, colls ...string) map[string]dbservice.Doc {
	t.Helper()
	out := map[string]dbservice.Doc{}
	for _, c := range colls {
		for d, err := range dbservice.All(context.Background(), s, c, dbservice.Query{}) {
			if err != nil {
				t.Fatal(err)
			}
			delete(d, "_rev")
			out[c+"/"+d["_id"].(string)] = d
		}
	}
	return out
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	fillDocs(t, src, "agents", 1234) // crosses Export's page boundaries
	fillDocs(t, src, "users", 3)
	colls := []string{"agents", "users", "tickets"} // tickets is empty

	var buf bytes.Buffer
	est, err := dbservice.Export(ctx, src, &buf, colls...)
	if err != nil {
		t.Fatal(err)
	}
	if est.Docs != 1237 || est.Bytes != int64(buf.Len()) {
		t.Errorf("export stats = %+v, want 1237 docs and %d bytes", est, buf.Len())
	}

	dst := dbservice.Guard(memory.New(), dbservice.Policy{})
	ist, err := dbservice.Import(ctx, dst, &buf, dbservice.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 1234 agents in batches of 100 make 13 batches, the 3 users one more.
	if ist != (dbservice.ImportStats{Lines: 1237, Docs: 1237, Batches: 14}) {
		t.Errorf("import stats = %+v", ist)
	}

	rep, err := dbservice.Verify(ctx, src, dst, colls...)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal() {
		t.Errorf("verify after restore:\n%s", rep)
	}
	if !reflect.DeepEqual(contents(t, src, colls...), contents(t, dst, colls...)) {
		t.Error("restored documents differ from the originals")
	}
}

func TestExportWritesOneDocumentPerLine(t *testing.T) {
	s := memory.New()
	if _, err := s.Save(context.Background(), "agents", "a1", dbservice.Doc{"name": "<gofannon>", "runs": 3}); err != nil {
		t.Fatal(err)
	}
	got := exportString(t, s, "agents")
	want := `{"collection":"agents","doc":{"_id":"a1","name":"<gofannon>","runs":3}}` + "\n"
	if got != want {
		t.Errorf("export =\n%s\nwant (with _id, without _rev)\n%s", got, want)
	}
}

func TestExportRefusesBadCollectionListsBeforeWriting(t *testing.T) {
	cases := []struct {
		name  string
		colls []string
	}{
		{"no collection", nil},
		{"an invalid name", []string{"agents", "../etc"}},
		{"a name given twice", []string{"agents", "agents"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := memory.New()
			fillDocs(t, s, "agents", 2)
			var buf bytes.Buffer
			_, err := dbservice.Export(context.Background(), s, &buf, tc.colls...)
			if !errors.Is(err, dbservice.ErrInvalid) || buf.Len() != 0 {
				t.Errorf("err = %v with %d bytes written, want ErrInvalid and nothing written", err, buf.Len())
			}
		})
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestExportReportsWriteErrors(t *testing.T) {
	s := memory.New()
	fillDocs(t, s, "agents", 600) // more than the write buffer holds
	disk := errors.New("disk full")
	_, err := dbservice.Export(context.Background(), s, failingWriter{disk}, "agents")
	if !errors.Is(err, disk) {
		t.Errorf("err = %v, want the writer's error", err)
	}
}

// hostileCase is one bad line at line 4 of an input whose lines 1-2 are a
// complete batch and line 3 opens the batch the bad line belongs to.
type hostileCase struct {
	name   string
	line   string
	opts   dbservice.ImportOptions
	reason string // a part of the error text
}

func hostileCases() []hostileCase {
	doc := func(fields string) string {
		return `{"collection":"agents","doc":{"_id":"x1",` + fields + `}}`
	}
	deep := strings.Repeat(`{"a":`, 30) + `1` + strings.Repeat(`}`, 30)
	return []hostileCase{
		{name: "malformed JSON", line: doc(`"v":"` + canary + `",,`), reason: "not valid JSON at byte"},
		{name: "a NaN literal", line: doc(`"v":NaN,"w":"` + canary + `"`), reason: "not valid JSON"},
		{name: "a number beyond float64", line: doc(`"v":1e999,"w":"` + canary + `"`), reason: "not a valid number"},
		{name: "an integer beyond 2^53", line: doc(`"v":9007199254740993,"w":"` + canary + `"`), reason: "beyond ±2^53"},
		{name: "a $where operator key", line: doc(`"$where":"` + canary + `"`), reason: "operator injection"},
		{name: "a key with a control character", line: doc(`"\u0001` + canary + `":1`), reason: "control characters"},
		{name: "nesting deeper than the limit", line: doc(`"` + canary + `":` + deep), reason: "nested deeper"},
		{name: "a path traversal id", line: `{"collection":"agents","doc":{"_id":"../` + canary + `"}}`, reason: "invalid id"},
		{name: "an id of reserved form", line: `{"collection":"agents","doc":{"_id":"__` + canary + `__"}}`, reason: "reserved"},
		{name: "a numeric id", line: `{"collection":"agents","doc":{"_id":7,"v":"` + canary + `"}}`, reason: `"_id" must be a string`},
		{name: "a missing id", line: `{"collection":"agents","doc":{"v":"` + canary + `"}}`, reason: `no "_id"`},
		{name: "an invalid collection name", line: `{"collection":"../` + canary + `","doc":{"_id":"x1"}}`, reason: "invalid collection"},
		{name: "a collection outside the allowlist", line: `{"collection":"canaryzone","doc":{"_id":"x1"}}`,
			opts: dbservice.ImportOptions{Collections: validate.Allowlist{"agents"}}, reason: "not in the allowlist"},
		{name: "a numeric collection", line: `{"collection":5,"doc":{"_id":"x1","v":"` + canary + `"}}`, reason: "must be a string"},
		{name: "an extra top-level field", line: `{"collection":"agents","doc":{"_id":"x1"},"` + canary + `":1}`, reason: "fields other than"},
		{name: "a top-level array", line: `["` + canary + `"]`, reason: "must be a JSON object"},
		{name: "a null doc", line: `{"collection":"agents","doc":null,"x":"` + canary + `"}`, reason: "fields other than"},
		{name: "a string doc", line: `{"collection":"agents","doc":"` + canary + `"}`, reason: "must be a JSON object"},
		{name: "a duplicate id in the same batch", line: `{"collection":"agents","doc":{"_id":"b1","v":"` + canary + `"}}`, reason: "first on line 3"},
		{name: "a duplicate id in an earlier batch", line: `{"collection":"agents","doc":{"_id":"a1","v":"` + canary + `"}}`, reason: "first on line 1"},
		{name: "a 2 MiB line", line: doc(`"v":"` + canary + strings.Repeat("x", 2<<20) + `"`), reason: "longer than 1048576 bytes"},
	}
}

// hostileInput returns the input with bad as line 4, a good line 5 after
// it unless bad is the last line, and the target service holding
// "agents/keep" and an old version of "agents/b1".
func hostileInput(t *testing.T, bad string, last bool) (string, dbservice.Service) {
	t.Helper()
	lines := []string{
		`{"collection":"agents","doc":{"_id":"a1","v":1}}`,
		`{"collection":"agents","doc":{"_id":"a2","v":2}}`,
		`{"collection":"agents","doc":{"_id":"b1","v":"new"}}`,
		bad,
	}
	if !last {
		lines = append(lines, `{"collection":"agents","doc":{"_id":"after","v":5}}`)
	}
	target := memory.New()
	ctx := context.Background()
	for id, v := range map[string]string{"keep": "original", "b1": "old"} {
		if _, err := target.Save(ctx, "agents", id, dbservice.Doc{"v": v}); err != nil {
			t.Fatal(err)
		}
	}
	in := strings.Join(lines, "\n")
	if !last {
		in += "\n"
	}
	return in, target
}

func checkLineError(t *testing.T, err error, line int64, reason string) {
	t.Helper()
	var le *dbservice.LineError
	if !errors.As(err, &le) || le.Line != line {
		t.Fatalf("err = %v, want a *LineError for line %d", err, line)
	}
	if !errors.Is(err, dbservice.ErrInvalid) || dbservice.HTTPStatus(err) != 400 {
		t.Errorf("err = %v does not match ErrInvalid", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, fmt.Sprintf("line %d: ", line)) || !strings.Contains(msg, reason) {
		t.Errorf("err = %q, want it to name line %d and say %q", msg, line, reason)
	}
	if strings.Contains(msg, canary) || strings.Contains(msg, "canaryzone") || len(msg) > 200 {
		t.Errorf("err echoes the line's content: %q", msg)
	}
}

func TestImportRefusesHostileLines(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run("it refuses "+tc.name+" and writes nothing of its batch", func(t *testing.T) {
			in, target := hostileInput(t, tc.line, false)
			opts := tc.opts
			opts.BatchSize = 2
			st, err := dbservice.Import(context.Background(), target, strings.NewReader(in), opts)
			checkLineError(t, err, 4, tc.reason)

			got := contents(t, target, "agents")
			want := map[string]any{"keep": "original", "b1": "old", "a1": 1.0, "a2": 2.0}
			if len(got) != len(want) {
				t.Errorf("target holds %d documents, want %d: the batch before the bad line and what was there", len(got), len(want))
			}
			for id, v := range want {
				if got["agents/"+id]["v"] != v {
					t.Errorf("agents/%s = %v, want %v", id, got["agents/"+id]["v"], v)
				}
			}
			if st.Docs != 2 || st.Batches != 1 {
				t.Errorf("stats = %+v, want the first batch of 2 written", st)
			}
		})
	}
}

func TestImportRefusesATruncatedLastLine(t *testing.T) {
	in, target := hostileInput(t, `{"collection":"agents","doc":{"_id":"x1","v":"`+canary, true)
	_, err := dbservice.Import(context.Background(), target, strings.NewReader(in), dbservice.ImportOptions{BatchSize: 2})
	checkLineError(t, err, 4, "truncated")
	if got := contents(t, target, "agents")["agents/b1"]["v"]; got != "old" {
		t.Errorf("agents/b1 = %v: the batch of the truncated line was written", got)
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Run("a clean input is counted and not written", func(t *testing.T) {
		src := memory.New()
		fillDocs(t, src, "agents", 250)
		target := memory.New()
		st, err := dbservice.Import(context.Background(), target, strings.NewReader(exportString(t, src, "agents")), dbservice.ImportOptions{DryRun: true})
		if err != nil || st != (dbservice.ImportStats{Lines: 250, Docs: 250, Batches: 3}) {
			t.Errorf("dry run = %+v, %v", st, err)
		}
		if n := len(contents(t, target, "agents")); n != 0 {
			t.Errorf("dry run wrote %d documents", n)
		}
	})
	t.Run("a bad line anywhere is found before anything is written", func(t *testing.T) {
		in, target := hostileInput(t, `{"collection":"agents","doc":{"_id":"../x"}}`, false)
		_, err := dbservice.Import(context.Background(), target, strings.NewReader(in), dbservice.ImportOptions{DryRun: true, BatchSize: 2})
		checkLineError(t, err, 4, "invalid id")
		if n := len(contents(t, target, "agents")); n != 2 {
			t.Errorf("target holds %d documents after a dry run, want its original 2", n)
		}
	})
}

func TestImportSkipsBlankLinesAndAcceptsCRLF(t *testing.T) {
	in := "\n" + `{"collection":"agents","doc":{"_id":"a1","_rev":"9-zz"}}` + "\r\n   \n" + `{"collection":"users","doc":{"_id":"u1"}}`
	target := memory.New()
	st, err := dbservice.Import(context.Background(), target, strings.NewReader(in), dbservice.ImportOptions{})
	if err != nil || st != (dbservice.ImportStats{Lines: 4, Docs: 2, Batches: 2}) {
		t.Fatalf("import = %+v, %v", st, err)
	}
	if d, err := target.Get(context.Background(), "agents", "a1"); err != nil || d["_rev"] == "9-zz" {
		t.Errorf("agents/a1 = %v, %v; the file's _rev must not become the stored one", d, err)
	}
}

func TestImportReportsAReadErrorAsSuchNotAsATruncatedLine(t *testing.T) {
	disk := errors.New("read failed")
	r := io.MultiReader(strings.NewReader(`{"collection":"agents","doc":{"_id":"a1"}}`+"\n"+`{"collection":"ag`), iotest.ErrReader(disk))
	_, err := dbservice.Import(context.Background(), memory.New(), r, dbservice.ImportOptions{})
	var le *dbservice.LineError
	if !errors.Is(err, disk) || errors.As(err, &le) || !strings.Contains(err.Error(), "reading line 2") {
		t.Errorf("err = %v, want the reader's error at line 2", err)
	}
}

func TestImportRefusesBadOptions(t *testing.T) {
	for _, o := range []dbservice.ImportOptions{
		{BatchSize: -1}, {BatchSize: dbservice.MaxImportBatch + 1}, {MaxLineBytes: -5},
		{Collections: validate.Allowlist{"Bad Name"}},
	} {
		_, err := dbservice.Import(context.Background(), memory.New(), strings.NewReader(""), o)
		if !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("options %+v: err = %v, want ErrInvalid", o, err)
		}
	}
}

// recording counts how Import writes. Embedding the interface hides the
// provider's SaveMany unless bulk is set.
type recording struct {
	dbservice.Service
	saves, bulks atomic.Int64
	bulk         dbservice.BulkWriter
	failBulk     error
}

func (r *recording) Save(ctx context.Context, c, id string, d dbservice.Doc, o ...dbservice.WriteOption) (string, error) {
	r.saves.Add(1)
	return r.Service.Save(ctx, c, id, d, o...)
}

type bulkRecording struct{ *recording }

func (r bulkRecording) SaveMany(ctx context.Context, c string, items []dbservice.BulkItem) error {
	r.bulks.Add(1)
	if r.failBulk != nil {
		return r.failBulk
	}
	return r.bulk.SaveMany(ctx, c, items)
}

func TestImportUsesBulkWritesWhenTheServiceHasThem(t *testing.T) {
	src := memory.New()
	fillDocs(t, src, "agents", 250)
	in := exportString(t, src, "agents")

	t.Run("a BulkWriter gets one SaveMany per batch", func(t *testing.T) {
		m := memory.New()
		r := bulkRecording{&recording{Service: m, bulk: m}}
		if _, err := dbservice.Import(context.Background(), r, strings.NewReader(in), dbservice.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if r.bulks.Load() != 3 || r.saves.Load() != 0 {
			t.Errorf("%d SaveMany and %d Save calls, want 3 and 0", r.bulks.Load(), r.saves.Load())
		}
	})
	t.Run("a plain Service gets one Save per document", func(t *testing.T) {
		r := &recording{Service: memory.New()}
		if _, err := dbservice.Import(context.Background(), r, strings.NewReader(in), dbservice.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if r.saves.Load() != 250 {
			t.Errorf("%d Save calls, want 250", r.saves.Load())
		}
	})
	t.Run("a failed bulk write names the lines of its batch", func(t *testing.T) {
		m := memory.New()
		down := dbservice.NewError("save-many", "memory", "agents", "", dbservice.ErrUnavailable)
		r := bulkRecording{&recording{Service: m, bulk: m, failBulk: down}}
		st, err := dbservice.Import(context.Background(), r, strings.NewReader(in), dbservice.ImportOptions{})
		if !errors.Is(err, dbservice.ErrUnavailable) || !strings.Contains(err.Error(), "lines 1-100") || st.Docs != 0 {
			t.Errorf("err = %v, stats %+v; want ErrUnavailable naming lines 1-100 and nothing counted", err, st)
		}
	})
}

func TestImportStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := dbservice.Import(ctx, memory.New(), strings.NewReader(`{"collection":"agents","doc":{"_id":"a"}}`), dbservice.ImportOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestCopyStreamsBetweenServices(t *testing.T) {
	ctx := context.Background()
	src := dbservice.Guard(memory.New(), dbservice.Policy{})
	fillDocs(t, src, "agents", 1100)
	fillDocs(t, src, "sessions", 10)
	dst := dbservice.Guard(memory.New(), dbservice.Policy{})
	st, err := dbservice.Copy(ctx, src, dst, "agents", "sessions")
	if err != nil || st.Docs != 1110 {
		t.Fatalf("copy = %+v, %v", st, err)
	}
	rep, err := dbservice.Verify(ctx, src, dst, "agents", "sessions")
	if err != nil || !rep.Equal() {
		t.Errorf("verify after copy: %v\n%s", err, rep)
	}
}

// breaking fails every Query after the first page.
type breaking struct {
	dbservice.Service
	pages atomic.Int64
}

var errBackendDown = dbservice.NewError("query", "memory", "agents", "", dbservice.ErrUnavailable)

func (b *breaking) Query(ctx context.Context, c string, q dbservice.Query) (dbservice.Page, error) {
	if b.pages.Add(1) > 1 {
		return dbservice.Page{}, errBackendDown
	}
	return b.Service.Query(ctx, c, q)
}

func TestCopyReportsTheSourceError(t *testing.T) {
	src := memory.New()
	fillDocs(t, src, "agents", 1200)
	_, err := dbservice.Copy(context.Background(), &breaking{Service: src}, memory.New(), "agents")
	if err != errBackendDown {
		t.Errorf("err = %v, want the source's own error", err)
	}
}

func TestCopyStopsTheExportWhenTheImportFails(t *testing.T) {
	src := memory.New()
	fillDocs(t, src, "agents", 1200)
	down := dbservice.NewError("save-many", "memory", "agents", "", dbservice.ErrUnavailable)
	m := memory.New()
	_, err := dbservice.Copy(context.Background(), src, bulkRecording{&recording{Service: m, bulk: m, failBulk: down}}, "agents")
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Errorf("err = %v, want the import's write error", err)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	a, b := memory.New(), memory.New()
	fillDocs(t, a, "agents", 40)
	if _, err := dbservice.Copy(ctx, a, b, "agents"); err != nil {
		t.Fatal(err)
	}
	t.Run("a copy with other revisions is equal", func(t *testing.T) {
		// Save twice so b's revisions differ from a's.
		d, _ := b.Get(ctx, "agents", "d00001")
		delete(d, "_rev")
		if _, err := b.Save(ctx, "agents", "d00001", d); err != nil {
			t.Fatal(err)
		}
		rep, err := dbservice.Verify(ctx, a, b, "agents")
		if err != nil || !rep.Equal() {
			t.Errorf("verify = %v, %v", rep, err)
		}
	})
	t.Run("missing, extra and different documents are each reported", func(t *testing.T) {
		for i := range 30 {
			if err := b.Delete(ctx, "agents", fmt.Sprintf("d%05d", i)); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = b.Save(ctx, "agents", "zz-extra", dbservice.Doc{"v": 1})
		_, _ = b.Save(ctx, "agents", "d00035", dbservice.Doc{"v": "changed"})
		rep, err := dbservice.Verify(ctx, a, b, "agents")
		if err != nil {
			t.Fatal(err)
		}
		d := rep.Collections[0]
		if rep.Equal() || d.CountA != 40 || d.CountB != 11 {
			t.Fatalf("report = %+v", d)
		}
		if d.MissingCount != 30 || len(d.Missing) != dbservice.MaxListedIDs || d.Missing[0] != "d00000" || d.Missing[19] != "d00019" {
			t.Errorf("missing = %d %v, want 30 counted and the first 20 listed in order", d.MissingCount, d.Missing)
		}
		if d.ExtraCount != 1 || d.Extra[0] != "zz-extra" || d.DifferentCount != 1 || d.Different[0] != "d00035" {
			t.Errorf("extra = %v, different = %v", d.Extra, d.Different)
		}
		if s := rep.String(); !strings.Contains(s, "agents: 40 in a, 11 in b, 30 missing (d00000") || !strings.Contains(s, "d00019 …), 1 extra (zz-extra), 1 different (d00035)") {
			t.Errorf("summary = %q", s)
		}
	})
}

func TestBackupFunctionsRefuseBadCollectionLists(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(...string) error{
		"Copy":   func(c ...string) error { _, err := dbservice.Copy(ctx, memory.New(), memory.New(), c...); return err },
		"Verify": func(c ...string) error { _, err := dbservice.Verify(ctx, memory.New(), memory.New(), c...); return err },
	}
	for name, call := range calls {
		for _, colls := range [][]string{nil, {"Agents"}, {"agents", "agents"}} {
			if err := call(colls...); !errors.Is(err, dbservice.ErrInvalid) {
				t.Errorf("%s(%q) = %v, want ErrInvalid", name, colls, err)
			}
		}
	}
}

// FuzzImport feeds arbitrary input to Import. Whatever it is, Import must
// not panic, must refuse it with ErrInvalid or accept it, must never echo
// the canary, and what it accepts must survive an export and a second
// import unchanged.
func FuzzImport(f *testing.F) {
	f.Add([]byte(`{"collection":"agents","doc":{"_id":"a1","v":1}}` + "\n"))
	f.Add([]byte(`{"collection":"agents","doc":{"_id":"a1","v":"` + canary + `"}}` + "\n" + `{"collection":"users","doc":{"_id":"u1","x":[1,{"y":null}]}}`))
	f.Add([]byte(`{"collection":"agents","doc":{"_id":"../` + canary + `"}}`))
	f.Add([]byte(`{"collection":"agents","doc":{"_id":"a","$gt":"` + canary + `"}}`))
	f.Add([]byte(`{"collection":"agents","doc":{"_id":"a","v":1e999}}`))
	f.Add([]byte("\xff\xfe{\"collection\":"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx := context.Background()
		m := memory.New()
		_, err := dbservice.Import(ctx, m, bytes.NewReader(in), dbservice.ImportOptions{BatchSize: 3, MaxLineBytes: 4096})
		if err != nil {
			if !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("err echoes the input: %v", err)
			}
			return
		}
		colls := collectionsOf(in)
		if len(colls) == 0 {
			return
		}
		var buf bytes.Buffer
		if _, err := dbservice.Export(ctx, m, &buf, colls...); err != nil {
			t.Fatal(err)
		}
		m2 := memory.New()
		if _, err := dbservice.Import(ctx, m2, &buf, dbservice.ImportOptions{}); err != nil {
			t.Fatalf("re-import of an export failed: %v", err)
		}
		if rep, err := dbservice.Verify(ctx, m, m2, colls...); err != nil || !rep.Equal() {
			t.Fatalf("export/import changed documents: %v %s", err, rep)
		}
	})
}

// collectionsOf lists the distinct collections of an input Import accepted.
func collectionsOf(in []byte) []string {
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(in))
	for sc.Scan() {
		var l struct{ Collection string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Collection != "" && !seen[l.Collection] {
			seen[l.Collection] = true
			out = append(out, l.Collection)
		}
	}
	return out
}

func ExampleExport() {
	ctx := context.Background()
	db := memory.New()
	_, _ = db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "gofannon"})
	_, _ = db.Save(ctx, "agents", "a2", dbservice.Doc{"name": "scribe"})

	var backup bytes.Buffer
	st, err := dbservice.Export(ctx, db, &backup, "agents")
	fmt.Println(st.Docs, err)
	fmt.Print(backup.String())

	restored := memory.New()
	_, err = dbservice.Import(ctx, restored, &backup, dbservice.ImportOptions{})
	fmt.Println(err)
	rep, _ := dbservice.Verify(ctx, db, restored, "agents")
	fmt.Println(rep)
	// Output:
	// 2 <nil>
	// {"collection":"agents","doc":{"_id":"a1","name":"gofannon"}}
	// {"collection":"agents","doc":{"_id":"a2","name":"scribe"}}
	// <nil>
	// agents: 2 in a, 2 in b, identical
}

func ExampleImport() {
	in := strings.NewReader(`{"collection":"agents","doc":{"_id":"a1","name":"ok"}}
{"collection":"agents","doc":{"_id":"a2","$where":"sleep(1000)"}}
`)
	st, err := dbservice.Import(context.Background(), memory.New(), in, dbservice.ImportOptions{DryRun: true})
	fmt.Println(st.Lines, err)
	// Output:
	// 2 securedb: backup import: line 2: invalid doc: field names starting with '$' are refused (operator injection; Limits.LiteralKeys allows them)
}

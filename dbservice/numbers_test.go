package dbservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// TestNumberRuleIsOneRule feeds the same numbers to every door a number
// enters by (Save, SaveAs, Import, a query value) and requires one verdict
// for each: a whole float beyond 2^53 such as 1e17 or a time stamp in
// nanoseconds is a number everywhere, an integer float64 cannot hold
// exactly is refused everywhere.
func TestNumberRuleIsOneRule(t *testing.T) {
	ctx := context.Background()
	nanos := float64(time.Date(2026, 12, 1, 21, 0, 0, 123456789, time.UTC).UnixNano())
	cases := []struct {
		name string
		v    any    // the value as Save and a query get it
		text string // the value as JSON text, as Import gets it
		ok   bool
		want float64
	}{
		{"1e17 as a float", 1e17, "100000000000000000", true, 1e17},
		{"a time stamp in nanoseconds", nanos, strconv.FormatFloat(nanos, 'f', -1, 64), true, nanos},
		{"2^60 as a float, as encoding/json prints it", float64(1 << 60), "1152921504606847000", true, 1 << 60},
		{"2^60 as an integer, exactly", int64(1 << 60), "1152921504606846976", true, 1 << 60},
		{"2^53+2 as a float", float64(1<<53 + 2), "9007199254740994", true, 1<<53 + 2},
		{"1e308", 1e308, "1e+308", true, 1e308},
		{"5e-324", 5e-324, "5e-324", true, 5e-324},
		{"-0 becomes 0", math.Copysign(0, -1), "-0", true, 0},
		{"2^53+1 as an integer", int64(1<<53 + 1), "9007199254740993", false, 0},
		{"2^63-1 as an integer", int64(math.MaxInt64), "9223372036854775807", false, 0},
		{"2^64-1 as an integer", uint64(math.MaxUint64), "18446744073709551615", false, 0},
		{"an integer beyond float64's range", json.Number("1" + strings.Repeat("0", 400)), "1" + strings.Repeat("0", 400), false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := memory.New()
			verdict := func(door string, err error) {
				t.Helper()
				switch {
				case c.ok && err != nil:
					t.Errorf("%s refused it: %v", door, err)
				case !c.ok && !errors.Is(err, dbservice.ErrInvalid):
					t.Errorf("%s: got %v, want ErrInvalid", door, err)
				}
			}
			check := func(door, id string) {
				t.Helper()
				if !c.ok {
					return
				}
				d, err := db.Get(ctx, "numbers", id)
				if err != nil {
					t.Fatalf("%s: %v", door, err)
				}
				if g, _ := d["n"].(float64); math.Float64bits(g) != math.Float64bits(c.want) {
					t.Errorf("%s stored %#v, want exactly %g", door, d["n"], c.want)
				}
			}

			_, err := db.Save(ctx, "numbers", "save", dbservice.Doc{"n": c.v})
			verdict("Save", err)
			check("Save", "save")

			var saveAsErr error
			switch v := c.v.(type) {
			case float64:
				_, saveAsErr = dbservice.SaveAs(ctx, db, "numbers", "saveas", struct {
					N float64 `json:"n"`
				}{v})
			case int64:
				_, saveAsErr = dbservice.SaveAs(ctx, db, "numbers", "saveas", struct {
					N int64 `json:"n"`
				}{v})
			case uint64:
				_, saveAsErr = dbservice.SaveAs(ctx, db, "numbers", "saveas", struct {
					N uint64 `json:"n"`
				}{v})
			default:
				_, saveAsErr = dbservice.SaveAs(ctx, db, "numbers", "saveas", map[string]any{"n": v})
			}
			verdict("SaveAs", saveAsErr)
			check("SaveAs", "saveas")

			line := `{"collection":"numbers","doc":{"_id":"import","n":` + c.text + "}}\n"
			_, err = dbservice.Import(ctx, db, strings.NewReader(line), dbservice.ImportOptions{})
			verdict("Import", err)
			check("Import", "import")

			_, err = db.Query(ctx, "numbers", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("n", dbservice.Eq, c.v)}})
			verdict("a query value", err)
			_, err = validate.QueryValue(json.Number(c.text))
			verdict("a query value as JSON text", err)
		})
	}
}

// TestExportOfEveryAcceptedNumberImports is the defect this rule fixes: a
// whole float beyond 2^53 that Save accepted made the backup refuse to
// restore.
func TestExportOfEveryAcceptedNumberImports(t *testing.T) {
	ctx := context.Background()
	src, dst := memory.New(), memory.New()
	nums := []float64{1e17, float64(time.Now().UnixNano()), 1 << 60, 1<<53 + 2, 1e21, 1e308, 5e-324, math.MaxFloat64}
	for i, f := range nums {
		if _, err := src.Save(ctx, "numbers", "n"+strconv.Itoa(i), dbservice.Doc{"n": f, "in": []any{f, map[string]any{"n": f}}}); err != nil {
			t.Fatalf("Save(%g): %v", f, err)
		}
	}
	var buf bytes.Buffer
	if _, err := dbservice.Export(ctx, src, &buf, "numbers"); err != nil {
		t.Fatal(err)
	}
	if st, err := dbservice.Import(ctx, dst, &buf, dbservice.ImportOptions{}); err != nil || st.Docs != int64(len(nums)) {
		t.Fatalf("Import of the export: %+v, %v", st, err)
	}
	if rep, err := dbservice.Verify(ctx, src, dst, "numbers"); err != nil || !rep.Equal() {
		t.Fatalf("Verify: %v, %v", rep, err)
	}
	if st, err := dbservice.Copy(ctx, src, memory.New(), "numbers"); err != nil || st.Docs != int64(len(nums)) {
		t.Fatalf("Copy: %+v, %v", st, err)
	}
}

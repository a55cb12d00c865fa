package dbtest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
)

// numberFields is the number of numbers one document of the backup case
// carries, so a few hundred numbers cost a few dozen round trips.
const numberFields = 20

// portable reports whether every provider must accept f: DynamoDB, the
// narrowest backend, stores magnitudes from 1e-130 below 1e126.
func portable(f float64) bool {
	a := math.Abs(f)
	return a == 0 || a >= 1e-130 && a < 1e126
}

// backupNumbers returns the numbers the backup case stores: the edge cases
// of the number rule, then generated ones (random bit patterns, whole
// floats beyond 2^53 such as time stamps in nanoseconds, integers within
// ±2^53). The generator is fixed, so a failure repeats.
func backupNumbers() []any {
	nums := []any{
		1e17, 0x1p53 - 1, 0x1p53, 0x1p53 + 2, -0x1p53 - 2, 0x1p60, 0x1p63, 0x1p64, 1e21, 1e22,
		float64(time.Date(2026, 12, 1, 21, 0, 0, 123456789, time.UTC).UnixNano()),
		math.Copysign(0, -1), 0.1, 1.0 / 3, math.SmallestNonzeroFloat32, math.MaxFloat32,
		1e-7, 123456.789e-20, 9.999999999999999e125, 1e-130,
		1e308, math.MaxFloat64, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-200, 1e200,
		int64(1) << 53, -(int64(1) << 53), int64(1) << 60, uint64(1) << 63,
	}
	r := rand.New(rand.NewPCG(13, 8))
	for len(nums) < 400 {
		switch len(nums) % 4 {
		case 0:
			f := math.Float64frombits(r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				nums = append(nums, f)
			}
		case 1:
			nums = append(nums, float64(r.Int64N(math.MaxInt64-1<<53)+1<<53))
		case 2:
			nums = append(nums, r.Int64N(1<<54)-1<<53)
		case 3:
			nums = append(nums, r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20)))
		}
	}
	return nums
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	panic(fmt.Sprintf("backupNumbers: unexpected %T", v))
}

// testBackupKeepsEveryNumber is the number rule's promise: every number
// Save accepts survives Export and Import on the same provider as the
// identical float64 (-0 is stored as 0). Numbers every backend can hold
// must be accepted; the others may only be refused with ErrInvalid.
func testBackupKeepsEveryNumber(t *testing.T, s dbservice.Service) {
	coll, restored := Collection(t), Collection(t)
	want := map[string]map[string]float64{}
	var batch dbservice.Doc
	batchN := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		id := fmt.Sprintf("many-%03d", batchN)
		batchN++
		mustSave(t, s, coll, id, dbservice.Doc{"n": batch, "list": []any{batch}})
		exp := map[string]float64{}
		for k, v := range batch {
			exp[k] = asFloat(v) + 0 // -0 + 0 is 0
		}
		want[id] = exp
		batch = nil
	}
	for i, v := range backupNumbers() {
		f := asFloat(v)
		if !portable(f) {
			id := fmt.Sprintf("edge-%03d", i)
			_, err := s.Save(ctx(t), coll, id, dbservice.Doc{"n": dbservice.Doc{"v": v}, "list": []any{dbservice.Doc{"v": v}}})
			switch {
			case err == nil:
				want[id] = map[string]float64{"v": f}
			case !errors.Is(err, dbservice.ErrInvalid):
				t.Fatalf("Save of %g: %v, want success or ErrInvalid", f, err)
			}
			continue
		}
		if batch == nil {
			batch = dbservice.Doc{}
		}
		batch[fmt.Sprintf("f%03d", i)] = v
		if len(batch) == numberFields {
			flush()
		}
	}
	flush()

	var buf bytes.Buffer
	st, err := dbservice.Export(ctx(t), s, &buf, coll)
	if err != nil || st.Docs != int64(len(want)) {
		t.Fatalf("Export: %+v, %v; want %d documents", st, err, len(want))
	}
	// Import the same lines into a fresh collection of the same provider.
	lines := bytes.ReplaceAll(buf.Bytes(), []byte(`{"collection":"`+coll+`"`), []byte(`{"collection":"`+restored+`"`))
	if ist, err := dbservice.Import(ctx(t), s, bytes.NewReader(lines), dbservice.ImportOptions{}); err != nil || ist.Docs != int64(len(want)) {
		t.Fatalf("Import of what Export wrote: %+v, %v; want %d documents", ist, err, len(want))
	}
	checked := 0
	for id, exp := range want {
		for _, c := range []string{coll, restored} {
			d := mustGet(t, s, c, id)
			n, _ := d["n"].(map[string]any)
			list, _ := d["list"].([]any)
			if len(list) != 1 {
				t.Fatalf("%s/%s: list = %#v", c, id, d["list"])
			}
			inList, _ := list[0].(map[string]any)
			for k, f := range exp {
				for where, got := range map[string]any{"field": n[k], "list element": inList[k]} {
					g, ok := got.(float64)
					if !ok || math.Float64bits(g) != math.Float64bits(f) {
						t.Errorf("%s/%s %s %s = %#v, want exactly %g (bits %#x)", c, id, where, k, got, f, math.Float64bits(f))
					}
					checked++
				}
			}
		}
	}
	// A number that survives storage must also be found by equality: the
	// query value takes the same path to the backend as the document did.
	for id, exp := range want {
		f, ok := exp["v"]
		if !ok {
			continue
		}
		docs := walk(t, s, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("n.v", dbservice.Eq, f)}})
		if got := ids(docs); len(got) != 1 || got[0] != id {
			t.Errorf("Query n.v == %g: %v, want [%s]", f, got, id)
		}
	}
	if checked < 2*2*300 {
		t.Fatalf("checked only %d numbers", checked)
	}
}

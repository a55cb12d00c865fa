package dbservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb/validate"
)

// The differential tests compare the direct conversion with encoding/json
// on many random values. The reference is what the typed helpers did
// before (refSaveAs's conversion: encoding/json, numbers as json.Number,
// times rewritten to validate.TimeLayout), run through validate.Sanitize
// as Save does; on the way back, json.Unmarshal of the document's JSON.

type codecInner struct {
	Label string  `json:"label"`
	Score float64 `json:"score,omitempty"`
	Flag  *bool   `json:"flag,omitempty"`
}

type CodecEmbedded struct {
	Shared   string `json:"shared"`
	Promoted int    `json:"promoted"`
}

type codecDeep struct {
	Deeper string
}

type CodecPtrEmbedded struct {
	codecDeep
	Extra []string `json:"extra"`
}

type codecValue struct {
	CodecEmbedded
	*CodecPtrEmbedded
	ID       string                `json:"_id"`
	Rev      string                `json:"_rev"`
	Expires  string                `json:"_expires,omitempty"`
	Name     string                `json:"name"`
	Shared   string                `json:"shared_top"`
	Skip     string                `json:"-"`
	Untagged bool                  //
	Count    int                   `json:"count"`
	Small    int8                  `json:"small"`
	U16      uint16                `json:"u16,omitempty"`
	Big      int64                 `json:"big"`
	F32      float32               `json:"f32"`
	F64      float64               `json:"f64"`
	Quoted   int64                 `json:"quoted,string"`
	QFloat   float64               `json:"qfloat,string,omitempty"`
	QBool    bool                  `json:"qbool,string"`
	When     time.Time             `json:"when"`
	WhenPtr  *time.Time            `json:"when_ptr,omitempty"`
	Zero     time.Time             `json:"zero,omitzero"`
	Blob     []byte                `json:"blob"`
	Arr      [3]byte               `json:"arr"`
	Tags     []string              `json:"tags,omitempty"`
	Nested   []codecInner          `json:"nested"`
	ByName   map[string]codecInner `json:"by_name,omitempty"`
	ByNum    map[int]string        `json:"by_num"`
	Ptr      *codecInner           `json:"ptr"`
	Any      any                   `json:"any"`
	Addr     netip.Addr            `json:"addr"`
	Raw      json.RawMessage       `json:"raw,omitempty"`
	Num      json.Number           `json:"num"`
	AnyNum   any                   `json:"any_num"`
	private  string
}

func numText(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func randString(r *rand.Rand) string {
	const alphabet = "abcXYZ019 _-é\"\\/<>ü€"
	runes := []rune(alphabet)
	n := r.IntN(8)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(5) {
	case 0:
		return 0
	case 1:
		return float64(r.IntN(1000) - 500)
	case 2:
		return r.NormFloat64() * 1e6
	case 3:
		return math.Float64frombits(r.Uint64()&^(0x7ff<<52) | uint64(r.IntN(2046)+1)<<52)
	}
	return r.Float64()
}

func randAny(r *rand.Rand, depth int) any {
	switch r.IntN(7) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return randFloat(r)
	case 3:
		return randString(r)
	case 4:
		if depth > 2 {
			return "leaf"
		}
		a := make([]any, r.IntN(3))
		for i := range a {
			a[i] = randAny(r, depth+1)
		}
		return a
	case 5:
		if depth > 2 {
			return 1.5
		}
		m := map[string]any{}
		for range r.IntN(3) {
			m["k"+randString(r)] = randAny(r, depth+1)
		}
		return m
	}
	return float64(r.Int64N(1 << 53))
}

func randInner(r *rand.Rand) codecInner {
	in := codecInner{Label: randString(r)}
	if r.IntN(2) == 0 {
		in.Score = randFloat(r)
	}
	if r.IntN(2) == 0 {
		b := r.IntN(2) == 0
		in.Flag = &b
	}
	return in
}

func randTime(r *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
	return time.Unix(r.Int64N(4e9)-1e9, r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
}

func randCodecValue(r *rand.Rand) codecValue {
	v := codecValue{
		CodecEmbedded: CodecEmbedded{Shared: randString(r), Promoted: r.IntN(100)},
		Name:          randString(r),
		Shared:        randString(r),
		Skip:          "never stored",
		Untagged:      r.IntN(2) == 0,
		Count:         r.IntN(1<<20) - 1<<19,
		Small:         int8(r.IntN(256) - 128),
		Big:           r.Int64N(1<<53) - 1<<52,
		F32:           float32(r.NormFloat64() * 1000),
		F64:           randFloat(r),
		Quoted:        r.Int64N(1<<53) - 1<<52,
		QBool:         r.IntN(2) == 0,
		When:          randTime(r),
		Blob:          []byte(randString(r)),
		Arr:           [3]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))},
		ByNum:         map[int]string{r.IntN(100) - 50: randString(r)},
		Any:           randAny(r, 0),
		private:       "never stored",
	}
	if r.IntN(2) == 0 {
		v.U16 = uint16(r.IntN(1 << 16))
	}
	if r.IntN(2) == 0 {
		v.QFloat = randFloat(r)
	}
	if r.IntN(2) == 0 {
		tm := randTime(r)
		v.WhenPtr = &tm
	}
	if r.IntN(2) == 0 {
		v.Zero = randTime(r)
	}
	if r.IntN(2) == 0 {
		v.CodecPtrEmbedded = &CodecPtrEmbedded{codecDeep: codecDeep{Deeper: randString(r)}, Extra: []string{randString(r)}}
	}
	for range r.IntN(3) {
		v.Tags = append(v.Tags, randString(r))
	}
	for range r.IntN(3) {
		v.Nested = append(v.Nested, randInner(r))
	}
	if r.IntN(2) == 0 {
		v.ByName = map[string]codecInner{"a" + randString(r): randInner(r)}
	}
	if r.IntN(2) == 0 {
		p := randInner(r)
		v.Ptr = &p
	}
	if r.IntN(2) == 0 {
		v.Addr = netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), 0, 1})
	}
	if r.IntN(2) == 0 {
		v.Raw = json.RawMessage(`{"k":[1,"two",null]}`)
	}
	nums := []json.Number{"", "0", "12", "-7", "1.5e3", "-0.25", "1e17", "123456789012"}
	v.Num = nums[r.IntN(len(nums))]
	if n := nums[r.IntN(len(nums))]; n != "" {
		v.AnyNum = n
	}
	return v
}

// refDoc is the document refSaveAs would have stored for v.
func refDoc(v any) (Doc, error) {
	if err := validate.CheckIntegers(v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc Doc
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if nv, ok := refFixTimes(reflect.ValueOf(v), doc); ok {
		doc, _ = nv.(Doc)
	}
	return validate.Sanitize(doc, validate.Limits{})
}

func directDoc(v any) (Doc, error) {
	doc, err := encodeDoc(v)
	if err != nil {
		return nil, err
	}
	return validate.Sanitize(doc, validate.Limits{})
}

func TestCodecEncodeMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		v := randCodecValue(r)
		want, werr := refDoc(v)
		got, gerr := directDoc(v)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("value %d: encoding/json err %v, direct err %v", i, werr, gerr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("value %d:\n direct        %v\n encoding/json %v", i, got, want)
		}
		// A pointer and a map encode like the value.
		if p, err := directDoc(&v); err != nil || !reflect.DeepEqual(p, got) {
			t.Fatalf("value %d: pointer encodes differently (%v)", i, err)
		}
	}
}

func TestCodecDecodeMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		v := randCodecValue(r)
		doc, err := directDoc(v)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		doc["_id"], doc["_rev"], doc["_expires"] = "doc-1", "1-abc", validate.FormatTime(v.When)
		b, _ := json.Marshal(doc)
		var want codecValue
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("value %d: json.Unmarshal: %v", i, err)
		}
		var got codecValue
		if err := decodeDoc(doc, &got); err != nil {
			t.Fatalf("value %d: decode: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("value %d:\n direct        %+v\n encoding/json %+v", i, got, want)
		}
		// The round trip gives back v, but for what the store does not
		// keep: the zone of a time, the fields never stored.
		v.ID, v.Rev, v.Expires, v.Skip, v.private = "doc-1", "1-abc", validate.FormatTime(v.When), "", ""
		if !got.When.Equal(v.When) || (v.WhenPtr != nil && !got.WhenPtr.Equal(*v.WhenPtr)) || !got.Zero.Equal(v.Zero) {
			t.Fatalf("value %d: times differ", i)
		}
		got.When, got.WhenPtr, got.Zero = v.When, v.WhenPtr, v.Zero
		if v.CodecPtrEmbedded != nil && len(v.CodecPtrEmbedded.Extra) == 0 {
			v.CodecPtrEmbedded.Extra = nil
		}
		if string(got.Raw) != string(v.Raw) {
			t.Fatalf("value %d: raw %s, want %s", i, got.Raw, v.Raw)
		}
		got.Raw = v.Raw
		// A json.Number is stored as a number: it comes back as the same
		// number, in encoding/json's text (1.5e3 as 1500), and a number in
		// an interface comes back as float64.
		if numText(string(got.Num)) != numText(string(v.Num)) {
			t.Fatalf("value %d: num %q, want %q", i, got.Num, v.Num)
		}
		got.Num = v.Num
		if n, ok := v.AnyNum.(json.Number); ok {
			if f, _ := n.Float64(); got.AnyNum != f {
				t.Fatalf("value %d: any_num %v, want %v", i, got.AnyNum, f)
			}
			got.AnyNum = v.AnyNum
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("value %d: round trip\n got  %+v\n want %+v", i, got, v)
		}
	}
}

// The documented differences from encoding/json, each one a loss it
// would cause.
func TestCodecDocumentedDifferences(t *testing.T) {
	type ints struct {
		N int64  `json:"n"`
		U uint64 `json:"u"`
	}
	// 2^60 is stored exactly; it reads back exactly, where encoding/json
	// reads its shortest text 1152921504606847000.
	doc := Doc{"n": float64(1 << 60), "u": float64(1 << 63)}
	var got ints
	if err := decodeDoc(doc, &got); err != nil || got.N != 1<<60 || got.U != 1<<63 {
		t.Errorf("decode of 2^60, 2^63 = %+v, %v", got, err)
	}
	b, _ := json.Marshal(doc)
	var viaJSON ints
	_ = json.Unmarshal(b, &viaJSON)
	if viaJSON.N == 1<<60 {
		t.Errorf("encoding/json reads 2^60 exactly now (%d): drop this difference from the docs", viaJSON.N)
	}
	// Fractions and out-of-range numbers are refused with the field's name.
	for _, d := range []Doc{{"n": 1.5}, {"n": 1e19}, {"u": -1.0}, {"n": "7"}} {
		var v ints
		err := decodeDoc(d, &v)
		if err == nil || !strings.Contains(err.Error(), "field ") {
			t.Errorf("decode of %v: %v, want a refusal naming the field", d, err)
		}
	}
	// Times are stored fixed-width UTC whatever their zone.
	type at struct {
		T time.Time `json:"t"`
	}
	d, err := encodeDoc(at{time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("z", 3600))})
	if err != nil || d["t"] != "2026-01-02T02:04:05.000000600Z" {
		t.Errorf("time stored as %v, %v", d["t"], err)
	}
	// An inexact integer is refused before anything is stored.
	if _, err := encodeDoc(ints{N: 1<<53 + 1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("2^53+1: %v, want ErrInvalid", err)
	}
	// With the string option an integer is text, so every int64 is kept;
	// the encoding/json path refused those beyond 2^53.
	type quoted struct {
		N int64 `json:"n,string"`
	}
	d, err = encodeDoc(quoted{N: math.MaxInt64})
	var back quoted
	if err != nil || d["n"] != "9223372036854775807" || decodeDoc(d, &back) != nil || back.N != math.MaxInt64 {
		t.Errorf("string option on MaxInt64: %v, %v, %d", d, err, back.N)
	}
	// Unsupported values are refused like encoding/json refuses them.
	for _, v := range []any{
		struct{ C chan int }{make(chan int)},
		struct{ F func() }{func() {}},
		struct{ X float64 }{math.NaN()},
		map[bool]int{true: 1},
		[]int{1},
		"text",
	} {
		if _, err := encodeDoc(v); !errors.Is(err, ErrInvalid) {
			t.Errorf("encode %T: %v, want ErrInvalid", v, err)
		}
	}
	// A cycle is refused, not followed forever.
	type node struct {
		Next *node `json:"next"`
	}
	n := &node{}
	n.Next = n
	if _, err := encodeDoc(n); !errors.Is(err, ErrInvalid) {
		t.Errorf("cycle: %v, want ErrInvalid", err)
	}
}

// The typed helpers never put a document value in an error.
func TestTypedErrorsLeakNoValue(t *testing.T) {
	canary := "canary-4f1d"
	type target struct {
		N int `json:"n"`
	}
	for _, d := range []Doc{{"n": canary}, {"n": []any{canary}}, {"n": map[string]any{"x": canary}}} {
		var v target
		err := decodeDoc(d, &v)
		if err == nil || strings.Contains(err.Error(), canary) {
			t.Errorf("decode error %v: want a refusal without the value", err)
		}
	}
}

// FuzzCodecDecode: any document (as JSON text) decodes into the struct
// without a panic, and exactly when json.Unmarshal of the same text does,
// to the same value, but for the integers beyond 2^53 that encoding/json
// reads from their shortest text.
func FuzzCodecDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		d, _ := directDoc(randCodecValue(r))
		b, _ := json.Marshal(d)
		f.Add(b)
	}
	f.Add([]byte(`{"count":1.5}`))
	f.Add([]byte(`{"quoted":"12"}`))
	f.Add([]byte(`{"when":"2026-13-01T00:00:00Z"}`))
	f.Add([]byte(`{"blob":"!!"}`))
	f.Add([]byte(`{"num":"1x","any_num":2.5}`))
	f.Add([]byte(`{"NAME":"x","Promoted":2,"by_num":{"x":"y"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var raw map[string]any
		if dec.Decode(&raw) != nil || raw == nil {
			return
		}
		doc, err := validate.Sanitize(raw, validate.Limits{LiteralKeys: true})
		if err != nil {
			return
		}
		if hasCaseTwins(doc) || hasBigInts(doc) {
			return // map order decides between case twins; big ints differ on purpose
		}
		canon, _ := json.Marshal(doc)
		var want, got codecValue
		werr := json.Unmarshal(canon, &want)
		gerr := decodeDoc(doc, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: encoding/json err %v, direct err %v", canon, werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n direct        %+v\n encoding/json %+v", canon, got, want)
		}
	})
}

func hasCaseTwins(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		seen := map[string]bool{}
		for k, e := range x {
			l := strings.ToLower(k)
			if seen[l] || hasCaseTwins(e) {
				return true
			}
			seen[l] = true
		}
	case []any:
		for _, e := range x {
			if hasCaseTwins(e) {
				return true
			}
		}
	}
	return false
}

func hasBigInts(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.Abs(x) > 1<<53
	case map[string]any:
		for _, e := range x {
			if hasBigInts(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasBigInts(e) {
				return true
			}
		}
	}
	return false
}

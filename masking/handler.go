package masking

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/securedb-go/securedb/internal/verbatim"
)

// NewHandler returns a slog.Handler that masks secrets in every record and
// passes it to next. opts may be nil for the defaults. A record with nothing
// to mask reaches next unchanged; otherwise next gets a masked copy, with
// LogValuer values already resolved.
func NewHandler(next slog.Handler, opts *Options) slog.Handler {
	m := defaultMasker
	if opts != nil {
		m = New(opts)
	}
	return m.NewHandler(next)
}

// NewHandler returns a slog.Handler that masks secrets with m and passes
// records to next.
func (m *Masker) NewHandler(next slog.Handler) slog.Handler {
	if next == nil {
		panic("masking: NewHandler with a nil slog.Handler")
	}
	return &handler{m: m, next: next}
}

type handler struct {
	m    *Masker
	next slog.Handler
	// hidden is set below a WithGroup whose name is a sensitive key: every
	// value logged there is replaced.
	hidden bool
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// WithAttrs masks attrs once, here, rather than on every record.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i], _ = h.m.maskAttr(a, h.hidden)
	}
	return &handler{m: h.m, next: h.next.WithAttrs(masked), hidden: h.hidden}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{m: h.m, next: h.next.WithGroup(name), hidden: h.hidden || h.m.SensitiveKey(name)}
}

// Handle passes r on untouched when nothing in it needs masking, which is
// the common case; otherwise it builds a masked copy.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	msg, changed := h.m.mask(r.Message)
	first, n := -1, 0
	var firstAttr slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if ma, ch := h.m.maskAttr(a, h.hidden); ch {
			first, firstAttr = n, ma
			return false
		}
		n++
		return true
	})
	if !changed && first < 0 {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	n = 0
	r.Attrs(func(a slog.Attr) bool {
		switch {
		case first < 0 || n < first:
			out.AddAttrs(a)
		case n == first:
			// Masked once already: resolving a LogValuer twice could
			// give a different value, and costs twice.
			out.AddAttrs(firstAttr)
		default:
			ma, _ := h.m.maskAttr(a, h.hidden)
			out.AddAttrs(ma)
		}
		n++
		return true
	})
	return h.next.Handle(ctx, out)
}

// maskAttr masks one attribute; hidden replaces every value. It reports
// whether the attribute changed.
func (m *Masker) maskAttr(a slog.Attr, hidden bool) (slog.Attr, bool) {
	v := a.Value
	changed := false
	if v.Kind() == slog.KindLogValuer {
		if _, ok := v.LogValuer().(verbatim.String); ok {
			// Validated by this module (an audit record's ID, say):
			// exempt from value rules, never from key rules.
			if hidden || a.Key != "" && m.SensitiveKey(a.Key) {
				return slog.String(a.Key, m.repl), true
			}
			return a, false
		}
		// Resolve before masking, and hand on the resolved value so the
		// next handler cannot call LogValue again and see the original.
		v, changed = v.Resolve(), true
	}
	if v.Kind() == slog.KindGroup {
		attrs := v.Group()
		if len(attrs) == 0 {
			return slog.Attr{Key: a.Key, Value: v}, changed
		}
		// A sensitive group key hides the group; an inline group (empty
		// key) passes hidden on.
		if a.Key != "" && (hidden || m.SensitiveKey(a.Key)) {
			return slog.String(a.Key, m.repl), true
		}
		var out []slog.Attr
		for i, ga := range attrs {
			ma, ch := m.maskAttr(ga, hidden)
			if ch && out == nil {
				out = make([]slog.Attr, len(attrs))
				copy(out, attrs[:i])
			}
			if out != nil {
				out[i] = ma
			}
		}
		if out != nil {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}, true
		}
		return slog.Attr{Key: a.Key, Value: v}, changed
	}
	if hidden || a.Key != "" && m.SensitiveKey(a.Key) {
		return slog.String(a.Key, m.repl), true
	}
	switch v.Kind() {
	case slog.KindString:
		if s, ch := m.mask(v.String()); ch {
			return slog.String(a.Key, s), true
		}
	case slog.KindAny:
		if mv, ch := m.maskAny(v.Any()); ch {
			return slog.Attr{Key: a.Key, Value: mv}, true
		}
	}
	// Numbers, booleans, durations and times carry no text to mask.
	return slog.Attr{Key: a.Key, Value: v}, changed
}

// maskAny masks a value of kind slog.KindAny; see "Encoding of other
// values" in the package doc.
func (m *Masker) maskAny(x any) (slog.Value, bool) {
	switch t := x.(type) {
	case nil:
		return slog.AnyValue(nil), false
	case json.RawMessage:
		return m.maskJSON(t), true
	case error:
		// fmt recovers from a panicking Error method and prints nil
		// receivers safely; calling t.Error() directly would not.
		s, _ := m.mask(fmt.Sprint(t))
		return slog.AnyValue(maskedError(s)), true
	case fmt.Stringer:
		s, _ := m.mask(fmt.Sprint(t))
		return slog.StringValue(s), true
	case []byte:
		s, _ := m.mask(string(t))
		return slog.StringValue(s), true
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		if _, ok := x.(json.Marshaler); !ok {
			return slog.AnyValue(x), false
		}
	case reflect.String:
		if _, ok := x.(json.Marshaler); !ok {
			s, _ := m.mask(rv.String())
			return slog.StringValue(s), true
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// As slog's JSONHandler does; escaping & as \u0026 would also hide
	// "&password=" from the pair rule.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		s, _ := m.mask(fmt.Sprintf("%+v", x))
		return slog.StringValue(s), true
	}
	return m.maskJSON(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), true
}

// maskJSON masks JSON text. The result stays JSON for the next handler to
// embed; should masking ever break it, the masked text is logged as a
// string instead.
func (m *Masker) maskJSON(data []byte) slog.Value {
	s, _ := m.mask(string(data))
	if len(s) > 0 && s[0] == '"' {
		// A JSON string (from MarshalText, say) reads better as a string
		// in a TextHandler and is the same in a JSONHandler.
		var u string
		if err := json.Unmarshal([]byte(s), &u); err == nil {
			return slog.StringValue(u)
		}
	}
	if !json.Valid([]byte(s)) {
		return slog.StringValue(s)
	}
	return slog.AnyValue(json.RawMessage(s))
}

// maskedError stands in for an error whose text was masked. It deliberately
// does not unwrap: a handler that unwrapped it would print the original.
type maskedError string

func (e maskedError) Error() string { return string(e) }

// IsMasking reports whether h is a handler made by NewHandler, so a posture
// check can tell whether a logger masks secrets.
func IsMasking(h slog.Handler) bool {
	_, ok := h.(*handler)
	return ok
}

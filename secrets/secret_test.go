package secrets_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/secrets"
)

const canary = "canary-7f3a9c-hunter2-DO-NOT-LEAK"

// fmtVerbs covers every verb family fmt has, with flags that change how
// values are normally rendered.
var fmtVerbs = []string{
	"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%T", "%p",
	"%t", "%b", "%o", "%O", "%c", "%U", "%e", "%f", "%g", "%10s", "%-10v", "%.3s", "%#q",
}

func TestSecretPrintsRedactedWithEveryVerb(t *testing.T) {
	s := secrets.New(canary)
	type exported struct{ Password secrets.Secret }
	type unexported struct{ password secrets.Secret }
	values := map[string]any{
		"a secret":                          s,
		"a pointer to a secret":             &s,
		"a struct with an exported field":   exported{s},
		"a struct with an unexported field": unexported{s},
		"a pointer to such a struct":        &unexported{s},
		"a slice of secrets":                []secrets.Secret{s},
		"a map of secrets":                  map[string]secrets.Secret{"pw": s},
		"an interface holding a secret":     any(s),
	}
	for name, v := range values {
		for _, verb := range fmtVerbs {
			t.Run(name+" printed with "+verb+" hides the value", func(t *testing.T) {
				out := fmt.Sprintf(verb, v)
				if strings.Contains(out, canary) || strings.Contains(out, fmt.Sprintf("%x", canary)) {
					t.Fatalf("Sprintf(%q) = %q reveals the secret", verb, out)
				}
			})
		}
	}
}

func TestSecretPrintsExactlyRedacted(t *testing.T) {
	s := secrets.New(canary)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		t.Run(verb+" gives [REDACTED]", func(t *testing.T) {
			if got := fmt.Sprintf(verb, s); got != "[REDACTED]" {
				t.Errorf("Sprintf(%q) = %q, want [REDACTED]", verb, got)
			}
		})
	}
	t.Run("String and GoString give [REDACTED]", func(t *testing.T) {
		if s.String() != "[REDACTED]" || s.GoString() != "[REDACTED]" {
			t.Errorf("String() = %q, GoString() = %q", s.String(), s.GoString())
		}
	})
}

func TestSecretEncodersRedact(t *testing.T) {
	s := secrets.New(canary)
	t.Run("json.Marshal of a struct field gives the string [REDACTED]", func(t *testing.T) {
		b, err := json.Marshal(struct{ Password secrets.Secret }{s})
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"Password":"[REDACTED]"}` {
			t.Errorf("got %s", b)
		}
	})
	t.Run("json.Marshal of a map keyed by secrets uses MarshalText", func(t *testing.T) {
		b, err := json.Marshal(map[secrets.Secret]int{s: 1})
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"[REDACTED]":1}` {
			t.Errorf("got %s", b)
		}
	})
	t.Run("MarshalText gives [REDACTED]", func(t *testing.T) {
		b, err := s.MarshalText()
		if err != nil || string(b) != "[REDACTED]" {
			t.Errorf("MarshalText() = %q, %v", b, err)
		}
	})
	t.Run("xml.Marshal gives [REDACTED]", func(t *testing.T) {
		b, err := xml.Marshal(struct {
			XMLName  xml.Name `xml:"c"`
			Password secrets.Secret
		}{Password: s})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "[REDACTED]") || strings.Contains(string(b), canary) {
			t.Errorf("got %s", b)
		}
	})
}

func TestSecretLogsRedacted(t *testing.T) {
	s := secrets.New(canary)
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	}
	for name, newHandler := range handlers {
		t.Run("the "+name+" handler records [REDACTED] as an attribute, in a group and in a struct", func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(newHandler(&buf))
			log.Info("connect", "password", s)
			log.Info("connect", slog.Group("db", slog.Any("password", s)))
			log.With("password", s).Info("with")
			log.Info("struct", "cfg", struct{ password secrets.Secret }{s})
			log.Info(fmt.Sprint("message ", s))
			if strings.Contains(buf.String(), canary) {
				t.Fatalf("log reveals the secret:\n%s", buf.String())
			}
			if got := strings.Count(buf.String(), "[REDACTED]"); got < 4 {
				t.Errorf("want [REDACTED] in each record, found %d:\n%s", got, buf.String())
			}
		})
	}
}

func TestSecretZeroValue(t *testing.T) {
	tests := []struct {
		name     string
		s        secrets.Secret
		wantZero bool
		want     string
	}{
		{"the zero Secret is zero and reveals nothing", secrets.Secret{}, true, ""},
		{"New of an empty string is not zero", secrets.New(""), false, ""},
		{"New of a value reveals that value", secrets.New("v"), false, "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.IsZero() != tt.wantZero || tt.s.Reveal() != tt.want {
				t.Errorf("IsZero() = %v, Reveal() = %q; want %v, %q", tt.s.IsZero(), tt.s.Reveal(), tt.wantZero, tt.want)
			}
		})
	}
}

func TestSecretPanicMessageIsRedacted(t *testing.T) {
	s := secrets.New(canary)
	for name, value := range map[string]any{
		"the secret itself":           s,
		"a message formatted with it": fmt.Sprintf("bad password %v", s),
		"an error wrapping it":        fmt.Errorf("auth failed for %s", s),
	} {
		t.Run("panicking with "+name+" hides the value", func(t *testing.T) {
			got := func() (msg string) {
				defer func() { msg = fmt.Sprint(recover()) }()
				panic(value)
			}()
			if strings.Contains(got, canary) || !strings.Contains(got, "[REDACTED]") {
				t.Errorf("recovered %q", got)
			}
		})
	}
}

package masking

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// canary is a secret that must never reach any output.
const canary = "CanarY7f3e9a1bPw"

// TestCanaryNeverLeaks sends the canary through every path the package
// masks, into both stdlib handlers, and through a Writer split at every
// byte.
func TestCanaryNeverLeaks(t *testing.T) {
	paths := []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("login with password=" + canary) }},
		{"attribute by key", func(l *slog.Logger) { l.Info("m", "password", canary) }},
		{"attribute by value", func(l *slog.Logger) { l.Info("m", "target", "postgres://u:"+canary+"@h/db") }},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("db", "secret", canary, "n", 1)) }},
		{"nested group", func(l *slog.Logger) {
			l.Info("m", slog.Group("a", slog.Group("b", "hdr", "Authorization: Bearer "+canary)))
		}},
		{"WithAttrs", func(l *slog.Logger) { l.With("api_key", canary).Info("m") }},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup("g").With("token", canary).Info("m", "dsn", canary) }},
		{"error", func(l *slog.Logger) { l.Error("m", "err", fmt.Errorf("retry: %w", errors.New("token="+canary))) }},
		{"Stringer", func(l *slog.Logger) { l.Info("m", "ep", endpoint{"ana", canary, "h"}) }},
		{"LogValuer", func(l *slog.Logger) { l.Info("m", "db", leakyValuer{"postgres://u:" + canary + "@h/db"}) }},
		{"redacting LogValuer", func(l *slog.Logger) { l.Info("m", "s", redactingSecret{canary}) }},
		{"map", func(l *slog.Logger) { l.Info("m", "req", map[string]any{"client_secret": canary}) }},
		{"struct", func(l *slog.Logger) { l.Info("m", "cfg", dbConfig{Host: "h", Password: canary}) }},
		{"bytes", func(l *slog.Logger) { l.Info("m", "body", []byte("cookie: sid="+canary)) }},
	}
	handlers := map[string]func(io.Writer) slog.Handler{
		"JSONHandler": func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
		"TextHandler": func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
	}
	for hname, newInner := range handlers {
		for _, p := range paths {
			t.Run(hname+" masks the canary in a "+p.name, func(t *testing.T) {
				var buf bytes.Buffer
				p.log(slog.New(NewHandler(newInner(&buf), nil)))
				if buf.Len() == 0 {
					t.Fatal("nothing was logged")
				}
				if strings.Contains(buf.String(), canary) {
					t.Errorf("canary leaked: %s", buf.String())
				}
			})
		}
	}

	t.Run("the Writer masks the canary however a line is split", func(t *testing.T) {
		line := "GET /cb?access_token=" + canary + " Authorization: Bearer " + canary + "\n"
		for cut := 0; cut <= len(line); cut++ {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Write([]byte(line[:cut]))
			w.Write([]byte(line[cut:]))
			if strings.Contains(buf.String(), canary) || buf.Len() == 0 {
				t.Fatalf("split at %d: %q", cut, buf.String())
			}
		}
	})
}

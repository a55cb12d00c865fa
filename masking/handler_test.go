package masking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/slogtest"
	"time"
)

// jsonLines parses the JSON Lines a JSONHandler wrote.
func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output is not JSON: %v: %q", err, line)
		}
		out = append(out, m)
	}
	return out
}

// logOne logs through NewHandler wrapping a JSONHandler and returns the
// parsed record and the raw line.
func logOne(t *testing.T, opts *Options, log func(*slog.Logger)) (map[string]any, string) {
	t.Helper()
	var buf bytes.Buffer
	log(slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), opts)))
	lines := jsonLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("got %d records, want 1: %s", len(lines), buf.String())
	}
	return lines[0], buf.String()
}

func TestHandlerConformsToSlogtest(t *testing.T) {
	t.Run("TestHandler accepts a masked JSONHandler", func(t *testing.T) {
		var buf bytes.Buffer
		h := NewHandler(slog.NewJSONHandler(&buf, nil), nil)
		if err := slogtest.TestHandler(h, func() []map[string]any { return jsonLines(t, &buf) }); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Run passes every case", func(t *testing.T) {
		var buf bytes.Buffer
		slogtest.Run(t, func(*testing.T) slog.Handler {
			buf.Reset()
			return NewHandler(slog.NewJSONHandler(&buf, nil), nil)
		}, func(t *testing.T) map[string]any {
			lines := jsonLines(t, &buf)
			if len(lines) != 1 {
				t.Fatalf("got %d records, want 1", len(lines))
			}
			return lines[0]
		})
	})
}

// redactingSecret stands in for secrets.Secret: it logs as "[REDACTED]".
type redactingSecret struct{ v string }

func (s redactingSecret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// leakyValuer resolves to text holding a secret.
type leakyValuer struct{ dsn string }

func (v leakyValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("dsn_url", v.dsn), slog.String("driver", "pgx"))
}

// endpoint is a fmt.Stringer whose text holds a secret.
type endpoint struct{ user, pw, host string }

func (e endpoint) String() string { return "https://" + e.user + ":" + e.pw + "@" + e.host }

// dbConfig is a struct logged with slog.Any.
type dbConfig struct {
	Host     string `json:"host"`
	User     string `json:"user"`
	Password string `json:"password"`
	Options  map[string]string
}

func TestHandlerMasks(t *testing.T) {
	const secret = "s3cr3t-Pw9"
	for _, tc := range []struct {
		name  string
		log   func(*slog.Logger)
		check func(t *testing.T, rec map[string]any)
	}{
		{"the message is masked in place",
			func(l *slog.Logger) { l.Info("dial postgres://app:" + secret + "@db:5432/x") },
			func(t *testing.T, rec map[string]any) {
				want(t, rec["msg"], "dial postgres://app:"+R+"@db:5432/x")
			}},
		{"a sensitive key replaces the whole value of any kind",
			func(l *slog.Logger) { l.Info("m", "password", secret, "pin_token", 1234, "apiKey", true) },
			func(t *testing.T, rec map[string]any) {
				want(t, rec["password"], R)
				want(t, rec["pin_token"], R)
				want(t, rec["apiKey"], R)
			}},
		{"string attributes are masked by value",
			func(l *slog.Logger) { l.Info("m", "header", "Authorization: Bearer "+secret) },
			func(t *testing.T, rec map[string]any) { want(t, rec["header"], "Authorization: Bearer "+R) }},
		{"nested groups are masked",
			func(l *slog.Logger) {
				l.Info("m", slog.Group("db", slog.Group("conn", "password", secret, "host", "db")))
			},
			func(t *testing.T, rec map[string]any) {
				conn := rec["db"].(map[string]any)["conn"].(map[string]any)
				want(t, conn["password"], R)
				want(t, conn["host"], "db")
			}},
		{"a group under a sensitive key is replaced whole",
			func(l *slog.Logger) { l.Info("m", slog.Group("credentials", "user", "ana", "pw", secret)) },
			func(t *testing.T, rec map[string]any) { want(t, rec["credentials"], R) }},
		{"a LogValuer is resolved, then masked",
			func(l *slog.Logger) { l.Info("m", "db", leakyValuer{"postgres://u:" + secret + "@h/db"}) },
			func(t *testing.T, rec map[string]any) {
				db := rec["db"].(map[string]any)
				want(t, db["dsn_url"], "postgres://u:"+R+"@h/db")
				want(t, db["driver"], "pgx")
			}},
		{"an error is logged as its masked text",
			func(l *slog.Logger) {
				err := fmt.Errorf("connect: %w", errors.New("auth failed for password="+secret))
				l.Error("m", "err", err)
			},
			func(t *testing.T, rec map[string]any) { want(t, rec["err"], "connect: auth failed for password="+R) }},
		{"a Stringer is logged as its masked text",
			func(l *slog.Logger) { l.Info("m", "endpoint", endpoint{"ana", secret, "api.example.com"}) },
			func(t *testing.T, rec map[string]any) {
				want(t, rec["endpoint"], "https://ana:"+R+"@api.example.com")
			}},
		{"a *url.URL is logged as its masked text",
			func(l *slog.Logger) {
				u, _ := url.Parse("https://ana:" + secret + "@api.example.com/v1")
				l.Info("m", "url", u)
			},
			func(t *testing.T, rec map[string]any) { want(t, rec["url"], "https://ana:"+R+"@api.example.com/v1") }},
		{"a map is masked by key and stays a JSON object",
			func(l *slog.Logger) {
				l.Info("m", "req", map[string]any{"user": "ana", "client_secret": secret, "n": 2})
			},
			func(t *testing.T, rec map[string]any) {
				req := rec["req"].(map[string]any)
				want(t, req["client_secret"], R)
				want(t, req["user"], "ana")
				want(t, req["n"], 2.0)
			}},
		{"a struct is masked by JSON field name and by value",
			func(l *slog.Logger) {
				l.Info("m", "cfg", dbConfig{"db", "app", secret, map[string]string{"dsn_note": "u:" + secret + "@tcp(h)/x"}})
			},
			func(t *testing.T, rec map[string]any) {
				cfg := rec["cfg"].(map[string]any)
				want(t, cfg["password"], R)
				want(t, cfg["host"], "db")
				want(t, cfg["Options"].(map[string]any)["dsn_note"], "u:"+R+"@tcp(h)/x")
			}},
		{"a pointer to a struct is masked",
			func(l *slog.Logger) { l.Info("m", "cfg", &dbConfig{Host: "db", Password: secret}) },
			func(t *testing.T, rec map[string]any) { want(t, rec["cfg"].(map[string]any)["password"], R) }},
		{"bytes are logged as masked text",
			func(l *slog.Logger) { l.Info("m", "body", []byte(`{"token":"`+secret+`"}`)) },
			func(t *testing.T, rec map[string]any) { want(t, rec["body"], `{"token":"`+R+`"}`) }},
		{"raw JSON is masked and stays JSON",
			func(l *slog.Logger) { l.Info("m", "body", json.RawMessage(`{"password":"`+secret+`"}`)) },
			func(t *testing.T, rec map[string]any) { want(t, rec["body"].(map[string]any)["password"], R) }},
		{"a value JSON cannot encode is masked as text",
			func(l *slog.Logger) {
				l.Info("m", "f", struct {
					C   chan int
					DSN string
				}{nil, "u:" + secret + "@tcp(h)/x"})
			},
			func(t *testing.T, rec map[string]any) {
				if s, _ := rec["f"].(string); !strings.Contains(s, R) {
					t.Errorf("f = %v, want masked text", rec["f"])
				}
			}},
		{"numbers, durations, times and plain values pass through",
			func(l *slog.Logger) {
				l.Info("m", "n", 3, "d", time.Second, "f", 1.5, "ok", true, "u", uint8(7),
					"t", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
			},
			func(t *testing.T, rec map[string]any) {
				want(t, rec["n"], 3.0)
				want(t, rec["d"], 1e9)
				want(t, rec["f"], 1.5)
				want(t, rec["ok"], true)
				want(t, rec["u"], 7.0)
				want(t, rec["t"], "2024-01-02T03:04:05Z")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, line := logOne(t, nil, tc.log)
			if strings.Contains(line, secret) {
				t.Errorf("secret in output: %s", line)
			}
			tc.check(t, rec)
		})
	}
}

func want(t *testing.T, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestHandlerKeepsRedactedValuesRedacted(t *testing.T) {
	for _, opts := range []*Options{nil, {Replacement: "***"}} {
		rec, line := logOne(t, opts, func(l *slog.Logger) {
			l.Info("m", "note", redactingSecret{"hunter2"}, slog.Group("g", "inner", redactingSecret{"hunter2"}))
		})
		if strings.Contains(line, "hunter2") {
			t.Fatalf("secret in output: %s", line)
		}
		want(t, rec["note"], "[REDACTED]")
		want(t, rec["g"].(map[string]any)["inner"], "[REDACTED]")
	}
}

func TestHandlerWithGroupUnderASensitiveNameHidesEverything(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), nil))
	l.WithGroup("session").With("user", "ana").Info("m", "id", "abc", slog.Group("", "n", 1))
	rec := jsonLines(t, &buf)[0]
	g := rec["session"].(map[string]any)
	want(t, g["user"], R)
	want(t, g["id"], R)
	want(t, g["n"], R)
}

// countingValuer counts its LogValue calls.
type countingValuer struct{ n *atomic.Int32 }

func (c countingValuer) LogValue() slog.Value {
	c.n.Add(1)
	return slog.StringValue("token=abc123")
}

func TestHandlerMasksWithAttrsOnce(t *testing.T) {
	var buf bytes.Buffer
	var calls atomic.Int32
	l := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), nil)).With("v", countingValuer{&calls})
	for range 3 {
		l.Info("m")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("LogValue called %d times, want once, when With was called", n)
	}
	for _, rec := range jsonLines(t, &buf) {
		want(t, rec["v"], "token="+R)
	}
}

func TestHandlerResolvesARecordLogValuerOnce(t *testing.T) {
	var buf bytes.Buffer
	var calls atomic.Int32
	slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), nil)).Info("m", "a", 1, "v", countingValuer{&calls}, "b", 2)
	if n := calls.Load(); n != 1 {
		t.Errorf("LogValue called %d times, want 1", n)
	}
	rec := jsonLines(t, &buf)[0]
	want(t, rec["v"], "token="+R)
	want(t, rec["a"], 1.0)
	want(t, rec["b"], 2.0)
}

// recorder keeps the records it is handed.
type recorder struct {
	slog.Handler
	got []slog.Record
}

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.got = append(r.got, rec)
	return nil
}

func TestHandlerPassesCleanRecordsThroughUntouched(t *testing.T) {
	rec := &recorder{Handler: slog.DiscardHandler}
	h := NewHandler(rec, nil)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request handled", 0)
	r.AddAttrs(slog.String("path", "/a"), slog.Int("status", 200))
	if n := testing.AllocsPerRun(50, func() { _ = h.Handle(context.Background(), r) }); n != 0 {
		t.Errorf("Handle allocated %v times for a record without secrets", n)
	}
	got := rec.got[0]
	if got.Message != r.Message || got.NumAttrs() != 2 {
		t.Errorf("record changed: %+v", got)
	}
}

func TestHandlerKeepsLevelAndEnabled(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}), nil))
	l.Info("dropped")
	l.Warn("kept", "password", "x")
	lines := jsonLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("got %d records, want 1", len(lines))
	}
	want(t, lines[0]["level"], "WARN")
	want(t, lines[0]["password"], R)
}

// TestHandlerIsSafeForConcurrentUse shares WithAttrs and WithGroup handlers
// between goroutines; run it with -race.
func TestHandlerIsSafeForConcurrentUse(t *testing.T) {
	var buf lockedBuffer
	base := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), nil))
	shared := base.With("dsn", "postgres://u:canary-pw@h/db", "svc", "api").WithGroup("req")
	const goroutines, perG = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := shared.With("worker", g)
			for i := range perG {
				l.Info("token=canary-tok", "i", i, "auth", "canary-auth", "url", "https://a:canary-url@h")
			}
		})
	}
	wg.Wait()
	out := buf.String()
	if strings.Contains(out, "canary") {
		t.Fatalf("secret in output")
	}
	if n := len(jsonLines(t, &buf.b)); n != goroutines*perG {
		t.Errorf("got %d records, want %d", n, goroutines*perG)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHandlerWithTextHandler(t *testing.T) {
	var buf bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	l := slog.New(NewHandler(slog.NewTextHandler(&buf, opts), nil))
	l.Info("login", "user", "ana", "password", "hunter2", "cfg", map[string]string{"token": "t0k"})
	got := buf.String()
	wantLine := `level=INFO msg=login user=ana password=` + R + ` cfg="{\"token\":\"` + R + `\"}"` + "\n"
	if got != wantLine {
		t.Errorf("got  %q\nwant %q", got, wantLine)
	}
}

func TestIsMaskingRecognizesOnlyMaskingHandlers(t *testing.T) {
	json := slog.NewJSONHandler(io.Discard, nil)
	if IsMasking(json) {
		t.Fatal("a JSONHandler is not a masking handler")
	}
	h := NewHandler(json, nil)
	if !IsMasking(h) || !IsMasking(h.WithAttrs([]slog.Attr{slog.String("a", "b")})) || !IsMasking(h.WithGroup("g")) {
		t.Fatal("masking handlers, derived ones included, must be recognized")
	}
}

//go:build unix

package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb/secrets"
)

// TestCanaryNeverLeaks drives every error path with secrets holding a canary
// value and checks the canary appears in no error text, fmt verb, log record,
// JSON encoding or panic message.
func TestCanaryNeverLeaks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		writeSecret(t, p, data, mode)
		return fileRef(p, "")
	}
	doc := `{"url":"http://app:` + canary + `@127.0.0.1:5984","username":"app","password":"` + canary + `","port":5984}`
	t.Setenv("LEAK_JSON", doc)
	t.Setenv("LEAK_PLAIN", canary)
	jsonFile := write("json", doc, 0o600)
	plainFile := write("plain", canary, 0o600)
	groupFile := write("group", canary, 0o620)
	bigFile := write("big", strings.Repeat(canary, secrets.MaxFileSize/len(canary)+1), 0o600)

	failing := &backend{value: canary}
	stale := secrets.Cache(failing, secrets.Options{TTL: time.Nanosecond})
	if _, err := stale.Resolve(ctx, "x://cached"); err != nil {
		t.Fatal(err)
	}
	failing.set("", fmt.Errorf("backend down: %w", secrets.ErrUnavailable))

	mux := secrets.Default()
	errs := map[string]func() error{
		"env: missing key":             func() error { _, err := mux.Resolve(ctx, "env://LEAK_JSON#token"); return err },
		"env: key on a non-JSON value": func() error { _, err := mux.Resolve(ctx, "env://LEAK_PLAIN#password"); return err },
		"env: non-string field":        func() error { _, err := mux.Resolve(ctx, "env://LEAK_JSON#port"); return err },
		"file: missing key":            func() error { _, err := mux.Resolve(ctx, jsonFile+"#token"); return err },
		"file: key on a non-JSON file": func() error { _, err := mux.Resolve(ctx, plainFile+"#password"); return err },
		"file: group-writable":         func() error { _, err := mux.Resolve(ctx, groupFile); return err },
		"file: too big":                func() error { _, err := mux.Resolve(ctx, bigFile); return err },
		"mux: unknown scheme":          func() error { _, err := mux.Resolve(ctx, "vault://x#password"); return err },
		"mux: the value given as a reference": func() error {
			_, err := mux.Resolve(ctx, canary)
			return err
		},
		"expand: missing key": func() error { _, err := secrets.Expand(ctx, mux, "env://LEAK_JSON#nope"); return err },
		"source: missing key": func() error {
			_, err := secrets.Source(mux, "env://LEAK_JSON#nope")(ctx, true)
			return err
		},
		"cache: expired with a failing backend": func() error { _, err := stale.Resolve(ctx, "x://cached"); return err },
	}
	for name, run := range errs {
		t.Run(name+" does not leak", func(t *testing.T) {
			err := run()
			if err == nil {
				t.Fatal("want an error")
			}
			assertNoLeak(t, err)
		})
	}

	t.Run("resolved secrets do not leak when printed or logged", func(t *testing.T) {
		for _, r := range []string{"env://LEAK_JSON#password", jsonFile + "#password", plainFile} {
			s, err := mux.Resolve(ctx, r)
			if err != nil || s.Reveal() != canary {
				t.Fatalf("Resolve(%q) = %v", r, err)
			}
			assertNoLeak(t, s)
		}
	})
}

// assertNoLeak renders v every way a program might and fails if the canary
// shows up.
func assertNoLeak(t *testing.T, v any) {
	t.Helper()
	var out []string
	for _, verb := range fmtVerbs {
		out = append(out, fmt.Sprintf(verb, v))
	}
	if err, ok := v.(error); ok {
		out = append(out, err.Error())
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
			out = append(out, u.Error(), fmt.Sprintf("%#v", u))
		}
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Error("failed", "err", v, slog.Any("value", v))
	}
	out = append(out, logs.String())
	if b, err := json.Marshal(map[string]any{"v": v}); err == nil {
		out = append(out, string(b))
	}
	out = append(out, func() (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		panic(v)
	}())
	for _, s := range out {
		if strings.Contains(s, canary) {
			t.Fatalf("canary leaked: %s", s)
		}
	}
}

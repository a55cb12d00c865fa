package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/securedb-go/securedb/secrets"
)

func ExampleSecret() {
	s := secrets.New("hunter2")
	b, _ := json.Marshal(map[string]any{"password": s})
	fmt.Println(s, fmt.Sprintf("%q %#v %x", s, s, s))
	fmt.Println(string(b))
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	logger.Info("connecting", "password", s)
	fmt.Println(len(s.Reveal()), "bytes revealed where needed")
	// Output:
	// [REDACTED] [REDACTED] [REDACTED] [REDACTED]
	// {"password":"[REDACTED]"}
	// level=INFO msg=connecting password=[REDACTED]
	// 7 bytes revealed where needed
}

func ExampleExpand() {
	ctx := context.Background()
	os.Setenv("EXAMPLE_DB", `{"url":"https://db.internal:6984","username":"app","password":"s3cr3t"}`)
	defer os.Unsetenv("EXAMPLE_DB")
	r := secrets.Default()

	for _, value := range []string{
		"env://EXAMPLE_DB#username", // a reference: resolved
		"plain-password",            // not a reference: returned as is
		"p@ss://word",               // no such scheme registered: returned as is
	} {
		s, err := secrets.Expand(ctx, r, value)
		fmt.Printf("%-26s -> %q %v\n", value, s.Reveal(), err)
	}
	_, err := secrets.Expand(ctx, r, "env://EXAMPLE_DB#token")
	fmt.Println(errors.Is(err, secrets.ErrNotFound), err)
	// Output:
	// env://EXAMPLE_DB#username  -> "app" <nil>
	// plain-password             -> "plain-password" <nil>
	// p@ss://word                -> "p@ss://word" <nil>
	// true secrets: "env://EXAMPLE_DB#token": secret not found: key "token": no such field in the JSON secret
}

func ExampleFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "db.json")
	_ = os.WriteFile(path, []byte(`{"password":"s3cr3t"}`+"\n"), 0o600)

	s, err := secrets.File().Resolve(context.Background(), "file://"+path+"#password")
	fmt.Println(s, len(s.Reveal()), err)

	_ = os.Chmod(path, 0o660)
	_, err = secrets.File().Resolve(context.Background(), "file://"+path+"#password")
	fmt.Println(errors.Is(err, secrets.ErrInsecure))
	// Output:
	// [REDACTED] 6 <nil>
	// true
}

func ExampleMux() {
	m := secrets.Default()
	_, err := m.Resolve(context.Background(), "vault://kv/db#password")
	fmt.Println(m.Schemes())
	fmt.Println(err)
	// Output:
	// [env file]
	// secrets: "vault://kv/db#password": invalid secret reference: unknown scheme "vault" (registered: env, file)
}

func ExampleCache() {
	r := secrets.Cache(secrets.Default(), secrets.Options{
		TTL:      5 * time.Minute,
		Jitter:   30 * time.Second,
		MaxStale: time.Hour,
	})
	os.Setenv("EXAMPLE_TOKEN", "v1")
	defer os.Unsetenv("EXAMPLE_TOKEN")
	ctx := context.Background()

	first, _ := r.Resolve(ctx, "env://EXAMPLE_TOKEN")
	os.Setenv("EXAMPLE_TOKEN", "v2") // rotated
	cached, _ := r.Resolve(ctx, "env://EXAMPLE_TOKEN")
	fresh, _ := r.Refresh(ctx, "env://EXAMPLE_TOKEN")
	fmt.Println(first.Reveal(), cached.Reveal(), fresh.Reveal())
	// Output: v1 v1 v2
}

func ExampleSource() {
	os.Setenv("EXAMPLE_PASSWORD", "v1")
	defer os.Unsetenv("EXAMPLE_PASSWORD")
	r := secrets.Cache(secrets.Default(), secrets.Options{TTL: time.Hour})

	// What a database provider's config takes as PasswordSource.
	password := secrets.Source(r, "env://EXAMPLE_PASSWORD")
	ctx := context.Background()

	p, _ := password(ctx, false)
	fmt.Println("login with", p)
	os.Setenv("EXAMPLE_PASSWORD", "v2") // rotated; the server now answers 401
	p, _ = password(ctx, false)
	fmt.Println("cached", p)
	p, _ = password(ctx, true) // after the 401: bypass the cache
	fmt.Println("retry with", p)
	// Output:
	// login with v1
	// cached v1
	// retry with v2
}

func ExampleParseRef() {
	r, err := secrets.ParseRef("awssm://arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf?version-stage=AWSPREVIOUS#password")
	fmt.Println(r.Scheme, r.Name, r.Query.Get("version-stage"), r.Key, err)
	// Output: awssm arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf AWSPREVIOUS password <nil>
}

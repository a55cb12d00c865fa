package masking_test

import (
	"fmt"
	"log"
	"log/slog"
	"os"
	"regexp"

	"github.com/securedb-go/securedb/masking"
)

// withoutTime drops the time so that the examples' output is stable.
func withoutTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func ExampleNewHandler() {
	inner := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: withoutTime})
	logger := slog.New(masking.NewHandler(inner, nil))

	logger.Info("connecting to postgres://app:s3cr3t@db.internal:5432/orders",
		"password", "hunter2",
		"header", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2ln",
		"body", map[string]any{"user": "ana", "api_key": "k-123"},
	)
	// Output:
	// {"level":"INFO","msg":"connecting to postgres://app:[REDACTED]@db.internal:5432/orders","password":"[REDACTED]","header":"Authorization: Bearer [REDACTED]","body":{"api_key":"[REDACTED]","user":"ana"}}
}

func ExampleMask() {
	fmt.Println(masking.Mask(`login ana password=hunter2 from 10.0.0.7`))
	fmt.Println(masking.Mask(`{"user":"ana","client_secret":"abc123"}`))
	fmt.Println(masking.Mask(`using key AKIAIOSFODNN7EXAMPLE`))
	fmt.Println(masking.Mask(`reset your password please`))
	// Output:
	// login ana password=[REDACTED] from 10.0.0.7
	// {"user":"ana","client_secret":"[REDACTED]"}
	// using key [REDACTED]
	// reset your password please
}

func ExampleNewWriter() {
	w := masking.NewWriter(os.Stdout)
	defer w.(*masking.Writer).Flush()

	logger := log.New(w, "", 0) // or log.SetOutput(w) for the standard logger
	logger.Printf("dsn=%s", "root:toor@tcp(127.0.0.1:3306)/app")
	// Output:
	// dsn=[REDACTED]
}

func ExampleNew() {
	m := masking.New(&masking.Options{
		Keys:              []string{"ssn"},
		Patterns:          []*regexp.Regexp{regexp.MustCompile(`pin (?P<secret>\d{4})`)},
		Replacement:       "***",
		DisableLongTokens: true,
	})
	fmt.Println(m.Mask("customer_ssn=123-45-6789 pin 1234 commit=3f786850e387550fdab836ed7e6dc881de23001b"))
	// Output:
	// customer_ssn=*** pin *** commit=3f786850e387550fdab836ed7e6dc881de23001b
}

// Command logging shows masking.NewHandler keeping credentials out of
// log/slog output: the same three log calls, first through a plain
// TextHandler, which leaks a database DSN, a bearer token and a JSON
// password, then through masking.NewHandler wrapping it.
//
//	go run ./examples/logging
//
// The credentials are made up for the demo.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/securedb-go/securedb/masking"
)

func main() {
	run(os.Stdout)
}

func run(w io.Writer) {
	// No time stamps, so the output is short and the same on every run.
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	plain := slog.NewTextHandler(w, opts)

	fmt.Fprintln(w, "without masking:")
	logSomeSecrets(slog.New(plain))

	fmt.Fprintln(w, "\nwith masking.NewHandler:")
	logSomeSecrets(slog.New(masking.NewHandler(plain, nil)))
}

// logSomeSecrets makes the log calls that leak in real services.
func logSomeSecrets(log *slog.Logger) {
	log.Info("connecting", "db", "postgres://orders:Xk9-pG2v@db.internal:5432/orders")
	log.Info("calling billing", "header", "Authorization: Bearer sk-live-4f9a1c77e2d34b0b")
	log.Info(`signup payload {"user":"ana","password":"hunter2"}`)
}

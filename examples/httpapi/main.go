// Command httpapi is a small JSON API over any securedb provider: the
// configuration comes from the environment (securedb.ConfigFromEnv; the
// in-memory provider when DATABASE_PROVIDER is unset), and every request
// goes through dbservice.Guard with the security guide's collections as the
// allowlist and the caller as the audit principal.
//
//	GET    /v1/{collection}/{id}      read; ETag is the revision
//	PUT    /v1/{collection}/{id}      write; If-Match: "rev" for optimistic
//	                                  concurrency, If-None-Match: * to create only
//	PATCH  /v1/{collection}/{id}      JSON merge patch (RFC 7396) as one atomic
//	                                  dbservice.Update; If-Match as for PUT
//	DELETE /v1/{collection}/{id}      delete; If-Match as for PUT
//	GET    /v1/{collection}?where=active:eq:true&where=runs:gte:3&limit=20&cursor=...
//	POST   /v1/{collection}:batchGet  {"ids": [...]} → {"docs": [...], "missing": [...]}
//	POST   /v1/{collection}:batchDelete  {"ids": [...]}; 204
//	POST   /v1/sessions               a session for the caller that expires
//	                                  after 30 minutes (dbservice.TTL)
//
// A condition that does not hold (a stale If-Match, If-None-Match: * on
// an existing document) is 412 Precondition Failed (RFC 9110); a request
// whose client went away is 499 and never a 500.
//
// Clients send Authorization: Bearer <token>. A token names its principal
// and is signed with HMAC-SHA256 under the key in API_TOKEN (at least 32
// bytes; a secret reference such as file:///run/secrets/api#key works
// too); mint one with
//
//	API_TOKEN=... go run ./examples/httpapi -mint alice
//
// Without API_TOKEN the server makes up a key for this run and prints a
// token for the principal "demo" once, to stdout, as a usage hint: that
// is for trying the demo only. The token never appears in logs.
//
// Errors are RFC 9457 problem details (application/problem+json) that
// never repeat the request. Bodies are limited to 256 KiB. Logs are JSON on
// stderr through masking.NewHandler: one record per request and Guard's
// audit record per database call. The server listens on 127.0.0.1:8080
// unless -addr says otherwise, with read, write and idle timeouts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/masking"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/validate"
)

// guideCollections are the collections of the security guide's examples;
// Guard refuses every other.
var guideCollections = validate.Allowlist{"agents", "deployments", "users", "sessions", "tickets", "demos"}

// servedIndexes are the indexes the API makes at start. The policy
// requires an index for every filter a client sends (Policy.RequireIndex),
// so a client can only filter on these fields, and no request can make the
// service read, and pay for, a whole collection.
var servedIndexes = map[string][][]string{
	"agents":      {{"active"}, {"owner.id"}, {"runs"}},
	"deployments": {{"agent"}},
	"tickets":     {{"status"}},
}

// ensureIndexes makes servedIndexes.
func ensureIndexes(ctx context.Context, db dbservice.Service) error {
	for coll, list := range servedIndexes {
		for _, fields := range list {
			if err := db.EnsureIndex(ctx, coll, fields...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Server timeouts: slow clients cannot hold connections open (Slowloris),
// and a stuck handler cannot hold a response forever.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
	maxHeaderBytes    = 16 << 10
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run serves until ctx is done and returns the exit status. The usage hint
// goes to stdout, logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("httpapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address; keep it on loopback unless a TLS proxy fronts it")
	mint := fs.String("mint", "", "print a bearer token for this principal (needs API_TOKEN) and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(masking.NewHandler(slog.NewJSONHandler(stderr, nil), nil))

	auth, generated, err := loadAuth(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "httpapi:", err)
		return 2
	}
	if *mint != "" {
		if generated {
			fmt.Fprintln(stderr, "httpapi: set API_TOKEN to the server's signing key to mint tokens")
			return 2
		}
		token, err := auth.mint(*mint)
		if err != nil {
			fmt.Fprintln(stderr, "httpapi:", err)
			return 2
		}
		fmt.Fprintln(stdout, token)
		return 0
	}

	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "httpapi:", err)
		return 2
	}
	cfg.Policy.Collections = guideCollections
	cfg.Policy.Audit = log
	cfg.Policy.RequireIndex = true
	db, err := securedb.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "httpapi:", err)
		return 2
	}
	defer db.Close()
	if err := ensureIndexes(ctx, db); err != nil {
		fmt.Fprintln(stderr, "httpapi:", err)
		return 2
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "httpapi:", err)
		return 2
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("listening beyond loopback without TLS; put a TLS-terminating proxy in front", "addr", ln.Addr().String())
	}
	srv := &http.Server{
		Handler:           newAPI(db, auth, log),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	printUsage(stdout, ln.Addr().String(), auth, generated)
	log.Info("serving", "addr", ln.Addr().String(), "provider", providerName(cfg))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("server stopped", "error", err.Error())
		return 1
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown", "error", err.Error())
		return 1
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		log.Error("server stopped", "error", err.Error())
		return 1
	}
	return 0
}

// loadAuth reads the signing key from API_TOKEN, resolving it when it is
// an env:// or file:// reference, or makes one up when it is unset.
func loadAuth(ctx context.Context) (auth *tokenAuth, generated bool, err error) {
	v := os.Getenv("API_TOKEN")
	if v == "" {
		auth, err := randomTokenAuth()
		return auth, true, err
	}
	key, err := secrets.Expand(ctx, secrets.Default(), v)
	if err != nil {
		return nil, false, fmt.Errorf("API_TOKEN: %w", err)
	}
	auth, err = newTokenAuth([]byte(key.Reveal()))
	return auth, false, err
}

// printUsage tells how to call the server. With a generated key it prints
// the demo token: once, to stdout, never to the logs.
func printUsage(w io.Writer, addr string, auth *tokenAuth, generated bool) {
	fmt.Fprintf(w, "listening on http://%s\n", addr)
	if !generated {
		fmt.Fprintln(w, "mint a client token with: go run ./examples/httpapi -mint NAME (same API_TOKEN)")
		return
	}
	token, _ := auth.mint("demo")
	fmt.Fprintln(w, "API_TOKEN is unset: this run signs tokens with a random key. Demo token (shown once, valid until exit):")
	fmt.Fprintln(w, "  "+token)
	fmt.Fprintf(w, "try: curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -X PUT -d '{\"name\":\"gofannon\"}' http://%s/v1/agents/a1\n", token, addr)
}

func providerName(cfg securedb.Config) string {
	if cfg.Provider == "" {
		return securedb.Memory
	}
	return cfg.Provider
}

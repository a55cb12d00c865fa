// Command kms serves local-kms, a KMS emulator that speaks the AWS KMS JSON
// protocol, on a loopback address only, for the integration tests of the
// AWS KMS key-encryption key.
//
// local-kms's own main listens on every interface; this launcher calls the
// handler it exports (src.HandleRequest) from an http.Server bound to the
// address given, which must be a loopback one.
//
//	kms -addr 127.0.0.1:PORT -data DIR -region us-east-1 -account 111122223333
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback host:port to listen on")
	dir := flag.String("data", "", "directory for the key database (required)")
	region := flag.String("region", "us-east-1", "AWS region the emulated keys report")
	account := flag.String("account", "111122223333", "AWS account ID the emulated keys report")
	flag.Parse()
	if err := run(*addr, *dir, *region, *account); err != nil {
		log.Fatalf("kms: %v", err)
	}
}

func run(addr, dir, region, account string) error {
	if dir == "" {
		return errors.New("-data is required")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	// Refuse anything but loopback: the emulator has no authentication and
	// its keys are test keys.
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q is not a loopback IP address", addr)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// local-kms reads these package variables when it builds ARNs.
	config.AWSRegion = region
	config.AWSAccountId = account
	config.DatabasePath = abs

	db := data.NewDatabase(abs)
	defer db.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			src.HandleRequest(w, r, db)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("kms: local-kms on %s (region %s, account %s)", ln.Addr(), region, account)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

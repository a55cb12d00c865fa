// Command monitoring shows securedb's metrics the way Prometheus sees
// them, with zero setup: it builds an OpenTelemetry meter provider with
// the Prometheus exporter, serves /metrics on a loopback port, opens the
// in-memory provider with that meter provider, runs a few operations (and
// some that securedb refuses), scrapes its own /metrics once, prints the
// security series and exits.
//
//	go run ./examples/monitoring            # print and exit
//	go run ./examples/monitoring -serve     # keep serving /metrics for a Prometheus to scrape
//
// alerts.yml beside this file holds Prometheus alerting rules on these
// series (bursts of refused input, authentication failures, scan budget
// hits, no successful operation, a secret served stale); alerts_test.yml
// holds the promtool unit tests `make test` runs on them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	serve := flag.Bool("serve", false, "keep serving /metrics until interrupted")
	addr := flag.String("addr", "127.0.0.1:0", "address to serve /metrics on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *addr, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "monitoring:", err)
		os.Exit(1)
	}
}

// securityPrefixes are the series run prints: what the alert rules use.
var securityPrefixes = []string{
	"securedb_security_events_total",
	"db_client_operation_duration_seconds_count",
	"securedb_secret_age_seconds",
}

func run(ctx context.Context, out io.Writer, addr string, serve bool) error {
	// A registry of its own: only what this program's meter provider
	// exports, none of the Go runtime collectors of the default one.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.WithoutCancel(ctx))

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	url := "http://" + l.Addr().String() + "/metrics"
	fmt.Fprintln(out, "serving", url)

	// A cursor key given as a reference, so the secret age gauge has a
	// secret to report on.
	if os.Getenv("MONITORING_CURSOR_KEY") == "" {
		if err := os.Setenv("MONITORING_CURSOR_KEY", "example-cursor-key-of-at-least-32-bytes"); err != nil {
			return err
		}
	}
	db, err := securedb.Open(ctx, securedb.Config{MeterProvider: mp, DisableAudit: true, CursorKey: "env://MONITORING_CURSOR_KEY"})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := workload(ctx, db); err != nil {
		return err
	}

	body, err := scrape(ctx, url)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "security series:")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		for _, p := range securityPrefixes {
			if strings.HasPrefix(line, p) {
				fmt.Fprintln(out, " ", line)
			}
		}
	}
	if !serve {
		return nil
	}
	fmt.Fprintln(out, "serving until interrupted")
	<-ctx.Done()
	return nil
}

// workload makes a few operations succeed and a few be refused, so each
// security series has a point.
func workload(ctx context.Context, db dbservice.Service) error {
	for i := range 5 {
		if _, err := db.Save(ctx, "agents", fmt.Sprintf("agent-%d", i), dbservice.Doc{"team": "blue", "n": i}); err != nil {
			return err
		}
	}
	if _, err := db.Get(ctx, "agents", "agent-1"); err != nil {
		return err
	}
	// Hostile input: refused before it reaches the database.
	for _, id := range []string{"../../etc/passwd", "x' OR '1'='1"} {
		if _, err := db.Get(ctx, "agents", id); !errors.Is(err, dbservice.ErrInvalid) {
			return fmt.Errorf("hostile ID not refused: %v", err)
		}
	}
	if _, err := db.Save(ctx, "agents", "agent-9", dbservice.Doc{"$where": "1"}); !errors.Is(err, dbservice.ErrInvalid) {
		return fmt.Errorf("operator key not refused: %v", err)
	}
	// A lost conditional write.
	if _, err := db.Save(ctx, "agents", "agent-1", dbservice.Doc{}, dbservice.IfAbsent()); !errors.Is(err, dbservice.ErrConflict) {
		return fmt.Errorf("IfAbsent on an existing document: %v", err)
	}
	// A filter that reads more than its budget allows.
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "red")}}
	if _, err := db.Query(dbservice.WithScanBudget(ctx, 2), "agents", q); err != nil {
		return err
	}
	return nil
}

func scrape(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}

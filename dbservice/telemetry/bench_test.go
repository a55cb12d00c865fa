package telemetry_test

import (
	"context"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/dbservice/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is a span exporter that drops what the batcher hands it, so the
// benchmark pays for making and batching spans, not for a network.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkGet times Get through securedb.Open on every server:
//
//   - OnVsOff: tracing (every span sampled, batched to a discarding
//     exporter) and metrics (a manual reader) on, against no provider
//     configured (goal ≤ 1.03x). "On" includes the SDK clients' own spans
//     (otelhttp for CouchDB, the AWS SDK's, otelgrpc for Firestore).
//   - OwnSpansVsOff: the same with securedb's span and metrics only, the
//     SDK client uninstrumented.
//   - NoProviderVsNone: the telemetry layer with no provider configured
//     against the same stack without the layer (goal ≤ 1.01x).
func BenchmarkGet(b *testing.B) {
	for _, p := range []struct {
		name     string
		settings func(testing.TB) driver.Settings
	}{
		{"memory", func(testing.TB) driver.Settings { return nil }},
		{"couchdb", func(t testing.TB) driver.Settings { return couchConfig(t) }},
		{"dynamodb", func(t testing.TB) driver.Settings { return dynamoConfig(t) }},
		{"firestore", func(t testing.TB) driver.Settings { return firestoreConfig(t) }},
	} {
		b.Run(p.name, func(b *testing.B) {
			settings := p.settings(b)
			ctx := context.Background()
			open := func(cfg securedb.Config) dbservice.Service {
				cfg.Settings, cfg.DisableAudit = settings, true
				svc, err := securedb.Open(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = svc.Close() })
				return svc
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() { _ = tp.Shutdown(ctx); _ = mp.Shutdown(ctx) })
			on := open(securedb.Config{TracerProvider: tp, MeterProvider: mp})
			off := open(securedb.Config{})
			// Open's own layer, then the telemetry layer: what is under
			// them is Guard on the provider.
			bare := off.(dbservice.Wrapper).Unwrap().(dbservice.Wrapper).Unwrap()
			coll := dbtest.Collection(b)
			// Each memory Open is a store of its own; the servers share one.
			for _, s := range []dbservice.Service{on, off} {
				if _, err := s.Save(ctx, coll, "bench", dbtest.BenchDoc(1)); err != nil {
					b.Fatal(err)
				}
			}
			get := func(s dbservice.Service) func() error {
				return func() error { _, err := s.Get(ctx, coll, "bench"); return err }
			}
			// securedb's own span and metrics only, the SDK client left
			// uninstrumented.
			own := telemetry.Wrap(bare, telemetry.Options{TracerProvider: tp, MeterProvider: mp})
			b.Run("OnVsOff", func(b *testing.B) { dbtest.Pair(b, get(off), get(on)) })
			b.Run("OwnSpansVsOff", func(b *testing.B) { dbtest.Pair(b, get(off), get(own)) })
			b.Run("NoProviderVsNone", func(b *testing.B) { dbtest.Pair(b, get(bare), get(off)) })
		})
	}
}

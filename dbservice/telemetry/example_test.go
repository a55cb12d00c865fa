package telemetry_test

import (
	"context"
	"fmt"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/dbservice/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Wrap a hand-composed service: the telemetry layer goes outside Guard,
// so refused input is counted too.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	svc := telemetry.Wrap(dbservice.Guard(memory.New(), dbservice.Policy{}), telemetry.Options{MeterProvider: mp})
	defer svc.Close()
	_, _ = svc.Save(ctx, "agents", "a1", dbservice.Doc{"name": "Ada"})
	_, _ = svc.Get(ctx, "agents", "../../etc/passwd") // refused by Guard

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == telemetry.MetricSecurityEvents {
				for _, dp := range sum.DataPoints {
					kind, _ := dp.Attributes.Value(telemetry.AttrSecurityEvent)
					reason, _ := dp.Attributes.Value(telemetry.AttrSecurityReason)
					fmt.Println(kind.AsString(), reason.AsString(), dp.Value)
				}
			}
		}
	}
	// Output:
	// refused_input id 1
}

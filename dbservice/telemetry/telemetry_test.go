package telemetry_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/couchdb"
	"github.com/securedb-go/securedb/dbservice/dynamodb"
	"github.com/securedb-go/securedb/dbservice/firestore"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/dbservice/telemetry"
	"github.com/securedb-go/securedb/internal/testenv"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// harness is an OpenTelemetry SDK with in-memory exporters.
type harness struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	h.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() {
		_ = h.tp.Shutdown(context.Background())
		_ = h.mp.Shutdown(context.Background())
	})
	return h
}

func (h *harness) options() telemetry.Options {
	return telemetry.Options{TracerProvider: h.tp, MeterProvider: h.mp}
}

func (h *harness) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

func metricNamed(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// events returns the security event counter as "kind/reason" → count.
func events(t *testing.T, rm metricdata.ResourceMetrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, ok := metricNamed(rm, telemetry.MetricSecurityEvents)
	if !ok {
		return out
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic {
		t.Fatalf("%s is %T, want a monotonic Sum[int64]", m.Name, m.Data)
	}
	for _, dp := range sum.DataPoints {
		k, _ := dp.Attributes.Value(telemetry.AttrSecurityEvent)
		r, _ := dp.Attributes.Value(telemetry.AttrSecurityReason)
		out[k.AsString()+"/"+r.AsString()] += dp.Value
	}
	return out
}

// noCanary fails when canary appears in any span name, attribute, event,
// status or link, or in any metric attribute.
func noCanary(t *testing.T, h *harness, rm metricdata.ResourceMetrics, canary string) {
	t.Helper()
	check := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			if strings.Contains(string(kv.Key), canary) || strings.Contains(kv.Value.String(), canary) {
				t.Errorf("canary in %s: %s=%s", where, kv.Key, kv.Value.String())
			}
		}
	}
	for _, s := range h.spans.Ended() {
		if strings.Contains(s.Name(), canary) || strings.Contains(s.Status().Description, canary) {
			t.Errorf("canary in span %q (status %q)", s.Name(), s.Status().Description)
		}
		check("span "+s.Name(), s.Attributes())
		for _, e := range s.Events() {
			if strings.Contains(e.Name, canary) {
				t.Errorf("canary in event name of span %s", s.Name())
			}
			check("event of span "+s.Name(), e.Attributes)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					check("metric "+m.Name, dp.Attributes.ToSlice())
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					check("metric "+m.Name, dp.Attributes.ToSlice())
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					check("metric "+m.Name, dp.Attributes.ToSlice())
				}
			}
		}
	}
}

func newCanary(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "canary" + hex.EncodeToString(b[:])
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// want is what one provider's spans carry.
type want struct {
	system    string
	namespace func(collection string) string
	// nested names a span the SDK underneath makes under securedb's span
	// of a Get ("" when none is expected).
	nested func(name string) bool
}

// op is one call exercise makes and what its span must say.
type op struct {
	name, coll string // span name parts
	errType    string
	status     string
}

// exercise runs every operation once (and the refusals, a conflict, a
// not-found and a scan budget hit) and checks spans, the duration
// histogram, the security counter and the canary.
func exercise(t *testing.T, h *harness, svc dbservice.Service, w want) {
	t.Helper()
	ctx := context.Background()
	canary := newCanary(t)
	coll := "tel" + strings.ToLower(newCanary(t)[6:14])

	var ops []op
	do := func(o op, err error, wantErr error) {
		t.Helper()
		if wantErr == nil && err != nil {
			t.Fatalf("%s %s: %v", o.name, o.coll, err)
		}
		if wantErr != nil && !errors.Is(err, wantErr) {
			t.Fatalf("%s %s: got %v, want %v", o.name, o.coll, err, wantErr)
		}
		ops = append(ops, o)
	}
	if err := svc.EnsureIndex(ctx, coll, "n"); err != nil {
		t.Fatalf("EnsureIndex: %v", err)
	}
	ops = append(ops, op{name: "ensure-index", coll: coll})
	_, err := svc.Save(ctx, coll, "a1", dbservice.Doc{"secret": canary, "n": 1.0})
	do(op{name: "save", coll: coll}, err, nil)
	_, err = svc.Get(ctx, coll, "a1")
	do(op{name: "get", coll: coll}, err, nil)
	_, err = svc.Save(ctx, coll, "a1", dbservice.Doc{"secret": canary}, dbservice.IfAbsent())
	do(op{name: "save", coll: coll, errType: "conflict", status: "409"}, err, dbservice.ErrConflict)
	page, err := svc.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("secret", dbservice.Eq, canary)}})
	do(op{name: "query", coll: coll}, err, nil)
	if len(page.Docs) != 1 {
		t.Fatalf("query returned %d documents, want 1", len(page.Docs))
	}
	bw, ok := svc.(dbservice.BulkWriter)
	if !ok {
		t.Fatal("the service is no BulkWriter")
	}
	items := []dbservice.BulkItem{{ID: "b1", Doc: dbservice.Doc{"n": 2.0}}, {ID: "b2", Doc: dbservice.Doc{"n": 3.0}}, {ID: "b3", Doc: dbservice.Doc{"n": 4.0}}}
	do(op{name: "save-many", coll: coll}, bw.SaveMany(ctx, coll, items), nil)
	// A budget of one read cannot cover four documents.
	budgetPage, err := svc.Query(dbservice.WithScanBudget(ctx, 1), coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("absent", dbservice.Exists, true)}})
	do(op{name: "query", coll: coll}, err, nil)
	if !budgetPage.Stats.BudgetReached {
		t.Fatalf("a query with a scan budget of 1 over 4 documents did not reach it: %+v", budgetPage.Stats)
	}
	do(op{name: "delete", coll: coll}, svc.Delete(ctx, coll, "a1"), nil)
	_, err = svc.Get(ctx, coll, "a1")
	do(op{name: "get", coll: coll, errType: "not_found", status: "404"}, err, dbservice.ErrNotFound)
	_, err = svc.Get(ctx, coll, "../"+canary)
	do(op{name: "get", coll: coll, errType: "invalid", status: "400"}, err, dbservice.ErrInvalid)
	_, err = svc.Save(ctx, "../"+canary, "a1", dbservice.Doc{"x": canary})
	do(op{name: "save", coll: "_invalid", errType: "invalid", status: "400"}, err, dbservice.ErrInvalid)
	_, err = svc.Save(ctx, coll, "a2", dbservice.Doc{"$where": canary})
	do(op{name: "save", coll: coll, errType: "invalid", status: "400"}, err, dbservice.ErrInvalid)
	do(op{name: "ping"}, svc.Ping(ctx), nil)

	// Spans: one per operation, in order, with the conventions' attributes.
	var ours []sdktrace.ReadOnlySpan
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range h.spans.Ended() {
		byID[s.SpanContext().SpanID()] = s
		if s.InstrumentationScope().Name == telemetry.ScopeName {
			ours = append(ours, s)
		}
	}
	if len(ours) != len(ops) {
		names := []string{}
		for _, s := range ours {
			names = append(names, s.Name())
		}
		t.Fatalf("got %d securedb spans %q, want %d", len(ours), names, len(ops))
	}
	for i, o := range ops {
		s := ours[i]
		wantName := o.name
		if o.coll != "" {
			wantName += " " + o.coll
		}
		if s.Name() != wantName {
			t.Errorf("span %d is %q, want %q", i, s.Name(), wantName)
		}
		if s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %q has kind %v, want client", s.Name(), s.SpanKind())
		}
		a := attrs(s)
		check := func(k attribute.Key, v string) {
			t.Helper()
			got, ok := a[k]
			if v == "" {
				if ok {
					t.Errorf("span %q has %s=%q, want none", s.Name(), k, got.String())
				}
				return
			}
			if got.String() != v {
				t.Errorf("span %q: %s=%q, want %q", s.Name(), k, got.String(), v)
			}
		}
		check(telemetry.AttrDBSystemName, w.system)
		check(telemetry.AttrOperation, o.name)
		check(telemetry.AttrCollection, o.coll)
		ns := ""
		if w.namespace != nil && o.coll != "" && o.coll != "_invalid" {
			ns = w.namespace(o.coll)
		}
		check(telemetry.AttrNamespace, ns)
		check(telemetry.AttrErrorType, o.errType)
		check(telemetry.AttrStatusCode, o.status)
		if o.errType != "" && s.Status().Code != codes.Error {
			t.Errorf("span %q: status %v, want Error", s.Name(), s.Status())
		}
		if o.name == "save-many" {
			check(telemetry.AttrBatchSize, "3")
		}
	}
	if got := attrs(ours[4])[telemetry.AttrReturnedRows]; got.AsInt64() != 1 {
		t.Errorf("query span: %s=%v, want 1", telemetry.AttrReturnedRows, got.String())
	}
	if got := attrs(ours[6])[telemetry.AttrBudgetReached]; !got.AsBool() {
		t.Errorf("budget query span: %s=%v, want true", telemetry.AttrBudgetReached, got.String())
	}

	// Spans of the SDK underneath nest under securedb's Get span.
	nested := map[string]bool{}
	for _, s := range h.spans.Ended() {
		if s.InstrumentationScope().Name == telemetry.ScopeName {
			continue
		}
		for p, ok := byID[s.Parent().SpanID()]; ok; p, ok = byID[p.Parent().SpanID()] {
			if p.InstrumentationScope().Name == telemetry.ScopeName {
				nested[s.InstrumentationScope().Name+": "+s.Name()] = true
				if !p.SpanContext().TraceID().IsValid() || p.SpanContext().TraceID() != s.SpanContext().TraceID() {
					t.Errorf("span %q nests under %q across traces", s.Name(), p.Name())
				}
				break
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range nested {
			if !yield(n) {
				return
			}
		}
	})
	t.Logf("SDK spans nested under securedb's: %q", names)
	if w.nested != nil && !slices.ContainsFunc(names, w.nested) {
		t.Errorf("no SDK span of the expected kind nests under securedb's spans; nested: %q", names)
	}

	// The histogram: one point per operation, in seconds, with the
	// conventions' buckets.
	rm := h.collect(t)
	m, ok := metricNamed(rm, telemetry.MetricOperationDuration)
	if !ok {
		t.Fatalf("no %s metric", telemetry.MetricOperationDuration)
	}
	if m.Unit != "s" {
		t.Errorf("%s unit %q, want s", m.Name, m.Unit)
	}
	hist, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T", m.Name, m.Data)
	}
	var total uint64
	perOp := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		if !slices.Equal(dp.Bounds, telemetry.DurationBuckets) {
			t.Errorf("bounds %v, want %v", dp.Bounds, telemetry.DurationBuckets)
		}
		sys, _ := dp.Attributes.Value(telemetry.AttrDBSystemName)
		if sys.AsString() != w.system {
			t.Errorf("histogram point with db.system.name %q, want %q", sys.AsString(), w.system)
		}
		o, _ := dp.Attributes.Value(telemetry.AttrOperation)
		e, _ := dp.Attributes.Value(telemetry.AttrErrorType)
		perOp[o.AsString()+"/"+e.AsString()] += dp.Count
		total += dp.Count
		if mn, ok := dp.Min.Value(); dp.Count > 0 && (!ok || mn < 0 || dp.Sum < 0) {
			t.Errorf("negative duration in %v", dp)
		}
	}
	if total != uint64(len(ops)) {
		t.Errorf("histogram counts %d operations, want %d (%v)", total, len(ops), perOp)
	}
	wantPerOp := map[string]uint64{}
	for _, o := range ops {
		wantPerOp[o.name+"/"+o.errType]++
	}
	for k, n := range wantPerOp {
		if perOp[k] != n {
			t.Errorf("histogram %s: %d points, want %d", k, perOp[k], n)
		}
	}

	ev := events(t, rm)
	for k, n := range map[string]int64{
		"refused_input/id": 1, "refused_input/collection": 1, "refused_input/document": 1,
		"conflict/write": 1, "scan_budget_reached/page": 1,
	} {
		if ev[k] != n {
			t.Errorf("security events %s = %d, want %d (all: %v)", k, ev[k], n, ev)
		}
	}
	if len(ev) != 5 {
		t.Errorf("security events %v, want exactly the five above", ev)
	}
	noCanary(t, h, rm, canary)
}

func TestMemory(t *testing.T) {
	h := newHarness(t)
	svc := telemetry.Wrap(dbservice.Guard(memory.New(), dbservice.Policy{}), h.options())
	defer svc.Close()
	exercise(t, h, svc, want{system: telemetry.SystemMemory})
}

// openWith opens the provider the settings are for through securedb.Open,
// with the harness's providers.
func openWith(t *testing.T, h *harness, settings any) dbservice.Service {
	t.Helper()
	cfg := securedb.Config{TracerProvider: h.tp, MeterProvider: h.mp, DisableAudit: true}
	switch s := settings.(type) {
	case couchdb.Config:
		cfg.Settings = s
	case dynamodb.Config:
		cfg.Settings = s
	case firestore.Config:
		cfg.Settings = s
	case nil:
	default:
		t.Fatalf("settings %T", settings)
	}
	svc, err := securedb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func TestOpenMemory(t *testing.T) {
	h := newHarness(t)
	exercise(t, h, openWith(t, h, nil), want{system: telemetry.SystemMemory})
}

func couchConfig(t testing.TB) couchdb.Config {
	t.Helper()
	testenv.Need(t, "couchdb", couchdb.EnvURL, couchdb.EnvUser, couchdb.EnvPassword)
	cc, err := couchdb.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cc.Prefix = testenv.RunPrefix
	return cc
}

func TestCouchDB(t *testing.T) {
	cc := couchConfig(t)
	h := newHarness(t)
	exercise(t, h, openWith(t, h, cc), want{
		system:    telemetry.SystemCouchDB,
		namespace: func(c string) string { return testenv.RunPrefix + c },
		// otelhttp names client spans by method: "HTTP GET".
		nested: func(n string) bool {
			return strings.HasPrefix(n, "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp: HTTP")
		},
	})
}

func dynamoConfig(t testing.TB) dynamodb.Config {
	t.Helper()
	testenv.Need(t, "dynamodb", dynamodb.EnvEndpointURL)
	dc, err := dynamodb.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	dc.TablePrefix = strings.ReplaceAll(testenv.RunPrefix, "_", "-")
	return dc
}

func TestDynamoDB(t *testing.T) {
	dc := dynamoConfig(t)
	h := newHarness(t)
	exercise(t, h, openWith(t, h, dc), want{
		system: telemetry.SystemDynamoDB,
		nested: func(n string) bool { return strings.Contains(n, "DynamoDB.GetItem") },
	})
}

func firestoreConfig(t testing.TB) firestore.Config {
	t.Helper()
	testenv.Need(t, "firestore", firestore.EnvEmulatorHost, firestore.EnvProjectID)
	fc, err := firestore.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	fc.CollectionPrefix = testenv.RunPrefix
	// With FIRESTORE_EMULATOR_HOST set the client library dials the
	// emulator itself and ignores the provider's dial options, gRPC
	// instrumentation included; with Config.EmulatorHost the provider
	// dials, as it does for Google Cloud.
	fc.EmulatorHost = os.Getenv(firestore.EnvEmulatorHost)
	t.Setenv(firestore.EnvEmulatorHost, "")
	return fc
}

func TestFirestore(t *testing.T) {
	fc := firestoreConfig(t)
	h := newHarness(t)
	project := fc.ProjectID
	exercise(t, h, openWith(t, h, fc), want{
		system:    telemetry.SystemFirestore,
		namespace: func(string) string { return "projects/" + project + "/databases/(default)" },
		nested:    func(n string) bool { return strings.Contains(n, "google.firestore.v1.Firestore/") },
	})
}

// The Firestore client library's own spans (one per library method) come
// from the global tracer provider only; set, they nest as well.
func TestFirestoreGlobalProvider(t *testing.T) {
	fc := firestoreConfig(t)
	h := newHarness(t)
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(h.tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	project := fc.ProjectID
	exercise(t, h, openWith(t, h, fc), want{
		system:    telemetry.SystemFirestore,
		namespace: func(string) string { return "projects/" + project + "/databases/(default)" },
		nested:    func(n string) bool { return strings.Contains(n, "cloud.google.com/go/firestore.DocumentRef.Get") },
	})
}

// A refused login and the forced re-read of the password it causes are
// counted, from the provider's own background login, and neither the
// password nor the user name becomes an attribute.
func TestCouchDBAuthFailureAndRefresh(t *testing.T) {
	cc := couchConfig(t)
	canary := newCanary(t)
	t.Setenv("H18B_WRONG_PASSWORD", "pw-"+canary)
	// A user of its own, so CouchDB's failed-login lockout of this user
	// cannot touch the admin the other tests use.
	cc.User = "nobody-" + canary[6:18]
	cc.Password = "env://H18B_WRONG_PASSWORD"
	h := newHarness(t)
	_, err := securedb.Open(context.Background(), securedb.Config{Settings: cc, TracerProvider: h.tp, MeterProvider: h.mp, DisableAudit: true})
	if !errors.Is(err, dbservice.ErrUnauthorized) {
		t.Fatalf("Open with a wrong password: %v, want ErrUnauthorized", err)
	}
	rm := h.collect(t)
	ev := events(t, rm)
	if ev["auth_failure/login"] != 1 || ev["credential_refresh/env"] != 1 {
		t.Errorf("events %v, want auth_failure/login=1 and credential_refresh/env=1", ev)
	}
	noCanary(t, h, rm, canary)
}

func TestInsecureTransportRefused(t *testing.T) {
	h := newHarness(t)
	_, err := securedb.Open(context.Background(), securedb.Config{
		Settings:      couchdb.Config{URL: "http://couch.example.com:5984", User: "app", Password: "x"},
		MeterProvider: h.mp,
	})
	if !errors.Is(err, dbservice.ErrInsecure) {
		t.Fatalf("Open: %v, want ErrInsecure", err)
	}
	if ev := events(t, h.collect(t)); ev["insecure_transport_refused/open"] != 1 || len(ev) != 1 {
		t.Errorf("events %v, want insecure_transport_refused/open=1 only", ev)
	}
}

func TestForbiddenAndRulesEvents(t *testing.T) {
	h := newHarness(t)
	tel := telemetry.New(h.options())
	svc := tel.Wrap(dbservice.Guard(memory.New(), dbservice.Policy{ReadOnly: []string{"frozen"}}))
	defer svc.Close()
	ctx := context.Background()
	if _, err := svc.Save(ctx, "frozen", "a1", dbservice.Doc{}); !errors.Is(err, dbservice.ErrForbidden) {
		t.Fatalf("Save to a read-only collection: %v", err)
	}
	// What the rules layer will do when a rule denies.
	dbservice.ReportSecurityEvent(tel.Context(ctx), dbservice.EventDeniedByRules, "default")
	// Without the hook in the context an event goes nowhere.
	dbservice.ReportSecurityEvent(ctx, dbservice.EventDeniedByRules, "default")
	ev := events(t, h.collect(t))
	if ev["forbidden/operation"] != 1 || ev["denied_by_rules/default"] != 1 || len(ev) != 2 {
		t.Errorf("events %v, want forbidden/operation=1 and denied_by_rules/default=1", ev)
	}
}

func TestRequireIndexRefusalClass(t *testing.T) {
	h := newHarness(t)
	svc := telemetry.Wrap(dbservice.Guard(memory.New(), dbservice.Policy{RequireIndex: true}), h.options())
	defer svc.Close()
	_, err := svc.Query(context.Background(), "agents", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "x")}})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("Query without an index: %v", err)
	}
	if ev := events(t, h.collect(t)); ev["refused_input/index_required"] != 1 {
		t.Errorf("events %v, want refused_input/index_required=1", ev)
	}
}

func TestSecretAgeGauge(t *testing.T) {
	h := newHarness(t)
	t.Setenv("H18B_CURSOR_KEY", strings.Repeat("k", 40))
	svc, err := securedb.Open(context.Background(), securedb.Config{CursorKey: "env://H18B_CURSOR_KEY", MeterProvider: h.mp, DisableAudit: true})
	if err != nil {
		t.Fatal(err)
	}
	rm := h.collect(t)
	m, ok := metricNamed(rm, telemetry.MetricSecretAge)
	if !ok {
		t.Fatalf("no %s metric", telemetry.MetricSecretAge)
	}
	g := m.Data.(metricdata.Gauge[float64])
	if len(g.DataPoints) != 1 {
		t.Fatalf("points %v, want one (scheme env)", g.DataPoints)
	}
	dp := g.DataPoints[0]
	if s, _ := dp.Attributes.Value(telemetry.AttrSecretScheme); s.AsString() != "env" || dp.Value < 0 || dp.Value > 60 {
		t.Errorf("point %v, want scheme env and an age of seconds", dp)
	}
	noCanary(t, h, rm, strings.Repeat("k", 40))
	noCanary(t, h, rm, "H18B_CURSOR_KEY")
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the service stops the gauge.
	if _, ok := metricNamed(h.collect(t), telemetry.MetricSecretAge); ok {
		m, _ := metricNamed(h.collect(t), telemetry.MetricSecretAge)
		if g := m.Data.(metricdata.Gauge[float64]); len(g.DataPoints) != 0 {
			t.Errorf("after Close the gauge still reports %v", g.DataPoints)
		}
	}
}

func TestMonitoringPosture(t *testing.T) {
	h := newHarness(t)
	status := func(cfg securedb.Config) dbservice.Finding {
		t.Helper()
		svc, err := securedb.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		for _, f := range dbservice.CheckPosture(context.Background(), svc) {
			if f.ID == dbservice.ItemMonitoring {
				return f
			}
		}
		t.Fatal("no monitoring finding")
		return dbservice.Finding{}
	}
	if f := status(securedb.Config{DisableAudit: true}); f.Status != dbservice.Warn || f.Fix == "" {
		t.Errorf("without a meter provider: %+v, want warn with a fix", f)
	}
	if f := status(securedb.Config{DisableAudit: true, MeterProvider: h.mp}); f.Status != dbservice.Pass {
		t.Errorf("with a meter provider: %+v, want pass", f)
	}
}

// With no provider configured anywhere, nothing is recorded and the
// service works as before.
func TestNoProviderRecordsNothing(t *testing.T) {
	tel := telemetry.New(telemetry.Options{})
	if tel.TracerConfigured() || tel.MeterConfigured() {
		t.Fatal("the global placeholders count as configured")
	}
	svc := tel.Wrap(dbservice.Guard(memory.New(), dbservice.Policy{}))
	defer svc.Close()
	ctx := context.Background()
	if _, err := svc.Save(ctx, "agents", "a1", dbservice.Doc{"n": 1.0}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, "agents", "a1"); err != nil {
		t.Fatal(err)
	}
	if trace.SpanFromContext(ctx).IsRecording() {
		t.Fatal("a span records")
	}
}

func ExampleWrap() {
	svc := telemetry.Wrap(memory.New(), telemetry.Options{})
	defer svc.Close()
	fmt.Println(svc.Ping(context.Background()))
	// Output: <nil>
}

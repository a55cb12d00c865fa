// Package telemetry traces and measures every call of a dbservice.Service
// with OpenTelemetry, by the database client semantic conventions, and
// counts security events (refused input, authentication failures, lost
// conditional writes, scan budget hits, ...) for alerts to fire on.
//
// It depends on the OpenTelemetry API only. The providers are the ones in
// Options, or the global ones (otel.SetTracerProvider,
// otel.SetMeterProvider) when those are nil; with neither set, every
// instrument is a no-op and a call costs a few nanoseconds more.
//
// securedb.Open puts this layer outermost, above dbservice.Guard, so that
// input Guard refuses shows up too. Composed by hand:
//
//	tel := telemetry.New(telemetry.Options{})
//	provider, err := couchdb.New(tel.Context(ctx), cfg) // its background logins report here
//	svc := tel.Wrap(dbservice.Guard(provider, policy))
//
// What becomes an attribute is fixed by this package: the provider's
// system name and namespace, the collection name once it passed the
// collection rule, the operation, the error kind and status, batch and
// page sizes. Document IDs, document contents, query values, cursors and
// credentials never do.
package telemetry

import (
	"context"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/securedb-go/securedb/dbservice/telemetry"

// Metric names.
const (
	// MetricOperationDuration is the semantic conventions' stable
	// histogram of client operation durations, in seconds.
	MetricOperationDuration = "db.client.operation.duration"
	// MetricSecurityEvents counts security events by
	// AttrSecurityEvent and AttrSecurityReason.
	MetricSecurityEvents = "securedb.security.events"
	// MetricSecretAge is the time since each cached secret was last
	// fetched from its source, in seconds (see RegisterSecretAge).
	MetricSecretAge = "securedb.secret.age"
)

// Attribute keys. The db.* and error.type keys are the semantic
// conventions' own; the securedb.* keys are this package's.
const (
	AttrDBSystemName   = attribute.Key("db.system.name")
	AttrCollection     = attribute.Key("db.collection.name")
	AttrOperation      = attribute.Key("db.operation.name")
	AttrNamespace      = attribute.Key("db.namespace")
	AttrStatusCode     = attribute.Key("db.response.status_code")
	AttrErrorType      = attribute.Key("error.type")
	AttrBatchSize      = attribute.Key("db.operation.batch.size")
	AttrReturnedRows   = attribute.Key("db.client.response.returned_rows")
	AttrSecurityEvent  = attribute.Key("securedb.security.event")
	AttrSecurityReason = attribute.Key("securedb.security.reason")
	AttrSecretScheme   = attribute.Key("securedb.secret.scheme")
	// AttrDocumentsRead is Page.Stats.Read of a query.
	AttrDocumentsRead = attribute.Key("securedb.query.documents_read")
	// AttrBudgetReached is Page.Stats.BudgetReached of a query.
	AttrBudgetReached = attribute.Key("securedb.query.budget_reached")
)

// System names for db.system.name. The conventions name CouchDB and
// DynamoDB; they have no value for Firestore or for an in-process store,
// so those two are this package's own.
const (
	SystemCouchDB   = "couchdb"
	SystemDynamoDB  = "aws.dynamodb"
	SystemFirestore = "gcp.firestore"
	SystemMemory    = "securedb.memory"
)

// DurationBuckets are the explicit bucket boundaries, in seconds, the
// semantic conventions advise for db.client.operation.duration.
var DurationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// Describer is implemented by a provider (or any layer) that can say what
// it is for the db.system.name and db.namespace attributes. Wrap finds it
// by walking down the dbservice.Wrapper chain.
type Describer interface {
	// DBSystemName returns the db.system.name value (SystemCouchDB, ...).
	DBSystemName() string
	// DBNamespace returns db.namespace for a collection (CouchDB: its
	// database; Firestore: projects/P/databases/D), or "" for none.
	DBNamespace(collection string) string
}

// Options says where telemetry goes. The zero Options uses the global
// providers.
type Options struct {
	// TracerProvider makes the spans; nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the duration histogram and the security event
	// counter; nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// Telemetry holds the instruments of one Options. Wrap makes one per
// Service; securedb.Open makes one and uses it for the provider's
// background work too (see Context).
type Telemetry struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	explicit bool // MeterProvider was given, not taken from the global
	// explicitTP: TracerProvider was given, not taken from the global.
	explicitTP bool
	tracer     trace.Tracer
	duration   metric.Float64Histogram
	events     metric.Int64Counter
	// system is db.system.name once Wrap found a Describer; a provider's
	// background work may record events while Open is still wrapping.
	system atomic.Pointer[string]
}

// New makes the tracer and instruments for o.
func New(o Options) *Telemetry {
	t := &Telemetry{tp: o.TracerProvider, mp: o.MeterProvider, explicit: o.MeterProvider != nil, explicitTP: o.TracerProvider != nil}
	if t.tp == nil {
		t.tp = otel.GetTracerProvider()
	}
	if t.mp == nil {
		t.mp = otel.GetMeterProvider()
	}
	t.tracer = t.tp.Tracer(ScopeName)
	meter := t.mp.Meter(ScopeName)
	var err error
	t.duration, err = meter.Float64Histogram(MetricOperationDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of database client operations."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	if err != nil {
		otel.Handle(err)
		t.duration = noop.Float64Histogram{}
	}
	t.events, err = meter.Int64Counter(MetricSecurityEvents,
		metric.WithUnit("{event}"),
		metric.WithDescription("Security events: refused input, denials, authentication failures, credential refreshes, conflicts, scan budget hits, insecure transport refused."))
	if err != nil {
		otel.Handle(err)
		t.events = noop.Int64Counter{}
	}
	return t
}

// TracerProvider returns the provider the spans come from, for the SDK
// clients underneath (so that their spans nest under securedb's).
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tp }

// MeterProvider returns the provider the instruments come from.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.mp }

// Context returns ctx with security events routed to t's counter. A
// provider opened with this context reports the events of its own
// background work (a CouchDB login refused) here.
func (t *Telemetry) Context(ctx context.Context) context.Context {
	return dbservice.WithSecurityEvents(ctx, t.record)
}

// Record counts one security event. Reason must be a short fixed class
// name, never input or a secret.
func (t *Telemetry) Record(ctx context.Context, kind, reason string) {
	t.record(ctx, dbservice.SecurityEvent{Kind: kind, Reason: reason})
}

func (t *Telemetry) record(ctx context.Context, e dbservice.SecurityEvent) {
	if !t.events.Enabled(ctx) {
		return
	}
	attrs := []attribute.KeyValue{AttrSecurityEvent.String(e.Kind), AttrSecurityReason.String(e.Reason)}
	if sys := t.system.Load(); sys != nil {
		attrs = append(attrs, AttrDBSystemName.String(*sys))
	}
	t.events.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// MeterConfigured reports whether measurements go anywhere: a
// MeterProvider was given in Options, or a global one was set, and it is
// not the API's no-op provider.
func (t *Telemetry) MeterConfigured() bool {
	mp := t.mp
	if !t.explicit {
		mp = otel.GetMeterProvider()
	}
	return realProvider(mp)
}

// realProvider tells a provider someone configured from the API's
// placeholders: its no-op one and the global one before
// otel.SetMeterProvider, which lives in an internal package of the API.
func realProvider(mp metric.MeterProvider) bool {
	switch mp.(type) {
	case nil, noop.MeterProvider, *noop.MeterProvider:
		return false
	}
	return !fromGlobalPackage(mp)
}

// fromGlobalPackage reports whether v is one of the API's global
// placeholders, which forward to nothing until a provider is set.
func fromGlobalPackage(v any) bool {
	ty := reflect.TypeOf(v)
	for ty.Kind() == reflect.Pointer {
		ty = ty.Elem()
	}
	return ty.PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

// Wrap returns next with a span, a duration measurement and security event
// counts for every call. The result implements dbservice.Wrapper,
// BulkWriter, Explainer (when next does) and PostureChecker (the
// monitoring item).
func Wrap(next dbservice.Service, o Options) dbservice.Service {
	return New(o).Wrap(next)
}

// Wrap is the package-level Wrap with t's instruments.
func (t *Telemetry) Wrap(next dbservice.Service) dbservice.Service {
	s := &service{next: next, t: t}
	s.system = "other"
	if d := findDescriber(next); d != nil {
		s.describer = d
		if name := d.DBSystemName(); name != "" {
			s.system = name
		}
	}
	t.system.Store(&s.system)
	return s
}

// findDescriber walks the Wrapper chain (bounded, like CheckPosture).
func findDescriber(svc dbservice.Service) Describer {
	for range 32 {
		if d, ok := svc.(Describer); ok {
			return d
		}
		w, ok := svc.(dbservice.Wrapper)
		if !ok {
			return nil
		}
		svc = w.Unwrap()
	}
	return nil
}

type service struct {
	next      dbservice.Service
	t         *Telemetry
	describer Describer
	system    string
}

// Unwrap implements dbservice.Wrapper.
func (s *service) Unwrap() dbservice.Service { return s.next }

// call is one operation in flight.
type call struct {
	s          *service
	op, coll   string
	span       trace.Span
	start      time.Time
	measure    bool
	batch      int
	returned   int
	read       int
	budgetHit  bool
	isQuery    bool
	collection string // attribute value: coll when it passes the rule
}

func (s *service) begin(ctx context.Context, op, coll string) (context.Context, *call) {
	c := &call{s: s, op: op, coll: coll}
	if coll != "" {
		// A refused name is hostile input: it never becomes an
		// attribute, let alone a span name.
		if validate.CollectionName(coll) == nil {
			c.collection = coll
		} else {
			c.collection = "_invalid"
		}
	}
	name := op
	if c.collection != "" {
		name += " " + c.collection
	}
	ctx, c.span = s.t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	c.measure = s.t.duration.Enabled(ctx)
	if c.measure || c.span.IsRecording() {
		c.start = time.Now()
	}
	if s.t.events.Enabled(ctx) {
		ctx = s.t.Context(ctx)
	}
	return ctx, c
}

func (c *call) end(ctx context.Context, err error) {
	s := c.s
	if e, ok := dbservice.ErrorEvent(err); ok {
		s.t.record(ctx, e)
	}
	if c.budgetHit && err == nil {
		s.t.record(ctx, dbservice.SecurityEvent{Kind: dbservice.EventScanBudget, Reason: "page"})
	}
	recording := c.span.IsRecording()
	if !recording && !c.measure {
		c.span.End()
		return
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs, AttrDBSystemName.String(s.system), AttrOperation.String(c.op))
	if c.collection != "" {
		attrs = append(attrs, AttrCollection.String(c.collection))
		if s.describer != nil && c.collection != "_invalid" {
			if ns := s.describer.DBNamespace(c.collection); ns != "" {
				attrs = append(attrs, AttrNamespace.String(ns))
			}
		}
	}
	if err != nil {
		attrs = append(attrs,
			AttrErrorType.String(dbservice.ErrorKind(err)),
			AttrStatusCode.String(strconv.Itoa(dbservice.HTTPStatus(err))))
	}
	if c.measure {
		c.s.t.duration.Record(ctx, time.Since(c.start).Seconds(), metric.WithAttributes(attrs...))
	}
	if recording {
		if c.batch > 0 {
			attrs = append(attrs, AttrBatchSize.Int(c.batch))
		}
		if c.isQuery && err == nil {
			attrs = append(attrs, AttrReturnedRows.Int(c.returned), AttrDocumentsRead.Int(c.read), AttrBudgetReached.Bool(c.budgetHit))
		}
		c.span.SetAttributes(attrs...)
		if err != nil {
			// The error's kind, not its text: the text may quote an
			// excerpt of refused input.
			c.span.SetStatus(codes.Error, dbservice.ErrorKind(err))
		}
	}
	c.span.End()
}

func (s *service) Get(ctx context.Context, collection, id string) (dbservice.Doc, error) {
	if !s.t.live() {
		return s.next.Get(ctx, collection, id)
	}
	ctx, c := s.begin(ctx, "get", collection)
	doc, err := s.next.Get(ctx, collection, id)
	c.end(ctx, err)
	return doc, err
}

func (s *service) Save(ctx context.Context, collection, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	if !s.t.live() {
		return s.next.Save(ctx, collection, id, doc, opts...)
	}
	ctx, c := s.begin(ctx, "save", collection)
	rev, err := s.next.Save(ctx, collection, id, doc, opts...)
	c.end(ctx, err)
	return rev, err
}

func (s *service) Delete(ctx context.Context, collection, id string, opts ...dbservice.WriteOption) error {
	if !s.t.live() {
		return s.next.Delete(ctx, collection, id, opts...)
	}
	ctx, c := s.begin(ctx, "delete", collection)
	err := s.next.Delete(ctx, collection, id, opts...)
	c.end(ctx, err)
	return err
}

func (s *service) Query(ctx context.Context, collection string, q dbservice.Query) (dbservice.Page, error) {
	if !s.t.live() {
		return s.next.Query(ctx, collection, q)
	}
	ctx, c := s.begin(ctx, "query", collection)
	page, err := s.next.Query(ctx, collection, q)
	c.isQuery = true
	c.returned, c.read, c.budgetHit = len(page.Docs), page.Stats.Read, page.Stats.BudgetReached
	c.end(ctx, err)
	return page, err
}

func (s *service) EnsureIndex(ctx context.Context, collection string, fields ...string) error {
	if !s.t.live() {
		return s.next.EnsureIndex(ctx, collection, fields...)
	}
	ctx, c := s.begin(ctx, "ensure-index", collection)
	err := s.next.EnsureIndex(ctx, collection, fields...)
	c.end(ctx, err)
	return err
}

func (s *service) Ping(ctx context.Context) error {
	if !s.t.live() {
		return s.next.Ping(ctx)
	}
	ctx, c := s.begin(ctx, "ping", "")
	err := s.next.Ping(ctx)
	c.end(ctx, err)
	return err
}

func (s *service) Close() error { return s.next.Close() }

// SaveMany implements dbservice.BulkWriter: next's bulk path when it has
// one, else one Save at a time.
func (s *service) SaveMany(ctx context.Context, collection string, items []dbservice.BulkItem) error {
	if !s.t.live() {
		return saveMany(ctx, s.next, collection, items)
	}
	ctx, c := s.begin(ctx, "save-many", collection)
	c.batch = len(items)
	err := saveMany(ctx, s.next, collection, items)
	c.end(ctx, err)
	return err
}

func saveMany(ctx context.Context, next dbservice.Service, collection string, items []dbservice.BulkItem) error {
	if bw, ok := next.(dbservice.BulkWriter); ok {
		return bw.SaveMany(ctx, collection, items)
	}
	for _, it := range items {
		if _, err := next.Save(ctx, collection, it.ID, it.Doc); err != nil {
			return err
		}
	}
	return nil
}

// Explain implements dbservice.Explainer for the layers underneath.
func (s *service) Explain(ctx context.Context, collection string, q dbservice.Query) (dbservice.Plan, error) {
	if ex, ok := s.next.(dbservice.Explainer); ok {
		return ex.Explain(ctx, collection, q)
	}
	return dbservice.Plan{}, nil
}

// CheckPosture implements dbservice.PostureChecker for the monitoring item
// of the security checklist.
func (s *service) CheckPosture(context.Context) []dbservice.Finding {
	f := dbservice.Finding{ID: dbservice.ItemMonitoring}
	if s.t.MeterConfigured() {
		f.Status = dbservice.Pass
		f.Detail = "an OpenTelemetry meter provider receives " + MetricOperationDuration + " and " + MetricSecurityEvents + " (refused input, authentication failures, conflicts, scan budget hits, ...); alerts on them are the operator's (examples/monitoring has Prometheus rules)"
		return []dbservice.Finding{f}
	}
	f.Status = dbservice.Warn
	f.Detail = "no OpenTelemetry meter provider is configured, so the security event counters and operation durations go nowhere"
	f.Fix = "set securedb.Config.MeterProvider (or otel.SetMeterProvider before Open), export to Prometheus or an OTLP collector, and deploy alert rules such as examples/monitoring/alerts.yml"
	return []dbservice.Finding{f}
}

// SecretAges is implemented by secrets.CachedResolver: when each cached
// secret was last fetched from its source.
type SecretAges interface {
	Fetched() []secrets.Fetch
}

// ObserveSecrets registers the securedb.secret.age gauge over the secrets
// c holds: per reference scheme (env, file, awssm, gcpsm), the seconds
// since the oldest of them was fetched from its source. A value that keeps
// growing past the cache's TTL means the secret is served stale because
// its source fails. Only the scheme is an attribute, never the reference
// or the value. Call the returned function to stop observing.
func (t *Telemetry) ObserveSecrets(c SecretAges) (stop func() error) {
	meter := t.mp.Meter(ScopeName)
	gauge, err := meter.Float64ObservableGauge(MetricSecretAge,
		metric.WithUnit("s"),
		metric.WithDescription("Seconds since the oldest cached secret of each scheme was fetched from its source."))
	if err != nil {
		otel.Handle(err)
		return func() error { return nil }
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		oldest := map[string]time.Time{}
		for _, f := range c.Fetched() {
			if at, ok := oldest[f.Scheme]; !ok || f.At.Before(at) {
				oldest[f.Scheme] = f.At
			}
		}
		now := time.Now()
		for scheme, at := range oldest {
			o.ObserveFloat64(gauge, now.Sub(at).Seconds(), metric.WithAttributes(AttrSecretScheme.String(scheme)))
		}
		return nil
	}, gauge)
	if err != nil {
		otel.Handle(err)
		return func() error { return nil }
	}
	return reg.Unregister
}

// TracerConfigured reports whether spans go anywhere: a TracerProvider was
// given in Options, or a global one was set, and it is not the API's no-op
// provider.
func (t *Telemetry) TracerConfigured() bool {
	tp := t.tp
	if !t.explicitTP {
		tp = otel.GetTracerProvider()
	}
	switch tp.(type) {
	case nil, tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return false
	}
	return !fromGlobalPackage(tp)
}

// live reports whether a call is worth instrumenting at all. It is asked
// per call, because a global provider set after Wrap takes over the
// instruments made from the placeholder before it.
func (t *Telemetry) live() bool { return t.TracerConfigured() || t.MeterConfigured() }

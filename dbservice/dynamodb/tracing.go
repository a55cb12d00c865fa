package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/smithy-go/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The AWS SDK traces through smithy-go's tracing interfaces. Its own
// OpenTelemetry adapter (smithyoteltracing) is a module the Go proxy here
// does not serve, so this is the small part of it the provider needs: SDK
// spans become OpenTelemetry spans under the caller's, so a DynamoDB call's
// attempts, signing and HTTP round trips nest under securedb's span.

type otelTracerProvider struct{ tp trace.TracerProvider }

func (p otelTracerProvider) Tracer(scope string, _ ...tracing.TracerOption) tracing.Tracer {
	return otelTracer{p.tp.Tracer(scope)}
}

type otelTracer struct{ t trace.Tracer }

func (t otelTracer) StartSpan(ctx context.Context, name string, opts ...tracing.SpanOption) (context.Context, tracing.Span) {
	var o tracing.SpanOptions
	for _, fn := range opts {
		fn(&o)
	}
	kind := trace.SpanKindInternal
	switch o.Kind {
	case tracing.SpanKindClient:
		kind = trace.SpanKindClient
	case tracing.SpanKindServer:
		kind = trace.SpanKindServer
	case tracing.SpanKindProducer:
		kind = trace.SpanKindProducer
	case tracing.SpanKindConsumer:
		kind = trace.SpanKindConsumer
	}
	ctx, span := t.t.Start(ctx, name, trace.WithSpanKind(kind))
	s := otelSpan{name: name, span: span}
	for k, v := range o.Properties.Values() {
		s.SetProperty(k, v)
	}
	return tracing.WithSpan(ctx, s), s
}

type otelSpan struct {
	name string
	span trace.Span
}

func (s otelSpan) Name() string { return s.name }

func (s otelSpan) Context() tracing.SpanContext {
	sc := s.span.SpanContext()
	return tracing.SpanContext{TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(), IsRemote: sc.IsRemote()}
}

func (s otelSpan) AddEvent(name string, _ ...tracing.EventOption) { s.span.AddEvent(name) }

func (s otelSpan) SetStatus(st tracing.SpanStatus) {
	switch st {
	case tracing.SpanStatusOK:
		s.span.SetStatus(codes.Ok, "")
	case tracing.SpanStatusError:
		s.span.SetStatus(codes.Error, "")
	}
}

// SetProperty keeps the SDK's span properties (rpc.method, aws.region,
// the table name, ...) of plain types; the SDK sets no payload.
func (s otelSpan) SetProperty(k, v any) {
	key, ok := k.(string)
	if !ok {
		key = fmt.Sprint(k)
	}
	switch v := v.(type) {
	case string:
		s.span.SetAttributes(attribute.String(key, v))
	case bool:
		s.span.SetAttributes(attribute.Bool(key, v))
	case int:
		s.span.SetAttributes(attribute.Int(key, v))
	case int64:
		s.span.SetAttributes(attribute.Int64(key, v))
	case float64:
		s.span.SetAttributes(attribute.Float64(key, v))
	case []string:
		s.span.SetAttributes(attribute.StringSlice(key, v))
	}
}

func (s otelSpan) End() { s.span.End() }

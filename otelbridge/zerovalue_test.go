package otelbridge

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestZeroSpanExporter: every method of the zero SpanExporter returns
// (InvalidUTF8 dereferenced its nil encoder).
func TestZeroSpanExporter(t *testing.T) {
	var x SpanExporter
	if x.InvalidUTF8() != 0 {
		t.Error("InvalidUTF8 of the zero SpanExporter")
	}
	if err := x.ExportSpans(context.Background(), nil); err != nil {
		t.Error(err)
	}
	if err := x.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestNilProviderAndExporter: a nil *TracerProvider and a nil
// *SpanExporter, fields left unset, never panic (Tracer, Stats,
// ExportSpans and Shutdown dereferenced them): the provider's spans
// record nothing and keep their parent's span context, the exporter
// refuses a batch with ErrNoExporter, which the SDK reports.
func TestNilProviderAndExporter(t *testing.T) {
	var p *TracerProvider
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	ctx, span := p.Tracer("t").Start(trace.ContextWithSpanContext(context.Background(), parent), "s")
	if span.IsRecording() || trace.SpanContextFromContext(ctx).TraceID() != parent.TraceID() {
		t.Errorf("nil provider's span: recording %v, context %v", span.IsRecording(), trace.SpanContextFromContext(ctx))
	}
	span.End()
	if p.Stats() != (Stats{}) {
		t.Error("nil provider's Stats")
	}
	var x *SpanExporter
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, s := sdk.Tracer("t").Start(context.Background(), "s")
	s.End()
	if err := x.ExportSpans(context.Background(), rec.Ended()); !errors.Is(err, ErrNoExporter) {
		t.Errorf("nil exporter's ExportSpans: %v", err)
	}
	if x.InvalidUTF8() != 0 || x.Shutdown(context.Background()) != nil {
		t.Error("nil exporter")
	}
}

// TestZeroTracerProvider: the zero TracerProvider (a struct field of its
// value type, new(TracerProvider)) panicked at Start, its tracer holding
// no provider. It is now a provider with no engine, as
// NewTracerProvider(nil): its spans record nothing and carry their
// parent's span context, every call on them returns, and it has nothing
// to count, flush or shut down.
func TestZeroTracerProvider(t *testing.T) {
	var p TracerProvider
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	ctx, span := p.Tracer("t").Start(trace.ContextWithSpanContext(context.Background(), parent), "s",
		trace.WithLinks(testLink()))
	if span.IsRecording() || !span.SpanContext().Equal(parent) {
		t.Errorf("zero provider's span: recording %v, span context %v", span.IsRecording(), span.SpanContext())
	}
	_, child := span.TracerProvider().Tracer("t").Start(ctx, "child")
	if child.IsRecording() || !child.SpanContext().Equal(parent) {
		t.Errorf("child: recording %v, span context %v", child.IsRecording(), child.SpanContext())
	}
	for _, s := range []trace.Span{child, span} {
		s.SetName("n")
		s.SetAttributes(attribute.Int("k", 1))
		s.AddEvent("e")
		s.RecordError(errors.New("boom"))
		s.SetStatus(codes.Error, "failed")
		s.AddLink(testLink())
		s.End()
	}
	if p.Stats() != (Stats{}) {
		t.Errorf("zero provider's Stats %+v", p.Stats())
	}
	if p.ForceFlush(context.Background()) != nil || p.Shutdown(context.Background()) != nil {
		t.Error("the zero provider has nothing to flush or shut down: nil")
	}
}

package otelbridge

import (
	"context"
	"errors"
	"testing"

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

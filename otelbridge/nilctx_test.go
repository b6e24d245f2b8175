package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestNilContext starts spans and puts handles in a nil context, as
// OpenTelemetry's SDK tracer accepts one (it takes context.Background()):
// the bridge panicked (trace.ContextWithSpan on a nil parent).
func TestNilContext(t *testing.T) {
	e, sink := newTestEngine(t)
	var nilCtx context.Context
	ctx, s := NewTracerProvider(e).Tracer("t").Start(nilCtx, "flow")
	if !s.IsRecording() || ctx == nil {
		t.Fatalf("Start(nil): recording %v", s.IsRecording())
	}
	s.End()
	_, s = NewTracerProvider(nil).Tracer("t").Start(nilCtx, "flow")
	s.End()
	run := e.StartRun(engine.RunInfo{})
	if r, ok := RunFromContext(ContextWithRun(nilCtx, run)); !ok || r != run {
		t.Fatal("ContextWithRun(nil) lost the run")
	}
	n := run.StartNode("a:1", "a", "a")
	if got, ok := NodeFromContext(ContextWithNode(nilCtx, n)); !ok || got != n {
		t.Fatal("ContextWithNode(nil) lost the node")
	}
	n.End()
	run.End(0, "")
	flush(t, e)
	if len(sink.Runs()) != 2 {
		t.Fatalf("%d runs", len(sink.Runs()))
	}
}

// TestSpanExporterNilContext calls ExportSpans and Shutdown with a nil
// context: the batch is sent and the exporter flushed, as with
// context.Background(). ExportSpans panicked (ctx.Err on a nil context).
func TestSpanExporterNilContext(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: rc.Addr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	sx := NewSpanExporter(exp)
	var nilCtx context.Context
	if err := sx.ExportSpans(nilCtx, tracetest.SpanStubs{{Name: "s"}}.Snapshots()); err != nil {
		t.Fatalf("ExportSpans(nil): %v", err)
	}
	if err := sx.Shutdown(nilCtx); err != nil {
		t.Fatalf("Shutdown(nil): %v", err)
	}
	if got := len(receivedSpans(rc)); got != 1 {
		t.Fatalf("%d spans received", got)
	}
}

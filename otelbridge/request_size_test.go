package otelbridge

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestSpanExporterFitsReceiver: one ExportSpans call of 64 spans with a 128 KiB
// attribute each (8 MiB) reaches a real gRPC server with its default 4 MiB
// limit: the exporter splits it, every span arrives, none is dropped.
func TestSpanExporterFitsReceiver(t *testing.T) {
	r := otlptest.StartKeeping(t, otlptest.GRPC)
	exp, err := export.New(export.Config{Endpoint: r.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	const spans = 64
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	long := strings.Repeat("x", 128<<10)
	for range spans {
		_, s := tp.Tracer("t").Start(context.Background(), "big")
		s.SetAttributes(attribute.String("payload", long))
		s.End()
	}
	// One ExportSpans call with every span: one 8 MiB batch.
	if err := NewSpanExporter(exp).ExportSpans(context.Background(), mem.GetSpans().Snapshots()); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := exp.Stats().Signals[export.Traces]
	if st.Exported != spans || st.Dropped != 0 || r.Items()[otlptest.Traces] != spans || len(r.Traces()) < 2 {
		t.Errorf("%+v; receiver got %d spans in %d requests: want %d, split", st, r.Items()[otlptest.Traces], len(r.Traces()), spans)
	}
	for _, req := range r.Traces() {
		if n := proto.Size(req); n > export.DefaultMaxRequestBytes {
			t.Errorf("a request of %d bytes", n)
		}
	}
}

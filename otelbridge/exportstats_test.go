package otelbridge

import (
	"context"
	"errors"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestSpanExporterRefusalsCounted: the batches ExportSpans refuses before
// the exporter sees them (after Shutdown, holding a nil span, with no
// export.Exporter) returned an error to the SDK, which its batch
// processor hands to the global error handler and forgets: their spans
// were counted nowhere. Each reason now counts the spans it refused in
// SpanExporter.Stats; what reached the exporter counts in its own Stats,
// as before. SDK spans, a real exporter and a loopback receiver.
func TestSpanExporterRefusalsCounted(t *testing.T) {
	spans := recordSDKSpans(t)
	rc, addr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	ctx := context.Background()
	sx := NewSpanExporter(exp)
	if err := sx.ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	withNil := append([]sdktrace.ReadOnlySpan{nil}, spans[:2]...)
	if err := sx.ExportSpans(ctx, withNil); err == nil {
		t.Fatal("a batch with a nil span was accepted")
	}
	if err := sx.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sx.ExportSpans(ctx, spans[:3]); !errors.Is(err, engine.ErrShutdown) {
		t.Fatalf("after Shutdown: %v", err)
	}
	none := NewSpanExporter(nil)
	if err := none.ExportSpans(ctx, spans[:1]); !errors.Is(err, ErrNoExporter) {
		t.Fatalf("no exporter: %v", err)
	}
	want := ExportStats{Refused: [numRefusals]uint64{RefusedShutdown: 3, RefusedNilSpan: 3}}
	if got := sx.Stats(); got != want {
		t.Errorf("Stats %+v, want %+v", got, want)
	}
	if got := none.Stats(); got.Refused[RefusedNoExporter] != 1 || got.Total() != 1 {
		t.Errorf("no exporter: Stats %+v, want 1 span refused for it", got)
	}
	if got := (*SpanExporter)(nil).Stats(); got.Total() != 0 {
		t.Errorf("nil SpanExporter Stats %+v", got)
	}
	if err := exp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(bySpanID(rc)); got != len(spans) {
		t.Errorf("receiver has %d spans, want the first batch's %d", got, len(spans))
	}
	// Every span given is exported or counted: 2 batches' worth.
	if st := exp.Stats().Signals[export.Traces]; st.Exported+sx.Stats().Total() != uint64(len(spans)+2+1+3) {
		t.Errorf("exported %d + refused %d, want %d spans given (the nil one counted with its batch)",
			st.Exported, sx.Stats().Total(), len(spans)+2+1+3)
	}
}

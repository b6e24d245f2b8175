package otelbridge

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/race"
)

// TestSpanExporterStringFormCut: for random slice and map values, nested,
// with escapes, what SpanExporter writes of a value is its whole string
// form cut to the budget at a rune's start: clipping the value before
// formatting it changes no byte kept.
func TestSpanExporterStringFormCut(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 23))
	for _, budget := range []int{1, 2, 5, 17, 64, 300, 4096, 1 << 20} {
		for range 300 {
			v := randValue(rng, 3)
			if got, want := stringForm(v, budget), clipString(v.String(), budget); got != want {
				t.Fatalf("budget %d: wrote %q, want %q", budget, got, want)
			}
		}
	}
}

// recordSpans ends one span per attribute set on a real SDK
// TracerProvider made with opts and returns them.
func recordSpans(t *testing.T, attrs [][]attribute.KeyValue, opts ...sdktrace.TracerProviderOption) []sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithSpanProcessor(rec))...)
	for _, kvs := range attrs {
		_, s := tp.Tracer("t").Start(context.Background(), "span", trace.WithAttributes(kvs...))
		s.End()
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rec.Ended()
}

// TestSpanExporterSliceValueMemoryBounded exports, through a real SDK
// TracerProvider, a span holding a 16 MiB string slice of control
// characters in a slice and in a map (SDK's default limits cut no
// length), beside a small span. Its string form, escaped six bytes a
// byte, was built whole: about 33 bytes allocated for each byte of the
// value. Cut to the exporter's MaxRequestBytes, what ExportSpans
// allocates stays under the value's own size; the big span, too large to
// send, is dropped and counted, the small one delivered whole.
func TestSpanExporterSliceValueMemoryBounded(t *testing.T) {
	ss := make([]string, 16)
	for i := range ss {
		ss[i] = strings.Repeat("\x01", 1<<20)
	}
	small := attribute.Map("small", attribute.String("k", "\x01é"), attribute.Int64Slice("n", []int64{1, 2}))
	spans := recordSpans(t, [][]attribute.KeyValue{
		{attribute.Slice("big", attribute.StringSliceValue(ss)),
			attribute.Map("map", attribute.KeyValue{Key: attribute.Key(ss[0]), Value: attribute.StringSliceValue(ss)})},
		{small},
	})
	rc, addr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true, MaxRequestBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	x := NewSpanExporter(exp)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = x.ExportSpans(ctx, spans[:1])
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrSpansDropped) {
		t.Fatalf("ExportSpans returned %v, want ErrSpansDropped", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 { // 2 values, each cut to 64 KiB before it is escaped
		t.Errorf("ExportSpans allocated %d MiB for two values of 16 MiB", got>>20)
	}
	if err := x.ExportSpans(ctx, spans[1:]); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := exp.Stats().Signals[export.Traces]
	if st.Exported != 1 || st.DroppedBy[export.DropTooLarge] != 1 {
		t.Errorf("exported %d, dropped too large %d: want 1 and 1", st.Exported, st.DroppedBy[export.DropTooLarge])
	}
	got := bySpanID(rc)
	if len(got) != 1 {
		t.Fatalf("received %d spans, want 1", len(got))
	}
	for _, p := range got {
		if a := p.span.Attributes; len(a) != 1 || a[0].Value.GetStringValue() != small.Value.String() {
			t.Errorf("small span's attributes %v, want %q", a, small.Value.String())
		}
	}
}

// TestSpanExporterDeepValueNoStackOverflow exports values nested 100,000
// levels deep, a span's (from a TracerProvider whose
// AttributeValueDepthLimit is off) and a resource's (which that limit
// never cuts), with the goroutine stack limited to 4 MiB once the SDK
// has made them. The string form recursed once a level and overflowed
// the stack, a fatal error that no recover stops (the host process
// died). Past maxClipDepth levels it is null.
func TestSpanExporterDeepValueNoStackOverflow(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's frames are larger")
	}
	v := attribute.StringValue("leaf")
	for range 100_000 {
		v = attribute.SliceValue(v)
	}
	deep := attribute.KeyValue{Key: "deep", Value: v}
	// The SDK's own normalisation recurses once a level too: it runs on
	// the default stack.
	spans := recordSpans(t, [][]attribute.KeyValue{{deep}},
		sdktrace.WithAttributeValueDepthLimit(-1), sdktrace.WithResource(resource.NewSchemaless(deep)))
	defer debug.SetMaxStack(debug.SetMaxStack(4 << 20))
	rc, addr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := NewSpanExporter(exp).ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := bySpanID(rc)
	if len(got) != 1 {
		t.Fatalf("received %d spans, want 1", len(got))
	}
	want := strings.Repeat("[", maxClipDepth+1) + "null" + strings.Repeat("]", maxClipDepth+1)
	for _, p := range got {
		for _, kvs := range [][]*commonpb.KeyValue{p.span.Attributes, p.res.GetAttributes()} {
			if len(kvs) != 1 || kvs[0].Value.GetStringValue() != want {
				t.Errorf("kept %.40v, want %d levels and null", kvs, maxClipDepth+1)
			}
		}
	}
}

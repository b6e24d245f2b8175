package otelbridge

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/export"
)

// TestSpanExporterSliceValues: an attribute.Slice of scalar and empty
// values (OpenTelemetry Go 1.47's untyped slice) is an OTLP array, as
// OpenTelemetry's own OTLP exporter writes it, on a span, an event and a
// link; it was the slice's JSON text. A slice holding a slice or a map,
// and a map, stay their string form (the encoder writes no nested value).
// The same SDK spans go through both exporters to real receivers and
// decode with the official types.
func TestSpanExporterSliceValues(t *testing.T) {
	flat := attribute.Slice("flat", attribute.IntValue(1), attribute.StringValue("a"), attribute.BoolValue(true),
		attribute.Float64Value(0.5), attribute.ByteSliceValue([]byte{1, 2}), attribute.Value{})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, s := tp.Tracer("x").Start(context.Background(), "span", trace.WithAttributes(flat,
		attribute.Slice("none"),
		attribute.Slice("nested", attribute.IntValue(1), attribute.SliceValue(attribute.IntValue(2))),
		attribute.Map("map", attribute.Int("x", 1))),
		trace.WithLinks(trace.Link{SpanContext: testLink().SpanContext, Attributes: []attribute.KeyValue{flat}}))
	s.AddEvent("e", trace.WithAttributes(flat))
	s.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	official := exportOfficial(ctx, t, spans)
	ours, addr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true, CoalesceBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := NewSpanExporter(exp).ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want, got := bySpanID(official), bySpanID(ours)
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("official receiver has %d spans, ours %d", len(want), len(got))
	}
	for id, w := range want {
		g := got[id].span
		byKey := func(kvs []*commonpb.KeyValue, k string) *commonpb.KeyValue {
			for _, kv := range kvs {
				if kv.Key == k {
					return kv
				}
			}
			t.Fatalf("no attribute %q in %v", k, kvs)
			return nil
		}
		for _, k := range []string{"flat", "none"} {
			if wv, gv := byKey(w.span.Attributes, k), byKey(g.Attributes, k); !proto.Equal(wv, gv) {
				t.Errorf("span attribute %s:\n got %v\nwant %v", k, gv, wv)
			}
		}
		if wv, gv := byKey(w.span.Events[0].Attributes, "flat"), byKey(g.Events[0].Attributes, "flat"); !proto.Equal(wv, gv) {
			t.Errorf("event attribute:\n got %v\nwant %v", gv, wv)
		}
		if wv, gv := byKey(w.span.Links[0].Attributes, "flat"), byKey(g.Links[0].Attributes, "flat"); !proto.Equal(wv, gv) {
			t.Errorf("link attribute:\n got %v\nwant %v", gv, wv)
		}
		if v := byKey(g.Attributes, "nested").Value.GetStringValue(); v != "[1,[2]]" {
			t.Errorf("nested slice %q, want its string form", v)
		}
		if v := byKey(g.Attributes, "map").Value.GetStringValue(); v != `{"x":1}` {
			t.Errorf("map %q, want its string form", v)
		}
	}
}

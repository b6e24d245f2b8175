package otelbridge

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestNodeSpanKindInvalid: a child span started with a kind the API does
// not define is INTERNAL, as OpenTelemetry's SDK makes it
// (trace.ValidateSpanKind); the bridge converted the kind to OTLP's byte
// as is, so 259 (256+3) was sent as CLIENT. Read by a real receiver with
// the official decoder.
func TestNodeSpanKindInvalid(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("test")
	ctx, root := tr.Start(context.Background(), "flow")
	kinds := []trace.SpanKind{-1, trace.SpanKindUnspecified, trace.SpanKindClient, trace.SpanKindConsumer, 6, 99, 256 + 3, 1<<32 + 2}
	for _, k := range kinds {
		_, s := tr.Start(ctx, fmt.Sprint("k", int(k)), trace.WithSpanKind(k))
		s.End()
	}
	root.End()
	// Root spans too: an invalid kind is
	// INTERNAL, an unspecified one SERVER, the run span's default.
	for _, k := range kinds {
		_, s := tr.Start(context.Background(), fmt.Sprint("k", int(k)), trace.WithSpanKind(k))
		s.End()
	}
	shutdown()
	got := map[string]tracepb.Span_SpanKind{}
	for _, s := range receivedSpans(rc) {
		got[s.Name] = s.Kind
	}
	for _, k := range kinds {
		want := tracepb.Span_SpanKind(trace.ValidateSpanKind(k))
		if name := fmt.Sprint("run_node:k", int(k)); got[name] != want {
			t.Errorf("node of kind %d: %v, want %v", int(k), got[name], want)
		}
		if k == trace.SpanKindUnspecified {
			want = tracepb.Span_SPAN_KIND_SERVER
		}
		if name := fmt.Sprint("run:k", int(k)); got[name] != want {
			t.Errorf("run of kind %d: %v, want %v", int(k), got[name], want)
		}
	}
}

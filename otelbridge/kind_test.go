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

// TestRootSpanKind: a root span the bridge makes a run keeps its kind (an
// otelhttp client span is a CLIENT span, not a SERVER), and one started
// without a kind, or as a server, is SERVER as before; read by a real
// receiver with the official decoder.
func TestRootSpanKind(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("test")
	want := map[string]tracepb.Span_SpanKind{}
	for name, opts := range map[string][]trace.SpanStartOption{
		"client":   {trace.WithSpanKind(trace.SpanKindClient)},
		"producer": {trace.WithSpanKind(trace.SpanKindProducer)},
		"internal": {trace.WithSpanKind(trace.SpanKindInternal)},
		"server":   {trace.WithSpanKind(trace.SpanKindServer)},
		"none":     nil,
	} {
		_, s := tr.Start(context.Background(), name, opts...)
		s.End()
		k := trace.SpanKindServer
		if len(opts) != 0 {
			cfg := trace.NewSpanStartConfig(opts...)
			k = cfg.SpanKind()
		}
		want["run:"+name] = tracepb.Span_SpanKind(k)
	}
	shutdown()
	got := map[string]tracepb.Span_SpanKind{}
	for _, s := range receivedSpans(rc) {
		got[s.Name] = s.Kind
	}
	for name, k := range want {
		if got[name] != k {
			t.Errorf("root span %q: kind %v, want %v (received %v)", name, got[name], k, got)
		}
	}
}

package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

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

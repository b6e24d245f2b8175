package otelbridge

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestRunSpanKindInvalid: a root span started with a kind the API does
// not define is INTERNAL, as OpenTelemetry's SDK makes it
// (trace.ValidateSpanKind) and as a child span of such a kind is; the
// run span took the converted kind's zero, which for a run means SERVER.
// An unspecified kind stays SERVER, the run span's default. Read by a
// real receiver with the official decoder.
func TestRunSpanKindInvalid(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("test")
	kinds := []trace.SpanKind{-1, trace.SpanKindUnspecified, trace.SpanKindClient, 6, 256 + 3}
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
		if k == trace.SpanKindUnspecified {
			want = tracepb.Span_SPAN_KIND_SERVER
		}
		if name := fmt.Sprint("run:k", int(k)); got[name] != want {
			t.Errorf("run of kind %d: %v, want %v", int(k), got[name], want)
		}
	}
}

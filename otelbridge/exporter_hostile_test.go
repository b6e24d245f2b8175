package otelbridge

import (
	"context"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestSpanExporterHostileSpans sends spans no SDK tracer makes but that a
// ReadOnlySpan may hold (tracetest.SpanStub, a custom processor): zero and
// pre-1970 times, negative and huge dropped counts, unknown span kinds,
// an attribute of no type, through OpenTelemetry's own OTLP exporter and
// through SpanExporter, and requires the same spans on the wire. The zero
// time went out as the year 2339, -1 dropped attributes as 4294967295,
// 2^32+3 dropped events as 3, and kind 42 as an enum OTLP does not have.
func TestSpanExporterHostileSpans(t *testing.T) {
	tid, sid := trace.TraceID{9, 8, 7}, trace.SpanID{6, 5}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	stubs := tracetest.SpanStubs{
		{Name: "zero times", SpanContext: sc},
		{Name: "before 1970", SpanContext: sc, StartTime: time.Unix(-5, 0), EndTime: time.Unix(-1, 0),
			Events: []sdktrace.Event{{Name: "old", Time: time.Unix(-3, 0)}, {Name: "zero"}}},
		{Name: "counts", SpanContext: sc, StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0),
			DroppedAttributes: -1, DroppedEvents: 1<<32 + 3, DroppedLinks: -7,
			Events: []sdktrace.Event{{Name: "e", Time: time.Unix(1, 5), DroppedAttributeCount: -2}},
			Links:  []sdktrace.Link{{SpanContext: sc, DroppedAttributeCount: math.MaxInt64}}},
		{Name: "kind", SpanContext: sc, SpanKind: trace.SpanKind(42), StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0)},
		{Name: "attrs", SpanContext: sc, StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0),
			Attributes: []attribute.KeyValue{{Key: "notype"}, attribute.Float64("inf", math.Inf(-1)), attribute.String("", "empty key")}},
		{Name: "kind -1", SpanContext: sc, SpanKind: trace.SpanKind(-1), StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0)},
	}
	spans := stubs.Snapshots()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	official := exportOfficial(ctx, t, spans)
	ours, ourAddr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: ourAddr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	sx := NewSpanExporter(exp)
	if err := sx.ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	if err := sx.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want, got := receivedSpans(official), receivedSpans(ours)
	if len(got) != len(want) || len(want) != len(spans) {
		t.Fatalf("got %d spans, want %d of %d", len(got), len(want), len(spans))
	}
	for i, w := range want {
		if !proto.Equal(got[i], w) {
			t.Errorf("span %q differs:\n got %v\nwant %v", w.Name, got[i], w)
		}
	}
}

// receivedSpans returns the spans rc received, in order.
func receivedSpans(rc *otlptest.Receiver) []*tracepb.Span {
	var out []*tracepb.Span
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

// metricsNamed returns the metrics named name that rc received (one a
// request), in order.
func metricsNamed(rc *otlptest.Receiver, name string) []*metricspb.Metric {
	var out []*metricspb.Metric
	for _, req := range rc.Metrics() {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name == name {
						out = append(out, m)
					}
				}
			}
		}
	}
	return out
}

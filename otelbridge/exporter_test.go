package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/internal/testkit"
)

// startFullReceiver starts internal/otlptest's gRPC receiver, keeping
// whole requests.
func startFullReceiver(t *testing.T) (*otlptest.Receiver, string) {
	t.Helper()
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	return rc, rc.Addr
}

// placed is one received span with the resource and scope it came under.
type placed struct {
	res   *resourcepb.Resource
	rsURL string
	scope *commonpb.InstrumentationScope
	ssURL string
	span  *tracepb.Span
}

// bySpanID flattens what rc received, keyed by span id.
func bySpanID(rc *otlptest.Receiver) map[string]placed {
	out := map[string]placed{}
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					out[string(sp.SpanId)] = placed{rs.Resource, rs.SchemaUrl, ss.Scope, ss.SchemaUrl, sp}
				}
			}
		}
	}
	return out
}

// recordSDKSpans makes spans with an OpenTelemetry SDK covering what the
// adapter converts: every scalar and slice attribute type, events, links,
// status, kinds, a remote parent, two scopes and two resources.
func recordSDKSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	var out []sdktrace.ReadOnlySpan
	for ri, svc := range []string{"svc-a", "svc-b"} {
		rec := tracetest.NewSpanRecorder()
		res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
			attribute.String("service.name", svc), attribute.Int("replica", ri))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res),
			sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{AttributeCountLimit: 12, EventCountLimit: 3, LinkCountLimit: 2,
				AttributePerEventCountLimit: 2, AttributePerLinkCountLimit: 2, AttributeValueLengthLimit: -1}))
		tr1 := tp.Tracer("otelhttp", trace.WithInstrumentationVersion("0.1"), trace.WithSchemaURL("https://example.com/s"),
			trace.WithInstrumentationAttributes(attribute.String("lib", "http")))
		tr2 := tp.Tracer("otelgrpc")

		ts, _ := trace.ParseTraceState("vendor=abc,other=x")
		remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true})
		ctx := trace.ContextWithRemoteSpanContext(context.Background(), remote)
		ctx, server := tr1.Start(ctx, "POST /chat", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.Bool("b", true), attribute.Int64("i", -5), attribute.Float64("f", 2.5), attribute.String("s", "héllo"),
			attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, -2}),
			attribute.Float64Slice("fs", []float64{0.5}), attribute.StringSlice("ss", []string{"x", ""}),
			attribute.Int("zero", 0), attribute.String("empty", "")))
		server.AddEvent("received", trace.WithAttributes(attribute.Int("size", 12), attribute.Int("a", 1), attribute.Int("b", 2)))
		for k := 0; k < 4; k++ {
			server.AddEvent(fmt.Sprintf("e%d", k))
		}
		for k := 0; k < 13; k++ {
			server.SetAttributes(attribute.Int(fmt.Sprintf("extra%d", k), k))
		}
		_, client := tr2.Start(ctx, "chat.Model/Generate", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("why", "retry")}},
				trace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{8}})},
				trace.Link{SpanContext: remote}))
		client.RecordError(errors.New("unavailable"))
		client.SetStatus(codes.Error, "upstream failed")
		client.End()
		server.SetStatus(codes.Ok, "")
		server.End()
		_, internal := tr2.Start(context.Background(), "background", trace.WithSpanKind(trace.SpanKindProducer))
		internal.End()
		out = append(out, rec.Ended()...)
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// exportOfficial sends spans through OpenTelemetry's own OTLP/gRPC
// exporter to a real receiver and returns the receiver, the reference the
// SpanExporter's output is compared with.
func exportOfficial(ctx context.Context, t *testing.T, spans []sdktrace.ReadOnlySpan) *otlptest.Receiver {
	t.Helper()
	official, addr := startFullReceiver(t)
	oexp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	if err := oexp.ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	if err := oexp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return official
}

// TestSpanExporterMatchesOTLPExporter sends the same SDK spans through
// OpenTelemetry's own OTLP/gRPC exporter and through SpanExporter with
// flowtel's exporter, to two real receivers, and requires every span, with
// its resource and scope, to decode proto.Equal.
func TestSpanExporterMatchesOTLPExporter(t *testing.T) {
	spans := recordSDKSpans(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	official := exportOfficial(ctx, t, spans)

	ours, ourAddr := startFullReceiver(t)
	// CoalesceBytes -1: each ExportSpans its own request, compared below.
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: ourAddr, Insecure: true, CoalesceBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	sx := NewSpanExporter(exp)
	// Twice, to check that reused scratch space gives the same bytes.
	for range 2 {
		if err := sx.ExportSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
	}
	if err := sx.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sx.ExportSpans(ctx, spans); !errors.Is(err, engine.ErrShutdown) {
		t.Fatalf("ExportSpans after Shutdown: %v", err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := exp.Stats().Signals[export.Traces]; st.Exported != uint64(2*len(spans)) {
		t.Fatalf("exporter stats %+v", st)
	}

	if reqs := ours.Traces(); len(reqs) != 2 || !proto.Equal(reqs[0], reqs[1]) {
		t.Fatalf("a reused SpanExporter wrote a different request")
	}
	want, got := bySpanID(official), bySpanID(ours)
	if len(want) != len(spans) || len(got) != len(want) {
		t.Fatalf("official receiver has %d spans, ours %d, recorded %d", len(want), len(got), len(spans))
	}
	for id, w := range want {
		g := got[id]
		// OpenTelemetry's exporter (v1.47) does not write a link's
		// trace_state; flowtel does, as OTLP defines it.
		for i, l := range g.span.Links {
			if l.TraceState != string(w.span.Links[i].TraceState) && w.span.Links[i].TraceState == "" {
				if l.TraceState != "vendor=abc,other=x" {
					t.Errorf("link trace_state %q", l.TraceState)
				}
				l.TraceState = ""
			}
		}
		if !proto.Equal(g.span, w.span) {
			t.Errorf("span %q differs:\n got %v\nwant %v", w.span.Name, g.span, w.span)
		}
		if !proto.Equal(g.res, w.res) || g.rsURL != w.rsURL {
			t.Errorf("resource of %q differs:\n got %v %q\nwant %v %q", w.span.Name, g.res, g.rsURL, w.res, w.rsURL)
		}
		if !proto.Equal(g.scope, w.scope) || g.ssURL != w.ssURL {
			t.Errorf("scope of %q differs:\n got %v %q\nwant %v %q", w.span.Name, g.scope, g.ssURL, w.scope, w.ssURL)
		}
	}
}

// TestSpanExporterGrouping checks that spans of one resource and several
// scopes, interleaved, land in one ResourceSpans with one ScopeSpans each.
func TestSpanExporterGrouping(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	for i := 0; i < 6; i++ {
		_, s := tp.Tracer(fmt.Sprintf("scope%d", i%3)).Start(context.Background(), "s")
		s.End()
	}
	_ = tp.Shutdown(context.Background())
	rc, addr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	sx := NewSpanExporter(exp)
	if err := sx.ExportSpans(context.Background(), rec.Ended()); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	req := rc.Traces()[0]
	if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans) != 3 {
		t.Fatalf("grouped as %v", req)
	}
	for i, ss := range req.ResourceSpans[0].ScopeSpans {
		if ss.Scope.Name != fmt.Sprintf("scope%d", i) || len(ss.Spans) != 2 {
			t.Fatalf("scope %d: %v", i, ss)
		}
	}
}

// TestSpanExporterAllocs checks that a warm adapter converts and encodes a
// batch with one allocation: the SDK's Resource.Attributes copy, once per
// distinct resource. (Enqueue is the exporter's and is measured there.)
func TestSpanExporterAllocs(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	for i := 0; i < 64; i++ {
		_, s := tp.Tracer("x").Start(context.Background(), "span", trace.WithAttributes(attribute.String("k", "v"), attribute.Int("n", i)))
		s.AddEvent("e")
		s.End()
	}
	_ = tp.Shutdown(context.Background())
	spans := rec.Ended()
	sx := NewSpanExporter(nil)
	encode.PutBuffer(sx.encodeSpans(spans)) // warm
	testkit.WantAllocs(t, 1, func() { encode.PutBuffer(sx.encodeSpans(spans)) })
}

var _ sdktrace.SpanExporter = (*SpanExporter)(nil)
var _ = instrumentation.Scope{}

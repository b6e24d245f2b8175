package bench

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// discardExporter is the SDK exporter of the capture benchmark: it counts
// and drops, so the SDK pays its processor but no network.
type discardExporter struct{ n atomic.Uint64 }

func (d *discardExporter) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	d.n.Add(uint64(len(s)))
	return nil
}
func (*discardExporter) Shutdown(context.Context) error { return nil }

// sdkAttrs8 are the node attributes of the comparisons, as the SDK takes them.
var sdkAttrs8 = []attribute.KeyValue{
	attribute.String("input.query", "what is the weather in Hefei"), attribute.String("input.model", "gpt-4o"),
	attribute.String("input.lang", "zh-CN"), attribute.Int64("input.top_k", 5),
	attribute.String("output.text", "sunny, 23 degrees"), attribute.Int64("output.tokens", 42),
	attribute.String("config.temperature", "0.7"), attribute.Bool("config.stream", true),
}

// The SDK's transform, rewritten from the otlptrace exporter's internal
// tracetransform package: one ResourceSpans per resource, one ScopeSpans
// per scope, a tracepb.Span with converted attributes and events per span.

func sdkToProto(spans []sdktrace.ReadOnlySpan) *coltrace.ExportTraceServiceRequest {
	type key struct {
		res   *resource.Resource
		scope instrumentation.Scope
	}
	rsm := map[*resource.Resource]*tracepb.ResourceSpans{}
	ssm := map[key]*tracepb.ScopeSpans{}
	var out []*tracepb.ResourceSpans
	for _, sd := range spans {
		res := sd.Resource()
		rs, ok := rsm[res]
		if !ok {
			rs = &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: kvs(res.Attributes())}, SchemaUrl: res.SchemaURL()}
			rsm[res] = rs
			out = append(out, rs)
		}
		k := key{res, sd.InstrumentationScope()}
		ss, ok := ssm[k]
		if !ok {
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: k.scope.Name, Version: k.scope.Version}, SchemaUrl: k.scope.SchemaURL}
			ssm[k] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, sdkSpan(sd))
	}
	return &coltrace.ExportTraceServiceRequest{ResourceSpans: out}
}

func sdkSpan(sd sdktrace.ReadOnlySpan) *tracepb.Span {
	tid, sid := sd.SpanContext().TraceID(), sd.SpanContext().SpanID()
	s := &tracepb.Span{
		TraceId: tid[:], SpanId: sid[:], TraceState: sd.SpanContext().TraceState().String(),
		Name: sd.Name(), Kind: tracepb.Span_SpanKind(sd.SpanKind()),
		StartTimeUnixNano: uint64(sd.StartTime().UnixNano()), EndTimeUnixNano: uint64(sd.EndTime().UnixNano()),
		Attributes: kvs(sd.Attributes()), DroppedAttributesCount: uint32(sd.DroppedAttributes()),
		DroppedEventsCount: uint32(sd.DroppedEvents()), DroppedLinksCount: uint32(sd.DroppedLinks()),
		Flags: uint32(sd.SpanContext().TraceFlags()) | 0x100,
	}
	if p := sd.Parent(); p.SpanID().IsValid() {
		psid := p.SpanID()
		s.ParentSpanId = psid[:]
	}
	if st := sd.Status(); st.Code != codes.Unset {
		s.Status = &tracepb.Status{Code: tracepb.Status_StatusCode(st.Code), Message: st.Description}
	}
	for _, e := range sd.Events() {
		s.Events = append(s.Events, &tracepb.Span_Event{
			Name: e.Name, TimeUnixNano: uint64(e.Time.UnixNano()), Attributes: kvs(e.Attributes),
			DroppedAttributesCount: uint32(e.DroppedAttributeCount),
		})
	}
	return s
}

func kvs(as []attribute.KeyValue) []*commonpb.KeyValue {
	out := make([]*commonpb.KeyValue, 0, len(as))
	for _, a := range as {
		out = append(out, &commonpb.KeyValue{Key: string(a.Key), Value: anyValue(a.Value)})
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	av := &commonpb.AnyValue{}
	switch v.Type() {
	case attribute.BOOL:
		av.Value = &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}
	case attribute.INT64:
		av.Value = &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}
	case attribute.FLOAT64:
		av.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		vals := make([]*commonpb.AnyValue, len(ss))
		for i, s := range ss {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		}
		av.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}
	default:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: v.String()}
	}
	return av
}

// sdkBatch records runs × (1 root + nodes) spans through the SDK and
// returns them as its exporter would receive them.
func sdkBatch(runs, nodes int) []sdktrace.ReadOnlySpan {
	rec := &recorder{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "bench"), attribute.String("ip", "127.0.0.1"))))
	tr := tp.Tracer("github.com/flowtel/flowtel")
	for r := 0; r < runs; r++ {
		ctx, root := tr.Start(context.Background(), "workflow_run", trace.WithAttributes(runAttrs...))
		for n := 0; n < nodes; n++ {
			_, sp := tr.Start(ctx, "run_node:llm:1", trace.WithAttributes(runAttrs...))
			sp.SetAttributes(sdkAttrs8...)
			sp.AddEvent("INFO", trace.WithAttributes(attribute.String("INFO LOG", "node finished")))
			sp.End()
		}
		root.End()
	}
	_ = tp.Shutdown(context.Background())
	return rec.spans
}

var runAttrs = []attribute.KeyValue{
	attribute.String("sid", "spf00390001@hf17e12ef9c00a4bb202"), attribute.String("app_id", "app-42"),
	attribute.String("uid", "user-1001"), attribute.String("chat_id", "chat-9"), attribute.String("span_version", "1.0.0"),
}

type recorder struct{ spans []sdktrace.ReadOnlySpan }

func (r *recorder) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	r.spans = append(r.spans, s...)
	return nil
}
func (*recorder) Shutdown(context.Context) error { return nil }

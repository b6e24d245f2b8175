package otlpref

import (
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/encode"
)

// KeyValues returns the attributes of a generic span, arrays included.
func (b *Builder) KeyValues(kvs []encode.KeyValue) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, kv := range kvs {
		v := b.Any(kv.Value)
		if kv.IsArray {
			arr := &commonpb.ArrayValue{}
			for _, x := range kv.Array {
				arr.Values = append(arr.Values, b.Any(x))
			}
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
		}
		out = append(out, &commonpb.KeyValue{Key: b.Str(kv.Key), Value: v})
	}
	return out
}

// Spans returns the request encode.SpanEncoder.AppendSpans writes for rs.
func (b *Builder) Spans(rs []encode.ResourceSpans) *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	for _, r := range rs {
		prs := &tracepb.ResourceSpans{
			Resource:  &resourcepb.Resource{Attributes: b.KeyValues(r.Attrs), DroppedAttributesCount: r.DroppedAttrs},
			SchemaUrl: b.Str(r.SchemaURL),
		}
		for _, ss := range r.ScopeSpans {
			pss := &tracepb.ScopeSpans{
				Scope: &commonpb.InstrumentationScope{Name: b.Str(ss.Scope.Name), Version: b.Str(ss.Scope.Version),
					Attributes: b.KeyValues(ss.Scope.Attrs), DroppedAttributesCount: ss.Scope.DroppedAttrs},
				SchemaUrl: b.Str(ss.SchemaURL),
			}
			for _, s := range ss.Spans {
				pss.Spans = append(pss.Spans, b.span(&s))
			}
			prs.ScopeSpans = append(prs.ScopeSpans, pss)
		}
		req.ResourceSpans = append(req.ResourceSpans, prs)
	}
	return req
}

func (b *Builder) span(s *encode.Span) *tracepb.Span {
	ps := &tracepb.Span{
		TraceId: append([]byte{}, s.TraceID[:]...), SpanId: append([]byte{}, s.SpanID[:]...),
		TraceState: b.Str(s.TraceState), Flags: s.Flags, Name: b.Str(s.Name),
		Kind:              tracepb.Span_SpanKind(s.Kind),
		StartTimeUnixNano: uint64(s.StartUnixNano), EndTimeUnixNano: uint64(s.EndUnixNano),
		Attributes: b.KeyValues(s.Attrs), DroppedAttributesCount: s.DroppedAttrs,
		DroppedEventsCount: s.DroppedEvents, DroppedLinksCount: s.DroppedLinks,
		Status: &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status), Message: b.Str(s.StatusMessage)},
	}
	if !s.ParentSpanID.IsZero() {
		ps.ParentSpanId = append([]byte{}, s.ParentSpanID[:]...)
	}
	for _, ev := range s.Events {
		ps.Events = append(ps.Events, &tracepb.Span_Event{TimeUnixNano: uint64(ev.TimeUnixNano), Name: b.Str(ev.Name),
			Attributes: b.KeyValues(ev.Attrs), DroppedAttributesCount: ev.DroppedAttrs})
	}
	for _, l := range s.Links {
		ps.Links = append(ps.Links, &tracepb.Span_Link{TraceId: append([]byte{}, l.TraceID[:]...), SpanId: append([]byte{}, l.SpanID[:]...),
			TraceState: b.Str(l.TraceState), Attributes: b.KeyValues(l.Attrs), DroppedAttributesCount: l.DroppedAttrs, Flags: l.Flags})
	}
	return ps
}

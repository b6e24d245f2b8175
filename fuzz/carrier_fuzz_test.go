package fuzz

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/w3c"
)

// FuzzCarrier feeds arbitrary header lines to the HTTP and gRPC carriers
// and checks: no panic; both carriers agree; a bad traceparent yields no
// parent and no tracestate; what is extracted, injected again and
// re-extracted is unchanged (by flowtel and by OpenTelemetry's
// TraceContext and Baggage propagators).
func FuzzCarrier(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7", "userId=alice,serverNode=DF%2028", "isProduction=false;p=1")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "a=1 , ,b=2", "", "k=v;;p;", "")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-x", "Bad=1", "a=1", "=x,k=%zz", "k2=v2")
	f.Add("garbage", "a=1", "a=2", strings.Repeat("k=v,", 200), "")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", "a=1,Bad=2,a=3", "1x@y@z=4,"+strings.Repeat("k=v,", 40), "", "")
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	f.Fuzz(func(t *testing.T, tp, ts1, ts2, bag1, bag2 string) {
		lines := func(a, b string) []string {
			var out []string
			for _, s := range []string{a, b} {
				if s != "" {
					out = append(out, s)
				}
			}
			return out
		}
		h := http.Header{}
		md := metadata.MD{}
		set := func(k string, v []string) {
			if len(v) > 0 {
				h[http.CanonicalHeaderKey(k)] = v
				md[k] = v
			}
		}
		set("traceparent", lines(tp, ""))
		set("tracestate", lines(ts1, ts2))
		set("baggage", lines(bag1, bag2))

		var p engine.Propagator
		sc, b := p.ExtractHTTP(h)
		sc2, b2 := p.ExtractGRPC(md)
		if sc != sc2 || b.String() != b2.String() {
			t.Fatalf("carriers disagree: %+v %q vs %+v %q", sc, b.String(), sc2, b2.String())
		}
		if !sc.IsValid() && sc != (engine.SpanContext{}) {
			t.Fatalf("invalid parent with content %+v", sc)
		}
		// A joined tracestate keeps exactly the members internal/w3c keeps,
		// errors or not; a bad traceparent takes it away.
		if joined := strings.Join(lines(ts1, ts2), ","); sc.IsValid() && len(joined) <= w3c.MaxTraceStateBytes {
			if want, _ := w3c.ParseTraceState(joined); sc.TraceState != want.String() {
				t.Fatalf("tracestate %q from %q, want %q", sc.TraceState, joined, want.String())
			}
		}
		if st := p.Stats(); st.Extracted != 2 || (st.TraceParentInvalid != 0) == sc.IsValid() && tp != "" {
			t.Fatalf("stats %+v for parent %+v", st, sc)
		}

		out := http.Header{}
		engine.InjectHTTP(out, sc, b)
		again, bagAgain, err := engine.ExtractHTTP(out)
		if err != nil || again != sc || bagAgain.String() != b.String() {
			t.Fatalf("re-extract: %+v %q %v; want %+v %q", again, bagAgain.String(), err, sc, b.String())
		}

		ctx := prop.Extract(context.Background(), propagation.HeaderCarrier(out))
		osc := trace.SpanContextFromContext(ctx)
		if osc.IsValid() != sc.IsValid() {
			t.Fatalf("OpenTelemetry extracted %v from %v", osc, out)
		}
		if sc.IsValid() && (osc.TraceID() != trace.TraceID(sc.TraceID) || osc.SpanID() != trace.SpanID(sc.SpanID) ||
			osc.IsSampled() != sc.Sampled) {
			t.Fatalf("OpenTelemetry extracted %v, flowtel %+v", osc, sc)
		}
		// OpenTelemetry keeps at most 64 baggage members and trims more
		// whitespace (see internal/w3c's doc); compare when it kept all.
		ob := baggage.FromContext(ctx)
		if ob.Len() == b.Len() {
			for m := range b.All() {
				if om := ob.Member(m.Key); om.Key() != "" {
					if last, _ := b.Get(m.Key); om.Value() != last.Value() {
						t.Fatalf("baggage %s: OpenTelemetry %q, flowtel %q", m.Key, om.Value(), last.Value())
					}
				}
			}
		}
	})
}

// FuzzSpanEncoder checks encode.SpanEncoder against the official decoder
// with arbitrary strings in every string field and arbitrary numbers.
func FuzzSpanEncoder(f *testing.F) {
	f.Add("GET /x", "key", "value", int64(1), uint32(0x301), uint8(2))
	f.Add("bad\xff", "", "\xc3", int64(-1), uint32(0), uint8(9))
	enc := encode.NewSpanEncoder()
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, n int64, flags uint32, kind uint8) {
		kvs := []encode.KeyValue{
			{Key: s2, Value: encode.StringValue(s3)},
			{Key: s1, Value: encode.Int64Value(n)},
			{Key: s3, IsArray: true, Array: []encode.Value{encode.StringValue(s1), encode.Float64Value(float64(n)), encode.BytesValue([]byte(s2))}},
		}
		span := encode.Span{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{byte(n), 1}, ParentSpanID: encode.SpanID{byte(flags)},
			TraceState: s3, Flags: flags, Name: s1, Kind: encode.SpanKind(kind % 6), StartUnixNano: n, EndUnixNano: -n,
			Attrs: kvs, DroppedAttrs: flags >> 8,
			Events:        []encode.SpanEvent{{TimeUnixNano: n, Name: s2, Attrs: kvs[:1]}},
			Links:         []encode.SpanLink{{TraceID: encode.TraceID{2}, SpanID: encode.SpanID{3}, TraceState: s1, Flags: flags, Attrs: kvs[1:2]}},
			Status:        encode.StatusCode(kind % 3),
			StatusMessage: s2}
		rs := []encode.ResourceSpans{{Attrs: kvs[2:], SchemaURL: s1,
			ScopeSpans: []encode.ScopeSpans{{Scope: encode.SpanScope{Name: s2, Version: s3}, SchemaURL: s3, Spans: []encode.Span{span}}}}}
		buf := enc.AppendSpans(nil, rs)
		got := &coltrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(buf, got); err != nil {
			t.Fatal(err)
		}
		want := refSpanRequest(rs)
		if !proto.Equal(got, want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
		if proto.Size(want) != len(buf) {
			t.Fatalf("%d bytes, proto.Size %d", len(buf), proto.Size(want))
		}
	})
}

func fixUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func refAny(v encode.Value) *commonpb.AnyValue {
	switch v.Kind() {
	case encode.KindString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fixUTF8(v.Str())}}
	case encode.KindBytes:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: append([]byte{}, v.Bytes()...)}}
	case encode.KindInt64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.Int64()}}
	case encode.KindFloat64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.Float64()}}
	case encode.KindBool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.Bool()}}
	}
	return &commonpb.AnyValue{}
}

func refSpanKVs(kvs []encode.KeyValue) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, kv := range kvs {
		v := refAny(kv.Value)
		if kv.IsArray {
			arr := &commonpb.ArrayValue{}
			for _, x := range kv.Array {
				arr.Values = append(arr.Values, refAny(x))
			}
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
		}
		out = append(out, &commonpb.KeyValue{Key: fixUTF8(kv.Key), Value: v})
	}
	return out
}

func refSpanRequest(rs []encode.ResourceSpans) *coltrace.ExportTraceServiceRequest {
	req := &coltrace.ExportTraceServiceRequest{}
	for _, r := range rs {
		prs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: refSpanKVs(r.Attrs), DroppedAttributesCount: r.DroppedAttrs}, SchemaUrl: fixUTF8(r.SchemaURL)}
		for _, ss := range r.ScopeSpans {
			pss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: fixUTF8(ss.Scope.Name), Version: fixUTF8(ss.Scope.Version),
				Attributes: refSpanKVs(ss.Scope.Attrs), DroppedAttributesCount: ss.Scope.DroppedAttrs}, SchemaUrl: fixUTF8(ss.SchemaURL)}
			for _, s := range ss.Spans {
				ps := &tracepb.Span{TraceId: append([]byte{}, s.TraceID[:]...), SpanId: append([]byte{}, s.SpanID[:]...),
					TraceState: fixUTF8(s.TraceState), Flags: s.Flags, Name: fixUTF8(s.Name), Kind: tracepb.Span_SpanKind(s.Kind),
					StartTimeUnixNano: uint64(s.StartUnixNano), EndTimeUnixNano: uint64(s.EndUnixNano),
					Attributes: refSpanKVs(s.Attrs), DroppedAttributesCount: s.DroppedAttrs,
					DroppedEventsCount: s.DroppedEvents, DroppedLinksCount: s.DroppedLinks,
					Status: &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status), Message: fixUTF8(s.StatusMessage)}}
				if !s.ParentSpanID.IsZero() {
					ps.ParentSpanId = append([]byte{}, s.ParentSpanID[:]...)
				}
				for _, ev := range s.Events {
					ps.Events = append(ps.Events, &tracepb.Span_Event{TimeUnixNano: uint64(ev.TimeUnixNano), Name: fixUTF8(ev.Name),
						Attributes: refSpanKVs(ev.Attrs), DroppedAttributesCount: ev.DroppedAttrs})
				}
				for _, l := range s.Links {
					ps.Links = append(ps.Links, &tracepb.Span_Link{TraceId: append([]byte{}, l.TraceID[:]...), SpanId: append([]byte{}, l.SpanID[:]...),
						TraceState: fixUTF8(l.TraceState), Attributes: refSpanKVs(l.Attrs), DroppedAttributesCount: l.DroppedAttrs, Flags: l.Flags})
				}
				pss.Spans = append(pss.Spans, ps)
			}
			prs.ScopeSpans = append(prs.ScopeSpans, pss)
		}
		req.ResourceSpans = append(req.ResourceSpans, prs)
	}
	return req
}

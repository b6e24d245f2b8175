package encode

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/internal/race"
)

// randSpanString returns a short string, sometimes empty, sometimes not
// valid UTF-8.
func randSpanString(rng *rand.Rand) string {
	switch rng.IntN(8) {
	case 0:
		return ""
	case 1:
		return "bad\xff\xfeutf8"
	case 2:
		return strings.Repeat("long value ", 20)
	case 3:
		return "héllo 世界"
	}
	const chars = "abcdefghijklmnopqrstuvwxyz._-"
	b := make([]byte, 1+rng.IntN(12))
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

func randScalar(rng *rand.Rand) Value {
	switch rng.IntN(6) {
	case 0:
		return StringValue(randSpanString(rng))
	case 1:
		return Int64Value(int64(rng.Uint64()) >> rng.IntN(64))
	case 2:
		if rng.IntN(3) == 0 {
			return Float64Value(0)
		}
		return Float64Value(rng.NormFloat64() * 1e6)
	case 3:
		return BoolValue(rng.IntN(2) == 0)
	case 4:
		b := make([]byte, rng.IntN(5))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return BytesValue(b)
	}
	return Value{}
}

func randKVs(rng *rand.Rand, max int) []KeyValue {
	n := rng.IntN(max + 1)
	kvs := make([]KeyValue, n)
	for i := range kvs {
		kvs[i].Key = randSpanString(rng)
		if rng.IntN(5) == 0 {
			kvs[i].IsArray = true
			for range rng.IntN(4) {
				kvs[i].Array = append(kvs[i].Array, randScalar(rng))
			}
		} else {
			kvs[i].Value = randScalar(rng)
		}
	}
	return kvs
}

func randID(rng *rand.Rand, b []byte, zeroOK bool) {
	if zeroOK && rng.IntN(3) == 0 {
		return
	}
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
}

func randResourceSpans(rng *rand.Rand) []ResourceSpans {
	rs := make([]ResourceSpans, 1+rng.IntN(2))
	for i := range rs {
		r := &rs[i]
		r.Attrs, r.DroppedAttrs, r.SchemaURL = randKVs(rng, 4), uint32(rng.IntN(2)), randSpanString(rng)
		r.ScopeSpans = make([]ScopeSpans, 1+rng.IntN(2))
		for k := range r.ScopeSpans {
			ss := &r.ScopeSpans[k]
			ss.Scope = SpanScope{Name: randSpanString(rng), Version: randSpanString(rng), Attrs: randKVs(rng, 2), DroppedAttrs: uint32(rng.IntN(2))}
			ss.SchemaURL = randSpanString(rng)
			ss.Spans = make([]Span, rng.IntN(5))
			for s := range ss.Spans {
				sp := &ss.Spans[s]
				randID(rng, sp.TraceID[:], false)
				randID(rng, sp.SpanID[:], false)
				randID(rng, sp.ParentSpanID[:], true)
				sp.TraceState = randSpanString(rng)
				sp.Flags = uint32(rng.IntN(2)) | uint32(rng.IntN(4))<<8
				sp.Name = randSpanString(rng)
				sp.Kind = SpanKind(rng.IntN(6))
				sp.StartUnixNano = rng.Int64()
				sp.EndUnixNano = rng.Int64()
				sp.Attrs = randKVs(rng, 8)
				sp.DroppedAttrs = uint32(rng.IntN(300))
				for range rng.IntN(3) {
					sp.Events = append(sp.Events, SpanEvent{TimeUnixNano: rng.Int64(), Name: randSpanString(rng), Attrs: randKVs(rng, 3), DroppedAttrs: uint32(rng.IntN(2))})
				}
				sp.DroppedEvents = uint32(rng.IntN(2))
				for range rng.IntN(3) {
					l := SpanLink{TraceState: randSpanString(rng), Flags: uint32(rng.IntN(0x400)), Attrs: randKVs(rng, 2), DroppedAttrs: uint32(rng.IntN(2))}
					randID(rng, l.TraceID[:], false)
					randID(rng, l.SpanID[:], false)
					sp.Links = append(sp.Links, l)
				}
				sp.DroppedLinks = uint32(rng.IntN(2))
				sp.Status = StatusCode(rng.IntN(3))
				sp.StatusMessage = randSpanString(rng)
			}
		}
	}
	return rs
}

// The reference: the same records built as google.golang.org/protobuf
// messages, field by field, with invalid UTF-8 repaired by the rule of
// strings.ToValidUTF8.

func fixUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func refScalar(v Value) *commonpb.AnyValue {
	switch v.Kind() {
	case KindString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fixUTF8(v.Str())}}
	case KindBytes:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: append([]byte{}, v.Bytes()...)}}
	case KindInt64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.Int64()}}
	case KindFloat64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.Float64()}}
	case KindBool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.Bool()}}
	}
	return &commonpb.AnyValue{}
}

func refKVs(kvs []KeyValue) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, kv := range kvs {
		v := refScalar(kv.Value)
		if kv.IsArray {
			arr := &commonpb.ArrayValue{}
			for _, x := range kv.Array {
				arr.Values = append(arr.Values, refScalar(x))
			}
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
		}
		out = append(out, &commonpb.KeyValue{Key: fixUTF8(kv.Key), Value: v})
	}
	return out
}

func refRequest(rs []ResourceSpans) *coltrace.ExportTraceServiceRequest {
	req := &coltrace.ExportTraceServiceRequest{}
	for _, r := range rs {
		prs := &tracepb.ResourceSpans{
			Resource:  &resourcepb.Resource{Attributes: refKVs(r.Attrs), DroppedAttributesCount: r.DroppedAttrs},
			SchemaUrl: fixUTF8(r.SchemaURL),
		}
		for _, ss := range r.ScopeSpans {
			pss := &tracepb.ScopeSpans{
				Scope: &commonpb.InstrumentationScope{Name: fixUTF8(ss.Scope.Name), Version: fixUTF8(ss.Scope.Version),
					Attributes: refKVs(ss.Scope.Attrs), DroppedAttributesCount: ss.Scope.DroppedAttrs},
				SchemaUrl: fixUTF8(ss.SchemaURL),
			}
			for _, s := range ss.Spans {
				ps := &tracepb.Span{
					TraceId: append([]byte{}, s.TraceID[:]...), SpanId: append([]byte{}, s.SpanID[:]...),
					TraceState: fixUTF8(s.TraceState), Flags: s.Flags, Name: fixUTF8(s.Name),
					Kind:              tracepb.Span_SpanKind(s.Kind),
					StartTimeUnixNano: uint64(s.StartUnixNano), EndTimeUnixNano: uint64(s.EndUnixNano),
					Attributes: refKVs(s.Attrs), DroppedAttributesCount: s.DroppedAttrs,
					DroppedEventsCount: s.DroppedEvents, DroppedLinksCount: s.DroppedLinks,
					Status: &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status), Message: fixUTF8(s.StatusMessage)},
				}
				if !s.ParentSpanID.IsZero() {
					ps.ParentSpanId = append([]byte{}, s.ParentSpanID[:]...)
				}
				for _, ev := range s.Events {
					ps.Events = append(ps.Events, &tracepb.Span_Event{TimeUnixNano: uint64(ev.TimeUnixNano), Name: fixUTF8(ev.Name),
						Attributes: refKVs(ev.Attrs), DroppedAttributesCount: ev.DroppedAttrs})
				}
				for _, l := range s.Links {
					ps.Links = append(ps.Links, &tracepb.Span_Link{TraceId: append([]byte{}, l.TraceID[:]...), SpanId: append([]byte{}, l.SpanID[:]...),
						TraceState: fixUTF8(l.TraceState), Attributes: refKVs(l.Attrs), DroppedAttributesCount: l.DroppedAttrs, Flags: l.Flags})
				}
				pss.Spans = append(pss.Spans, ps)
			}
			prs.ScopeSpans = append(prs.ScopeSpans, pss)
		}
		req.ResourceSpans = append(req.ResourceSpans, prs)
	}
	return req
}

// TestAppendSpansMatchesProto checks random batches against the official
// decoder: the bytes decode into a message proto.Equal to the reference,
// of exactly its proto.Size, and invalid UTF-8 is repaired and counted.
func TestAppendSpansMatchesProto(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	enc := NewSpanEncoder()
	var buf []byte
	for i := 0; i < 500; i++ {
		rs := randResourceSpans(rng)
		buf = enc.AppendSpans(buf[:0], rs)
		got := &coltrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(buf, got); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		want := refRequest(rs)
		if !proto.Equal(got, want) {
			t.Fatalf("batch %d differs:\n got %v\nwant %v", i, got, want)
		}
		if proto.Size(want) != len(buf) {
			t.Fatalf("batch %d: %d bytes, proto.Size %d", i, len(buf), proto.Size(want))
		}
	}
	if enc.InvalidUTF8() == 0 {
		t.Fatal("no invalid string counted")
	}
}

// TestAppendSpansInvalidCount checks that each invalid string is counted
// once per field it is written to.
func TestAppendSpansInvalidCount(t *testing.T) {
	enc := NewSpanEncoder()
	bad := "x\xff"
	rs := []ResourceSpans{{ScopeSpans: []ScopeSpans{{Spans: []Span{{
		Name:   bad,
		Attrs:  []KeyValue{{Key: bad, Value: StringValue(bad)}, {Key: "a", IsArray: true, Array: []Value{StringValue(bad)}}},
		Events: []SpanEvent{{Name: bad}},
		Links:  []SpanLink{{TraceState: bad}},
	}}}}}}
	enc.AppendSpans(nil, rs)
	if got := enc.InvalidUTF8(); got != 6 {
		t.Fatalf("counted %d invalid strings, want 6", got)
	}
}

// TestAppendSpansEmpty checks edge values: no batches, a resource with no
// scope, a scope with no spans, NaN and -0 doubles.
func TestAppendSpansEmpty(t *testing.T) {
	enc := NewSpanEncoder()
	if b := enc.AppendSpans(nil, nil); len(b) != 0 {
		t.Fatalf("empty batch wrote %d bytes", len(b))
	}
	rs := []ResourceSpans{{}, {ScopeSpans: []ScopeSpans{{}}}, {ScopeSpans: []ScopeSpans{{Spans: []Span{{
		Attrs: []KeyValue{{Key: "nan", Value: Float64Value(math.NaN())}, {Key: "neg0", Value: Float64Value(math.Copysign(0, -1))}, {Key: "empty"}, {Key: "arr", IsArray: true}},
	}}}}}}
	buf := enc.AppendSpans(nil, rs)
	got := &coltrace.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(buf, got); err != nil {
		t.Fatal(err)
	}
	if len(got.ResourceSpans) != 3 || got.ResourceSpans[0].Resource == nil || got.ResourceSpans[1].ScopeSpans[0].Scope == nil {
		t.Fatalf("decoded %v", got)
	}
	attrs := got.ResourceSpans[2].ScopeSpans[0].Spans[0].Attributes
	if !math.IsNaN(attrs[0].Value.GetDoubleValue()) || !math.Signbit(attrs[1].Value.GetDoubleValue()) ||
		attrs[2].Value == nil || attrs[2].Value.Value != nil || attrs[3].Value.GetArrayValue() == nil {
		t.Fatalf("edge values decoded as %v", attrs)
	}
	if len(buf) != proto.Size(got) {
		t.Fatalf("%d bytes, proto.Size %d", len(buf), proto.Size(got))
	}
}

// TestAppendSpansAllocs checks that a warm encoder allocates nothing.
func TestAppendSpansAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	rs := randResourceSpans(rand.New(rand.NewPCG(1, 1)))
	enc := NewSpanEncoder()
	buf := enc.AppendSpans(nil, rs)
	if n := testing.AllocsPerRun(200, func() { buf = enc.AppendSpans(buf[:0], rs) }); n != 0 {
		t.Fatalf("AppendSpans allocated %v times", n)
	}
}

func benchSpans(n int) []ResourceSpans {
	spans := make([]Span, n)
	for i := range spans {
		s := &spans[i]
		s.TraceID, s.SpanID, s.ParentSpanID = TraceID{1, 2, 3}, SpanID{byte(i), 1}, SpanID{9}
		s.Name, s.Kind, s.Flags = "GET /v1/chat", SpanKindServer, 0x301
		s.StartUnixNano, s.EndUnixNano = 1700000000000000000, 1700000000001000000
		for k := 0; k < 8; k++ {
			s.Attrs = append(s.Attrs, KeyValue{Key: "http.request.header.key", Value: StringValue("some value of a header")})
		}
		s.Status = StatusOK
	}
	return []ResourceSpans{{Attrs: []KeyValue{{Key: "service.name", Value: StringValue("svc")}}, ScopeSpans: []ScopeSpans{{Scope: SpanScope{Name: "otelhttp"}, Spans: spans}}}}
}

func BenchmarkAppendSpans(b *testing.B) {
	rs := benchSpans(512)
	b.Run("flowtel", func(b *testing.B) {
		enc := NewSpanEncoder()
		buf := enc.AppendSpans(nil, rs)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = enc.AppendSpans(buf[:0], rs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
	})
	b.Run("protobuf", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			req := refRequest(rs)
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], req)
		}
		b.SetBytes(int64(len(buf)))
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
	})
}

package encode_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
	"github.com/flowtel/flowtel/internal/testkit"
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

func randScalar(rng *rand.Rand) encode.Value {
	switch rng.IntN(6) {
	case 0:
		return encode.StringValue(randSpanString(rng))
	case 1:
		return encode.Int64Value(int64(rng.Uint64()) >> rng.IntN(64))
	case 2:
		if rng.IntN(3) == 0 {
			return encode.Float64Value(0)
		}
		return encode.Float64Value(rng.NormFloat64() * 1e6)
	case 3:
		return encode.BoolValue(rng.IntN(2) == 0)
	case 4:
		b := make([]byte, rng.IntN(5))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return encode.BytesValue(b)
	}
	return encode.Value{}
}

func randKVs(rng *rand.Rand, max int) []encode.KeyValue {
	n := rng.IntN(max + 1)
	kvs := make([]encode.KeyValue, n)
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

func randResourceSpans(rng *rand.Rand) []encode.ResourceSpans {
	rs := make([]encode.ResourceSpans, 1+rng.IntN(2))
	for i := range rs {
		r := &rs[i]
		r.Attrs, r.DroppedAttrs, r.SchemaURL = randKVs(rng, 4), uint32(rng.IntN(2)), randSpanString(rng)
		r.ScopeSpans = make([]encode.ScopeSpans, 1+rng.IntN(2))
		for k := range r.ScopeSpans {
			ss := &r.ScopeSpans[k]
			ss.Scope = encode.SpanScope{Name: randSpanString(rng), Version: randSpanString(rng), Attrs: randKVs(rng, 2), DroppedAttrs: uint32(rng.IntN(2))}
			ss.SchemaURL = randSpanString(rng)
			ss.Spans = make([]encode.Span, rng.IntN(5))
			for s := range ss.Spans {
				sp := &ss.Spans[s]
				randID(rng, sp.TraceID[:], false)
				randID(rng, sp.SpanID[:], false)
				randID(rng, sp.ParentSpanID[:], true)
				sp.TraceState = randSpanString(rng)
				sp.Flags = uint32(rng.IntN(2)) | uint32(rng.IntN(4))<<8
				sp.Name = randSpanString(rng)
				sp.Kind = encode.SpanKind(rng.IntN(6))
				sp.StartUnixNano = rng.Int64()
				sp.EndUnixNano = rng.Int64()
				sp.Attrs = randKVs(rng, 8)
				sp.DroppedAttrs = uint32(rng.IntN(300))
				for range rng.IntN(3) {
					sp.Events = append(sp.Events, encode.SpanEvent{TimeUnixNano: rng.Int64(), Name: randSpanString(rng), Attrs: randKVs(rng, 3), DroppedAttrs: uint32(rng.IntN(2))})
				}
				sp.DroppedEvents = uint32(rng.IntN(2))
				for range rng.IntN(3) {
					l := encode.SpanLink{TraceState: randSpanString(rng), Flags: uint32(rng.IntN(0x400)), Attrs: randKVs(rng, 2), DroppedAttrs: uint32(rng.IntN(2))}
					randID(rng, l.TraceID[:], false)
					randID(rng, l.SpanID[:], false)
					sp.Links = append(sp.Links, l)
				}
				sp.DroppedLinks = uint32(rng.IntN(2))
				sp.Status = encode.StatusCode(rng.IntN(3))
				sp.StatusMessage = randSpanString(rng)
			}
		}
	}
	return rs
}

// TestAppendSpansMatchesProto checks random batches against the official
// decoder: the bytes decode into a message proto.Equal to the reference,
// of exactly its proto.Size, and invalid UTF-8 is repaired and counted.
func TestAppendSpansMatchesProto(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	enc := encode.NewSpanEncoder()
	var buf []byte
	for i := 0; i < 500; i++ {
		rs := randResourceSpans(rng)
		buf = enc.AppendSpans(buf[:0], rs)
		got := &coltrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(buf, got); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		want := (&otlpref.Builder{}).Spans(rs)
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
	enc := encode.NewSpanEncoder()
	bad := "x\xff"
	rs := []encode.ResourceSpans{{ScopeSpans: []encode.ScopeSpans{{Spans: []encode.Span{{
		Name:   bad,
		Attrs:  []encode.KeyValue{{Key: bad, Value: encode.StringValue(bad)}, {Key: "a", IsArray: true, Array: []encode.Value{encode.StringValue(bad)}}},
		Events: []encode.SpanEvent{{Name: bad}},
		Links:  []encode.SpanLink{{TraceState: bad}},
	}}}}}}
	enc.AppendSpans(nil, rs)
	if got := enc.InvalidUTF8(); got != 6 {
		t.Fatalf("counted %d invalid strings, want 6", got)
	}
}

// TestAppendSpansEmpty checks edge values: no batches, a resource with no
// scope, a scope with no spans, NaN and -0 doubles.
func TestAppendSpansEmpty(t *testing.T) {
	enc := encode.NewSpanEncoder()
	if b := enc.AppendSpans(nil, nil); len(b) != 0 {
		t.Fatalf("empty batch wrote %d bytes", len(b))
	}
	rs := []encode.ResourceSpans{{}, {ScopeSpans: []encode.ScopeSpans{{}}}, {ScopeSpans: []encode.ScopeSpans{{Spans: []encode.Span{{
		Attrs: []encode.KeyValue{{Key: "nan", Value: encode.Float64Value(math.NaN())}, {Key: "neg0", Value: encode.Float64Value(math.Copysign(0, -1))}, {Key: "empty"}, {Key: "arr", IsArray: true}},
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
	rs := randResourceSpans(rand.New(rand.NewPCG(1, 1)))
	enc := encode.NewSpanEncoder()
	buf := enc.AppendSpans(nil, rs)
	testkit.WantAllocs(t, 0, func() { buf = enc.AppendSpans(buf[:0], rs) })
}

func benchSpans(n int) []encode.ResourceSpans {
	spans := make([]encode.Span, n)
	for i := range spans {
		s := &spans[i]
		s.TraceID, s.SpanID, s.ParentSpanID = encode.TraceID{1, 2, 3}, encode.SpanID{byte(i), 1}, encode.SpanID{9}
		s.Name, s.Kind, s.Flags = "GET /v1/chat", encode.SpanKindServer, 0x301
		s.StartUnixNano, s.EndUnixNano = 1700000000000000000, 1700000000001000000
		for k := 0; k < 8; k++ {
			s.Attrs = append(s.Attrs, encode.KeyValue{Key: "http.request.header.key", Value: encode.StringValue("some value of a header")})
		}
		s.Status = encode.StatusOK
	}
	return []encode.ResourceSpans{{Attrs: []encode.KeyValue{{Key: "service.name", Value: encode.StringValue("svc")}}, ScopeSpans: []encode.ScopeSpans{{Scope: encode.SpanScope{Name: "otelhttp"}, Spans: spans}}}}
}

func BenchmarkAppendSpans(b *testing.B) {
	rs := benchSpans(512)
	b.Run("flowtel", func(b *testing.B) {
		enc := encode.NewSpanEncoder()
		benchAppend(b, 512, "span", func(buf []byte) []byte { return enc.AppendSpans(buf, rs) })
	})
	b.Run("protobuf", func(b *testing.B) {
		benchAppend(b, 512, "span", func(buf []byte) []byte { return marshalAppend(buf, (&otlpref.Builder{}).Spans(rs)) })
	})
}

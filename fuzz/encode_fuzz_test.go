package fuzz

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
)

// encSrc turns the fuzzer's bytes into choices; once they run out every
// choice is zero, so any input makes a valid batch.
type encSrc struct{ b []byte }

func (s *encSrc) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *encSrc) intn(n int) int { return int(s.byte()) % n }

func (s *encSrc) u64() uint64 {
	var b [8]byte
	n := copy(b[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(b[:])
}

// str returns raw input bytes as a string (often invalid UTF-8), or, for
// a length byte of 250 and up, a large string with a multi-byte length prefix.
func (s *encSrc) str() string {
	n := int(s.byte())
	if n >= 250 {
		return strings.Repeat("é", (n-249)*3000)
	}
	n = min(n%64, len(s.b))
	str := string(s.b[:n])
	s.b = s.b[n:]
	return str
}

func (s *encSrc) value() encode.Value {
	switch s.intn(6) {
	case 1:
		return encode.StringValue(s.str())
	case 2:
		return encode.Int64Value(int64(s.u64()))
	case 3:
		return encode.Float64Value(math.Float64frombits(s.u64()))
	case 4:
		return encode.BoolValue(s.byte()&1 == 1)
	case 5:
		return encode.BytesValue([]byte(s.str()))
	}
	return encode.Value{}
}

func (s *encSrc) attrs() []encode.Attr {
	var as []encode.Attr
	for i := s.intn(4); i > 0; i-- {
		as = append(as, encode.Attr{Key: s.str(), Value: s.value()})
	}
	return as
}

func (s *encSrc) events() []encode.Event {
	var evs []encode.Event
	for i := s.intn(3); i > 0; i-- {
		t, k := int64(s.u64()), s.byte()
		ev := encode.Event{
			TimeUnixNano: t, Kind: encode.EventKind(k % 3),
			Message: s.str(), Type: s.str(), Stacktrace: s.str(),
		}
		if k&0x80 != 0 {
			// An event given as data, or an exception event with the
			// attributes of the bridge's RecordError.
			ev.Attrs = s.attrs()
		}
		evs = append(evs, ev)
	}
	return evs
}

func (s *encSrc) usage() encode.Usage {
	return encode.Usage{QuestionTokens: int64(s.u64()), PromptTokens: int64(s.u64()),
		CompletionTokens: int64(s.u64()), TotalTokens: int64(s.u64())}
}

func (s *encSrc) run() *encode.Run {
	r := &encode.Run{
		TraceState: s.str(), ServiceID: s.str(), FlowID: s.str(), SID: s.str(), AppID: s.str(),
		UID: s.str(), BotID: s.str(), ChatID: s.str(), Sub: s.str(), Caller: s.str(),
		StartUnixNano: int64(s.u64()), EndUnixNano: int64(s.u64()), Attrs: s.attrs(),
		Code: int64(s.u64()), Usage: s.usage(), Events: s.events(),
		Status: encode.StatusCode(s.intn(3)), StatusMessage: s.str(), Incomplete: s.byte()&1 == 1,
		DroppedAttrs: uint32(s.byte()), DroppedEvents: uint32(s.byte()), DroppedNodes: uint32(s.byte()),
	}
	binary.LittleEndian.PutUint64(r.TraceID[:], s.u64())
	binary.LittleEndian.PutUint64(r.SpanID[:], s.u64())
	binary.LittleEndian.PutUint64(r.ParentSpanID[:], s.u64())
	if s.byte()&1 == 1 {
		r.Sub = "SparkAgent"
	}
	for i := s.intn(4); i > 0; i-- {
		n := &encode.Node{
			NodeID: s.str(), NodeType: s.str(), NodeName: s.str(),
			StartUnixNano: int64(s.u64()), EndUnixNano: int64(s.u64()), FirstFrameUnixNano: int64(s.u64()),
			LLMOutput: s.str(), Input: s.attrs(), Output: s.attrs(), Config: s.attrs(),
			Usage: s.usage(), HasUsage: s.byte()&1 == 1, Events: s.events(),
			Status: encode.StatusCode(s.intn(3)), StatusMessage: s.str(), Incomplete: s.byte()&1 == 1,
			DroppedAttrs: uint32(s.byte()), DroppedEvents: uint32(s.byte()),
		}
		for j := s.intn(3); j > 0; j-- {
			n.Next = append(n.Next, s.str())
		}
		binary.LittleEndian.PutUint64(n.SpanID[:], s.u64())
		r.Nodes = append(r.Nodes, n)
	}
	return r
}

func (s *encSrc) batch() (encode.Resource, []*encode.Run) {
	res := encode.Resource{ServiceName: s.str(), ServiceInstanceID: s.str(), HostIP: s.str(), Attrs: s.attrs()}
	var runs []*encode.Run
	for i := s.intn(4); i > 0; i-- {
		runs = append(runs, s.run())
	}
	return res, runs
}

func encSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x03\x05hello\x02\xff\xfe\x04\xe4\xb8\xad\xe4\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte(strings.Repeat("\x01\x07\x03abc\xfa\x05\x02\x03", 40)))
	f.Add([]byte(strings.Repeat("\x02\x03\xed\xa0\x80\x01\x04\x05", 100)))
}

func encCheck(t *testing.T, got, want proto.Message, data []byte) {
	if err := proto.Unmarshal(data, got); err != nil {
		t.Fatalf("official decoder rejects the encoding: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("decoded request differs from the reference\n got: %s\nwant: %s",
			prototext.Format(got), prototext.Format(want))
	}
}

// FuzzEncodeTraces turns the input into records, encodes them with
// AppendTraces, decodes the bytes with the official decoder and compares
// the result with the reference built from the same records.
func FuzzEncodeTraces(f *testing.F) {
	encSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, runs := (&encSrc{b: data}).batch()
		e := encode.NewEncoder(res)
		var rb otlpref.Builder
		out := e.AppendTraces(nil, runs)
		encCheck(t, &coltracepb.ExportTraceServiceRequest{}, rb.Traces(rb.Resource(res), runs), out)
		// A second batch through the same encoder encodes the same bytes.
		if again := e.AppendTraces(nil, runs); string(again) != string(out) {
			t.Fatal("encoding the same batch twice gave different bytes")
		}
		if e.Stats().Spans != 2*uint64(encode.NumSpans(runs)) {
			t.Fatalf("Spans = %d, want %d", e.Stats().Spans, 2*encode.NumSpans(runs))
		}
		if encHasInvalid(res, runs) && e.Stats().InvalidUTF8 == 0 {
			t.Fatal("invalid UTF-8 in the input was not counted")
		}
	})
}

// encHasInvalid reports whether a string the encoder writes is invalid UTF-8
// (a coarse encCheck used only to catch a counter that never moves).
func encHasInvalid(res encode.Resource, runs []*encode.Run) bool {
	for _, r := range runs {
		if !utf8.ValidString(r.SID) {
			return true
		}
	}
	return !utf8.ValidString(res.ServiceName)
}

// FuzzEncodeLogs is FuzzEncodeTraces for AppendLogs.
func FuzzEncodeLogs(f *testing.F) {
	encSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, runs := (&encSrc{b: data}).batch()
		var rb otlpref.Builder
		out := encode.NewEncoder(res).AppendLogs(nil, runs)
		encCheck(t, &collogspb.ExportLogsServiceRequest{}, rb.Logs(rb.Resource(res), runs), out)
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
		got := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(buf, got); err != nil {
			t.Fatal(err)
		}
		want := (&otlpref.Builder{}).Spans(rs)
		if !proto.Equal(got, want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
		if proto.Size(want) != len(buf) {
			t.Fatalf("%d bytes, proto.Size %d", len(buf), proto.Size(want))
		}
	})
}

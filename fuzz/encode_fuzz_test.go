package fuzz

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
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
		evs = append(evs, encode.Event{
			TimeUnixNano: int64(s.u64()), Kind: encode.EventKind(s.intn(3)),
			Message: s.str(), Type: s.str(), Stacktrace: s.str(),
		})
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

// The reference, written from the span conventions independently of the
// encoder (and of the encode package's own test reference).

func encAnyStr(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fixUTF8(s)}}
}

func encKV(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func encKVS(k, v string) *commonpb.KeyValue { return encKV(k, encAnyStr(v)) }

func encKVI(k string, v int64) *commonpb.KeyValue {
	return encKV(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}})
}

func encKVB(k string, v bool) *commonpb.KeyValue {
	return encKV(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}})
}

func encRefAttrs(prefix string, as []encode.Attr) (out []*commonpb.KeyValue) {
	for _, a := range as {
		out = append(out, encKV(prefix+fixUTF8(a.Key), refAny(a.Value)))
	}
	return out
}

func encNonEmpty(kvs ...[2]string) (out []*commonpb.KeyValue) {
	for _, p := range kvs {
		if p[1] != "" {
			out = append(out, encKVS(p[0], p[1]))
		}
	}
	return out
}

func encRefResource(res encode.Resource) *resourcepb.Resource {
	attrs := append([]*commonpb.KeyValue{encKVS("service.name", res.ServiceName)},
		encNonEmpty([2]string{"service.instance.id", res.ServiceInstanceID},
			[2]string{"ip", res.HostIP}, [2]string{"host.ip", res.HostIP})...)
	attrs = append(attrs, encKVS("telemetry.sdk.name", "flowtel"), encKVS("telemetry.sdk.language", "go"),
		encKVS("telemetry.sdk.version", encode.ScopeVersion))
	return &resourcepb.Resource{Attributes: append(attrs, encRefAttrs("", res.Attrs)...)}
}

func encRefScope() *commonpb.InstrumentationScope {
	return &commonpb.InstrumentationScope{Name: encode.ScopeName, Version: encode.ScopeVersion}
}

func encRefUsage(u encode.Usage) []*commonpb.KeyValue {
	return []*commonpb.KeyValue{
		encKVI("usage.question_tokens", u.QuestionTokens), encKVI("usage.prompt_tokens", u.PromptTokens),
		encKVI("usage.completion_tokens", u.CompletionTokens), encKVI("usage.total_tokens", u.TotalTokens),
		encKVI("gen_ai.usage.input_tokens", u.PromptTokens), encKVI("gen_ai.usage.output_tokens", u.CompletionTokens),
	}
}

// encRefEvents also returns the error=true attribute when an error log is present.
func encRefEvents(evs []encode.Event) (out []*tracepb.Span_Event, errAttr []*commonpb.KeyValue) {
	for _, ev := range evs {
		pe := &tracepb.Span_Event{TimeUnixNano: uint64(ev.TimeUnixNano)}
		switch ev.Kind {
		case encode.EventInfo:
			pe.Name, pe.Attributes = "INFO", []*commonpb.KeyValue{encKVS("INFO LOG", ev.Message)}
		case encode.EventError:
			pe.Name, pe.Attributes = "ERROR", []*commonpb.KeyValue{encKVS("ERROR LOG", ev.Message)}
			errAttr = []*commonpb.KeyValue{encKVB("error", true)}
		default:
			pe.Name = "exception"
			pe.Attributes = encNonEmpty([2]string{"exception.type", ev.Type},
				[2]string{"exception.message", ev.Message}, [2]string{"exception.stacktrace", ev.Stacktrace})
		}
		out = append(out, pe)
	}
	return out, errAttr
}

func encRefSpan(r *encode.Run, id, parent encode.SpanID, flags uint32, name string, kind tracepb.Span_SpanKind,
	start, end int64, attrs []*commonpb.KeyValue, dropAttrs uint32, evs []encode.Event, dropEvs uint32,
	incomplete bool, code encode.StatusCode, msg string,
) *tracepb.Span {
	events, errAttr := encRefEvents(evs)
	attrs = append(attrs, errAttr...)
	if incomplete {
		attrs = append(attrs, encKVB("flowtel.incomplete", true))
	}
	s := &tracepb.Span{
		TraceId: r.TraceID[:], SpanId: id[:], TraceState: fixUTF8(r.TraceState), Flags: flags,
		Name: name, Kind: kind, StartTimeUnixNano: uint64(start), EndTimeUnixNano: uint64(end),
		Attributes: attrs, DroppedAttributesCount: dropAttrs, Events: events, DroppedEventsCount: dropEvs,
		Status: &tracepb.Status{Code: tracepb.Status_StatusCode(code), Message: fixUTF8(msg)},
	}
	if parent != (encode.SpanID{}) {
		s.ParentSpanId = parent[:]
	}
	return s
}

func encRefTraces(res encode.Resource, runs []*encode.Run) *coltracepb.ExportTraceServiceRequest {
	if len(runs) == 0 {
		return &coltracepb.ExportTraceServiceRequest{}
	}
	var spans []*tracepb.Span
	for _, r := range runs {
		common := func() []*commonpb.KeyValue {
			return []*commonpb.KeyValue{encKVS("sid", r.SID), encKVS("app_id", r.AppID), encKVS("uid", r.UID),
				encKVS("chat_id", r.ChatID), encKVS("span_version", encode.SpanVersion)}
		}
		svc := r.ServiceID
		switch {
		case svc != "":
		case r.Sub == "SparkAgent":
			svc = r.BotID
		default:
			svc = r.FlowID
		}
		attrs := append(common(), encKVI("code", r.Code))
		attrs = append(attrs, encNonEmpty([2]string{"flow_id", r.FlowID}, [2]string{"service_id", svc},
			[2]string{"bot_id", r.BotID}, [2]string{"sub", r.Sub}, [2]string{"caller", r.Caller})...)
		attrs = append(attrs, encRefUsage(r.Usage)...)
		// error and flowtel.incomplete come before dropped_nodes and Attrs.
		events, errAttr := encRefEvents(r.Events)
		attrs = append(attrs, errAttr...)
		if r.Incomplete {
			attrs = append(attrs, encKVB("flowtel.incomplete", true))
		}
		if r.DroppedNodes != 0 {
			attrs = append(attrs, encKVI("flowtel.dropped_nodes", int64(r.DroppedNodes)))
		}
		attrs = append(attrs, encRefAttrs("", r.Attrs)...)
		name := "run"
		if r.FlowID != "" {
			name = "run:" + fixUTF8(r.FlowID)
		}
		flags := uint32(0x101)
		if r.ParentSpanID != (encode.SpanID{}) {
			flags |= 0x200
		}
		root := encRefSpan(r, r.SpanID, r.ParentSpanID, flags, name, tracepb.Span_SPAN_KIND_SERVER,
			r.StartUnixNano, r.EndUnixNano, attrs, r.DroppedAttrs, nil, r.DroppedEvents, false, r.Status, r.StatusMessage)
		root.Events = events
		spans = append(spans, root)

		for _, n := range r.Nodes {
			attrs := append(common(), encKVS("node_id", n.NodeID), encKVS("node_type", n.NodeType),
				encKVS("node_name", n.NodeName), encKVB("running_status", n.Status != encode.StatusError))
			attrs = append(attrs, encRefAttrs("input.", n.Input)...)
			attrs = append(attrs, encRefAttrs("output.", n.Output)...)
			attrs = append(attrs, encRefAttrs("config.", n.Config)...)
			attrs = append(attrs, encNonEmpty([2]string{"llm_output", n.LLMOutput})...)
			if n.FirstFrameUnixNano != 0 {
				attrs = append(attrs, encKVI("first_frame_duration", runlogMillis(n.FirstFrameUnixNano)-runlogMillis(n.StartUnixNano)))
			}
			if len(n.Next) > 0 {
				arr := &commonpb.ArrayValue{}
				for _, id := range n.Next {
					arr.Values = append(arr.Values, encAnyStr(id))
				}
				attrs = append(attrs, encKV("next_node_ids", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}))
			}
			if n.HasUsage {
				attrs = append(attrs, encRefUsage(n.Usage)...)
			}
			spans = append(spans, encRefSpan(r, n.SpanID, r.SpanID, 0x101, "run_node:"+fixUTF8(n.NodeID),
				tracepb.Span_SPAN_KIND_INTERNAL, n.StartUnixNano, n.EndUnixNano, attrs, n.DroppedAttrs,
				n.Events, n.DroppedEvents, n.Incomplete, n.Status, n.StatusMessage))
		}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   encRefResource(res),
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: encRefScope(), Spans: spans}},
	}}}
}

func encRefLogs(res encode.Resource, runs []*encode.Run) *collogspb.ExportLogsServiceRequest {
	if len(runs) == 0 {
		return &collogspb.ExportLogsServiceRequest{}
	}
	var recs []*logspb.LogRecord
	for _, r := range runs {
		sev, text := logspb.SeverityNumber_SEVERITY_NUMBER_INFO, "INFO"
		if r.Status == encode.StatusError {
			sev, text = logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, "ERROR"
		}
		recs = append(recs, &logspb.LogRecord{
			TimeUnixNano: uint64(r.EndUnixNano), ObservedTimeUnixNano: uint64(r.EndUnixNano),
			SeverityNumber: sev, SeverityText: text,
			Body:       encAnyStr(string(encode.AppendRunLog(nil, r))),
			Attributes: []*commonpb.KeyValue{encKVS("sid", r.SID), encKVS("event.name", "flowtel.run_log")},
			Flags:      1, TraceId: r.TraceID[:], SpanId: r.SpanID[:], EventName: "flowtel.run_log",
		})
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  encRefResource(res),
		ScopeLogs: []*logspb.ScopeLogs{{Scope: encRefScope(), LogRecords: recs}},
	}}}
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
		s := &encSrc{b: data}
		res, runs := s.batch()
		e := encode.NewEncoder(res)
		out := e.AppendTraces(nil, runs)
		encCheck(t, &coltracepb.ExportTraceServiceRequest{}, encRefTraces(res, runs), out)
		// A second batch through the same encoder encodes the same bytes.
		if again := e.AppendTraces(nil, runs); string(again) != string(out) {
			t.Fatal("encoding the same batch twice gave different bytes")
		}
		if e.Stats().Spans != 2*uint64(encode.SpanCount(runs)) {
			t.Fatalf("Spans = %d, want %d", e.Stats().Spans, 2*encode.SpanCount(runs))
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
		s := &encSrc{b: data}
		res, runs := s.batch()
		e := encode.NewEncoder(res)
		encCheck(t, &collogspb.ExportLogsServiceRequest{}, encRefLogs(res, runs), e.AppendLogs(nil, runs))
	})
}

package otlpref

import (
	"slices"
	"strings"
	"unicode/utf8"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/encode"
)

// Builder builds reference messages and counts, in Invalid, the strings it
// had to repair. The zero Builder is ready to use.
type Builder struct {
	Invalid uint64
}

// Str returns s, repaired (and counted) when it is not valid UTF-8.
func (b *Builder) Str(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b.Invalid++
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Any returns the AnyValue of v.
func (b *Builder) Any(v encode.Value) *commonpb.AnyValue {
	switch v.Kind() {
	case encode.KindString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: b.Str(v.Str())}}
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

// KVStr returns the attribute k=v for a string v.
func (b *Builder) KVStr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: b.Str(v)}}}
}

// KVInt returns the attribute k=v for an integer v.
func KVInt(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// KVBool returns the attribute k=v for a bool v.
func KVBool(k string, v bool) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}}
}

// Attrs returns as with each key prefixed.
func (b *Builder) Attrs(prefix string, as []encode.Attr) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, a := range as {
		out = append(out, &commonpb.KeyValue{Key: prefix + b.Str(a.Key), Value: b.Any(a.Value)})
	}
	return out
}

// Resource returns the resource every request of encode carries for res.
func (b *Builder) Resource(res encode.Resource) *resourcepb.Resource {
	kvs := []*commonpb.KeyValue{b.KVStr("service.name", res.ServiceName)}
	if res.ServiceInstanceID != "" {
		kvs = append(kvs, b.KVStr("service.instance.id", res.ServiceInstanceID))
	}
	if res.HostIP != "" {
		hostIP := &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
			Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: b.Str(res.HostIP)}}}}}}
		kvs = append(kvs, b.KVStr("ip", res.HostIP), &commonpb.KeyValue{Key: "host.ip", Value: hostIP})
	}
	kvs = append(kvs,
		b.KVStr("telemetry.sdk.name", "flowtel"),
		b.KVStr("telemetry.sdk.language", "go"),
		b.KVStr("telemetry.sdk.version", encode.ScopeVersion))
	// Each key once: the attributes written above win over res.Attrs, and
	// the last of a key repeated in res.Attrs wins.
	fixed := map[string]bool{}
	for _, kv := range kvs {
		fixed[kv.Key] = true
	}
	var attrs []encode.Attr
	for i, a := range res.Attrs {
		last := true
		for _, later := range res.Attrs[i+1:] {
			last = last && later.Key != a.Key
		}
		if last && !fixed[a.Key] {
			attrs = append(attrs, a)
		}
	}
	kvs = append(kvs, b.Attrs("", attrs)...)
	return &resourcepb.Resource{Attributes: kvs}
}

// Scope returns flowtel's instrumentation scope.
func Scope() *commonpb.InstrumentationScope {
	return &commonpb.InstrumentationScope{Name: encode.ScopeName, Version: encode.ScopeVersion}
}

// usage returns the usage attributes, under the original's names and the
// GenAI conventions', but a GenAI key the span's own attributes hold: a
// key is on a span once, with the caller's value.
func usage(u encode.Usage, own []encode.Attr) []*commonpb.KeyValue {
	kvs := []*commonpb.KeyValue{
		KVInt("usage.question_tokens", u.QuestionTokens),
		KVInt("usage.prompt_tokens", u.PromptTokens),
		KVInt("usage.completion_tokens", u.CompletionTokens),
		KVInt("usage.total_tokens", u.TotalTokens),
	}
	for _, kv := range []*commonpb.KeyValue{
		KVInt("gen_ai.usage.input_tokens", u.PromptTokens),
		KVInt("gen_ai.usage.output_tokens", u.CompletionTokens),
	} {
		if !slices.ContainsFunc(own, func(a encode.Attr) bool { return a.Key == kv.Key }) {
			kvs = append(kvs, kv)
		}
	}
	return kvs
}

// lastOfKeys returns as with each key once, the last of it, keys compared
// as written (invalid UTF-8 repaired).
func lastOfKeys(as []encode.Attr) []encode.Attr {
	var out []encode.Attr
	for i, a := range as {
		k := strings.ToValidUTF8(a.Key, "\uFFFD")
		if !slices.ContainsFunc(as[i+1:], func(b encode.Attr) bool { return strings.ToValidUTF8(b.Key, "\uFFFD") == k }) {
			out = append(out, a)
		}
	}
	return out
}

// events returns the span events and whether one is an error log.
func (b *Builder) events(evs []encode.Event) ([]*tracepb.Span_Event, bool) {
	var out []*tracepb.Span_Event
	isErr := false
	for _, ev := range evs {
		pe := &tracepb.Span_Event{TimeUnixNano: uint64(ev.TimeUnixNano)}
		if len(ev.Attrs) != 0 && ev.Kind != encode.EventException {
			// An event given as data carries its attributes instead of
			// the log message.
			pe.Name, isErr = "INFO", isErr || ev.Kind == encode.EventError
			if ev.Kind == encode.EventError {
				pe.Name = "ERROR"
			}
			pe.Attributes = b.Attrs("", lastOfKeys(ev.Attrs))
			out = append(out, pe)
			continue
		}
		switch ev.Kind {
		case encode.EventInfo:
			pe.Name = "INFO"
			pe.Attributes = append(pe.Attributes, b.KVStr("INFO LOG", ev.Message))
		case encode.EventError:
			pe.Name = "ERROR"
			pe.Attributes = append(pe.Attributes, b.KVStr("ERROR LOG", ev.Message))
			isErr = true
		case encode.EventException:
			pe.Name = "exception"
			for _, kv := range [][2]string{
				{"exception.type", ev.Type},
				{"exception.message", ev.Message},
				{"exception.stacktrace", ev.Stacktrace},
			} {
				if kv[1] != "" {
					pe.Attributes = append(pe.Attributes, b.KVStr(kv[0], kv[1]))
				}
			}
			if len(ev.Attrs) != 0 {
				// RecordError's attributes, from the bridge.
				pe.Attributes = append(pe.Attributes, b.Attrs("", lastOfKeys(ev.Attrs))...)
			}
		}
		out = append(out, pe)
	}
	return out, isErr
}

// setEvents sets the events of s and appends the attributes error=true,
// when one is an error log, and flowtel.incomplete, when incomplete.
func (b *Builder) setEvents(s *tracepb.Span, evs []encode.Event, incomplete bool) {
	var isErr bool
	s.Events, isErr = b.events(evs)
	if isErr {
		s.Attributes = append(s.Attributes, KVBool("error", true))
	}
	if incomplete {
		s.Attributes = append(s.Attributes, KVBool("flowtel.incomplete", true))
	}
}

// common returns the attributes every span of r carries.
func (b *Builder) common(r *encode.Run) []*commonpb.KeyValue {
	return []*commonpb.KeyValue{
		b.KVStr("sid", r.SID), b.KVStr("app_id", r.AppID), b.KVStr("uid", r.UID),
		b.KVStr("chat_id", r.ChatID), b.KVStr("span_version", "1.0.0"),
	}
}

func (b *Builder) status(c encode.StatusCode, msg string) *tracepb.Status {
	return &tracepb.Status{Code: tracepb.Status_StatusCode(c), Message: b.Str(msg)}
}

// RunSpan returns the root span of r, each attribute key once (once).
func (b *Builder) RunSpan(r *encode.Run) *tracepb.Span {
	inv := b.Invalid
	s := b.runSpan(r, r.Attrs)
	own := s.Attributes[:len(s.Attributes)-len(r.Attrs)]
	lists, dropped := once(own, [4]string{}, [4][]encode.Attr{3: r.Attrs})
	b.Invalid = inv
	s = b.runSpan(r, lists[3])
	s.DroppedAttributesCount += dropped
	return s
}

// once returns the caller's lists of a span, written under pres, without
// the attributes a later one of the same key replaces (the lists in
// order, each in order; keys compared as written, invalid UTF-8 repaired)
// or a key of own, the span's other attributes, does, and how many own
// replaced.
func once(own []*commonpb.KeyValue, pres [4]string, lists [4][]encode.Attr) (out [4][]encode.Attr, dropped uint32) {
	owns := map[string]bool{}
	for _, kv := range own {
		owns[kv.Key] = true
	}
	last := map[string][2]int{}
	for l, as := range lists {
		for i, a := range as {
			last[strings.ToValidUTF8(pres[l]+a.Key, "\uFFFD")] = [2]int{l, i}
		}
	}
	for l, as := range lists {
		for i, a := range as {
			k := strings.ToValidUTF8(pres[l]+a.Key, "\uFFFD")
			switch {
			case owns[k]:
				dropped++
			case last[k] == [2]int{l, i}:
				out[l] = append(out[l], a)
			}
		}
	}
	return out, dropped
}

// runSpan returns the root span of r with attrs for r.Attrs.
func (b *Builder) runSpan(r *encode.Run, attrs []encode.Attr) *tracepb.Span {
	s := &tracepb.Span{
		TraceId:           append([]byte(nil), r.TraceID[:]...),
		SpanId:            append([]byte(nil), r.SpanID[:]...),
		TraceState:        b.Str(r.TraceState),
		Flags:             0x101,
		Name:              "run",
		Kind:              tracepb.Span_SPAN_KIND_SERVER,
		StartTimeUnixNano: uint64(r.StartUnixNano),
		EndTimeUnixNano:   uint64(r.EndUnixNano),
	}
	if r.Kind != encode.SpanKindUnspecified && r.Kind <= encode.SpanKindConsumer {
		s.Kind = tracepb.Span_SpanKind(r.Kind)
	}
	if r.FlowID != "" {
		s.Name = "run:" + b.Str(r.FlowID)
	}
	if r.ParentSpanID != (encode.SpanID{}) {
		s.ParentSpanId = append([]byte(nil), r.ParentSpanID[:]...)
		s.Flags |= 0x200
	}
	s.Attributes = append(b.common(r), KVInt("code", r.Code))
	svc := r.ServiceID
	if svc == "" && r.Sub == "SparkAgent" {
		svc = r.BotID
	} else if svc == "" {
		svc = r.FlowID
	}
	for _, kv := range [][2]string{
		{"flow_id", r.FlowID}, {"service_id", svc}, {"bot_id", r.BotID},
		{"sub", r.Sub}, {"caller", r.Caller},
	} {
		if kv[1] != "" {
			s.Attributes = append(s.Attributes, b.KVStr(kv[0], kv[1]))
		}
	}
	s.Attributes = append(s.Attributes, usage(r.Usage, attrs)...)
	b.setEvents(s, r.Events, r.Incomplete)
	if r.DroppedNodes != 0 {
		s.Attributes = append(s.Attributes, KVInt("flowtel.dropped_nodes", int64(r.DroppedNodes)))
	}
	// The run's first frame: set by its owner, else the start of its first
	// node (in r.Nodes' order) whose node id prefix is message or node-end.
	ff, has := r.FirstFrameUnixNano, r.FirstFrameUnixNano != 0
	for _, n := range r.Nodes {
		if typ, _, _ := strings.Cut(n.NodeID, ":"); !has && (typ == "message" || typ == "node-end") {
			ff, has = n.StartUnixNano, true
		}
	}
	if has {
		s.Attributes = append(s.Attributes, KVInt("first_frame_duration", millis(ff)-millis(r.StartUnixNano)))
	}
	s.Attributes = append(s.Attributes, b.Attrs("", attrs)...)
	s.DroppedAttributesCount = r.DroppedAttrs
	s.DroppedEventsCount = r.DroppedEvents
	s.Status = b.status(r.Status, r.StatusMessage)
	return s
}

// NodeSpan returns the span of node n of run r, each attribute key once
// (once).
func (b *Builder) NodeSpan(r *encode.Run, n *encode.Node) *tracepb.Span {
	inv := b.Invalid
	lists := [4][]encode.Attr{n.Input, n.Output, n.Config, n.Attrs}
	s, in := b.nodeSpan(r, n, lists)
	caller := len(n.Input) + len(n.Output) + len(n.Config)
	own := append(append([]*commonpb.KeyValue(nil), s.Attributes[:in]...), s.Attributes[in+caller:len(s.Attributes)-len(n.Attrs)]...)
	lists, dropped := once(own, [4]string{"input.", "output.", "config.", ""}, lists)
	b.Invalid = inv
	s, _ = b.nodeSpan(r, n, lists)
	s.DroppedAttributesCount += dropped
	return s
}

// nodeSpan returns the span of node n of run r with lists for its Input,
// Output, Config and Attrs, and the index of the first Input attribute.
func (b *Builder) nodeSpan(r *encode.Run, n *encode.Node, lists [4][]encode.Attr) (*tracepb.Span, int) {
	s := &tracepb.Span{
		TraceId:           append([]byte(nil), r.TraceID[:]...),
		SpanId:            append([]byte(nil), n.SpanID[:]...),
		TraceState:        b.Str(r.TraceState),
		Flags:             0x101,
		Kind:              tracepb.Span_SPAN_KIND_INTERNAL,
		StartTimeUnixNano: uint64(n.StartUnixNano),
		EndTimeUnixNano:   uint64(n.EndUnixNano),
	}
	switch {
	case n.SpanName[0] == "":
		s.Name = "run_node:" + b.Str(n.NodeID)
	case n.SpanName[1] == "":
		s.Name = b.Str(n.SpanName[0])
	default:
		s.Name = b.Str(n.SpanName[0]) + " " + b.Str(n.SpanName[1])
	}
	parent := r.SpanID
	if n.ParentSpanID != (encode.SpanID{}) {
		parent = n.ParentSpanID
	}
	if parent != (encode.SpanID{}) { // a zero id is no parent
		s.ParentSpanId = append([]byte(nil), parent[:]...)
	}
	if n.Kind != encode.SpanKindUnspecified {
		s.Kind = tracepb.Span_SpanKind(n.Kind)
	}
	s.Attributes = append(b.common(r),
		b.KVStr("node_id", n.NodeID), b.KVStr("node_type", n.NodeType), b.KVStr("node_name", n.NodeName),
		KVBool("running_status", n.Status != encode.StatusError))
	in := len(s.Attributes)
	s.Attributes = append(s.Attributes, b.Attrs("input.", lists[0])...)
	s.Attributes = append(s.Attributes, b.Attrs("output.", lists[1])...)
	s.Attributes = append(s.Attributes, b.Attrs("config.", lists[2])...)
	if n.LLMOutput != "" {
		s.Attributes = append(s.Attributes, b.KVStr("llm_output", n.LLMOutput))
	}
	if n.FirstFrameUnixNano != 0 {
		s.Attributes = append(s.Attributes, KVInt("first_frame_duration", millis(n.FirstFrameUnixNano)-millis(n.StartUnixNano)))
	}
	if len(n.Next) > 0 {
		arr := &commonpb.ArrayValue{}
		for _, id := range n.Next {
			arr.Values = append(arr.Values, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: b.Str(id)}})
		}
		s.Attributes = append(s.Attributes, &commonpb.KeyValue{Key: "next_node_ids",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}})
	}
	if n.HasUsage {
		s.Attributes = append(s.Attributes, usage(n.Usage, lists[3])...)
	}
	b.setEvents(s, n.Events, n.Incomplete)
	if n.Cancelled {
		s.Attributes = append(s.Attributes, b.KVStr("error.type", "cancelled"))
	}
	if n.HasCode {
		s.Attributes = append(s.Attributes, KVInt("code", n.Code))
	}
	s.Attributes = append(s.Attributes, b.Attrs("", lists[3])...)
	s.DroppedAttributesCount = n.DroppedAttrs
	s.DroppedEventsCount = n.DroppedEvents
	s.Status = b.status(n.Status, n.StatusMessage)
	return s, in
}

// Traces returns the request encode.Encoder.AppendTraces writes for runs
// under res. The resource is built apart (Builder.Resource) because the
// encoder repairs and counts it once, in NewEncoder.
func (b *Builder) Traces(res *resourcepb.Resource, runs []*encode.Run) *coltracepb.ExportTraceServiceRequest {
	if len(runs) == 0 {
		return &coltracepb.ExportTraceServiceRequest{}
	}
	ss := &tracepb.ScopeSpans{Scope: Scope()}
	for _, r := range runs {
		ss.Spans = append(ss.Spans, b.RunSpan(r))
		for _, n := range r.Nodes {
			ss.Spans = append(ss.Spans, b.NodeSpan(r, n))
		}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: res, ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}}
}

// Logs returns the request encode.Encoder.AppendLogs writes for runs under
// res, with no Offloader.
func (b *Builder) Logs(res *resourcepb.Resource, runs []*encode.Run) *collogspb.ExportLogsServiceRequest {
	if len(runs) == 0 {
		return &collogspb.ExportLogsServiceRequest{}
	}
	sl := &logspb.ScopeLogs{Scope: Scope()}
	for _, r := range runs {
		lr := &logspb.LogRecord{
			TimeUnixNano:         uint64(r.EndUnixNano),
			ObservedTimeUnixNano: uint64(r.EndUnixNano),
			SeverityNumber:       logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
			SeverityText:         "INFO",
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{
				StringValue: b.Str(string(encode.AppendRunLog(nil, r))),
			}},
			Attributes: []*commonpb.KeyValue{b.KVStr("sid", r.SID), b.KVStr("event.name", "flowtel.run_log")},
			Flags:      1,
			TraceId:    append([]byte(nil), r.TraceID[:]...),
			SpanId:     append([]byte(nil), r.SpanID[:]...),
			EventName:  "flowtel.run_log",
		}
		if r.Status == encode.StatusError {
			lr.SeverityNumber, lr.SeverityText = logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, "ERROR"
		}
		sl.LogRecords = append(sl.LogRecords, lr)
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: res, ScopeLogs: []*logspb.ScopeLogs{sl},
	}}}
}

// millis returns epoch milliseconds, the floor of ns / 1e6: the node's
// first_frame_duration is the difference of two millisecond clock
// readings, as the original computes it.
func millis(ns int64) int64 {
	ms := ns / 1e6
	if ns%1e6 != 0 && ns < 0 {
		ms--
	}
	return ms
}

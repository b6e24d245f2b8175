package encode

import (
	"slices"
	"sync/atomic"
	"unicode/utf8"
)

// OTLP enum values and flags written by the encoder.
const (
	spanKindInternal = 1
	spanKindServer   = 2

	// spanFlagsSampled is the W3C sampled trace flag in the low byte of
	// Span.flags; every span flowtel exports was recorded and sampled.
	spanFlagsSampled = 0x01
	// spanFlagsHasIsRemote says bit spanFlagsIsRemote is meaningful.
	spanFlagsHasIsRemote = 0x100
	// spanFlagsIsRemote marks a span whose parent came from another process.
	spanFlagsIsRemote = 0x200
)

// Attribute field numbers of the messages that carry attributes.
const (
	fieldResourceAttrs = 1
	fieldScopeAttrs    = 3
	fieldSpanAttrs     = 9
	fieldEventAttrs    = 3
	fieldLogAttrs      = 6
)

// Span attribute keys, event names and span name prefixes. They are
// constants of valid ASCII, so the encoder never validates them.
const (
	keySID              = "sid"
	keyAppID            = "app_id"
	keyUID              = "uid"
	keyChatID           = "chat_id"
	keySpanVersion      = "span_version"
	keyCode             = "code"
	keyFlowID           = "flow_id"
	keyServiceID        = "service_id"
	keyBotID            = "bot_id"
	keySub              = "sub"
	keyCaller           = "caller"
	keyNodeID           = "node_id"
	keyNodeType         = "node_type"
	keyNodeName         = "node_name"
	keyRunningStatus    = "running_status"
	keyLLMOutput        = "llm_output"
	keyFirstFrame       = "first_frame_duration"
	keyNextNodeIDs      = "next_node_ids"
	keyError            = "error"
	keyIncomplete       = "flowtel.incomplete"
	keyDroppedNodes     = "flowtel.dropped_nodes"
	keyQuestionTokens   = "usage.question_tokens"
	keyPromptTokens     = "usage.prompt_tokens"
	keyCompletionTokens = "usage.completion_tokens"
	keyTotalTokens      = "usage.total_tokens"
	keyGenAIInput       = "gen_ai.usage.input_tokens"
	keyGenAIOutput      = "gen_ai.usage.output_tokens"
	keyInfoLog          = "INFO LOG"
	keyErrorLog         = "ERROR LOG"
	keyExceptionType    = "exception.type"
	keyExceptionMessage = "exception.message"
	keyExceptionStack   = "exception.stacktrace"

	prefixInput  = "input."
	prefixOutput = "output."
	prefixConfig = "config."

	eventNameInfo      = "INFO"
	eventNameError     = "ERROR"
	eventNameException = "exception"

	runSpanPrefix  = "run:"
	runSpanBare    = "run"
	nodeSpanPrefix = "run_node:"
)

// Encoder writes OTLP ExportTraceServiceRequest and ExportLogsServiceRequest
// messages from engine records. It is not safe for concurrent use, except
// Stats, which any goroutine may call. An Encoder is reusable: once its
// scratch slices have grown to the largest batch it has seen, encoding a
// batch allocates nothing.
type Encoder struct {
	// resourceField is the encoded Resource as field 1 of ResourceSpans or
	// ResourceLogs (the same number in both), built once by NewEncoder.
	resourceField []byte
	// scopeField is the encoded InstrumentationScope as field 1 of
	// ScopeSpans or ScopeLogs.
	scopeField []byte

	// invalid counts the strings repaired in the request being written.
	invalid uint64

	// runLog is AppendLogs' scratch for repairing a body that is not
	// valid UTF-8.
	runLog    []byte
	offloader *Offloader // see SetOffloader

	// The attributes every span of a run carries (sid, app_id, uid,
	// chat_id, span_version) are validated and written once per run, with
	// its root span, then copied into each node span: commonFrom and
	// commonTo are the written bytes in dst, commonInvalid the strings
	// repaired in them.
	commonInvalid uint64
	commonFrom    int
	commonTo      int

	stats encoderCounters
}

// encoderCounters are the Encoder's counters, atomic so that Stats may be
// read from another goroutine than the one encoding.
type encoderCounters struct {
	invalidUTF8   atomic.Uint64
	traceRequests atomic.Uint64
	spans         atomic.Uint64
	logRequests   atomic.Uint64
	logRecords    atomic.Uint64
	bytes         atomic.Uint64
}

// EncoderStats is a snapshot of an Encoder's counters since NewEncoder.
type EncoderStats struct {
	// InvalidUTF8 counts strings that were not valid UTF-8 and were
	// written with U+FFFD in place of each run of invalid bytes.
	InvalidUTF8 uint64
	// TraceRequests and Spans count the trace requests written by
	// AppendTraces and the spans in them.
	TraceRequests uint64
	Spans         uint64
	// LogRequests and LogRecords count the log requests written by
	// AppendLogs and the log records in them.
	LogRequests uint64
	LogRecords  uint64
	// Bytes counts the bytes appended by AppendTraces and AppendLogs.
	Bytes uint64
}

// NewEncoder returns an Encoder for the process described by res. The
// resource and scope are encoded once here; invalid UTF-8 in res is
// repaired and counted in Stats like any other string.
func NewEncoder(res Resource) *Encoder {
	e := &Encoder{}
	var at int
	e.resourceField, at = openLen(nil, 1, 2)
	e.resourceField = e.writeResource(e.resourceField, &res)
	e.resourceField, _ = closeLen(e.resourceField, at, 2)
	e.stats.invalidUTF8.Add(e.invalid)
	e.invalid = 0

	e.scopeField, at = openLen(nil, 1, 1)
	e.scopeField = appendStringField(e.scopeField, 1, ScopeName)
	e.scopeField = appendStringField(e.scopeField, 2, ScopeVersion)
	e.scopeField, _ = closeLen(e.scopeField, at, 1)
	return e
}

// Stats returns the Encoder's counters. It is safe to call from any goroutine.
func (e *Encoder) Stats() EncoderStats {
	return EncoderStats{
		InvalidUTF8:   e.stats.invalidUTF8.Load(),
		TraceRequests: e.stats.traceRequests.Load(),
		Spans:         e.stats.spans.Load(),
		LogRequests:   e.stats.logRequests.Load(),
		LogRecords:    e.stats.logRecords.Load(),
		Bytes:         e.stats.bytes.Load(),
	}
}

// SpanCount returns the number of spans AppendTraces writes for runs: one
// root span per run and one per node.
func SpanCount(runs []*Run) int {
	n := 0
	for _, r := range runs {
		n += 1 + len(r.Nodes)
	}
	return n
}

// AppendTraces appends an ExportTraceServiceRequest holding runs to dst
// and returns the extended slice. The request has one ResourceSpans with
// one ScopeSpans; each run contributes its root span followed by its node
// spans. An empty runs appends nothing (the encoding of an empty request).
func (e *Encoder) AppendTraces(dst []byte, runs []*Run) []byte {
	if len(runs) == 0 {
		return dst
	}
	start := len(dst)

	// One pass: every length that depends on what follows is reserved and
	// written once its message is (openLen, closeLen). Most requests are
	// 16 KiB to 2 MiB, whose lengths take three bytes.
	e.invalid = 0
	dst, resourceSpans := openLen(dst, 1, 3)
	dst = append(dst, e.resourceField...)
	dst, scopeSpans := openLen(dst, 2, 3)
	dst = append(dst, e.scopeField...)
	spans := 0
	for _, r := range runs {
		dst = e.writeRunSpan(dst, r)
		for _, n := range r.Nodes {
			dst = e.writeNodeSpan(dst, r, n)
		}
		spans += 1 + len(r.Nodes)
	}
	dst, _ = closeLen(dst, scopeSpans, 3)
	dst, _ = closeLen(dst, resourceSpans, 3)

	e.stats.invalidUTF8.Add(e.invalid)
	e.stats.traceRequests.Add(1)
	e.stats.spans.Add(uint64(spans))
	e.stats.bytes.Add(uint64(len(dst) - start))
	return dst
}

// openLen appends the tag of length-delimited field (1 to 15) and w bytes
// reserved for its length, and returns where the length goes.
func openLen(dst []byte, field, w int) ([]byte, int) {
	dst = append(dst, byte(field<<3|wireBytes))
	at := len(dst)
	for range w {
		dst = append(dst, 0)
	}
	return dst, at
}

// closeLen writes at at the length of the message written since
// openLen(…, w) returned at. When the length takes another width than w,
// the message moves, and shift says by how many bytes; reserving the usual
// width makes that rare, and cheaper than sizing every message first.
func closeLen(dst []byte, at, w int) (_ []byte, shift int) {
	n := len(dst) - at - w
	need := sizeVarint(uint64(n))
	if need != w {
		for i := w; i < need; i++ {
			dst = append(dst, 0)
		}
		copy(dst[at+need:], dst[at+w:at+w+n])
		dst = dst[:at+need+n]
	}
	v := uint64(n)
	for i := at; i < at+need-1; i++ {
		dst[i] = byte(v) | 0x80
		v >>= 7
	}
	dst[at+need-1] = byte(v)
	return dst, need - w
}

// check validates s once for the single-pass writers: it returns the
// length writeChecked writes for s and whether s is valid UTF-8, counting
// an invalid s.
func (e *Encoder) check(s string) (int, bool) {
	if utf8ValidShort(s) || utf8.ValidString(s) {
		return len(s), true
	}
	e.invalid++
	return utf8RepairedLen(s), false
}

// writeChecked appends s as check found it: whole, or repaired.
func writeChecked(dst []byte, s string, ok bool) []byte {
	if ok {
		return append(dst, s...)
	}
	return appendUTF8Repaired(dst, s)
}

// sizeLen1 returns the size of a length-delimited field numbered 1 to 15
// (a one-byte tag) with a payload of n bytes. Most payloads are shorter
// than 128 bytes; testing that first instead of calling sizeVarint (and
// the same in appendLen1) took about 5% off BenchmarkEncodeTraces/flowtel.
func sizeLen1(n int) int {
	if n < 0x80 {
		return 2 + n
	}
	return 1 + sizeVarint(uint64(n)) + n
}

// appendLen1 appends the tag and length of a length-delimited field
// numbered 1 to 15 whose payload of n bytes the caller appends next.
func appendLen1(dst []byte, field, n int) []byte {
	if n < 0x80 {
		return append(dst, byte(field<<3|wireBytes), byte(n))
	}
	return appendVarint(append(dst, byte(field<<3|wireBytes)), uint64(n))
}

// KeyValue helpers. A KeyValue's key is a constant prefix followed by a
// caller's key (either may be empty); the prefix is trusted ASCII.

// sizeKVBody returns the size of a KeyValue with a key of keyLen bytes and
// an AnyValue body of anyLen bytes. An empty key is omitted, as proto3
// omits empty strings; the value field is always written, so an empty
// AnyValue decodes as a present, empty message.
func sizeKVBody(keyLen, anyLen int) int {
	n := sizeLen1(anyLen)
	if keyLen != 0 {
		n += sizeLen1(keyLen)
	}
	return n
}

// appendKVInt appends the KeyValue field key=v for a trusted key.
func appendKVInt(dst []byte, field int, key string, v int64) []byte {
	anyLen := 1 + sizeVarint(uint64(v))
	dst = appendLen1(dst, field, sizeKVBody(len(key), anyLen))
	dst = appendLen1(dst, 1, len(key))
	dst = append(dst, key...)
	dst = appendLen1(dst, 2, anyLen)
	dst = append(dst, 3<<3|wireVarint)
	return appendVarint(dst, uint64(v))
}

// appendKVBool appends the KeyValue field key=b for a trusted key.
func appendKVBool(dst []byte, field int, key string, b bool) []byte {
	dst = appendLen1(dst, field, sizeKVBody(len(key), 2))
	dst = appendLen1(dst, 1, len(key))
	dst = append(dst, key...)
	dst = appendLen1(dst, 2, 2)
	v := byte(0)
	if b {
		v = 1
	}
	return append(dst, 2<<3|wireVarint, v)
}

// Resource and scope.

// writeResource appends the Resource body for res.
func (e *Encoder) writeResource(dst []byte, res *Resource) []byte {
	const f = fieldResourceAttrs
	dst = e.writeKVString(dst, f, "service.name", res.ServiceName)
	dst = e.writeKVStringOpt(dst, f, "service.instance.id", res.ServiceInstanceID)
	dst = e.writeKVStringOpt(dst, f, "ip", res.HostIP)
	dst = e.writeKVStringOpt(dst, f, "host.ip", res.HostIP)
	dst = e.writeKVString(dst, f, "telemetry.sdk.name", "flowtel")
	dst = e.writeKVString(dst, f, "telemetry.sdk.language", "go")
	dst = e.writeKVString(dst, f, "telemetry.sdk.version", ScopeVersion)
	return e.writeAttrs(dst, f, "", res.Attrs)
}

// Spans.

// serviceID returns the run's service_id with the original's fallback:
// bot_id when sub is "SparkAgent", else flow_id.
func serviceID(r *Run) string {
	if r.ServiceID != "" {
		return r.ServiceID
	}
	if r.Sub == "SparkAgent" {
		return r.BotID
	}
	return r.FlowID
}

// hasErrorEvent reports whether events hold an EventError, which gives the
// span the original's attribute error=true.
func hasErrorEvent(events []Event) bool {
	for i := range events {
		if events[i].Kind == EventError {
			return true
		}
	}
	return false
}

// writeSpanHead appends the fields every span starts with: trace id, span
// id, trace state, parent span id, start and end time, kind, flags, and the
// tag and length of the name, whose nameLen bytes the caller appends next.
func (e *Encoder) writeSpanHead(dst []byte, r *Run, id, parent SpanID, flags uint32, kind byte, start, end int64, nameLen int) []byte {
	dst = appendLen1(dst, 1, 16)
	dst = append(dst, r.TraceID[:]...)
	dst = appendLen1(dst, 2, 8)
	dst = append(dst, id[:]...)
	if r.TraceState != "" {
		n, ok := e.check(r.TraceState)
		dst = appendLen1(dst, 3, n)
		dst = writeChecked(dst, r.TraceState, ok)
	}
	if !parent.IsZero() {
		dst = appendLen1(dst, 4, 8)
		dst = append(dst, parent[:]...)
	}
	dst = appendFixed64Field(dst, 7, uint64(start))
	dst = appendFixed64Field(dst, 8, uint64(end))
	dst = append(dst, 6<<3|wireVarint, kind)
	dst = appendTag(dst, 16, wireFixed32)
	dst = append(dst, byte(flags), byte(flags>>8), byte(flags>>16), byte(flags>>24))
	return appendLen1(dst, 5, nameLen)
}

// writeKVString appends the KeyValue field key=s for a trusted key.
func (e *Encoder) writeKVString(dst []byte, field int, key, s string) []byte {
	// The trusted key goes as the prefix, which is copied, not tested.
	if d, ok := appendKVShort(dst, field, key, "", s); ok {
		return d
	}
	n, ok := e.check(s)
	return appendKVChecked(dst, field, key, s, n, ok)
}

// appendKVChecked appends the KeyValue field key=s for a trusted key and
// an s that check found to write n bytes, valid or not (ok).
func appendKVChecked(dst []byte, field int, key, s string, n int, ok bool) []byte {
	if body := 6 + len(key) + n; body < 0x80 {
		// Every length takes one byte: the tags and lengths go in two
		// appends instead of four appendLen1 and their tests.
		dst = append(dst, byte(field<<3|wireBytes), byte(body), 1<<3|wireBytes, byte(len(key)))
		dst = append(dst, key...)
		dst = append(dst, 2<<3|wireBytes, byte(2+n), 1<<3|wireBytes, byte(n))
		return writeChecked(dst, s, ok)
	}
	dst = appendLen1(dst, field, sizeKVBody(len(key), sizeLen1(n)))
	dst = appendLen1(dst, 1, len(key))
	dst = append(dst, key...)
	dst = appendLen1(dst, 2, sizeLen1(n))
	dst = appendLen1(dst, 1, n)
	return writeChecked(dst, s, ok)
}

// kvShortRoom is the room appendKVShort makes in dst: its 8 tag and
// length bytes, a prefix, key and value of up to 16 bytes each, and 16
// bytes more for the word stores of jsonAppendShort past the value.
const kvShortRoom = 8 + 4*16

// appendKVShort appends the KeyValue field prefix+key=s in one go when
// prefix, key and s are each at most 16 bytes, key and s of plain ASCII
// (see jsonAppendShort), the shape of most attributes. Plain ASCII is valid
// UTF-8, and every length then fits in one byte, so nothing is checked or
// sized first: the tags and lengths are written with two appends and the
// strings with word stores. It reports false, appending nothing, for
// anything else (a non-empty key is needed too).
func appendKVShort(dst []byte, field int, prefix, key, s string) ([]byte, bool) {
	keyLen := len(prefix) + len(key)
	if len(prefix) > 16 || len(key) > 16 || len(s) > 16 || keyLen == 0 {
		return dst, false
	}
	if cap(dst)-len(dst) < kvShortRoom {
		dst = slices.Grow(dst, kvShortRoom)
	}
	start := len(dst)
	// KeyValue{key: 1, value: 2 AnyValue{string_value: 1}}; the body is
	// 2+keyLen for the key and 2+2+len(s) for the value.
	dst = append(dst, byte(field<<3|wireBytes), byte(6+keyLen+len(s)), 1<<3|wireBytes, byte(keyLen))
	dst = append(dst, prefix...) // trusted; faster copied than tested
	dst, okKey := jsonAppendShort(dst, key)
	dst = append(dst, 2<<3|wireBytes, byte(2+len(s)), 1<<3|wireBytes, byte(len(s)))
	dst, okValue := jsonAppendShort(dst, s)
	if !okKey || !okValue {
		return dst[:start], false
	}
	return dst, true
}

// writeKVStringOpt is writeKVString, skipped when s is empty.
func (e *Encoder) writeKVStringOpt(dst []byte, field int, key, s string) []byte {
	if s == "" {
		return dst
	}
	return e.writeKVString(dst, field, key, s)
}

// writeKVValue appends the KeyValue field prefix+key=v; prefix is trusted.
func (e *Encoder) writeKVValue(dst []byte, field int, prefix, key string, v Value) []byte {
	if v.kind == KindString {
		if d, ok := appendKVShort(dst, field, prefix, key, v.str); ok {
			return d
		}
	}
	kn, kok := e.check(key)
	vn, vok := 0, true
	anyLen := 0
	switch v.kind {
	case KindString:
		vn, vok = e.check(v.str)
		anyLen = sizeLen1(vn)
	case KindBytes:
		anyLen = sizeLen1(len(v.str))
	case KindInt64:
		anyLen = 1 + sizeVarint(v.num)
	case KindFloat64:
		anyLen = 1 + 8
	case KindBool:
		anyLen = 1 + 1
	}
	keyLen := len(prefix) + kn
	dst = appendLen1(dst, field, sizeKVBody(keyLen, anyLen))
	if keyLen != 0 {
		dst = appendLen1(dst, 1, keyLen)
		dst = append(dst, prefix...)
		dst = writeChecked(dst, key, kok)
	}
	dst = appendLen1(dst, 2, anyLen)
	switch v.kind {
	case KindString:
		dst = appendLen1(dst, 1, vn)
		return writeChecked(dst, v.str, vok)
	case KindBytes:
		dst = appendLen1(dst, 7, len(v.str))
		return append(dst, v.str...)
	case KindInt64:
		dst = append(dst, 3<<3|wireVarint)
		return appendVarint(dst, v.num)
	case KindFloat64:
		dst = append(dst, 4<<3|wireFixed64)
		return appendFixed64(dst, v.num)
	case KindBool:
		return append(dst, 2<<3|wireVarint, byte(v.num&1))
	}
	return dst
}

// writeAttrs appends attrs as KeyValue fields with key prefix.
func (e *Encoder) writeAttrs(dst []byte, field int, prefix string, attrs []Attr) []byte {
	for i := range attrs {
		dst = e.writeKVValue(dst, field, prefix, attrs[i].Key, attrs[i].Value)
	}
	return dst
}

// writeKVStringArray appends the KeyValue field key=ss (an ArrayValue of
// strings) for a trusted key.
func (e *Encoder) writeKVStringArray(dst []byte, field int, key string, ss []string) []byte {
	if d, ok := appendKVShortArray(dst, field, key, ss); ok {
		return d
	}
	dst, kv := openLen(dst, field, 1)
	dst = appendLen1(dst, 1, len(key))
	dst = append(dst, key...)
	dst, any := openLen(dst, 2, 1)
	dst, arr := openLen(dst, 5, 1)
	for _, s := range ss {
		n, ok := e.check(s)
		dst = appendLen1(dst, 1, sizeLen1(n))
		dst = appendLen1(dst, 1, n)
		dst = writeChecked(dst, s, ok)
	}
	dst, _ = closeLen(dst, arr, 1)
	dst, _ = closeLen(dst, any, 1)
	dst, _ = closeLen(dst, kv, 1)
	return dst
}

// appendKVShortArray is writeKVStringArray for the usual next_node_ids, a
// few strings of up to 16 bytes of plain ASCII (see jsonAppendShort) in a
// KeyValue shorter than 128 bytes: the lengths are then known before and
// take one byte each, so nothing is reserved, moved or checked first. It
// reports false, appending nothing, for anything else.
func appendKVShortArray(dst []byte, field int, key string, ss []string) ([]byte, bool) {
	arr := 0 // ArrayValue{values: 1 AnyValue{string_value: 1}}
	for _, s := range ss {
		if len(s) > 16 {
			return dst, false
		}
		arr += 4 + len(s)
	}
	any := 2 + arr
	kv := 2 + len(key) + 2 + any
	if kv >= 0x80 {
		return dst, false
	}
	// Room for the field and 16 bytes of word stores past its end.
	if cap(dst)-len(dst) < 2+kv+16 {
		dst = slices.Grow(dst, 2+kv+16)
	}
	start := len(dst)
	dst = append(dst, byte(field<<3|wireBytes), byte(kv), 1<<3|wireBytes, byte(len(key)))
	dst = append(dst, key...)
	dst = append(dst, 2<<3|wireBytes, byte(any), 5<<3|wireBytes, byte(arr))
	for _, s := range ss {
		dst = append(dst, 1<<3|wireBytes, byte(2+len(s)), 1<<3|wireBytes, byte(len(s)))
		var ok bool
		if dst, ok = jsonAppendShort(dst, s); !ok {
			return dst[:start], false
		}
	}
	return dst, true
}

// writeCommonAttrs appends the attributes every span of a run carries.
func (e *Encoder) writeCommonAttrs(dst []byte, r *Run) []byte {
	const f = fieldSpanAttrs
	dst = e.writeKVString(dst, f, keySID, r.SID)
	dst = e.writeKVString(dst, f, keyAppID, r.AppID)
	dst = e.writeKVString(dst, f, keyUID, r.UID)
	dst = e.writeKVString(dst, f, keyChatID, r.ChatID)
	return e.writeKVString(dst, f, keySpanVersion, SpanVersion)
}

// appendUsageAttrs appends the usage attributes, under the original's names
// and under the OpenTelemetry GenAI conventions.
func appendUsageAttrs(dst []byte, u *Usage) []byte {
	const f = fieldSpanAttrs
	dst = appendKVInt(dst, f, keyQuestionTokens, u.QuestionTokens)
	dst = appendKVInt(dst, f, keyPromptTokens, u.PromptTokens)
	dst = appendKVInt(dst, f, keyCompletionTokens, u.CompletionTokens)
	dst = appendKVInt(dst, f, keyTotalTokens, u.TotalTokens)
	dst = appendKVInt(dst, f, keyGenAIInput, u.PromptTokens)
	return appendKVInt(dst, f, keyGenAIOutput, u.CompletionTokens)
}

// writeStatus appends the Status field (15) of a span; it is always
// written, as the OpenTelemetry SDK does.
func (e *Encoder) writeStatus(dst []byte, code StatusCode, msg string) []byte {
	n, ok := 0, true
	size := sizeVarintField(3, uint64(code))
	if msg != "" {
		n, ok = e.check(msg)
		size += sizeLen1(n)
	}
	dst = appendLen1(dst, 15, size)
	if msg != "" {
		dst = appendLen1(dst, 2, n)
		dst = writeChecked(dst, msg, ok)
	}
	return appendVarintField(dst, 3, uint64(code))
}

// eventName returns the span event name of an event kind.
func eventName(k EventKind) string {
	switch k {
	case EventError:
		return eventNameError
	case EventException:
		return eventNameException
	}
	return eventNameInfo
}

// writeEvents appends events as Span.events fields (11). Most events are
// shorter than 128 bytes, so one byte is reserved for each length.
func (e *Encoder) writeEvents(dst []byte, events []Event) []byte {
	const f = fieldEventAttrs
	for i := range events {
		ev := &events[i]
		var at int
		dst, at = openLen(dst, 11, 1)
		dst = appendFixed64Field(dst, 1, uint64(ev.TimeUnixNano))
		dst = appendStringField(dst, 2, eventName(ev.Kind))
		switch ev.Kind {
		case EventError:
			dst = e.writeKVString(dst, f, keyErrorLog, ev.Message)
		case EventException:
			dst = e.writeKVStringOpt(dst, f, keyExceptionType, ev.Type)
			dst = e.writeKVStringOpt(dst, f, keyExceptionMessage, ev.Message)
			dst = e.writeKVStringOpt(dst, f, keyExceptionStack, ev.Stacktrace)
		default:
			dst = e.writeKVString(dst, f, keyInfoLog, ev.Message)
		}
		dst, _ = closeLen(dst, at, 1)
	}
	return dst
}

// Spans are written with two bytes reserved for their length: most are
// 128 bytes to 16 KiB.
const spanLenWidth = 2

// writeRunSpan appends the run's root span as a ScopeSpans.spans field,
// and remembers where its common attributes are for the node spans.
func (e *Encoder) writeRunSpan(dst []byte, r *Run) []byte {
	const f = fieldSpanAttrs
	dst, at := openLen(dst, 2, spanLenWidth)
	flags := uint32(spanFlagsSampled | spanFlagsHasIsRemote)
	if !r.ParentSpanID.IsZero() {
		flags |= spanFlagsIsRemote
	}
	if r.FlowID == "" {
		dst = e.writeSpanHead(dst, r, r.SpanID, r.ParentSpanID, flags, spanKindServer,
			r.StartUnixNano, r.EndUnixNano, len(runSpanBare))
		dst = append(dst, runSpanBare...)
	} else {
		n, ok := e.check(r.FlowID)
		dst = e.writeSpanHead(dst, r, r.SpanID, r.ParentSpanID, flags, spanKindServer,
			r.StartUnixNano, r.EndUnixNano, len(runSpanPrefix)+n)
		dst = append(dst, runSpanPrefix...)
		dst = writeChecked(dst, r.FlowID, ok)
	}
	before := e.invalid
	e.commonFrom = len(dst)
	dst = e.writeCommonAttrs(dst, r)
	e.commonTo = len(dst)
	e.commonInvalid = e.invalid - before
	dst = appendKVInt(dst, f, keyCode, r.Code)
	dst = e.writeKVStringOpt(dst, f, keyFlowID, r.FlowID)
	dst = e.writeKVStringOpt(dst, f, keyServiceID, serviceID(r))
	dst = e.writeKVStringOpt(dst, f, keyBotID, r.BotID)
	dst = e.writeKVStringOpt(dst, f, keySub, r.Sub)
	dst = e.writeKVStringOpt(dst, f, keyCaller, r.Caller)
	dst = appendUsageAttrs(dst, &r.Usage)
	if hasErrorEvent(r.Events) {
		dst = appendKVBool(dst, f, keyError, true)
	}
	if r.Incomplete {
		dst = appendKVBool(dst, f, keyIncomplete, true)
	}
	if r.DroppedNodes != 0 {
		dst = appendKVInt(dst, f, keyDroppedNodes, int64(r.DroppedNodes))
	}
	dst = e.writeAttrs(dst, f, "", r.Attrs)
	dst = appendVarintField(dst, 10, uint64(r.DroppedAttrs))
	dst = e.writeEvents(dst, r.Events)
	dst = appendVarintField(dst, 12, uint64(r.DroppedEvents))
	dst = e.writeStatus(dst, r.Status, r.StatusMessage)
	dst, shift := closeLen(dst, at, spanLenWidth)
	e.commonFrom += shift
	e.commonTo += shift
	return dst
}

// nodeParent returns the parent of a node's span: its own when set
// (nested spans from the OTel bridge), else the run's.
func nodeParent(r *Run, nd *Node) SpanID {
	if !nd.ParentSpanID.IsZero() {
		return nd.ParentSpanID
	}
	return r.SpanID
}

// nodeKind returns the OTLP kind of a node's span, INTERNAL unless set.
func nodeKind(nd *Node) byte {
	if nd.Kind == SpanKindUnspecified || nd.Kind > SpanKindConsumer {
		return spanKindInternal
	}
	return byte(nd.Kind)
}

// writeNodeSpan appends the node's span as a ScopeSpans.spans field.
func (e *Encoder) writeNodeSpan(dst []byte, r *Run, nd *Node) []byte {
	const f = fieldSpanAttrs
	dst, at := openLen(dst, 2, spanLenWidth)
	n, ok := e.check(nd.NodeID)
	dst = e.writeSpanHead(dst, r, nd.SpanID, nodeParent(r, nd), spanFlagsSampled|spanFlagsHasIsRemote,
		nodeKind(nd), nd.StartUnixNano, nd.EndUnixNano, len(nodeSpanPrefix)+n)
	dst = append(dst, nodeSpanPrefix...)
	dst = writeChecked(dst, nd.NodeID, ok)
	// The common attributes were written with the run span; each copy
	// counts its repairs again, so InvalidUTF8 counts strings as written.
	dst = append(dst, dst[e.commonFrom:e.commonTo]...)
	e.invalid += e.commonInvalid
	// node_id is the string just checked for the span name: it is not
	// validated again, but a repair counts again, as each string written.
	if !ok {
		e.invalid++
	}
	dst = appendKVChecked(dst, f, keyNodeID, nd.NodeID, n, ok)
	dst = e.writeKVString(dst, f, keyNodeType, nd.NodeType)
	dst = e.writeKVString(dst, f, keyNodeName, nd.NodeName)
	dst = appendKVBool(dst, f, keyRunningStatus, nd.Running())
	dst = e.writeAttrs(dst, f, prefixInput, nd.Input)
	dst = e.writeAttrs(dst, f, prefixOutput, nd.Output)
	dst = e.writeAttrs(dst, f, prefixConfig, nd.Config)
	dst = e.writeKVStringOpt(dst, f, keyLLMOutput, nd.LLMOutput)
	if nd.FirstFrameUnixNano != 0 {
		dst = appendKVInt(dst, f, keyFirstFrame, nd.FirstFrameMillis())
	}
	if len(nd.Next) != 0 {
		dst = e.writeKVStringArray(dst, f, keyNextNodeIDs, nd.Next)
	}
	if nd.HasUsage {
		dst = appendUsageAttrs(dst, &nd.Usage)
	}
	if hasErrorEvent(nd.Events) {
		dst = appendKVBool(dst, f, keyError, true)
	}
	if nd.Incomplete {
		dst = appendKVBool(dst, f, keyIncomplete, true)
	}
	dst = appendVarintField(dst, 10, uint64(nd.DroppedAttrs))
	dst = e.writeEvents(dst, nd.Events)
	dst = appendVarintField(dst, 12, uint64(nd.DroppedEvents))
	dst = e.writeStatus(dst, nd.Status, nd.StatusMessage)
	dst, _ = closeLen(dst, at, spanLenWidth)
	return dst
}

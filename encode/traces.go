package encode

import (
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

	// sizes holds the first pass's message sizes in the order the second
	// pass writes the messages: per span its size<<1|dirty, then the size
	// of each of its events.
	sizes []int
	cur   int // read position in sizes during the second pass

	// trusted says every string of the message being written is valid
	// UTF-8, so lengths are len(s) and bytes are copied without a scan.
	trusted bool
	// counting is set during the first pass: strings found invalid are
	// counted in invalid and flag the span in dirty.
	counting bool
	dirty    bool
	invalid  uint64

	// runLog holds the run-log JSON bodies of the batch being encoded by
	// AppendLogs, and runLogEnd the end offset of each run's body.
	runLog    []byte
	runLogEnd []int
	offloader *Offloader // see SetOffloader

	// The attributes every span of a run carries (sid, app_id, uid,
	// chat_id, span_version) are sized and validated once per run, and
	// written once per run then copied into each node span: commonSize,
	// commonInvalid and commonDirty hold the first pass's result for the
	// current run, commonFrom and commonTo the written bytes in dst.
	commonSize    int
	commonInvalid uint64
	commonDirty   bool
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
	e.counting = true
	body := e.sizeResource(&res)
	e.counting = false
	e.trusted = !e.dirty
	e.resourceField = appendLen1(make([]byte, 0, sizeLen1(body)), 1, body)
	e.resourceField = e.appendResource(e.resourceField, &res)
	e.stats.invalidUTF8.Add(e.invalid)
	e.invalid, e.dirty = 0, false

	e.trusted = true
	body = e.sizeScope()
	e.scopeField = appendLen1(make([]byte, 0, sizeLen1(body)), 1, body)
	e.scopeField = e.appendScope(e.scopeField)
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

	// First pass: size every span and event, remember the sizes.
	e.sizes = e.sizes[:0]
	e.invalid = 0
	e.counting, e.trusted = true, false
	scopeSpans := len(e.scopeField)
	for _, r := range runs {
		scopeSpans += sizeLen1(e.sizeRunSpan(r))
		for _, n := range r.Nodes {
			scopeSpans += sizeLen1(e.sizeNodeSpan(r, n))
		}
	}
	e.counting = false
	resourceSpans := len(e.resourceField) + sizeLen1(scopeSpans)

	// Second pass: write, taking nested sizes from e.sizes.
	dst = appendLen1(dst, 1, resourceSpans)
	dst = append(dst, e.resourceField...)
	dst = appendLen1(dst, 2, scopeSpans)
	dst = append(dst, e.scopeField...)
	e.cur = 0
	spans := 0
	for _, r := range runs {
		dst = e.appendRunSpan(dst, r)
		for _, n := range r.Nodes {
			dst = e.appendNodeSpan(dst, r, n)
		}
		spans += 1 + len(r.Nodes)
	}

	e.stats.invalidUTF8.Add(e.invalid)
	e.stats.traceRequests.Add(1)
	e.stats.spans.Add(uint64(spans))
	e.stats.bytes.Add(uint64(len(dst) - start))
	return dst
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

// strLen returns the number of bytes appendStr writes for s. In the first
// pass it validates s, counts an invalid s and marks the span dirty; in the
// second pass a span found clean is trusted and s is not scanned again.
// It is split so that the trusted case inlines.
func (e *Encoder) strLen(s string) int {
	if e.trusted {
		return len(s)
	}
	return e.strLenCheck(s)
}

// strLenCheck is strLen for a string not known to be valid.
func (e *Encoder) strLenCheck(s string) int {
	if utf8ValidShort(s) || utf8.ValidString(s) {
		return len(s)
	}
	if e.counting {
		e.invalid++
		e.dirty = true
	}
	return utf8RepairedLen(s)
}

// appendStr appends s, repaired when it is not valid UTF-8.
func (e *Encoder) appendStr(dst []byte, s string) []byte {
	if e.trusted {
		return append(dst, s...)
	}
	return appendStrCheck(dst, s)
}

// appendStrCheck is appendStr for a string not known to be valid.
func appendStrCheck(dst []byte, s string) []byte {
	if utf8ValidShort(s) || utf8.ValidString(s) {
		return append(dst, s...)
	}
	return appendUTF8Repaired(dst, s)
}

// pushSize reserves a slot in e.sizes and returns its index.
func (e *Encoder) pushSize() int {
	e.sizes = append(e.sizes, 0)
	return len(e.sizes) - 1
}

// popSize returns the next size of the second pass.
func (e *Encoder) popSize() int {
	n := e.sizes[e.cur]
	e.cur++
	return n
}

// beginSpanSize starts sizing a span: it reserves the span's slot and
// clears the dirty flag.
func (e *Encoder) beginSpanSize() int {
	e.dirty = false
	return e.pushSize()
}

// endSpanSize stores the span's size and dirty flag in its slot.
func (e *Encoder) endSpanSize(slot, n int) int {
	v := n << 1
	if e.dirty {
		v |= 1
	}
	e.sizes[slot] = v
	return n
}

// beginSpanAppend reads the span's size and dirty flag and sets trusted.
func (e *Encoder) beginSpanAppend() int {
	v := e.popSize()
	e.trusted = v&1 == 0
	return v >> 1
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

// appendKVHead appends the field tag and length of a KeyValue, its key,
// and the tag and length of its AnyValue, whose body the caller appends.
func (e *Encoder) appendKVHead(dst []byte, field int, prefix, key string, anyLen int) []byte {
	keyLen := len(prefix) + e.strLen(key)
	dst = appendLen1(dst, field, sizeKVBody(keyLen, anyLen))
	if keyLen != 0 {
		dst = appendLen1(dst, 1, keyLen)
		dst = append(dst, prefix...)
		dst = e.appendStr(dst, key)
	}
	return appendLen1(dst, 2, anyLen)
}

// sizeAnyValue returns the size of the AnyValue body for v.
func (e *Encoder) sizeAnyValue(v Value) int {
	switch v.kind {
	case KindString:
		return sizeLen1(e.strLen(v.str))
	case KindBytes:
		return sizeLen1(len(v.str))
	case KindInt64:
		return 1 + sizeVarint(v.num)
	case KindFloat64:
		return 1 + 8
	case KindBool:
		return 1 + 1
	}
	return 0
}

// appendAnyValue appends the AnyValue body for v.
func (e *Encoder) appendAnyValue(dst []byte, v Value) []byte {
	switch v.kind {
	case KindString:
		dst = appendLen1(dst, 1, e.strLen(v.str))
		return e.appendStr(dst, v.str)
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

// sizeKVValue returns the size of the KeyValue field prefix+key=v.
func (e *Encoder) sizeKVValue(prefix, key string, v Value) int {
	return sizeLen1(sizeKVBody(len(prefix)+e.strLen(key), e.sizeAnyValue(v)))
}

// appendKVValue appends the KeyValue field prefix+key=v.
func (e *Encoder) appendKVValue(dst []byte, field int, prefix, key string, v Value) []byte {
	dst = e.appendKVHead(dst, field, prefix, key, e.sizeAnyValue(v))
	return e.appendAnyValue(dst, v)
}

// sizeKVString returns the size of the KeyValue field key=s.
func (e *Encoder) sizeKVString(key, s string) int {
	return sizeLen1(sizeKVBody(len(key), sizeLen1(e.strLen(s))))
}

// appendKVString appends the KeyValue field key=s for a trusted key.
func (e *Encoder) appendKVString(dst []byte, field int, key, s string) []byte {
	n := e.strLen(s)
	dst = appendLen1(dst, field, sizeKVBody(len(key), sizeLen1(n)))
	dst = appendLen1(dst, 1, len(key))
	dst = append(dst, key...)
	dst = appendLen1(dst, 2, sizeLen1(n))
	dst = appendLen1(dst, 1, n)
	return e.appendStr(dst, s)
}

// sizeKVStringOpt is sizeKVString, or 0 when s is empty.
func (e *Encoder) sizeKVStringOpt(key, s string) int {
	if s == "" {
		return 0
	}
	return e.sizeKVString(key, s)
}

// appendKVStringOpt is appendKVString, skipped when s is empty.
func (e *Encoder) appendKVStringOpt(dst []byte, field int, key, s string) []byte {
	if s == "" {
		return dst
	}
	return e.appendKVString(dst, field, key, s)
}

// sizeKVInt returns the size of the KeyValue field key=v.
func sizeKVInt(key string, v int64) int {
	return sizeLen1(sizeKVBody(len(key), 1+sizeVarint(uint64(v))))
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

// sizeKVBool returns the size of the KeyValue field key=b.
func sizeKVBool(key string) int { return sizeLen1(sizeKVBody(len(key), 2)) }

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

// sizeAttrs returns the size of attrs as KeyValue fields with key prefix.
func (e *Encoder) sizeAttrs(prefix string, attrs []Attr) int {
	n := 0
	for i := range attrs {
		n += e.sizeKVValue(prefix, attrs[i].Key, attrs[i].Value)
	}
	return n
}

// appendAttrs appends attrs as KeyValue fields with key prefix.
func (e *Encoder) appendAttrs(dst []byte, field int, prefix string, attrs []Attr) []byte {
	for i := range attrs {
		dst = e.appendKVValue(dst, field, prefix, attrs[i].Key, attrs[i].Value)
	}
	return dst
}

// sizeStringArray returns the ArrayValue body size of an array of strings.
func (e *Encoder) sizeStringArray(ss []string) int {
	n := 0
	for _, s := range ss {
		n += sizeLen1(sizeLen1(e.strLen(s)))
	}
	return n
}

// appendKVStringArray appends the KeyValue field key=ss (an ArrayValue of
// strings) for a trusted key.
func (e *Encoder) appendKVStringArray(dst []byte, field int, key string, ss []string) []byte {
	arrLen := e.sizeStringArray(ss)
	anyLen := sizeLen1(arrLen)
	dst = appendLen1(dst, field, sizeKVBody(len(key), anyLen))
	dst = appendLen1(dst, 1, len(key))
	dst = append(dst, key...)
	dst = appendLen1(dst, 2, anyLen)
	dst = appendLen1(dst, 5, arrLen)
	for _, s := range ss {
		n := e.strLen(s)
		dst = appendLen1(dst, 1, sizeLen1(n))
		dst = appendLen1(dst, 1, n)
		dst = e.appendStr(dst, s)
	}
	return dst
}

// Resource and scope.

// sizeResource returns the size of the Resource body for res.
func (e *Encoder) sizeResource(res *Resource) int {
	return e.sizeKVString("service.name", res.ServiceName) +
		e.sizeKVStringOpt("service.instance.id", res.ServiceInstanceID) +
		e.sizeKVStringOpt("ip", res.HostIP) +
		e.sizeKVStringOpt("host.ip", res.HostIP) +
		e.sizeKVString("telemetry.sdk.name", "flowtel") +
		e.sizeKVString("telemetry.sdk.language", "go") +
		e.sizeKVString("telemetry.sdk.version", ScopeVersion) +
		e.sizeAttrs("", res.Attrs)
}

// appendResource appends the Resource body for res.
func (e *Encoder) appendResource(dst []byte, res *Resource) []byte {
	const f = fieldResourceAttrs
	dst = e.appendKVString(dst, f, "service.name", res.ServiceName)
	dst = e.appendKVStringOpt(dst, f, "service.instance.id", res.ServiceInstanceID)
	dst = e.appendKVStringOpt(dst, f, "ip", res.HostIP)
	dst = e.appendKVStringOpt(dst, f, "host.ip", res.HostIP)
	dst = e.appendKVString(dst, f, "telemetry.sdk.name", "flowtel")
	dst = e.appendKVString(dst, f, "telemetry.sdk.language", "go")
	dst = e.appendKVString(dst, f, "telemetry.sdk.version", ScopeVersion)
	return e.appendAttrs(dst, f, "", res.Attrs)
}

// sizeScope returns the size of the InstrumentationScope body.
func (e *Encoder) sizeScope() int {
	return sizeStringField(1, ScopeName) + sizeStringField(2, ScopeVersion)
}

// appendScope appends the InstrumentationScope body.
func (e *Encoder) appendScope(dst []byte) []byte {
	dst = appendStringField(dst, 1, ScopeName)
	return appendStringField(dst, 2, ScopeVersion)
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

// sizeSpanHead returns the size of the fields every span starts with:
// trace id, span id, trace state, parent span id, flags, name, kind,
// start and end time.
func (e *Encoder) sizeSpanHead(r *Run, parent SpanID, nameLen int, start, end int64) int {
	n := sizeLen1(16) + sizeLen1(8) + 2 + 4 + sizeLen1(nameLen) + 2 +
		sizeFixed64Field(7, uint64(start)) + sizeFixed64Field(8, uint64(end))
	if r.TraceState != "" {
		n += sizeLen1(e.strLen(r.TraceState))
	}
	if !parent.IsZero() {
		n += sizeLen1(8)
	}
	return n
}

// appendSpanHead appends the fields sizeSpanHead sizes except the name,
// whose bytes the caller appends right after.
func (e *Encoder) appendSpanHead(dst []byte, r *Run, id, parent SpanID, flags uint32, kind byte, start, end int64, nameLen int) []byte {
	dst = appendLen1(dst, 1, 16)
	dst = append(dst, r.TraceID[:]...)
	dst = appendLen1(dst, 2, 8)
	dst = append(dst, id[:]...)
	if r.TraceState != "" {
		dst = appendLen1(dst, 3, e.strLen(r.TraceState))
		dst = e.appendStr(dst, r.TraceState)
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

// sizeCommonAttrs returns the size of the attributes every span carries.
func (e *Encoder) sizeCommonAttrs(r *Run) int {
	return e.sizeKVString(keySID, r.SID) +
		e.sizeKVString(keyAppID, r.AppID) +
		e.sizeKVString(keyUID, r.UID) +
		e.sizeKVString(keyChatID, r.ChatID) +
		e.sizeKVString(keySpanVersion, SpanVersion)
}

// appendCommonAttrs appends the attributes every span carries.
func (e *Encoder) appendCommonAttrs(dst []byte, r *Run) []byte {
	const f = fieldSpanAttrs
	dst = e.appendKVString(dst, f, keySID, r.SID)
	dst = e.appendKVString(dst, f, keyAppID, r.AppID)
	dst = e.appendKVString(dst, f, keyUID, r.UID)
	dst = e.appendKVString(dst, f, keyChatID, r.ChatID)
	return e.appendKVString(dst, f, keySpanVersion, SpanVersion)
}

// sizeUsageAttrs returns the size of the usage attributes.
func sizeUsageAttrs(u *Usage) int {
	return sizeKVInt(keyQuestionTokens, u.QuestionTokens) +
		sizeKVInt(keyPromptTokens, u.PromptTokens) +
		sizeKVInt(keyCompletionTokens, u.CompletionTokens) +
		sizeKVInt(keyTotalTokens, u.TotalTokens) +
		sizeKVInt(keyGenAIInput, u.PromptTokens) +
		sizeKVInt(keyGenAIOutput, u.CompletionTokens)
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

// sizeStatus returns the size of the Status body.
func (e *Encoder) sizeStatus(code StatusCode, msg string) int {
	n := sizeVarintField(3, uint64(code))
	if msg != "" {
		n += sizeLen1(e.strLen(msg))
	}
	return n
}

// appendStatus appends the Status field (15) of a span; it is always
// written, as the OpenTelemetry SDK does.
func (e *Encoder) appendStatus(dst []byte, code StatusCode, msg string) []byte {
	dst = appendLen1(dst, 15, e.sizeStatus(code, msg))
	if msg != "" {
		dst = appendLen1(dst, 2, e.strLen(msg))
		dst = e.appendStr(dst, msg)
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

// sizeEvent returns the size of the Span.Event body for ev.
func (e *Encoder) sizeEvent(ev *Event) int {
	n := sizeFixed64Field(1, uint64(ev.TimeUnixNano)) + sizeLen1(len(eventName(ev.Kind)))
	switch ev.Kind {
	case EventError:
		n += e.sizeKVString(keyErrorLog, ev.Message)
	case EventException:
		n += e.sizeKVStringOpt(keyExceptionType, ev.Type) +
			e.sizeKVStringOpt(keyExceptionMessage, ev.Message) +
			e.sizeKVStringOpt(keyExceptionStack, ev.Stacktrace)
	default:
		n += e.sizeKVString(keyInfoLog, ev.Message)
	}
	return n
}

// appendEvent appends the Span.Event body for ev.
func (e *Encoder) appendEvent(dst []byte, ev *Event) []byte {
	const f = fieldEventAttrs
	dst = appendFixed64Field(dst, 1, uint64(ev.TimeUnixNano))
	dst = appendStringField(dst, 2, eventName(ev.Kind))
	switch ev.Kind {
	case EventError:
		dst = e.appendKVString(dst, f, keyErrorLog, ev.Message)
	case EventException:
		dst = e.appendKVStringOpt(dst, f, keyExceptionType, ev.Type)
		dst = e.appendKVStringOpt(dst, f, keyExceptionMessage, ev.Message)
		dst = e.appendKVStringOpt(dst, f, keyExceptionStack, ev.Stacktrace)
	default:
		dst = e.appendKVString(dst, f, keyInfoLog, ev.Message)
	}
	return dst
}

// sizeEvents sizes events, stores each size in e.sizes and returns the
// size of all the Span.events fields.
func (e *Encoder) sizeEvents(events []Event) int {
	n := 0
	for i := range events {
		s := e.sizeEvent(&events[i])
		e.sizes = append(e.sizes, s)
		n += sizeLen1(s)
	}
	return n
}

// appendEvents appends events as Span.events fields (11), taking their
// sizes from e.sizes.
func (e *Encoder) appendEvents(dst []byte, events []Event) []byte {
	for i := range events {
		dst = appendLen1(dst, 11, e.popSize())
		dst = e.appendEvent(dst, &events[i])
	}
	return dst
}

// runSpanNameLen returns the length of the run span's name.
func (e *Encoder) runSpanNameLen(r *Run) int {
	if r.FlowID == "" {
		return len(runSpanBare)
	}
	return len(runSpanPrefix) + e.strLen(r.FlowID)
}

// sizeRunSpan returns the size of the run's root span body and records it
// and its events' sizes for the second pass.
func (e *Encoder) sizeRunSpan(r *Run) int {
	slot := e.beginSpanSize()
	before := e.invalid
	e.commonSize = e.sizeCommonAttrs(r)
	e.commonInvalid, e.commonDirty = e.invalid-before, e.dirty
	n := e.sizeSpanHead(r, r.ParentSpanID, e.runSpanNameLen(r), r.StartUnixNano, r.EndUnixNano)
	n += e.commonSize +
		sizeKVInt(keyCode, r.Code) +
		e.sizeKVStringOpt(keyFlowID, r.FlowID) +
		e.sizeKVStringOpt(keyServiceID, serviceID(r)) +
		e.sizeKVStringOpt(keyBotID, r.BotID) +
		e.sizeKVStringOpt(keySub, r.Sub) +
		e.sizeKVStringOpt(keyCaller, r.Caller) +
		sizeUsageAttrs(&r.Usage)
	if hasErrorEvent(r.Events) {
		n += sizeKVBool(keyError)
	}
	if r.Incomplete {
		n += sizeKVBool(keyIncomplete)
	}
	if r.DroppedNodes != 0 {
		n += sizeKVInt(keyDroppedNodes, int64(r.DroppedNodes))
	}
	n += e.sizeAttrs("", r.Attrs)
	n += sizeVarintField(10, uint64(r.DroppedAttrs))
	n += e.sizeEvents(r.Events)
	n += sizeVarintField(12, uint64(r.DroppedEvents))
	n += sizeLen1(e.sizeStatus(r.Status, r.StatusMessage))
	return e.endSpanSize(slot, n)
}

// appendRunSpan appends the run's root span as a ScopeSpans.spans field.
func (e *Encoder) appendRunSpan(dst []byte, r *Run) []byte {
	const f = fieldSpanAttrs
	dst = appendLen1(dst, 2, e.beginSpanAppend())
	flags := uint32(spanFlagsSampled | spanFlagsHasIsRemote)
	if !r.ParentSpanID.IsZero() {
		flags |= spanFlagsIsRemote
	}
	dst = e.appendSpanHead(dst, r, r.SpanID, r.ParentSpanID, flags, spanKindServer,
		r.StartUnixNano, r.EndUnixNano, e.runSpanNameLen(r))
	if r.FlowID == "" {
		dst = append(dst, runSpanBare...)
	} else {
		dst = append(dst, runSpanPrefix...)
		dst = e.appendStr(dst, r.FlowID)
	}
	e.commonFrom = len(dst)
	dst = e.appendCommonAttrs(dst, r)
	e.commonTo = len(dst)
	dst = appendKVInt(dst, f, keyCode, r.Code)
	dst = e.appendKVStringOpt(dst, f, keyFlowID, r.FlowID)
	dst = e.appendKVStringOpt(dst, f, keyServiceID, serviceID(r))
	dst = e.appendKVStringOpt(dst, f, keyBotID, r.BotID)
	dst = e.appendKVStringOpt(dst, f, keySub, r.Sub)
	dst = e.appendKVStringOpt(dst, f, keyCaller, r.Caller)
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
	dst = e.appendAttrs(dst, f, "", r.Attrs)
	dst = appendVarintField(dst, 10, uint64(r.DroppedAttrs))
	dst = e.appendEvents(dst, r.Events)
	dst = appendVarintField(dst, 12, uint64(r.DroppedEvents))
	return e.appendStatus(dst, r.Status, r.StatusMessage)
}

// firstFrameMillis returns the node's first frame delay in milliseconds.
func firstFrameMillis(n *Node) int64 {
	return (n.FirstFrameUnixNano - n.StartUnixNano) / 1e6
}

// sizeNodeSpan returns the size of the node's span body and records it
// and its events' sizes for the second pass.
func (e *Encoder) sizeNodeSpan(r *Run, nd *Node) int {
	slot := e.beginSpanSize()
	// The common attributes were sized with the run span; each copy
	// counts its repairs again, so InvalidUTF8 counts strings as written.
	e.invalid += e.commonInvalid
	e.dirty = e.commonDirty
	n := e.sizeSpanHead(r, nodeParent(r, nd), len(nodeSpanPrefix)+e.strLen(nd.NodeID), nd.StartUnixNano, nd.EndUnixNano)
	n += e.commonSize +
		e.sizeKVString(keyNodeID, nd.NodeID) +
		e.sizeKVString(keyNodeType, nd.NodeType) +
		e.sizeKVString(keyNodeName, nd.NodeName) +
		sizeKVBool(keyRunningStatus) +
		e.sizeAttrs(prefixInput, nd.Input) +
		e.sizeAttrs(prefixOutput, nd.Output) +
		e.sizeAttrs(prefixConfig, nd.Config) +
		e.sizeKVStringOpt(keyLLMOutput, nd.LLMOutput)
	if nd.FirstFrameUnixNano != 0 {
		n += sizeKVInt(keyFirstFrame, firstFrameMillis(nd))
	}
	if len(nd.Next) != 0 {
		n += sizeLen1(sizeKVBody(len(keyNextNodeIDs), sizeLen1(e.sizeStringArray(nd.Next))))
	}
	if nd.HasUsage {
		n += sizeUsageAttrs(&nd.Usage)
	}
	if hasErrorEvent(nd.Events) {
		n += sizeKVBool(keyError)
	}
	if nd.Incomplete {
		n += sizeKVBool(keyIncomplete)
	}
	n += sizeVarintField(10, uint64(nd.DroppedAttrs))
	n += e.sizeEvents(nd.Events)
	n += sizeVarintField(12, uint64(nd.DroppedEvents))
	n += sizeLen1(e.sizeStatus(nd.Status, nd.StatusMessage))
	return e.endSpanSize(slot, n)
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

// appendNodeSpan appends the node's span as a ScopeSpans.spans field.
func (e *Encoder) appendNodeSpan(dst []byte, r *Run, nd *Node) []byte {
	const f = fieldSpanAttrs
	dst = appendLen1(dst, 2, e.beginSpanAppend())
	dst = e.appendSpanHead(dst, r, nd.SpanID, nodeParent(r, nd), spanFlagsSampled|spanFlagsHasIsRemote,
		nodeKind(nd), nd.StartUnixNano, nd.EndUnixNano, len(nodeSpanPrefix)+e.strLen(nd.NodeID))
	dst = append(dst, nodeSpanPrefix...)
	dst = e.appendStr(dst, nd.NodeID)
	dst = append(dst, dst[e.commonFrom:e.commonTo]...) // written by appendRunSpan
	dst = e.appendKVString(dst, f, keyNodeID, nd.NodeID)
	dst = e.appendKVString(dst, f, keyNodeType, nd.NodeType)
	dst = e.appendKVString(dst, f, keyNodeName, nd.NodeName)
	dst = appendKVBool(dst, f, keyRunningStatus, nd.Running())
	dst = e.appendAttrs(dst, f, prefixInput, nd.Input)
	dst = e.appendAttrs(dst, f, prefixOutput, nd.Output)
	dst = e.appendAttrs(dst, f, prefixConfig, nd.Config)
	dst = e.appendKVStringOpt(dst, f, keyLLMOutput, nd.LLMOutput)
	if nd.FirstFrameUnixNano != 0 {
		dst = appendKVInt(dst, f, keyFirstFrame, firstFrameMillis(nd))
	}
	if len(nd.Next) != 0 {
		dst = e.appendKVStringArray(dst, f, keyNextNodeIDs, nd.Next)
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
	dst = e.appendEvents(dst, nd.Events)
	dst = appendVarintField(dst, 12, uint64(nd.DroppedEvents))
	return e.appendStatus(dst, nd.Status, nd.StatusMessage)
}

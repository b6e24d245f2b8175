package encode

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// OTLP enum values and flags written by the encoder.
const (
	spanKindInternal = 1
	spanKindServer   = 2

	// spanFlagsSampled is the W3C sampled trace flag in the low byte of
	// Span.flags; every span flowtel exports was recorded and sampled.
	spanFlagsSampled = 0x01
	// spanFlagsRandom is the W3C random trace-id flag (Level 2), written
	// when the run carries it (Run.TraceFlags).
	spanFlagsRandom = 0x02
	// spanFlagsHasIsRemote says bit spanFlagsIsRemote is meaningful.
	spanFlagsHasIsRemote = 0x100
	// spanFlagsIsRemote marks a span whose parent came from another process.
	spanFlagsIsRemote = 0x200
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
	keyErrorType        = "error.type" // "cancelled" on a cancelled node
	keyDroppedNodes     = "flowtel.dropped_nodes"
	keyQuestionTokens   = "usage.question_tokens"
	keyPromptTokens     = "usage.prompt_tokens"
	keyCompletionTokens = "usage.completion_tokens"
	keyTotalTokens      = "usage.total_tokens"
	keyGenAIInput       = "gen_ai.usage.input_tokens"
	keyGenAIOutput      = "gen_ai.usage.output_tokens"
	keyInfoLog          = "INFO LOG"
	keyTraceLink        = "trace_link"
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

// The keys of every node span and of next_node_ids and code, made once so
// that appendKVFast copies them without a call to memmove.
var (
	kvKeyNodeID   = mustKVPrefix(keyNodeID)
	kvKeyNodeType = mustKVPrefix(keyNodeType)
	kvKeyNodeName = mustKVPrefix(keyNodeName)
	kvKeyNext     = mustKVPrefix(keyNextNodeIDs)
	kvKeyCode     = mustKVPrefix(keyCode)
)

// kvRunning holds the whole KeyValue fields running_status=false and
// =true of every node span, written once, of kvRunningLen bytes, padded
// so that each is stored with one array copy: copying them cost less
// than writing them, and an array copy less than append's memmove.
var kvRunning = func() (r [2][kvRunningRoom]byte) {
	for i, b := range []bool{false, true} {
		if n := copy(r[i][:], appendKVBool(nil, fieldSpanAttrs, keyRunningStatus, b)); n != kvRunningLen {
			panic("BUG: encode: running_status is not kvRunningLen bytes")
		}
	}
	return r
}()

// kvRunningLen is the length of a running_status field, kvRunningRoom
// the room its copy takes.
const (
	kvRunningLen  = 2 + 2 + len(keyRunningStatus) + 2 + 2
	kvRunningRoom = 24
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

	// strChecker validates and counts the strings of the request being
	// written.
	strChecker

	// runLog is AppendLogs' scratch for repairing a body that is not
	// valid UTF-8.
	runLog     []byte
	runLogOpts RunLogOptions // see SetOffloader and SetRunLogOptions

	// The attributes every span of a run carries (sid, app_id, uid,
	// chat_id, span_version) are validated and written once per run, with
	// its root span, then copied into each node span: commonFrom and
	// commonTo are the written bytes in dst, commonInvalid the strings
	// repaired in them.
	commonInvalid uint64
	commonFrom    int
	commonTo      int

	// keep holds the caller's attributes of a span that repeats a key,
	// each key once, and copies the record written in its place
	// (runOnce, nodeOnce), cleared at the end of AppendTraces when copied
	// is set.
	keep   []Attr
	copies *recordCopies
	copied bool
	// replaced is what the last check of a span's keys left out
	// (keepOnce). spanInvalid is e.invalid as the span being written
	// started. rewriting is set while a span is written again from a copy
	// whose keys are each once, with its repaired keys (nodeRepaired):
	// the checks are skipped. keyBuf and eventKeep are the scratch of the
	// check of repaired keys (sameKeyRepaired, eventOnce).
	replaced     uint64
	replacedBase uint64
	spanInvalid  uint64
	rewriting    bool
	keyBuf       []byte
	eventKeep    []Attr

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
	attrsReplaced atomic.Uint64
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
	// AttrsReplaced counts the caller's span and span event attributes
	// left out because a later one, or the span's conventions, had the
	// same key as written (invalid UTF-8 repaired): a span, and an event,
	// writes each key once (see attrkeys.go and the package doc).
	AttrsReplaced uint64
}

// NewEncoder returns an Encoder for the process described by res. The
// resource is encoded once here; invalid UTF-8 in res is
// repaired and counted in Stats like any other string.
func NewEncoder(res Resource) *Encoder {
	e := &Encoder{}
	var at int
	e.resourceField, at = openLen(nil, fieldResourceXResource, 2)
	e.resourceField = e.writeResource(e.resourceField, &res)
	e.resourceField, _ = closeLen(e.resourceField, at, 2)
	e.stats.invalidUTF8.Add(e.invalid)
	e.invalid = 0
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
		AttrsReplaced: e.stats.attrsReplaced.Load(),
	}
}

// NumSpans returns the number of spans AppendTraces writes for runs: one
// root span per run and one per node. (bench.CountSpans counts the spans
// of a request already encoded.)
func NumSpans(runs []*Run) int {
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
	dst, rq := e.openRequest(dst)
	spans := 0
	for k, r := range runs {
		nodes := r.Nodes
		var after []*Node // the next run's nodes, which the stream of prefetches enters
		if k+1 < len(runs) {
			after = runs[k+1].Nodes
		}
		prefetchRunAhead(runs, k)
		if len(nodes) != 0 && (k == 0 || len(runs[k-1].Nodes) == 0) {
			// No node before this run's first prefetched it.
			prefetchNodes(nodes[0], streamNode(nodes, after, 1))
		}
		dst = e.writeRunSpan(dst, r)
		for i, n := range nodes {
			prefetchNodes(streamNode(nodes, after, i+1), streamNode(nodes, after, i+2))
			dst = e.writeNodeSpan(dst, r, n)
		}
		spans += 1 + len(nodes)
	}
	dst = e.closeRequest(dst, rq)
	if e.copied {
		e.forgetCopies()
	}
	e.stats.traceRequests.Add(1)
	e.stats.spans.Add(uint64(spans))
	return dst
}

// The records a batch is written from were written by the engine's
// callers, on other cores, just before: each line the encoder reads is a
// miss, and a load that misses stalls it. AppendTraces therefore asks for
// the lines ahead of the span it writes (prefetchRanges, prefetchNodes),
// in stages, since each stage's addresses are read from the lines the
// stage before brought: as a run starts, the struct of the run after the
// next and the nodes array, sid, attributes and events of the next
// (prefetchRunAhead); before each node span, the struct of the node after
// the next and the attribute arrays, next node ids and events of the
// next. The nodes are one stream across runs (streamNode): a run's last
// two node spans ask for the next run's first two nodes, which its start
// asked for when each run's nodes were their own stream, and waited for
// its first node's attributes, never asked for. TestCPUTimeCross's
// records (another CPU writes them, the pipeline's lines are read here,
// the buffers read by the other CPU), the old and the new way timed
// batch by batch, interleaved, in 3 runs of 3000 batches: median 256.8
// -> 239.4, 250.9 -> 234.9, 287.0 -> 270.0 ns per span (-6 to -7 %), the
// same batch in the cache unchanged (235.7 -> 235.8). Prefetching the
// buffer's next lines for writing as well (PREFETCHW, 1 KiB ahead) was
// slower than without (250.5, 243.7, 280.6); prefetching the nodes one
// span further ahead gained nothing more. Prefetching Node.Attrs as well
// (the loadgen's LLM nodes hold 7 GenAI attributes, between Config and
// Output in the engine's pool; its tool calls 4 and no other list) gained
// nothing measurable: TestCPUTimeCross on loadgenGenAIBatch, 8 alternating
// runs, one-buf 218.1 -> 211.1 (p=0.80), bufs 230.5 -> 227.1 (p=0.49),
// busy 207.0 -> 205.8 ns per span (p=0.82).

// streamNode returns node j of the stream of nodes followed by after
// (the next run's), or nil past both.
func streamNode(nodes, after []*Node, j int) *Node {
	if j < len(nodes) {
		return nodes[j]
	}
	if j -= len(nodes); j < len(after) {
		return after[j]
	}
	return nil
}

// prefetchRunAhead prefetches, as run k of runs starts, the struct of run
// k+2, and the nodes array, the sid's bytes and the attribute and event
// arrays of run k+1, whose struct the call for run k-1 prefetched.
func prefetchRunAhead(runs []*Run, k int) {
	var rs [prefetchMax]prefetchRange
	if k+2 < len(runs) {
		rs[0] = prefetchRange{unsafe.Pointer(runs[k+2]), unsafe.Sizeof(Run{})}
	}
	if k+1 < len(runs) {
		r := runs[k+1]
		rs[1] = prefetchSlice(r.Nodes)
		rs[2] = prefetchRange{unsafe.Pointer(unsafe.StringData(r.SID)), uintptr(len(r.SID))}
		rs[3] = prefetchSlice(r.Attrs)
		rs[4] = prefetchSlice(r.Events)
	}
	prefetchRanges(&rs)
}

// prefetchMax is the number of ranges of a prefetchRanges call.
const prefetchMax = 8

// prefetchRange is n bytes at p to prefetch.
type prefetchRange struct {
	p unsafe.Pointer
	n uintptr
}

// prefetchSlice returns the range of the elements of s.
func prefetchSlice[E any](s []E) prefetchRange {
	var e E
	return prefetchRange{unsafe.Pointer(unsafe.SliceData(s)), uintptr(len(s)) * unsafe.Sizeof(e)}
}

// prefetchRuns prefetches, as run k of runs starts, the struct of run
// k+2, the nodes array of run k+1 and the structs of run k's first two
// nodes.
func prefetchRuns(runs []*Run, k int) {
	var rs [prefetchMax]prefetchRange
	if k+2 < len(runs) {
		rs[0] = prefetchRange{unsafe.Pointer(runs[k+2]), unsafe.Sizeof(Run{})}
	}
	if k+1 < len(runs) {
		rs[1] = prefetchSlice(runs[k+1].Nodes)
	}
	ns := runs[k].Nodes
	for i := 0; i < 2 && i < len(ns); i++ {
		rs[2+i] = prefetchRange{unsafe.Pointer(ns[i]), unsafe.Sizeof(Node{})}
	}
	prefetchRanges(&rs)
}

// requestWidth is the width reserved for the lengths of a request's one
// ResourceSpans (or ResourceLogs) and ScopeSpans (or ScopeLogs): most
// requests are 16 KiB to 2 MiB, whose lengths take three bytes.
const requestWidth = 3

// request is where the reserved lengths of a request being written are.
type request struct{ start, resource, scope int }

// openRequest starts a request with the Encoder's resource and scope, in
// one pass: every length that depends on what follows is reserved and
// written once its message is (openLen, closeLen). The caller appends the
// items (spans, log records) and then calls closeRequest.
func (e *Encoder) openRequest(dst []byte) ([]byte, request) {
	e.invalid, e.keyRepaired = 0, false
	rq := request{start: len(dst)}
	dst, rq.resource = openLen(dst, fieldRequestResource, requestWidth)
	dst = append(dst, e.resourceField...)
	dst, rq.scope = openLen(dst, fieldResourceXScope, requestWidth)
	return appendScope(dst), rq
}

// closeRequest writes the lengths of the request rq and counts its
// repaired strings and bytes.
func (e *Encoder) closeRequest(dst []byte, rq request) []byte {
	dst, _ = closeLen(dst, rq.scope, requestWidth)
	dst, _ = closeLen(dst, rq.resource, requestWidth)
	e.stats.invalidUTF8.Add(e.invalid)
	e.stats.bytes.Add(uint64(len(dst) - rq.start))
	return dst
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
	// The fixed-size fields are stored into room made once (headRoom)
	// rather than appended one by one: 2+16 trace id, 2+8 span id, 2+8
	// parent, 1+8 start, 1+8 end, 2 kind, 2+4 flags.
	const headRoom = 18 + 10 + 10 + 9 + 9 + 2 + 6
	if r.TraceState != "" {
		dst = appendLen1(dst, fieldSpanTraceID, 16)
		dst = append(dst, r.TraceID[:]...)
		dst = appendLen1(dst, fieldSpanSpanID, 8)
		dst = append(dst, id[:]...)
		dst = e.writeStringField(dst, fieldSpanTraceState, r.TraceState)
	} else {
		if cap(dst)-len(dst) < headRoom {
			dst = slices.Grow(dst, headRoom)
		}
		m := len(dst)
		d := dst[m : m+28]
		d[0], d[1] = tag1(fieldSpanTraceID, wireBytes), 16
		*(*TraceID)(d[2:18]) = r.TraceID
		d[18], d[19] = tag1(fieldSpanSpanID, wireBytes), 8
		*(*SpanID)(d[20:28]) = id
		dst = dst[:m+28]
	}
	if cap(dst)-len(dst) < headRoom {
		dst = slices.Grow(dst, headRoom)
	}
	m := len(dst)
	d := dst[m : m+headRoom-28]
	p := 0
	if !parent.IsZero() {
		d[0], d[1] = tag1(fieldSpanParentSpanID, wireBytes), 8
		*(*SpanID)(d[2:10]) = parent
		p = 10
	}
	if start != 0 {
		d[p] = tag1(fieldSpanStart, wireFixed64)
		binary.LittleEndian.PutUint64(d[p+1:p+9], uint64(start))
		p += 9
	}
	if end != 0 {
		d[p] = tag1(fieldSpanEnd, wireFixed64)
		binary.LittleEndian.PutUint64(d[p+1:p+9], uint64(end))
		p += 9
	}
	d[p], d[p+1] = tag1(fieldSpanKind, wireVarint), kind
	// fieldSpanFlags is 16: its tag takes two bytes.
	d[p+2], d[p+3] = byte(fieldSpanFlags<<3|wireFixed32)|0x80, byte(fieldSpanFlags<<3>>7)
	binary.LittleEndian.PutUint32(d[p+4:p+8], flags)
	dst = dst[:m+p+8]
	return appendLen1(dst, fieldSpanName, nameLen)
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

// kvIntHead is the part of a KeyValue of an int value for a trusted key
// that does not depend on the value: the key's tag, length and bytes and
// the value's tag, padded to kvFastKeyMax bytes so that it is stored with
// one array copy.
type kvIntHead struct {
	b [kvFastKeyMax]byte
	n int
}

// mustKVIntHead returns the kvIntHead of key, of at most kvFastKeyMax-3
// bytes.
func mustKVIntHead(key string) kvIntHead {
	if len(key) > kvFastKeyMax-3 {
		panic("BUG: encode: key longer than kvFastKeyMax-3: " + key)
	}
	var h kvIntHead
	b := append(h.b[:0], tag1(fieldKVKey, wireBytes), byte(len(key)))
	b = append(b, key...)
	b = append(b, tag1(fieldKVValue, wireBytes))
	h.n = len(b)
	return h
}

// usageHeads are the heads of the usage attributes, in the order
// appendUsageAttrs writes them.
var usageHeads = [6]kvIntHead{
	mustKVIntHead(keyQuestionTokens), mustKVIntHead(keyPromptTokens),
	mustKVIntHead(keyCompletionTokens), mustKVIntHead(keyTotalTokens),
	mustKVIntHead(keyGenAIInput), mustKVIntHead(keyGenAIOutput),
}

// usageRoom is the room appendUsageAttrs makes: per attribute its tag and
// length, its padded head, the AnyValue's length and tag and a varint of
// up to 10 bytes.
const usageRoom = len(usageHeads) * (2 + kvFastKeyMax + 2 + 10)

// appendUsageAttrs appends the usage attributes, under the original's names
// and under the OpenTelemetry GenAI conventions, the bytes appendKVInt
// writes for each, stored into room made once with the constant parts
// copied from usageHeads: six calls to appendKVFast were 6 % of
// BenchmarkEncodeTracesLoadgen's profile. It leaves out the GenAI key
// the span's own attributes hold (usageOwnKeys): OTLP allows a key once a
// span, and the caller's value is the one the GenAI metrics read.
func appendUsageAttrs(dst []byte, u *Usage, own []Attr) []byte {
	skip := usageOwnKeys(own)
	vals := [len(usageHeads)]uint64{
		uint64(u.QuestionTokens), uint64(u.PromptTokens), uint64(u.CompletionTokens), uint64(u.TotalTokens),
		uint64(u.PromptTokens), uint64(u.CompletionTokens),
	}
	m := len(dst)
	if cap(dst)-m < usageRoom {
		dst = slices.Grow(dst, usageRoom)
	}
	d := dst[m : m+usageRoom]
	p := 0
	for i := range usageHeads {
		if skip&(1<<i) != 0 {
			continue
		}
		h, v := &usageHeads[i], vals[i]
		vl := sizeVarint(v)
		d[p], d[p+1] = tag1(fieldSpanAttrs, wireBytes), byte(h.n+2+vl)
		*(*[kvFastKeyMax]byte)(d[p+2 : p+2+kvFastKeyMax]) = h.b
		q := p + 2 + h.n
		d[q], d[q+1] = byte(1+vl), tag1(fieldAnyInt, wireVarint)
		q += 2
		for v >= 0x80 {
			d[q] = byte(v) | 0x80
			v >>= 7
			q++
		}
		d[q] = byte(v)
		p = q + 1
	}
	return dst[:m+p]
}

// usageOwnKeys returns a bit per head of usageHeads that attrs hold: the
// caller's gen_ai.usage.input_tokens or output_tokens (genai's
// constructors beside Node.Usage). Keys are told apart by length first,
// so a node without them costs a length compare per attribute.
func usageOwnKeys(attrs []Attr) (skip uint8) {
	for i := range attrs {
		switch k := attrs[i].Key; len(k) {
		case len(keyGenAIInput):
			if k == keyGenAIInput {
				skip |= 1 << 4
			}
		case len(keyGenAIOutput):
			if k == keyGenAIOutput {
				skip |= 1 << 5
			}
		}
	}
	return skip
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

// writeEvents appends events as Span.events fields, those of span span of
// run r. Most events are shorter than 128 bytes, so one byte is reserved
// for each length (closeLen widens it when needed). With an Offloader
// (SetOffloader), the text of an INFO or ERROR event of
// SpanEventOffloadThreshold bytes or more is offloaded and replaced by
// "trace_link: " and its link, as the original's add_info_event and
// add_error_event did, and an INFO event given as data
// whose JSON is that large by the one attribute trace_link, as its
// add_info_events did.
func (e *Encoder) writeEvents(dst []byte, events []Event, r *Run, span SpanID) []byte {
	const f = fieldEventAttrs
	for i := range events {
		ev := &events[i]
		if len(ev.Attrs) == 0 && ev.Kind <= EventError && len(ev.Message) <= eventFastMax && ev.TimeUnixNano != 0 {
			if d, ok := appendEventFast(dst, ev); ok {
				dst = d
				continue
			}
		}
		var at int
		dst, at = e.openEvent(dst, ev)
		switch {
		case len(ev.Attrs) != 0 && ev.Kind != EventException:
			if o := e.runLogOpts.Offloader; o != nil && ev.Kind == EventInfo {
				if link, ok := o.spanEventAttrsLink(r, span, ev.Attrs); ok {
					dst = e.writeKVString(dst, f, keyTraceLink, link)
					break
				}
			}
			dst = e.writeEventAttrs(dst, ev.Attrs)
		case ev.Kind == EventError:
			msg := ev.Message
			if o := e.runLogOpts.Offloader; o != nil && len(msg) >= SpanEventOffloadThreshold {
				msg = o.spanEventLink(r, span, msg)
			}
			dst = e.writeKVString(dst, f, keyErrorLog, msg)
		case ev.Kind == EventException:
			dst = e.writeKVStringOpt(dst, f, keyExceptionType, ev.Type)
			dst = e.writeKVStringOpt(dst, f, keyExceptionMessage, ev.Message)
			dst = e.writeKVStringOpt(dst, f, keyExceptionStack, ev.Stacktrace)
			if len(ev.Attrs) != 0 {
				dst = e.writeEventAttrs(dst, ev.Attrs)
			}
		default:
			msg := ev.Message
			if o := e.runLogOpts.Offloader; o != nil && len(msg) >= SpanEventOffloadThreshold {
				msg = o.spanEventLink(r, span, msg)
			}
			dst = e.writeKVString(dst, f, keyInfoLog, msg)
		}
		if n := len(dst) - at - 1; uint(n) < 0x80 {
			dst[at] = byte(n) // the usual length, without a call to closeLen
		} else {
			dst, _ = closeLen(dst, at, 1)
		}
	}
	return dst
}

// eventFastMax is the longest message appendEventFast writes.
const eventFastMax = 64

// eventHead is the part of an INFO or ERROR event without attributes
// that follows its time, up to its message: the name and the head of its
// one KeyValue, whose lengths kvLen, anyLen and strLen (at those offsets)
// depend on the message. It is padded so that it is stored with one
// array copy.
type eventHead struct {
	b                     [32]byte
	n                     int
	kvLen, anyLen, strLen int
}

// eventHeads are the eventHeads of EventInfo and EventError.
var eventHeads = [2]eventHead{mustEventHead(eventNameInfo, keyInfoLog), mustEventHead(eventNameError, keyErrorLog)}

// mustEventHead returns the eventHead of an event named name whose
// message is the attribute key.
func mustEventHead(name, key string) (h eventHead) {
	b := append(h.b[:0], tag1(fieldEventName, wireBytes), byte(len(name)))
	b = append(b, name...)
	b = append(b, tag1(fieldEventAttrs, wireBytes))
	h.kvLen = len(b)
	b = append(b, 0, tag1(fieldKVKey, wireBytes), byte(len(key)))
	b = append(b, key...)
	b = append(b, tag1(fieldKVValue, wireBytes))
	h.anyLen = len(b)
	b = append(b, 0, tag1(fieldAnyString, wireBytes))
	h.strLen = len(b)
	b = append(b, 0)
	h.n = len(b)
	return h
}

// eventFastRoom is the room appendEventFast makes: the tag, length and
// time, the padded head and the longest message.
const eventFastRoom = 2 + 9 + 32 + eventFastMax

// appendEventFast appends the usual event, an INFO or ERROR event with a
// time and a message of up to eventFastMax bytes of ASCII and no
// attributes, in one go: every length takes one byte and is known first,
// so its bytes are stored into room made once, the constant ones as one
// array (eventHeads), the message with word stores that test it for
// ASCII, where openEvent, writeKVString and appendKVFast were three calls
// and the event's length was written last. It reports false, appending
// nothing, for any other message, which writeEvents then writes.
func appendEventFast(dst []byte, ev *Event) ([]byte, bool) {
	msg := ev.Message
	n := len(msg) & (2*eventFastMax - 1)
	if n > eventFastMax {
		return dst, false
	}
	h := &eventHeads[ev.Kind&1]
	hn := h.n & 31
	m := len(dst)
	if cap(dst)-m < eventFastRoom {
		dst = slices.Grow(dst, eventFastRoom)
	}
	d := (*[eventFastRoom]byte)(dst[m : m+eventFastRoom])
	d[0], d[1] = tag1(fieldSpanEvents, wireBytes), byte(9+hn+n)
	d[2] = tag1(fieldEventTime, wireFixed64)
	binary.LittleEndian.PutUint64(d[3:11], uint64(ev.TimeUnixNano))
	w := (*[32 + eventFastMax]byte)(d[11 : 11+32+eventFastMax])
	*(*[32]byte)(w[:32]) = h.b
	w[h.kvLen&31], w[h.anyLen&31], w[h.strLen&31] = byte(hn-h.kvLen-1+n), byte(hn-h.anyLen-1+n), byte(n)
	v := (*[eventFastMax]byte)(w[hn : hn+eventFastMax])
	var or uint64
	if n >= 8 {
		or = putLong(v[:], msg)
	} else if n >= 4 {
		a, b := jsonLoad32(msg), tail32(msg)
		binary.LittleEndian.PutUint32(v[:4], a)
		binary.LittleEndian.PutUint32(v[n-4:n], b)
		or = uint64(a | b)
	} else if n > 0 {
		a, b, c := msg[0], msg[n/2], msg[n-1]
		v[0], v[n/2], v[n-1] = a, b, c
		or = uint64(a | b | c)
	}
	if or&asciiHigh != 0 {
		return dst, false
	}
	return dst[:m+11+hn+n], true
}

// openEvent opens a Span.events field for ev with one byte reserved for
// its length (closed by closeLen) and writes its time and name, stored
// into room made once rather than appended field by field.
func (e *Encoder) openEvent(dst []byte, ev *Event) ([]byte, int) {
	const room = 2 + 9 + 2 + len(eventNameException)
	if cap(dst)-len(dst) < room {
		dst = slices.Grow(dst, room)
	}
	m := len(dst)
	d := dst[m : m+room]
	d[0] = tag1(fieldSpanEvents, wireBytes)
	p := 2
	if t := uint64(ev.TimeUnixNano); t != 0 {
		d[2] = tag1(fieldEventTime, wireFixed64)
		binary.LittleEndian.PutUint64(d[3:11], t)
		p = 11
	}
	name := eventName(ev.Kind)
	d[p], d[p+1] = tag1(fieldEventName, wireBytes), byte(len(name))
	p += 2 + copy(d[p+2:], name)
	return dst[:m+p], m + 1
}

// Spans are written with two bytes reserved for their length: most are
// 128 bytes to 16 KiB.
const spanLenWidth = 2

// writeRunSpan appends the run's root span as a ScopeSpans.spans field,
// and remembers where its common attributes are for the node spans.
func (e *Encoder) writeRunSpan(dst []byte, r *Run) []byte {
	const f = fieldSpanAttrs
	e.spanInvalid = e.invalid
	if !e.rewriting && attrsMayRepeat(r.Attrs) {
		r = e.runOnce(r, false)
	}
	dst, at := openLen(dst, fieldScopeXItem, spanLenWidth)
	flags := uint32(spanFlagsSampled|spanFlagsHasIsRemote) | uint32(r.TraceFlags&spanFlagsRandom)
	if !r.ParentSpanID.IsZero() {
		flags |= spanFlagsIsRemote
	}
	if r.FlowID == "" {
		dst = e.writeSpanHead(dst, r, r.SpanID, r.ParentSpanID, flags, runKind(r),
			r.StartUnixNano, r.EndUnixNano, len(runSpanBare))
		dst = append(dst, runSpanBare...)
	} else {
		n, ok := e.check(r.FlowID)
		dst = e.writeSpanHead(dst, r, r.SpanID, r.ParentSpanID, flags, runKind(r),
			r.StartUnixNano, r.EndUnixNano, len(runSpanPrefix)+n)
		dst = append(dst, runSpanPrefix...)
		dst = writeChecked(dst, r.FlowID, ok)
	}
	before := e.invalid
	e.commonFrom = len(dst)
	dst = e.writeCommonAttrs(dst, r)
	e.commonTo = len(dst)
	e.commonInvalid = e.invalid - before
	dst = appendKVIntPre(dst, f, kvKeyCode, r.Code)
	dst = e.writeKVStringOpt(dst, f, keyFlowID, r.FlowID)
	dst = e.writeKVStringOpt(dst, f, keyServiceID, serviceID(r))
	dst = e.writeKVStringOpt(dst, f, keyBotID, r.BotID)
	dst = e.writeKVStringOpt(dst, f, keySub, r.Sub)
	dst = e.writeKVStringOpt(dst, f, keyCaller, r.Caller)
	dst = appendUsageAttrs(dst, &r.Usage, r.Attrs)
	if hasErrorEvent(r.Events) {
		dst = appendKVBool(dst, f, keyError, true)
	}
	if r.Incomplete {
		dst = appendKVBool(dst, f, keyIncomplete, true)
	}
	if r.DroppedNodes != 0 {
		dst = appendKVInt(dst, f, keyDroppedNodes, int64(r.DroppedNodes))
	}
	if ff, ok := r.FirstFrameMillis(); ok {
		dst = appendKVInt(dst, f, keyFirstFrame, ff) // the run trace log's number
	}
	dst = e.writeAttrs(dst, f, "", r.Attrs)
	if e.keyRepaired {
		// A repaired key may have become another (attrkeys.go): checked
		// before the events, which may queue values to the Offloader.
		if d, ok := e.runRepaired(dst, at-1, r); ok {
			return d
		}
	}
	dst = appendVarintField(dst, fieldSpanDroppedAttrs, uint64(r.DroppedAttrs))
	dst = e.writeEvents(dst, r.Events, r, r.SpanID)
	dst = appendVarintField(dst, fieldSpanDroppedEvents, uint64(r.DroppedEvents))
	dst = e.writeStatus(dst, r.Status, r.StatusMessage)
	shift := 0
	if n := len(dst) - at - spanLenWidth; n >= 0x80 && n < 1<<14 {
		// The usual length, written here: see writeNodeSpan.
		dst[at], dst[at+1] = byte(n)|0x80, byte(n>>7)
	} else {
		dst, shift = closeLen(dst, at, spanLenWidth)
	}
	e.commonFrom += shift
	e.commonTo += shift
	return dst
}

// kvStrHead is the part of a KeyValue of a string value for a trusted
// key that does not depend on the value: its tag, the key's tag, length
// and bytes, the AnyValue's tag and the string's tag, with a byte left
// for each length, padded so that it is stored with one array copy. The
// value goes at n.
type kvStrHead struct {
	b [32]byte
	n int
}

// mustKVStrHead returns the kvStrHead of key, of at most 24 bytes.
func mustKVStrHead(key string) kvStrHead {
	if len(key) > 24 {
		panic("BUG: encode: key longer than 24 bytes: " + key)
	}
	var h kvStrHead
	b := append(h.b[:0], tag1(fieldSpanAttrs, wireBytes), 0, tag1(fieldKVKey, wireBytes), byte(len(key)))
	b = append(b, key...)
	b = append(b, tag1(fieldKVValue, wireBytes), 0, tag1(fieldAnyString, wireBytes), 0)
	h.n = len(b)
	return h
}

// nodeNameHeads are the heads of node_id, node_type and node_name.
var nodeNameHeads = [3]kvStrHead{mustKVStrHead(keyNodeID), mustKVStrHead(keyNodeType), mustKVStrHead(keyNodeName)}

// nodeNamesMax is the longest node id, type or name appendNodeNames
// writes; nodeNamesRoom the room it makes: the last KeyValue starts
// within 128 bytes, and its 32-byte head and 16-byte value stores go
// past that.
const (
	nodeNamesMax  = 16
	nodeNamesRoom = 128 + 32 + nodeNamesMax
)

// appendNodeNames appends the KeyValues node_id, node_type and node_name
// of nd, the bytes writeKVStringPre writes for each, in one go for the
// usual node, whose three are valid UTF-8 of up to nodeNamesMax bytes:
// the room is made once, each head stored as one array (nodeNameHeads)
// and each string with word stores that test it for ASCII (only one
// with a byte from 0x80 goes through utf8.ValidString), where
// appendKVFast was three calls. It reports false for anything else
// (a string to repair, a longer one), leaving dst as it was, which
// writeNodeSpan then writes as before.
func appendNodeNames(dst []byte, nd *Node) ([]byte, bool) {
	ss := [3]string{nd.NodeID, nd.NodeType, nd.NodeName}
	m := len(dst)
	if cap(dst)-m < nodeNamesRoom {
		dst = slices.Grow(dst, nodeNamesRoom)
	}
	d := (*[nodeNamesRoom]byte)(dst[m : m+nodeNamesRoom])
	p := 0
	for i := range ss {
		s, h := ss[i], &nodeNameHeads[i]
		n := len(s)
		if n > nodeNamesMax {
			return dst[:m], false
		}
		// hn and p are masked to bounds they hold (keys of 7 to 9
		// bytes, three KeyValues under 128 bytes) so that the stores
		// are not checked.
		hn := 8 + (h.n-8)&15
		q := p & 127
		w := (*[32 + nodeNamesMax]byte)(d[q : q+32+nodeNamesMax])
		*(*[32]byte)(w[:32]) = h.b
		w[1], w[hn-3], w[hn-1] = byte(hn-2+n), byte(2+n), byte(n)
		v := (*[nodeNamesMax]byte)(w[hn : hn+nodeNamesMax])
		var or uint64
		if n >= 8 {
			a, b := utf8Load64(s), tail64(s)
			binary.LittleEndian.PutUint64(v[:8], a)
			binary.LittleEndian.PutUint64(v[n-8:n], b)
			or = a | b
		} else if n >= 4 {
			a, b := jsonLoad32(s), tail32(s)
			binary.LittleEndian.PutUint32(v[:4], a)
			binary.LittleEndian.PutUint32(v[n-4:n], b)
			or = uint64(a | b)
		} else if n > 0 {
			a, b, c := s[0], s[n/2], s[n-1]
			v[0], v[n/2], v[n-1] = a, b, c
			or = uint64(a | b | c)
		}
		if or&asciiHigh != 0 && !utf8.ValidString(s) {
			return dst[:m], false
		}
		p += hn + n
	}
	return dst[:m+p], true
}

// nodeSpanPrefixPad is nodeSpanPrefix padded to 16 bytes, stored with
// one array copy; nodeNameRoom is the room its store and an id's take.
var nodeSpanPrefixPad = func() (b [16]byte) {
	copy(b[:], nodeSpanPrefix)
	return b
}()

const nodeNameRoom = len(nodeSpanPrefix) + 16

// nodeParent returns the parent of a node's span: its own when set
// (nested spans from the OTel bridge), else the run's.
func nodeParent(r *Run, nd *Node) SpanID {
	if !nd.ParentSpanID.IsZero() {
		return nd.ParentSpanID
	}
	return r.SpanID
}

// runKind returns the OTLP kind of a run's span, SERVER unless set.
func runKind(r *Run) byte {
	if r.Kind == SpanKindUnspecified || r.Kind > SpanKindConsumer {
		return spanKindServer
	}
	return byte(r.Kind)
}

// nodeKind returns the OTLP kind of a node's span, INTERNAL unless set.
func nodeKind(nd *Node) byte {
	if nd.Kind == SpanKindUnspecified || nd.Kind > SpanKindConsumer {
		return spanKindInternal
	}
	return byte(nd.Kind)
}

// writeGenAISpanHead is writeSpanHead for a node named by nd.SpanName:
// its parts, and the space between them, are written in place, so the name
// costs no allocation.
func (e *Encoder) writeGenAISpanHead(dst []byte, r *Run, nd *Node, flags uint32) []byte {
	n0, ok0 := e.check(nd.SpanName[0])
	n1, ok1 := e.check(nd.SpanName[1])
	n := n0
	if nd.SpanName[1] != "" {
		n += 1 + n1
	}
	dst = e.writeSpanHead(dst, r, nd.SpanID, nodeParent(r, nd), flags, nodeKind(nd), nd.StartUnixNano, nd.EndUnixNano, n)
	dst = writeChecked(dst, nd.SpanName[0], ok0)
	if nd.SpanName[1] != "" {
		dst = append(dst, ' ')
		dst = writeChecked(dst, nd.SpanName[1], ok1)
	}
	return dst
}

// writeNodeSpan appends the node's span as a ScopeSpans.spans field.
func (e *Encoder) writeNodeSpan(dst []byte, r *Run, nd *Node) []byte {
	const f = fieldSpanAttrs
	e.spanInvalid = e.invalid
	dst, at := openLen(dst, fieldScopeXItem, spanLenWidth)
	flags := spanFlagsSampled | spanFlagsHasIsRemote | uint32(r.TraceFlags&spanFlagsRandom)
	if nd.SpanName[0] != "" {
		dst = e.writeGenAISpanHead(dst, r, nd, flags)
	} else {
		// The usual id, "llm:4f1c2a9e", of 4 to 16 bytes of ASCII: its
		// words are loaded once, tested and stored after the prefix,
		// stored as one padded array, where check's test and two
		// appends' memmoves each went through it.
		id := nd.NodeID
		n := len(id)
		var a, b uint64
		ascii := false
		if n >= 8 && n <= 16 {
			a, b = utf8Load64(id), tail64(id)
			ascii = (a|b)&asciiHigh == 0
		} else if n >= 4 && n < 8 {
			a, b = uint64(jsonLoad32(id)), uint64(tail32(id))
			ascii = (a|b)&asciiHigh == 0
		}
		if ascii {
			dst = e.writeSpanHead(dst, r, nd.SpanID, nodeParent(r, nd), flags, nodeKind(nd), nd.StartUnixNano, nd.EndUnixNano, len(nodeSpanPrefix)+n)
			m := len(dst)
			if cap(dst)-m < nodeNameRoom {
				dst = slices.Grow(dst, nodeNameRoom)
			}
			d := (*[nodeNameRoom]byte)(dst[m : m+nodeNameRoom])
			*(*[16]byte)(d[:16]) = nodeSpanPrefixPad
			w := (*[16]byte)(d[len(nodeSpanPrefix) : len(nodeSpanPrefix)+16])
			if n >= 8 {
				binary.LittleEndian.PutUint64(w[:8], a)
				binary.LittleEndian.PutUint64(w[n-8:n], b)
			} else {
				binary.LittleEndian.PutUint32(w[:4], uint32(a))
				binary.LittleEndian.PutUint32(w[n-4:n], uint32(b))
			}
			dst = dst[:m+len(nodeSpanPrefix)+n]
		} else {
			n, ok := e.check(id)
			dst = e.writeSpanHead(dst, r, nd.SpanID, nodeParent(r, nd), flags, nodeKind(nd), nd.StartUnixNano, nd.EndUnixNano, len(nodeSpanPrefix)+n)
			dst = append(dst, nodeSpanPrefix...)
			dst = writeChecked(dst, id, ok)
		}
	}
	// The common attributes were written with the run span; each copy
	// counts its repairs again, so InvalidUTF8 counts strings as written.
	// Tried and not kept: up to 128 bytes copied in 16-byte words in
	// place of append's memmove (4 % of the loadgen's encode stage in a
	// profile, more than its share of instructions: likely the first
	// stores into the output buffer's new lines, see bufferPool): a loop
	// of words took 5.3 M more instructions than memmove in
	// BenchmarkEncodeTracesGenAI 300x (cachegrind, 759.2 M in encode),
	// eight unrolled [16]byte copies went through the stack.
	dst = append(dst, dst[e.commonFrom:e.commonTo]...)
	e.invalid += e.commonInvalid
	// node_id is the string just checked for the span name: a short one
	// is copied and tested again by its word stores, cheaper than the
	// general writer; a repair counts again, as each string written.
	if d, ok := appendNodeNames(dst, nd); ok {
		dst = d
	} else {
		dst = e.writeKVStringPre(dst, f, kvKeyNodeID, nd.NodeID)
		dst = e.writeKVStringPre(dst, f, kvKeyNodeType, nd.NodeType)
		dst = e.writeKVStringPre(dst, f, kvKeyNodeName, nd.NodeName)
	}
	running := 0
	if nd.Running() {
		running = 1
	}
	if m := len(dst); cap(dst)-m >= kvRunningRoom {
		*(*[kvRunningRoom]byte)(dst[m : m+kvRunningRoom]) = kvRunning[running]
		dst = dst[:m+kvRunningLen]
	} else {
		dst = append(dst, kvRunning[running][:kvRunningLen]...)
	}
	// Each key once (attrkeys.go): the lists are written as they are,
	// telling whether a key's bit came twice in one, and written again
	// from a copy without the keys replaced when a key did repeat; the
	// Attrs, which may meet any key, tell as they are written (below).
	mark, listsInvalid := len(dst), e.invalid
	dst, again := e.writeNodeLists(dst, nd)
	if again != 0 {
		dst, nd = e.listsOnce(dst, mark, listsInvalid, r, nd)
	}
	dst = e.writeKVStringOpt(dst, f, keyLLMOutput, nd.LLMOutput)
	if nd.FirstFrameUnixNano != 0 {
		dst = appendKVInt(dst, f, keyFirstFrame, nd.FirstFrameMillis())
	}
	if len(nd.Next) != 0 {
		dst = e.writeKVStringArray(dst, f, kvKeyNext, nd.Next)
	}
	if nd.HasUsage {
		dst = appendUsageAttrs(dst, &nd.Usage, nd.Attrs)
	}
	if hasErrorEvent(nd.Events) {
		dst = appendKVBool(dst, f, keyError, true)
	}
	if nd.Incomplete {
		dst = appendKVBool(dst, f, keyIncomplete, true)
	}
	if nd.Cancelled {
		dst = e.writeKVString(dst, f, keyErrorType, "cancelled")
	}
	if nd.HasCode {
		dst = appendKVInt(dst, f, keyCode, nd.Code)
	}
	if len(nd.Attrs) != 0 {
		var meet bool
		dst, meet = e.writeAttrsMeet(dst, nd.Attrs)
		if meet && !e.rewriting && !e.isCopy(nd) {
			// The Attrs may meet a key: checked (nodeOnce) and, when
			// one did, the span written again from the copy.
			if d, ok := e.nodeMeets(dst, at-1, r, nd); ok {
				return d
			}
		}
		if e.keyRepaired {
			// A repaired key of Attrs may have become another
			// (attrkeys.go): checked before the events, which may queue
			// values to the Offloader.
			if d, ok := e.nodeRepaired(dst, at-1, r, nd); ok {
				return d
			}
		}
	}
	dst = appendVarintField(dst, fieldSpanDroppedAttrs, uint64(nd.DroppedAttrs))
	if len(nd.Events) != 0 {
		dst = e.writeEvents(dst, nd.Events, r, nd.SpanID)
	}
	dst = appendVarintField(dst, fieldSpanDroppedEvents, uint64(nd.DroppedEvents))
	dst = e.writeStatus(dst, nd.Status, nd.StatusMessage)
	if n := len(dst) - at - spanLenWidth; n >= 0x80 && n < 1<<14 {
		// The usual length, which takes the two bytes reserved, is
		// written here rather than by a call to closeLen, as an event's
		// (writeEvents): the calls were about 2 % of BenchmarkEncodeTraces.
		dst[at], dst[at+1] = byte(n)|0x80, byte(n>>7)
	} else {
		dst, _ = closeLen(dst, at, spanLenWidth)
	}
	return dst
}

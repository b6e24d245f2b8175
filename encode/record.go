package encode

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds a Value can hold. KindEmpty is the zero Value.
const (
	KindEmpty Kind = iota
	KindString
	KindInt64
	KindFloat64
	KindBool
	KindBytes
)

// Value is a typed attribute value in 16 bytes, so that an Attr takes 32:
// half a cache line, where a string and a scalar side by side took 48 and
// a node's 32 pooled attributes a third more lines to write, carry to the
// pipeline and encode. Scalars are never boxed. A Value must not be
// modified once it is part of a record.
//
// Two Values compare with == as equal when they hold the same scalar, or a
// string or bytes of the same memory and length: == does not read the
// strings. Equal compares their contents.
type Value struct {
	// p is the data of a string or bytes value (nil when it is empty), or
	// for a scalar the address of its kind's byte in kindTags.
	p unsafe.Pointer
	// num is a scalar's bits, or the length of a string or bytes value
	// shifted up by kindBits, with its kind in the bits below.
	num uint64
}

// kindTags holds one byte per Kind; a scalar Value points at its kind's.
//
// A string or bytes Value is its data pointer and its length, shifted up
// by kindBits with the kind in the bits below (no string is 2^61 bytes
// long): a shift reads the length, where a mask would need a 10-byte
// constant. A scalar
// needs all 64 bits of num, so its kind is in p instead, as the address of
// one byte of kindTags: a pointer the garbage collector follows
// harmlessly, and that no string's data equals, since a non-empty
// string's data is never kindTags (unexported, never sliced) and an empty
// one's is stored as nil. The zero Value (p nil, num 0) is KindEmpty.
// Reading a kind is a subtraction and a compare; reading a string known
// to be one, a shift.
var kindTags [8]byte

// kindBits is how many low bits of num hold the kind of a string or
// bytes Value, below its length.
const (
	kindBits = 3
	kindMask = 1<<kindBits - 1
)

// scalarValue returns a Value of scalar kind k with bits n.
func scalarValue(k Kind, n uint64) Value {
	return Value{p: unsafe.Pointer(&kindTags[k]), num: n}
}

// stringValue returns a Value of kind k (KindString or KindBytes) for the
// n bytes at p.
func stringValue(k Kind, p *byte, n int) Value {
	if n == 0 {
		p = nil
	}
	return Value{p: unsafe.Pointer(p), num: uint64(n)<<kindBits | uint64(k)}
}

// scalarKind returns the kind of a scalar v, or KindEmpty when v is not a
// scalar (a string, bytes or the zero Value).
func (v Value) scalarKind() Kind {
	if d := uintptr(v.p) - uintptr(unsafe.Pointer(&kindTags)); d < uintptr(len(kindTags)) {
		return Kind(d)
	}
	return KindEmpty
}

// kind returns the kind of v.
func (v Value) kind() Kind {
	if d := uintptr(v.p) - uintptr(unsafe.Pointer(&kindTags)); d < uintptr(len(kindTags)) {
		return Kind(d)
	}
	return Kind(v.num & kindMask)
}

// str returns the string of a KindString or KindBytes value, else "".
func (v Value) str() string {
	if v.scalarKind() != KindEmpty {
		return ""
	}
	return v.text()
}

// text is str for a v known to be KindString or KindBytes, without the
// scalar test: the encoder's kind switches call it.
func (v Value) text() string {
	return *(*string)(unsafe.Pointer(&stringHeader{v.p, int(v.num >> kindBits)}))
}

// stringHeader is the layout of a string. str and text make their strings
// from it rather than with unsafe.String, which tests the length and the
// pointer's overflow on every call: the lengths come from a string or a
// slice to begin with.
type stringHeader struct {
	p unsafe.Pointer
	n int
}

// StringValue returns a Value for a string.
func StringValue(s string) Value { return stringValue(KindString, unsafe.StringData(s), len(s)) }

// Int64Value returns a Value for an int64.
func Int64Value(v int64) Value { return scalarValue(KindInt64, uint64(v)) }

// Float64Value returns a Value for a float64.
func Float64Value(v float64) Value { return scalarValue(KindFloat64, math.Float64bits(v)) }

// BoolValue returns a Value for a bool.
func BoolValue(v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return scalarValue(KindBool, n)
}

// BytesValue returns a Value that shares b. The caller must not modify b
// afterwards; engine copies bytes before it builds a BytesValue.
func BytesValue(b []byte) Value { return stringValue(KindBytes, unsafe.SliceData(b), len(b)) }

// Kind returns the kind of v.
func (v Value) Kind() Kind { return v.kind() }

// Str returns the string of a KindString or KindBytes value, else "".
func (v Value) Str() string { return v.str() }

// Long reports whether v is a KindBytes value, or a KindString one longer
// than n bytes: what engine copies or cuts of a caller's attribute, told
// from a string, a scalar or the zero Value by one test of each word,
// where Kind and Str each tested the pointer.
func (v Value) Long(n int) bool {
	if uintptr(v.p)-uintptr(unsafe.Pointer(&kindTags)) < uintptr(len(kindTags)) {
		return false // a scalar (see scalarKind)
	}
	return v.num&kindMask == uint64(KindBytes) || v.num>>kindBits > uint64(n)
}

// Int64 returns the integer of a KindInt64 value.
func (v Value) Int64() int64 { return int64(v.bits()) }

// Float64 returns the float of a KindFloat64 value.
func (v Value) Float64() float64 { return math.Float64frombits(v.bits()) }

// Bool returns the bool of a KindBool value.
func (v Value) Bool() bool { return v.bits() != 0 }

// bits returns the bits of a scalar v, or 0 for a string, bytes or the
// zero Value, whose num holds a length.
func (v Value) bits() uint64 {
	if v.scalarKind() == KindEmpty {
		return 0
	}
	return v.num
}

// Bytes returns the bytes of a KindBytes value. The result must not be modified.
func (v Value) Bytes() []byte {
	s := v.str()
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// String returns v as text, so that fmt prints a Value (and an Attr) by
// what it holds rather than by its pointer: a string as is, bytes in hex,
// a number or bool as strconv writes it, the zero Value as "".
func (v Value) String() string {
	switch v.kind() {
	case KindString:
		return v.text()
	case KindInt64:
		return strconv.FormatInt(v.Int64(), 10)
	case KindFloat64:
		return strconv.FormatFloat(v.Float64(), 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindBytes:
		return hex.EncodeToString(v.Bytes())
	}
	return ""
}

// Equal reports whether v and w hold the same kind and value: strings and
// bytes by their contents, scalars by their bits (a NaN equals itself).
func (v Value) Equal(w Value) bool {
	if v.kind() != w.kind() {
		return false
	}
	if v.scalarKind() != KindEmpty {
		return v.num == w.num
	}
	return v.str() == w.str()
}

// Attr is a key and a typed value.
type Attr struct {
	Key   string
	Value Value
}

// TraceID is an OTLP trace id.
type TraceID [16]byte

// SpanID is an OTLP span id.
type SpanID [8]byte

// IsZero reports whether t is all zeros (invalid per W3C).
func (t TraceID) IsZero() bool { return t == TraceID{} }

// IsZero reports whether s is all zeros (invalid per W3C).
func (s SpanID) IsZero() bool { return s == SpanID{} }

// Usage is LLM token usage, with the original's names.
type Usage struct {
	QuestionTokens   int64
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
}

// Add returns u + o, each field held at math.MaxInt64 or math.MinInt64
// where the sum would wrap to the other sign: counts come from callers,
// so any int64 is possible, and a wrapped total reads as a small one.
func (u Usage) Add(o Usage) Usage {
	s, _ := u.AddSaturating(o)
	return s
}

// AddSaturating is Add that also says how many of the four sums it held
// at a bound, for a caller that counts them (the engine's
// Stats.SumsSaturated).
func (u Usage) AddSaturating(o Usage) (Usage, int) {
	var held int
	u.QuestionTokens = satAdd(u.QuestionTokens, o.QuestionTokens, &held)
	u.PromptTokens = satAdd(u.PromptTokens, o.PromptTokens, &held)
	u.CompletionTokens = satAdd(u.CompletionTokens, o.CompletionTokens, &held)
	u.TotalTokens = satAdd(u.TotalTokens, o.TotalTokens, &held)
	return u, held
}

// satAdd returns a + b held within the int64 range, counting in held the
// sums it held.
func satAdd(a, b int64, held *int) int64 {
	s := a + b
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		*held++
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// EventKind says what an Event is.
type EventKind uint8

// Event kinds. Info and Error are the original's log entries (span events
// "INFO" / "ERROR"); Exception is an OTel exception event.
const (
	EventInfo EventKind = iota
	EventError
	EventException
)

// Event is a timestamped log entry or exception of a node or run.
type Event struct {
	TimeUnixNano int64
	Kind         EventKind
	Message      string // log message, or exception.message
	Type         string // exception.type
	Stacktrace   string // exception.stacktrace, may be empty
	// Attrs, when not empty, are the attributes of an info or error event
	// given as data (the original's add_info_events and
	// add_error_events): the span event carries them instead of
	// "INFO LOG" or "ERROR LOG", and the run trace log's entry holds
	// their text as Python's str() of a dict, as the original's. On an
	// exception event (OpenTelemetry's RecordError with attributes, from
	// the bridge) they follow its exception.* attributes, and the run
	// trace log's entry is its message as without them.
	Attrs []Attr
}

// StatusCode is the OTLP span status code.
type StatusCode uint8

// Status codes, numbered as in OTLP.
const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

// Node is one finished node execution: a child span of its run and one
// entry of the run trace log. Slices point into storage owned by the
// engine and are valid only during the Sink call that hands them out.
//
// The fields are in two groups. Those every node's span and trace log
// entry read come first, packed into as few cache lines as they fit;
// those only some nodes set (token usage, the first token's cost, the
// streamed chunks' figures) come last, each behind a flag or count of
// the first group (HasCode, HasUsage, HasFirstTokenCost, Chunks), so that a node
// without them is written, read and reset without touching their lines:
// engine's records travel from the caller's core to the pipeline's,
// mostly through memory.
type Node struct {
	SpanID SpanID
	// ParentSpanID is the parent of the node's span when it is not the
	// run's span (a span nested in a node, from the OTel bridge); zero
	// means the run's span.
	ParentSpanID  SpanID
	StartUnixNano int64
	EndUnixNano   int64
	NodeID        string // "type:uuid", e.g. "llm:1"
	NodeType      string
	NodeName      string
	Input         []Attr
	Output        []Attr
	Config        []Attr
	// Attrs are span attributes with the caller's keys, unprefixed
	// (gen_ai.*, vendor keys): the original's span.set_attribute. They are
	// not part of the run trace log.
	Attrs  []Attr
	Next   []string // node ids that follow (next_node_ids; next_log_ids resolves them)
	Events []Event
	// SpanName, when SpanName[0] is not empty, names the node's span
	// SpanName[0], then a space and SpanName[1] if that is not empty (the
	// GenAI conventions' "{gen_ai.operation.name} {gen_ai.request.model}"),
	// instead of "run_node:{node_id}".
	SpanName      [2]string
	LLMOutput     string
	StatusMessage string
	// FirstFrameUnixNano is the time of the first streamed output, 0 if none.
	FirstFrameUnixNano int64
	// DroppedAttrs and DroppedEvents count what passed the limits.
	DroppedAttrs  uint32
	DroppedEvents uint32
	// Chunks counts the streamed output chunks (engine's Node.Chunk),
	// received from FirstChunkUnixNano to LastChunkUnixNano.
	Chunks uint32
	// Kind is the span kind; zero means INTERNAL.
	Kind   SpanKind
	Status StatusCode
	// HasCode says Code is set, HasUsage Usage, HasFirstTokenCost
	// FirstTokenCostNano.
	HasCode           bool
	HasUsage          bool
	HasFirstTokenCost bool
	// Incomplete is set when the node was never ended and was closed by
	// its run's end; Status is then StatusError.
	Incomplete bool
	// Cancelled is set when the node was cancelled (Node.Cancel in
	// engine); Status is then StatusError.
	Cancelled bool

	// The fields below are set only when HasCode, HasUsage,
	// HasFirstTokenCost or Chunks says so (see above).

	// Code is the node span's attribute "code" (the original's
	// span.set_code), valid when HasCode is set.
	Code  int64
	Usage Usage
	// FirstTokenCostNano is the cost of the first LLM token its owner
	// measured (the original's node_first_cost_time), valid when
	// HasFirstTokenCost is set.
	FirstTokenCostNano                    int64
	FirstChunkUnixNano, LastChunkUnixNano int64
	// ChunkGaps counts the intervals between consecutive chunks by the
	// GenAI conventions' duration buckets (0.01 s to 81.92 s, doubling,
	// then above), ChunkGapMin and ChunkGapMax the shortest and the
	// longest in nanoseconds: gen_ai.client.operation.time_per_output_chunk
	// per chunk, counted on the node as the chunks come.
	ChunkGapMin, ChunkGapMax int64
	ChunkGaps                [15]uint32
}

// Running reports the original's running_status: true unless the node failed.
func (n *Node) Running() bool { return n.Status != StatusError }

// FirstFrameMillis returns the node's first_frame_duration: the first
// frame's epoch milliseconds minus the start's (the original subtracts its
// two millisecond clock readings), or -1 when there is none. The span and
// the run trace log both write this number.
func (n *Node) FirstFrameMillis() int64 {
	if n.FirstFrameUnixNano == 0 {
		return -1
	}
	return runlogMillis(n.FirstFrameUnixNano) - runlogMillis(n.StartUnixNano)
}

// Run is one finished workflow run: the root span and the run trace log.
type Run struct {
	TraceID      TraceID
	SpanID       SpanID
	ParentSpanID SpanID // set when the run joined a caller's trace
	TraceState   string
	// TraceFlags are the W3C trace-flags the run carries: sampled (its head
	// sampling decision) and random (its trace-id is random).
	TraceFlags uint8
	// Kind is the kind of the run's span, SERVER unless set (a span the
	// OpenTelemetry bridge started as a root keeps its own: a client
	// span's run is a CLIENT span).
	Kind SpanKind

	ServiceID string
	FlowID    string
	SID       string
	AppID     string
	UID       string
	BotID     string
	ChatID    string
	Sub       string
	Caller    string
	LogCaller string
	Question  string
	Answer    string

	StartUnixNano int64
	EndUnixNano   int64

	Srv    []Attr // srv map of the trace log
	SrvTag []Attr // srv_tag map of the trace log
	Attrs  []Attr // extra span attributes

	Code    int64  // the run's return code (status.code, span attribute "code")
	Message string // status.message

	// Usage is the sum of the nodes' usage, computed once when the run ends.
	Usage Usage

	// FirstFrameUnixNano is the run's first frame set by its owner (the
	// original's add_first_frame_duration), 0 if none: see
	// FirstFrameMillis.
	FirstFrameUnixNano int64
	// StreamStartUnixNano, when not zero, is what FirstFrameMillis would
	// find walking Nodes: the start of the first node IsStreamNode
	// accepts, or -1 when none does. The engine's pipeline sets it as it
	// reads the nodes, so that the encoder does not walk them again
	// before it prefetches them.
	StreamStartUnixNano int64

	Events []Event
	// Nodes are in the order they ended, as the original's trace; nodes
	// closed by the run's end come last.
	Nodes []*Node

	Status        StatusCode
	StatusMessage string
	// Incomplete is set when the run was never ended and was closed after
	// the engine's idle timeout.
	Incomplete    bool
	DroppedAttrs  uint32
	DroppedEvents uint32
	DroppedNodes  uint32
}

// FirstFrameMillis returns the run's first_frame_duration in milliseconds
// and true, or false when it has none. A first frame set by the run's owner
// wins; otherwise it is the original's rule: the first node in r.Nodes
// (finish order) whose node id prefix, the part before the first ':', is
// "message" or "node-end", its start minus the run's start
// (StreamStartUnixNano, when set, is that node's start).
func (r *Run) FirstFrameMillis() (int64, bool) {
	start := runlogMillis(r.StartUnixNano)
	if r.FirstFrameUnixNano != 0 {
		return runlogMillis(r.FirstFrameUnixNano) - start, true
	}
	s, ok := r.StreamStartUnixNano, r.StreamStartUnixNano > 0
	if s == 0 {
		s, ok = StreamStart(r.Nodes)
	}
	if !ok {
		return 0, false
	}
	return runlogMillis(s) - start, true
}

// StreamStart returns the start of the first of nodes IsStreamNode
// accepts and true, or false when none does: what FirstFrameMillis takes
// for the first frame, and Run.StreamStartUnixNano holds.
func StreamStart(nodes []*Node) (int64, bool) {
	for _, n := range nodes {
		if IsStreamNode(n.NodeID) {
			return n.StartUnixNano, true
		}
	}
	return 0, false
}

// IsStreamNode reports whether the node id names a node whose start is the
// run's first frame: its prefix before the first ':' (the whole id when
// there is none) is "message" or "node-end".
func IsStreamNode(nodeID string) bool {
	// Two prefix tests instead of strings.Cut, which looked for the ':'
	// of every node of every run (FirstFrameMillis, once per run span),
	// behind a test of the first byte, which rules out most nodes.
	if len(nodeID) < len("message") || nodeID[0] != 'm' && nodeID[0] != 'n' {
		return false
	}
	return hasNodeType(nodeID, "message") || hasNodeType(nodeID, "node-end")
}

// hasNodeType reports whether the node id's prefix before its first ':'
// (the whole id when there is none) is typ, which holds no ':'.
func hasNodeType(nodeID, typ string) bool {
	return strings.HasPrefix(nodeID, typ) && (len(nodeID) == len(typ) || nodeID[len(typ)] == ':')
}

// Resource identifies the process that produced the records.
type Resource struct {
	ServiceName       string
	ServiceInstanceID string
	HostIP            string
	// Attrs are extra resource attributes (OTEL_RESOURCE_ATTRIBUTES).
	Attrs []Attr
}

// Scope name and version written on every scope of every request.
const (
	ScopeName    = "github.com/flowtel/flowtel"
	ScopeVersion = "0.1.0"
	SpanVersion  = "1.0.0"  // span attribute span_version, as the original
	LogVersion   = "v2.0.0" // run trace log "version", as the original
)

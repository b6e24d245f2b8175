package encode

import (
	"sync/atomic"
	"unicode/utf8"
)

// This file holds a generic OTLP span encoder: where Encoder.AppendTraces
// writes flowtel's own runs and nodes, SpanEncoder.AppendSpans writes any
// span given as a flat struct, with its own resource, scope, kind, links,
// events, status and dropped counts. engine's SpanExporter adapter uses it
// to send spans of an OpenTelemetry SDK pipeline through flowtel's
// exporters.

// SpanKind is the OTLP span kind, numbered as in OTLP.
type SpanKind uint8

// Span kinds.
const (
	SpanKindUnspecified SpanKind = 0
	SpanKindInternal    SpanKind = 1
	SpanKindServer      SpanKind = 2
	SpanKindClient      SpanKind = 3
	SpanKindProducer    SpanKind = 4
	SpanKindConsumer    SpanKind = 5
)

// KeyValue is an attribute of a generic span: a scalar Value or, when
// IsArray is set, an array of scalar Values (an OTLP ArrayValue).
type KeyValue struct {
	Key     string
	Value   Value
	Array   []Value
	IsArray bool
}

// SpanEvent is a span event.
type SpanEvent struct {
	TimeUnixNano int64
	Name         string
	Attrs        []KeyValue
	DroppedAttrs uint32
}

// SpanLink is a link to another span.
type SpanLink struct {
	TraceID      TraceID
	SpanID       SpanID
	TraceState   string
	Flags        uint32 // W3C trace flags and the OTLP is-remote bits
	Attrs        []KeyValue
	DroppedAttrs uint32
}

// Span is one finished span, by value, with nothing implied.
type Span struct {
	TraceID       TraceID
	SpanID        SpanID
	ParentSpanID  SpanID // zero for a root span
	TraceState    string
	Flags         uint32 // W3C trace flags and the OTLP is-remote bits
	Name          string
	Kind          SpanKind
	StartUnixNano int64
	EndUnixNano   int64
	Attrs         []KeyValue
	DroppedAttrs  uint32
	Events        []SpanEvent
	DroppedEvents uint32
	Links         []SpanLink
	DroppedLinks  uint32
	Status        StatusCode
	StatusMessage string
}

// SpanScope is an instrumentation scope.
type SpanScope struct {
	Name         string
	Version      string
	Attrs        []KeyValue
	DroppedAttrs uint32
}

// ScopeSpans is the spans of one scope.
type ScopeSpans struct {
	Scope     SpanScope
	SchemaURL string
	Spans     []Span
}

// ResourceSpans is the spans of one resource, grouped by scope.
type ResourceSpans struct {
	Attrs        []KeyValue // resource attributes
	DroppedAttrs uint32
	SchemaURL    string
	ScopeSpans   []ScopeSpans
}

// OTLP span flag bits that a converter sets in Span.Flags and
// SpanLink.Flags (the low byte holds the W3C trace flags).
const (
	SpanFlagsHasIsRemote uint32 = spanFlagsHasIsRemote
	SpanFlagsIsRemote    uint32 = spanFlagsIsRemote
)

// SpanEncoder writes ExportTraceServiceRequest messages from ResourceSpans.
// Like Encoder it sizes every nested message in a first pass, keeping the
// sizes in a slice reused across calls, and appends in a second; strings
// that are not valid UTF-8 are written with U+FFFD and counted. It is not
// safe for concurrent use, except InvalidUTF8. Once its scratch slice has
// grown to the largest batch, AppendSpans allocates nothing.
type SpanEncoder struct {
	// sizes holds the first pass's sizes in the order the second pass
	// writes the messages; a span's entry is size<<1|dirty.
	sizes []int
	cur   int
	// trusted is set while the second pass writes a span whose strings the
	// first pass found valid: they are copied without a second scan
	// (halved the time of BenchmarkAppendSpans/flowtel).
	trusted bool
	pending uint64 // repairs counted by the first pass, published at the end
	invalid atomic.Uint64
}

// NewSpanEncoder returns a SpanEncoder.
func NewSpanEncoder() *SpanEncoder { return &SpanEncoder{} }

// InvalidUTF8 returns how many strings were repaired, once per field
// written. It is safe to call from any goroutine.
func (e *SpanEncoder) InvalidUTF8() uint64 { return e.invalid.Load() }

// CountSpans returns the number of spans in rs.
func CountSpans(rs []ResourceSpans) int {
	n := 0
	for i := range rs {
		for k := range rs[i].ScopeSpans {
			n += len(rs[i].ScopeSpans[k].Spans)
		}
	}
	return n
}

// AppendSpans appends an ExportTraceServiceRequest holding rs to dst and
// returns the extended slice. Every ResourceSpans writes its Resource and
// every ScopeSpans its InstrumentationScope, even when empty, and every span
// its Status, as the OpenTelemetry exporters do.
func (e *SpanEncoder) AppendSpans(dst []byte, rs []ResourceSpans) []byte {
	e.sizes = e.sizes[:0]
	for i := range rs {
		e.sizeResourceSpans(&rs[i], true)
	}
	e.cur = 0
	for i := range rs {
		dst = e.appendResourceSpans(dst, &rs[i])
	}
	e.invalid.Add(e.pending)
	e.pending = 0
	return dst
}

func (e *SpanEncoder) push() int { e.sizes = append(e.sizes, 0); return len(e.sizes) - 1 }

func (e *SpanEncoder) pop() int { n := e.sizes[e.cur]; e.cur++; return n }

// str returns the bytes s takes once written; count says whether an
// invalid s is counted (the first pass) or not.
func (e *SpanEncoder) str(s string, count bool) int {
	if e.trusted || utf8ValidShort(s) || utf8.ValidString(s) {
		return len(s)
	}
	if count {
		e.pending++
	}
	return utf8RepairedLen(s)
}

// appendValidStr appends s, repaired when it is not valid UTF-8.
func (e *SpanEncoder) appendValidStr(dst []byte, s string) []byte {
	if e.trusted || utf8ValidShort(s) || utf8.ValidString(s) {
		return append(dst, s...)
	}
	return appendUTF8Repaired(dst, s)
}

// sizeStr returns the size of a string field, omitted when empty.
func (e *SpanEncoder) sizeStr(field int, s string, count bool) int {
	if s == "" {
		return 0
	}
	return sizeLenField(field, e.str(s, count))
}

func (e *SpanEncoder) appendStr(dst []byte, field int, s string) []byte {
	if s == "" {
		return dst
	}
	dst = appendLenPrefix(dst, field, e.str(s, false))
	return e.appendValidStr(dst, s)
}

// sizeScalar returns the AnyValue body size of a scalar.
func (e *SpanEncoder) sizeScalar(v Value, count bool) int {
	switch v.kind {
	case KindString:
		return sizeLenField(1, e.str(v.str, count))
	case KindBytes:
		return sizeLenField(7, len(v.str))
	case KindInt64:
		return 1 + sizeVarint(v.num)
	case KindFloat64:
		return 1 + 8
	case KindBool:
		return 2
	}
	return 0
}

// appendScalar appends the AnyValue body of a scalar: a oneof, so zero
// values are written too.
func (e *SpanEncoder) appendScalar(dst []byte, v Value) []byte {
	switch v.kind {
	case KindString:
		dst = appendLenPrefix(dst, 1, e.str(v.str, false))
		return e.appendValidStr(dst, v.str)
	case KindBytes:
		dst = appendLenPrefix(dst, 7, len(v.str))
		return append(dst, v.str...)
	case KindInt64:
		return appendVarint(append(dst, 3<<3|wireVarint), v.num)
	case KindFloat64:
		return appendFixed64(append(dst, 4<<3|wireFixed64), v.num)
	case KindBool:
		return append(dst, 2<<3|wireVarint, byte(v.num&1))
	}
	return dst
}

// sizeArrayBody returns the ArrayValue body size of vs.
func (e *SpanEncoder) sizeArrayBody(vs []Value, count bool) int {
	n := 0
	for _, v := range vs {
		n += sizeLenField(1, e.sizeScalar(v, count))
	}
	return n
}

// sizeAny returns the AnyValue body size of kv's value.
func (e *SpanEncoder) sizeAny(kv *KeyValue, count bool) int {
	if kv.IsArray {
		return sizeLenField(5, e.sizeArrayBody(kv.Array, count))
	}
	return e.sizeScalar(kv.Value, count)
}

// sizeKVBody returns the KeyValue body size of kv.
func (e *SpanEncoder) sizeKV(kv *KeyValue, count bool) int {
	return e.sizeStr(1, kv.Key, count) + sizeLenField(2, e.sizeAny(kv, count))
}

func (e *SpanEncoder) sizeKVs(field int, kvs []KeyValue, count bool) int {
	n := 0
	for i := range kvs {
		n += sizeLenField(field, e.sizeKV(&kvs[i], count))
	}
	return n
}

func (e *SpanEncoder) appendKVs(dst []byte, field int, kvs []KeyValue) []byte {
	for i := range kvs {
		kv := &kvs[i]
		var anyLen, arrLen int
		if kv.IsArray {
			arrLen = e.sizeArrayBody(kv.Array, false)
			anyLen = sizeLenField(5, arrLen)
		} else {
			anyLen = e.sizeScalar(kv.Value, false)
		}
		dst = appendLenPrefix(dst, field, e.sizeStr(1, kv.Key, false)+sizeLenField(2, anyLen))
		dst = e.appendStr(dst, 1, kv.Key)
		dst = appendLenPrefix(dst, 2, anyLen)
		if !kv.IsArray {
			dst = e.appendScalar(dst, kv.Value)
			continue
		}
		dst = appendLenPrefix(dst, 5, arrLen)
		for _, v := range kv.Array {
			dst = appendLenPrefix(dst, 1, e.sizeScalar(v, false))
			dst = e.appendScalar(dst, v)
		}
	}
	return dst
}

// sizeResourceSpans sizes rs and everything in it, pushing the sizes of
// the messages in the order the second pass writes them.
func (e *SpanEncoder) sizeResourceSpans(rs *ResourceSpans, count bool) int {
	slot := e.push()
	resource := e.sizeKVs(1, rs.Attrs, count) + sizeVarintField(2, uint64(rs.DroppedAttrs))
	n := sizeLenField(1, resource) + e.sizeStr(3, rs.SchemaURL, count)
	for k := range rs.ScopeSpans {
		n += sizeLenField(2, e.sizeScopeSpans(&rs.ScopeSpans[k]))
	}
	e.sizes[slot] = n
	return n
}

func (e *SpanEncoder) appendResourceSpans(dst []byte, rs *ResourceSpans) []byte {
	dst = appendLenPrefix(dst, 1, e.pop())
	dst = appendLenPrefix(dst, 1, e.sizeKVs(1, rs.Attrs, false)+sizeVarintField(2, uint64(rs.DroppedAttrs)))
	dst = e.appendKVs(dst, 1, rs.Attrs)
	dst = appendVarintField(dst, 2, uint64(rs.DroppedAttrs))
	for k := range rs.ScopeSpans {
		dst = e.appendScopeSpans(dst, &rs.ScopeSpans[k])
	}
	return e.appendStr(dst, 3, rs.SchemaURL)
}

func (e *SpanEncoder) sizeScope(s *SpanScope, count bool) int {
	return e.sizeStr(1, s.Name, count) + e.sizeStr(2, s.Version, count) +
		e.sizeKVs(3, s.Attrs, count) + sizeVarintField(4, uint64(s.DroppedAttrs))
}

func (e *SpanEncoder) sizeScopeSpans(ss *ScopeSpans) int {
	slot := e.push()
	n := sizeLenField(1, e.sizeScope(&ss.Scope, true)) + e.sizeStr(3, ss.SchemaURL, true)
	for i := range ss.Spans {
		n += sizeLenField(2, e.sizeSpan(&ss.Spans[i]))
	}
	e.sizes[slot] = n
	return n
}

func (e *SpanEncoder) appendScopeSpans(dst []byte, ss *ScopeSpans) []byte {
	dst = appendLenPrefix(dst, 2, e.pop())
	dst = appendLenPrefix(dst, 1, e.sizeScope(&ss.Scope, false))
	dst = e.appendStr(dst, 1, ss.Scope.Name)
	dst = e.appendStr(dst, 2, ss.Scope.Version)
	dst = e.appendKVs(dst, 3, ss.Scope.Attrs)
	dst = appendVarintField(dst, 4, uint64(ss.Scope.DroppedAttrs))
	for i := range ss.Spans {
		dst = e.appendSpan(dst, &ss.Spans[i])
	}
	return e.appendStr(dst, 3, ss.SchemaURL)
}

func (e *SpanEncoder) sizeStatus(s *Span, count bool) int {
	return e.sizeStr(2, s.StatusMessage, count) + sizeVarintField(3, uint64(s.Status))
}

func (e *SpanEncoder) sizeEvent(ev *SpanEvent, count bool) int {
	return sizeFixed64Field(1, uint64(ev.TimeUnixNano)) + e.sizeStr(2, ev.Name, count) +
		e.sizeKVs(3, ev.Attrs, count) + sizeVarintField(4, uint64(ev.DroppedAttrs))
}

func (e *SpanEncoder) sizeLink(l *SpanLink, count bool) int {
	return sizeLenField(1, 16) + sizeLenField(2, 8) + e.sizeStr(3, l.TraceState, count) +
		e.sizeKVs(4, l.Attrs, count) + sizeVarintField(5, uint64(l.DroppedAttrs)) +
		sizeFixed32Field(6, l.Flags)
}

// sizeSpan sizes a span; its events and links are sized again in the
// second pass, which does not count repairs twice.
func (e *SpanEncoder) sizeSpan(s *Span) int {
	slot := e.push()
	before := e.pending
	n := sizeLenField(1, 16) + sizeLenField(2, 8) + e.sizeStr(3, s.TraceState, true) +
		e.sizeStr(5, s.Name, true) + sizeVarintField(6, uint64(s.Kind)) +
		sizeFixed64Field(7, uint64(s.StartUnixNano)) + sizeFixed64Field(8, uint64(s.EndUnixNano)) +
		e.sizeKVs(9, s.Attrs, true) + sizeVarintField(10, uint64(s.DroppedAttrs)) +
		sizeVarintField(12, uint64(s.DroppedEvents)) + sizeVarintField(14, uint64(s.DroppedLinks)) +
		sizeLenField(15, e.sizeStatus(s, true)) + sizeFixed32Field(16, s.Flags)
	if !s.ParentSpanID.IsZero() {
		n += sizeLenField(4, 8)
	}
	for i := range s.Events {
		n += sizeLenField(11, e.sizeEvent(&s.Events[i], true))
	}
	for i := range s.Links {
		n += sizeLenField(13, e.sizeLink(&s.Links[i], true))
	}
	v := n << 1
	if e.pending != before {
		v |= 1
	}
	e.sizes[slot] = v
	return n
}

func (e *SpanEncoder) appendSpan(dst []byte, s *Span) []byte {
	v := e.pop()
	e.trusted = v&1 == 0
	defer func() { e.trusted = false }()
	dst = appendLenPrefix(dst, 2, v>>1)
	dst = appendLenPrefix(dst, 1, 16)
	dst = append(dst, s.TraceID[:]...)
	dst = appendLenPrefix(dst, 2, 8)
	dst = append(dst, s.SpanID[:]...)
	dst = e.appendStr(dst, 3, s.TraceState)
	if !s.ParentSpanID.IsZero() {
		dst = appendLenPrefix(dst, 4, 8)
		dst = append(dst, s.ParentSpanID[:]...)
	}
	dst = e.appendStr(dst, 5, s.Name)
	dst = appendVarintField(dst, 6, uint64(s.Kind))
	dst = appendFixed64Field(dst, 7, uint64(s.StartUnixNano))
	dst = appendFixed64Field(dst, 8, uint64(s.EndUnixNano))
	dst = e.appendKVs(dst, 9, s.Attrs)
	dst = appendVarintField(dst, 10, uint64(s.DroppedAttrs))
	for i := range s.Events {
		ev := &s.Events[i]
		dst = appendLenPrefix(dst, 11, e.sizeEvent(ev, false))
		dst = appendFixed64Field(dst, 1, uint64(ev.TimeUnixNano))
		dst = e.appendStr(dst, 2, ev.Name)
		dst = e.appendKVs(dst, 3, ev.Attrs)
		dst = appendVarintField(dst, 4, uint64(ev.DroppedAttrs))
	}
	dst = appendVarintField(dst, 12, uint64(s.DroppedEvents))
	for i := range s.Links {
		l := &s.Links[i]
		dst = appendLenPrefix(dst, 13, e.sizeLink(l, false))
		dst = appendLenPrefix(dst, 1, 16)
		dst = append(dst, l.TraceID[:]...)
		dst = appendLenPrefix(dst, 2, 8)
		dst = append(dst, l.SpanID[:]...)
		dst = e.appendStr(dst, 3, l.TraceState)
		dst = e.appendKVs(dst, 4, l.Attrs)
		dst = appendVarintField(dst, 5, uint64(l.DroppedAttrs))
		dst = appendFixed32Field(dst, 6, l.Flags)
	}
	dst = appendVarintField(dst, 14, uint64(s.DroppedLinks))
	dst = appendLenPrefix(dst, 15, e.sizeStatus(s, false))
	dst = e.appendStr(dst, 2, s.StatusMessage)
	dst = appendVarintField(dst, 3, uint64(s.Status))
	return appendFixed32Field(dst, 16, s.Flags)
}

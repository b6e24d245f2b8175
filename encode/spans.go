package encode

import "sync/atomic"

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
// Like Encoder it writes in one pass, reserving each length that depends
// on what follows (openLen, closeLen), and checks each string once, as it
// is written; strings that are not valid UTF-8 are written with U+FFFD
// and counted. It is not safe for concurrent use, except InvalidUTF8. It
// keeps no scratch: with a dst of enough capacity AppendSpans allocates
// nothing.
type SpanEncoder struct {
	// strChecker validates and counts the strings of the request being
	// written.
	strChecker
	invalidUTF8 atomic.Uint64
}

// NewSpanEncoder returns a SpanEncoder.
func NewSpanEncoder() *SpanEncoder { return &SpanEncoder{} }

// InvalidUTF8 returns how many strings were repaired, once per field
// written. It is safe to call from any goroutine.
func (e *SpanEncoder) InvalidUTF8() uint64 { return e.invalidUTF8.Load() }

// Reserved length widths: a ResourceSpans or ScopeSpans of a batch is
// 16 KiB to 2 MiB (three bytes, requestWidth), a resource a few hundred
// bytes and a span 128 bytes to 16 KiB (two), a scope, an event and a
// link shorter than 128 bytes (one).
const (
	spansResourceWidth = 2
	spansSpanWidth     = 2
	spansSmallWidth    = 1
)

// AppendSpans appends an ExportTraceServiceRequest holding rs to dst and
// returns the extended slice. Every ResourceSpans writes its Resource and
// every ScopeSpans its InstrumentationScope, even when empty, and every span
// its Status, as the OpenTelemetry exporters do.
func (e *SpanEncoder) AppendSpans(dst []byte, rs []ResourceSpans) []byte {
	e.invalid = 0
	for i := range rs {
		dst = e.writeResourceSpans(dst, &rs[i])
	}
	e.invalidUTF8.Add(e.invalid)
	return dst
}

// writeResourceSpans appends rs as a request's resource_spans field.
func (e *SpanEncoder) writeResourceSpans(dst []byte, rs *ResourceSpans) []byte {
	dst, at := openLen(dst, fieldRequestResource, requestWidth)
	dst, res := openLen(dst, fieldResourceXResource, spansResourceWidth)
	dst = e.writeKeyValuesDropped(dst, fieldResourceAttrs, rs.Attrs, fieldResourceDroppedAttrs, rs.DroppedAttrs)
	dst, _ = closeLen(dst, res, spansResourceWidth)
	for k := range rs.ScopeSpans {
		dst = e.writeScopeSpans(dst, &rs.ScopeSpans[k])
	}
	dst = e.writeStringField(dst, fieldResourceXSchemaURL, rs.SchemaURL)
	dst, _ = closeLen(dst, at, requestWidth)
	return dst
}

// writeScopeSpans appends ss as a ResourceSpans.scope_spans field.
func (e *SpanEncoder) writeScopeSpans(dst []byte, ss *ScopeSpans) []byte {
	dst, at := openLen(dst, fieldResourceXScope, requestWidth)
	dst, scope := openLen(dst, fieldScopeXScope, spansSmallWidth)
	dst = e.writeStringField(dst, fieldScopeName, ss.Scope.Name)
	dst = e.writeStringField(dst, fieldScopeVersion, ss.Scope.Version)
	dst = e.writeKeyValuesDropped(dst, fieldScopeAttrs, ss.Scope.Attrs, fieldScopeDroppedAttrs, ss.Scope.DroppedAttrs)
	dst, _ = closeLen(dst, scope, spansSmallWidth)
	for i := range ss.Spans {
		dst = e.writeSpan(dst, &ss.Spans[i])
	}
	dst = e.writeStringField(dst, fieldScopeXSchemaURL, ss.SchemaURL)
	dst, _ = closeLen(dst, at, requestWidth)
	return dst
}

// writeSpan appends s as a ScopeSpans.spans field.
func (e *SpanEncoder) writeSpan(dst []byte, s *Span) []byte {
	dst, at := openLen(dst, fieldScopeXItem, spansSpanWidth)
	dst = appendLen1(dst, fieldSpanTraceID, 16)
	dst = append(dst, s.TraceID[:]...)
	dst = appendLen1(dst, fieldSpanSpanID, 8)
	dst = append(dst, s.SpanID[:]...)
	dst = e.writeStringField(dst, fieldSpanTraceState, s.TraceState)
	if !s.ParentSpanID.IsZero() {
		dst = appendLen1(dst, fieldSpanParentSpanID, 8)
		dst = append(dst, s.ParentSpanID[:]...)
	}
	dst = e.writeStringField(dst, fieldSpanName, s.Name)
	dst = appendVarintField(dst, fieldSpanKind, uint64(s.Kind))
	dst = appendFixed64Field(dst, fieldSpanStart, uint64(s.StartUnixNano))
	dst = appendFixed64Field(dst, fieldSpanEnd, uint64(s.EndUnixNano))
	dst = e.writeKeyValuesDropped(dst, fieldSpanAttrs, s.Attrs, fieldSpanDroppedAttrs, s.DroppedAttrs)
	for i := range s.Events {
		ev := &s.Events[i]
		var ea int
		dst, ea = openLen(dst, fieldSpanEvents, spansSmallWidth)
		dst = appendFixed64Field(dst, fieldEventTime, uint64(ev.TimeUnixNano))
		dst = e.writeStringField(dst, fieldEventName, ev.Name)
		dst = e.writeKeyValuesDropped(dst, fieldEventAttrs, ev.Attrs, fieldEventDroppedAttrs, ev.DroppedAttrs)
		dst, _ = closeLen(dst, ea, spansSmallWidth)
	}
	dst = appendVarintField(dst, fieldSpanDroppedEvents, uint64(s.DroppedEvents))
	for i := range s.Links {
		l := &s.Links[i]
		var la int
		dst, la = openLen(dst, fieldSpanLinks, spansSmallWidth)
		dst = appendLen1(dst, fieldLinkTraceID, 16)
		dst = append(dst, l.TraceID[:]...)
		dst = appendLen1(dst, fieldLinkSpanID, 8)
		dst = append(dst, l.SpanID[:]...)
		dst = e.writeStringField(dst, fieldLinkTraceState, l.TraceState)
		dst = e.writeKeyValuesDropped(dst, fieldLinkAttrs, l.Attrs, fieldLinkDroppedAttrs, l.DroppedAttrs)
		dst = appendFixed32Field(dst, fieldLinkFlags, l.Flags)
		dst, _ = closeLen(dst, la, spansSmallWidth)
	}
	dst = appendVarintField(dst, fieldSpanDroppedLinks, uint64(s.DroppedLinks))
	dst = e.writeStatus(dst, s.Status, s.StatusMessage)
	dst = appendFixed32Field(dst, fieldSpanFlags, s.Flags)
	dst, _ = closeLen(dst, at, spansSpanWidth)
	return dst
}

// writeKeyValuesDropped appends kvs as KeyValue fields numbered attrs and the count
// of the attributes dropped before as field droppedAttrs, as Resource,
// InstrumentationScope, Span, Span.Event and Span.Link all carry them.
func (e *SpanEncoder) writeKeyValuesDropped(dst []byte, attrs int, kvs []KeyValue, droppedAttrs int, dropped uint32) []byte {
	dst = e.writeKeyValues(dst, attrs, kvs)
	return appendVarintField(dst, droppedAttrs, uint64(dropped))
}

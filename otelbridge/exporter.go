package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// ErrSpansDropped is returned by SpanExporter.ExportSpans when the exporter
// could not queue the batch; the exporter's Stats say why.
var ErrSpansDropped = errors.New("otelbridge: spans dropped by the exporter")

// SpanExporter is an sdk/trace SpanExporter that sends the spans of an
// OpenTelemetry SDK pipeline through flowtel's span encoder and exporter:
// ReadOnlySpan → encode.Span → OTLP bytes (encode.SpanEncoder) →
// export.Exporter.Enqueue(export.Traces, buf, n).
//
// Spans are grouped by resource (the same *resource.Resource) and scope.
// Attribute values keep their OTLP types; slices of scalars, typed or
// not (attribute.Slice of scalar and empty values), become OTLP arrays,
// as OpenTelemetry's OTLP exporter writes them; a slice holding a slice
// or a map, and a map, become their string form (attribute.Value.String),
// the encoder writing no nested value, cut at a rune's start to the
// exporter's MaxRequestBytes (a span holding a longer one is too large to
// send and is dropped as export.DropTooLarge either way): only as much of
// the value as that keeps is formatted, and a level nested past 1,000 is
// null. Flags carry the W3C trace flags and the OTLP
// is-remote bits of the parent (and of each link), as the OpenTelemetry
// OTLP exporter writes them.
//
// ExportSpans may be called from several goroutines; their encoding is
// serialised, their wait for room in the queue is not.
// Its scratch space is reused, so a warm exporter allocates only what the
// SDK's accessors allocate (Resource.Attributes, slice values). Shutdown
// stops accepting spans and flushes the exporter but does not shut it down:
// the exporter may be shared (an otlp.Sink's, see Sink.Exporter), and its
// owner shuts it down.
type SpanExporter struct {
	mu  sync.Mutex
	exp *export.Exporter
	enc *encode.SpanEncoder
	// closed is set by Shutdown without x.mu: an ExportSpans holds it
	// while it encodes.
	closed atomic.Bool
	// refused counts the spans of the batches refused, by Refusal.
	refused [numRefusals]atomic.Uint64

	groups []spanGroup
	gid    []int
	rs     []encode.ResourceSpans
	// Past maxScanGroups groups, gmap finds a span's group and rmap a
	// group's resource; rsRes and rsN are each ResourceSpans' resource
	// and scopes, gres each group's ResourceSpans.
	gmap   map[groupKey]int
	rmap   map[*sdkresource.Resource]int
	rsRes  []*sdkresource.Resource
	rsN    []int
	gres   []int
	scopes scratch[encode.ScopeSpans]
	spans  scratch[encode.Span]
	kvs    scratch[encode.KeyValue]
	vals   scratch[encode.Value]
	events scratch[encode.SpanEvent]
	links  scratch[encode.SpanLink]
}

// groupKey is what a spanGroup is of.
type groupKey struct {
	res   *sdkresource.Resource
	scope instrumentation.Scope
}

// maxScanGroups is the number of groups (and resources) up to which
// convert finds one by comparing with each; past it, in a map, so that a
// batch of many scopes (a tracer per request name) costs its spans, not
// its spans times its scopes.
const maxScanGroups = 16

type spanGroup struct {
	res   *sdkresource.Resource
	scope instrumentation.Scope
	n     int // spans in the group
	next  int // fill position in the group's span slice
	spans []encode.Span
}

// Refusal is why ExportSpans refused a batch before the exporter saw it.
type Refusal int

// The refusals. What the exporter itself drops (a full queue, a ctx that
// ended) it counts in its own Stats, by its reasons.
const (
	RefusedShutdown   Refusal = iota // given after Shutdown (engine.ErrShutdown)
	RefusedNilSpan                   // the batch holds a nil span: refused whole
	RefusedNoExporter                // the SpanExporter has no export.Exporter (ErrNoExporter)
	numRefusals
)

// ExportStats counts the spans ExportSpans refused, by Refusal. The SDK
// hands ExportSpans' error to its error handler and forgets the batch:
// these counts are what is left of it.
type ExportStats struct {
	Refused [numRefusals]uint64
}

// Total returns the spans refused for any reason.
func (s ExportStats) Total() uint64 {
	var n uint64
	for _, c := range s.Refused {
		n += c
	}
	return n
}

// Stats returns the counts of refused spans (zero on a nil SpanExporter,
// which has nowhere to count them).
func (x *SpanExporter) Stats() ExportStats {
	var s ExportStats
	if x == nil {
		return s
	}
	for i := range s.Refused {
		s.Refused[i] = x.refused[i].Load()
	}
	return s
}

// refuse counts n spans refused for why and returns err.
func (x *SpanExporter) refuse(why Refusal, n int, err error) error {
	x.refused[why].Add(uint64(n))
	return err
}

// ErrNoExporter is returned by ExportSpans of a SpanExporter made with a
// nil *export.Exporter.
var ErrNoExporter = errors.New("otelbridge: span exporter has no export.Exporter")

// NewSpanExporter returns a SpanExporter that queues on exp. With a nil
// exp, ExportSpans returns ErrNoExporter (it panicked on the SDK's batch
// goroutine, ending the process: TestSpanExporterNilExporter).
func NewSpanExporter(exp *export.Exporter) *SpanExporter {
	return &SpanExporter{exp: exp, enc: encode.NewSpanEncoder()}
}

// InvalidUTF8 returns how many strings the encoder repaired.
func (x *SpanExporter) InvalidUTF8() uint64 {
	if x == nil || x.enc == nil {
		return 0 // the zero SpanExporter
	}
	return x.enc.InvalidUTF8()
}

// ExportSpans encodes spans and queues them. It returns ErrShutdown after
// Shutdown, ErrNoExporter without an exporter and an error for a batch
// holding a nil span, each counted in Stats by its Refusal, and
// ErrSpansDropped when the exporter refused the batch (counted in its
// Stats by reason); it never blocks unless the exporter's policy is
// Block, and then no longer than ctx: when ctx ends before the queue has
// room, the batch is dropped, counted as export.DropBlockTimeout, and
// ExportSpans returns ctx's error, as the SDK's exporters do. A ctx
// already ended is no different: the batch is queued when it fits at
// once, else dropped and counted so.
//
// A nil *SpanExporter returns ErrNoExporter for a batch that holds spans
// (the SDK reports it to its error handler), as the zero one does, but
// counts nothing: it has no counters; its other methods do nothing.
func (x *SpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	if x == nil {
		return ErrNoExporter
	}
	if x.closed.Load() { // without waiting for a call blocked in Enqueue
		return x.refuse(RefusedShutdown, len(spans), engine.ErrShutdown)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// A ctx already ended is EnqueueContext's to count too: returning its
	// error before encoding lost the batch uncounted.
	buf, err := x.encodeLocked(spans)
	if err != nil {
		return err
	}
	// Queued without x.mu: a call waiting for room (the exporter's Block
	// policy) keeps no other from encoding, or from returning by its own
	// context.
	if !x.exp.EnqueueContext(ctx, export.Traces, buf, len(spans)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrSpansDropped
	}
	return nil
}

// encodeLocked checks and encodes spans under x.mu.
func (x *SpanExporter) encodeLocked(spans []sdktrace.ReadOnlySpan) (*bytebufferpool.ByteBuffer, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed.Load() {
		return nil, x.refuse(RefusedShutdown, len(spans), engine.ErrShutdown)
	}
	if x.exp == nil {
		return nil, x.refuse(RefusedNoExporter, len(spans), ErrNoExporter)
	}
	for i, s := range spans {
		if s == nil {
			return nil, x.refuse(RefusedNilSpan, len(spans), fmt.Errorf("otelbridge: span %d of %d is nil: the batch is refused", i, len(spans)))
		}
	}
	return x.encodeSpans(spans), nil
}

// Shutdown stops accepting spans and waits until what was queued is sent
// or counted as dropped, or ctx ends. It is idempotent. A nil ctx (here
// and in ExportSpans) is context.Background(). It does not wait for an
// ExportSpans call in progress (waiting for room in the queue, under the
// exporter's Block policy), whose batch the exporter still delivers or
// counts.
func (x *SpanExporter) Shutdown(ctx context.Context) error {
	if x == nil {
		return nil
	}
	x.closed.Store(true)
	if x.exp == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return x.exp.ForceFlush(ctx)
}

// encodeSpans converts and encodes spans into a pooled buffer. Callers hold x.mu.
func (x *SpanExporter) encodeSpans(spans []sdktrace.ReadOnlySpan) *bytebufferpool.ByteBuffer {
	rs := x.convert(spans)
	buf := encode.GetBuffer()
	buf.B = x.enc.AppendSpans(buf.B[:0], rs)
	x.reset()
	return buf
}

// convert groups spans by resource and scope and converts them.
func (x *SpanExporter) convert(spans []sdktrace.ReadOnlySpan) []encode.ResourceSpans {
	x.gid = x.gid[:0]
	for _, s := range spans {
		k := groupKey{s.Resource(), s.InstrumentationScope()}
		g := x.group(k)
		if g < 0 {
			x.groups = append(x.groups, spanGroup{res: k.res, scope: k.scope})
			g = len(x.groups) - 1
			if len(x.gmap) != 0 {
				x.gmap[k] = g
			}
		}
		x.groups[g].n++
		x.gid = append(x.gid, g)
	}
	for i := range x.groups {
		x.groups[i].spans = x.spans.take(x.groups[i].n)
	}
	for i, s := range spans {
		g := &x.groups[x.gid[i]]
		x.convertSpan(&g.spans[g.next], s)
		g.next++
	}
	// One ResourceSpans per resource, in first-seen order, holding its
	// scopes in first-seen order.
	x.rsRes, x.rsN, x.gres = x.rsRes[:0], x.rsN[:0], x.gres[:0]
	for i := range x.groups {
		r := x.resource(x.groups[i].res)
		if r < 0 {
			r = len(x.rsRes)
			x.rsRes = append(x.rsRes, x.groups[i].res)
			x.rsN = append(x.rsN, 0)
			if len(x.rmap) != 0 {
				x.rmap[x.groups[i].res] = r
			}
		}
		x.rsN[r]++
		x.gres = append(x.gres, r)
	}
	x.rs = x.rs[:0]
	for r, res := range x.rsRes {
		rs := encode.ResourceSpans{ScopeSpans: x.scopes.take(x.rsN[r])[:0]}
		if res != nil {
			rs.Attrs = x.convertAttrs(res.Attributes())
			rs.SchemaURL = res.SchemaURL()
		}
		x.rs = append(x.rs, rs)
	}
	for i := range x.groups {
		g := &x.groups[i]
		rs := &x.rs[x.gres[i]]
		rs.ScopeSpans = append(rs.ScopeSpans, encode.ScopeSpans{
			Scope:     encode.SpanScope{Name: g.scope.Name, Version: g.scope.Version, Attrs: x.convertAttrs(g.scope.Attributes.ToSlice())},
			SchemaURL: g.scope.SchemaURL,
			Spans:     g.spans,
		})
	}
	return x.rs
}

// group returns the index of k's group, -1 when it has none.
func (x *SpanExporter) group(k groupKey) int {
	if len(x.groups) <= maxScanGroups {
		for i := range x.groups {
			if x.groups[i].res == k.res && x.groups[i].scope == k.scope {
				return i
			}
		}
		return -1
	}
	if len(x.gmap) == 0 {
		if x.gmap == nil {
			x.gmap = make(map[groupKey]int, 2*len(x.groups))
		}
		for i := range x.groups {
			x.gmap[groupKey{x.groups[i].res, x.groups[i].scope}] = i
		}
	}
	if g, ok := x.gmap[k]; ok {
		return g
	}
	return -1
}

// resource returns the index in rsRes of res, -1 when it is not there.
func (x *SpanExporter) resource(res *sdkresource.Resource) int {
	if len(x.rsRes) <= maxScanGroups {
		for r := range x.rsRes {
			if x.rsRes[r] == res {
				return r
			}
		}
		return -1
	}
	if len(x.rmap) == 0 {
		if x.rmap == nil {
			x.rmap = make(map[*sdkresource.Resource]int, 2*len(x.rsRes))
		}
		for r, rr := range x.rsRes {
			x.rmap[rr] = r
		}
	}
	if r, ok := x.rmap[res]; ok {
		return r
	}
	return -1
}

// reset drops the references of the last batch so that spans are not kept
// alive, and keeps the capacity, unless the batch took more than
// maxScratch elements of it: one huge batch must not pin its memory
// (TestSpanExporterHugeBatchNotPinned, TestSpanExporterManyGroupsNotPinned).
func (x *SpanExporter) reset() {
	if len(x.groups) > maxScratch || cap(x.gid) > maxScratch {
		// The groups, their maps and the resources' state hold at most
		// one element a group, gid one a span.
		x.groups, x.gmap, x.rmap, x.gid = nil, nil, nil, nil
		x.rs, x.rsRes, x.rsN, x.gres = nil, nil, nil, nil
	}
	clear(x.groups)
	x.groups = x.groups[:0]
	clear(x.rs)
	x.rs = x.rs[:0]
	clear(x.gmap)
	clear(x.rmap)
	clear(x.rsRes)
	x.scopes.reset()
	x.spans.reset()
	x.kvs.reset()
	x.vals.reset()
	x.events.reset()
	x.links.reset()
}

func spanFlags(sc, parent trace.SpanContext) uint32 {
	f := uint32(sc.TraceFlags()) | encode.SpanFlagsHasIsRemote
	if parent.IsRemote() {
		f |= encode.SpanFlagsIsRemote
	}
	return f
}

// unixNano returns t in Unix nanoseconds, 0 for a time before 1970 (the
// zero time.Time included) as OpenTelemetry's OTLP exporter writes it: the
// wire's fixed64 would read a negative value as a date centuries ahead
// (the zero time as the year 2339).
func unixNano(t time.Time) int64 { return max(0, t.UnixNano()) }

// count32 returns a dropped count as OTLP's uint32 holds it: a negative
// count 0 and a count past 2^32-1 that maximum, where a conversion wrapped
// them (-1 read as 4294967295, 2^32+3 as 3), as OpenTelemetry's exporter
// clamps them.
func count32(n int) uint32 { return uint32(min(max(int64(n), 0), math.MaxUint32)) }

// spanKind returns k as OTLP's span kind; a kind the API does not define
// is unspecified, as OpenTelemetry's exporter writes it (OTLP has no
// value past consumer).
func spanKind(k trace.SpanKind) encode.SpanKind {
	if k < trace.SpanKindUnspecified || k > trace.SpanKindConsumer {
		return encode.SpanKindUnspecified
	}
	return encode.SpanKind(k)
}

func (x *SpanExporter) convertSpan(dst *encode.Span, s sdktrace.ReadOnlySpan) {
	sc, parent := s.SpanContext(), s.Parent()
	*dst = encode.Span{
		TraceID:       encode.TraceID(sc.TraceID()),
		SpanID:        encode.SpanID(sc.SpanID()),
		TraceState:    sc.TraceState().String(),
		Flags:         spanFlags(sc, parent),
		Name:          s.Name(),
		Kind:          spanKind(s.SpanKind()),
		StartUnixNano: unixNano(s.StartTime()),
		EndUnixNano:   unixNano(s.EndTime()),
		Attrs:         x.convertAttrs(s.Attributes()),
		DroppedAttrs:  count32(s.DroppedAttributes()),
		DroppedEvents: count32(s.DroppedEvents()),
		DroppedLinks:  count32(s.DroppedLinks()),
	}
	if parent.SpanID().IsValid() {
		dst.ParentSpanID = encode.SpanID(parent.SpanID())
	}
	if st := s.Status(); st.Code == codes.Error {
		dst.Status, dst.StatusMessage = encode.StatusError, st.Description
	} else if st.Code == codes.Ok {
		dst.Status = encode.StatusOK
	}
	if evs := s.Events(); len(evs) > 0 {
		dst.Events = x.events.take(len(evs))
		for i, ev := range evs {
			dst.Events[i] = encode.SpanEvent{TimeUnixNano: unixNano(ev.Time), Name: ev.Name,
				Attrs: x.convertAttrs(ev.Attributes), DroppedAttrs: count32(ev.DroppedAttributeCount)}
		}
	}
	if ls := s.Links(); len(ls) > 0 {
		dst.Links = x.links.take(len(ls))
		for i, l := range ls {
			lsc := l.SpanContext
			flags := uint32(lsc.TraceFlags()) | encode.SpanFlagsHasIsRemote
			if lsc.IsRemote() {
				flags |= encode.SpanFlagsIsRemote
			}
			dst.Links[i] = encode.SpanLink{TraceID: encode.TraceID(lsc.TraceID()), SpanID: encode.SpanID(lsc.SpanID()),
				TraceState: lsc.TraceState().String(), Flags: flags,
				Attrs: x.convertAttrs(l.Attributes), DroppedAttrs: count32(l.DroppedAttributeCount)}
		}
	}
}

func (x *SpanExporter) convertAttrs(kvs []attribute.KeyValue) []encode.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := x.kvs.take(len(kvs))
	for i, kv := range kvs {
		out[i] = x.convertKV(kv)
	}
	return out
}

func (x *SpanExporter) convertKV(kv attribute.KeyValue) encode.KeyValue {
	out := encode.KeyValue{Key: string(kv.Key)}
	v := kv.Value
	switch v.Type() {
	case attribute.BOOLSLICE:
		out.IsArray, out.Array = true, takeArray(&x.vals, v.AsBoolSlice(), encode.BoolValue)
	case attribute.INT64SLICE:
		out.IsArray, out.Array = true, takeArray(&x.vals, v.AsInt64Slice(), encode.Int64Value)
	case attribute.FLOAT64SLICE:
		out.IsArray, out.Array = true, takeArray(&x.vals, v.AsFloat64Slice(), encode.Float64Value)
	case attribute.STRINGSLICE:
		out.IsArray, out.Array = true, takeArray(&x.vals, v.AsStringSlice(), encode.StringValue)
	case attribute.SLICE:
		if vs := v.AsSlice(); !slices.ContainsFunc(vs, nested) {
			out.IsArray, out.Array = true, takeArray(&x.vals, vs, scalarValue)
			break
		}
		out.Value = encode.StringValue(stringForm(v, x.valueBytes()))
	case attribute.MAP:
		out.Value = encode.StringValue(stringForm(v, x.valueBytes()))
	default:
		out.Value = toAttr(kv).Value
	}
	return out
}

// valueBytes returns the most of a value's string form the exporter
// writes: its MaxRequestBytes, since a span holding a longer one is too
// large to send (the exporter drops it, DropTooLarge), so the cut changes
// no span that could be sent. Callers hold x.mu, x.exp not nil.
func (x *SpanExporter) valueBytes() int {
	return int(min(x.exp.MaxRequestBytes(), math.MaxInt-2*utf8.UTFMax))
}

// stringForm returns v's string form (attribute.Value.String) cut to
// budget bytes at a rune's start, formatting only as much of v as that
// keeps (clipValue): the string form of a 64 MiB slice of control
// characters, escaped six bytes a byte, took gigabytes, and one nested
// 100,000 deep overflowed the goroutine's stack, a fatal error.
func stringForm(v attribute.Value, budget int) string {
	return clipString(clipKeeping(v, budget).String(), budget)
}

// nested reports whether v holds values of its own (a slice or a map),
// which an OTLP array of encode.Values cannot.
func nested(v attribute.Value) bool {
	switch v.Type() {
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE, attribute.MAP:
		return true
	}
	return false
}

// scalarValue converts v, a value nested reports false for.
func scalarValue(v attribute.Value) encode.Value { return toAttr(attribute.KeyValue{Value: v}).Value }

// takeArray returns the values of s converted by conv, in len(s) values
// taken from vals.
func takeArray[E any](vals *scratch[encode.Value], s []E, conv func(E) encode.Value) []encode.Value {
	out := vals.take(len(s))
	for i, e := range s {
		out[i] = conv(e)
	}
	return out
}

// scratch hands out sub-slices of a reused buffer. When the buffer is full a
// larger one replaces it; slices already handed out keep the old one, so
// they stay valid until reset.
type scratch[T any] struct{ buf []T }

func (a *scratch[T]) take(n int) []T {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]T, 0, max(2*cap(a.buf), n, 16))
	}
	l := len(a.buf)
	a.buf = a.buf[:l+n]
	return a.buf[l : l+n : l+n]
}

func (a *scratch[T]) reset() {
	if cap(a.buf) > maxScratch {
		a.buf = nil // one huge batch must not pin its memory
		return
	}
	clear(a.buf)
	a.buf = a.buf[:0]
}

// maxScratch is the most elements a scratch buffer keeps between batches:
// a batch of the SDK's default size (512 spans) with 128 attributes each.
// A larger one is left to the GC (TestSpanExporterHugeBatchNotPinned).
const maxScratch = 1 << 16

package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/enginehook"
	"github.com/flowtel/flowtel/internal/w3c"
)

// hooks are what the bridge needs from the engine beyond its public API.
var hooks = enginehook.Get[engine.Engine, engine.Option, engine.Run, engine.Node]()

// AttrNodeType is the start attribute that gives a bridged node its type,
// a string; given another value, it is an input value as other start
// attributes are.
const AttrNodeType = "flowtel.node_type"

// Stats counts what the OpenTelemetry bridge could not keep.
type Stats struct {
	RunsStarted  uint64 // spans that started a run
	NodesStarted uint64 // spans that became nodes (a GenAI span with no flowtel parent counts in both)
	Nested       uint64 // spans whose parent was a node: a node of its run, child of that node
	// LinksDropped counts the links given at start (trace.WithLinks) or
	// by AddLink to a span that records, each one OpenTelemetry's SDK
	// would have kept (not an empty trace.Link): the engine's records
	// have none.
	LinksDropped uint64
	// EventAttrsDropped counts the attributes of AddEvent and RecordError
	// under a key the event writes itself: "INFO LOG" (AddEvent's name)
	// and exception.type, exception.message or exception.stacktrace.
	// The others are kept (those past Limits.EventAttrs count in the
	// engine's Stats.AttrsDropped).
	EventAttrsDropped uint64
	// RunAttrsDropped counts string attributes set on a run span after
	// its start under a key of engine.RunInfo other than flow_id (app_id,
	// uid, ...): the run span writes those keys itself, with the value
	// the run started with, and OTLP's keys are unique.
	RunAttrsDropped uint64
	// InvalidAttrsDropped counts attributes with an empty key
	// (attribute.KeyValue.Valid is false), dropped as OpenTelemetry's SDK
	// drops them: OTLP's keys are non-empty; and a node span's
	// gen_ai.usage.input_tokens or output_tokens that is no token count
	// (not an int, or negative), which the GenAI metrics cannot record.
	InvalidAttrsDropped uint64
}

// TracerProvider is the engine's trace.TracerProvider. All its tracers
// record into the same engine and share one scope (flowtel's): the
// instrumentation name is not kept.
type TracerProvider struct {
	embedded.TracerProvider
	e      *engine.Engine
	tracer tracer

	runs, nodes, nested, links, eventAttrs, runAttrs, invalid atomic.Uint64
}

// NewTracerProvider returns the TracerProvider recording into e: the
// same one at every call for an engine, which holds it, so that its Stats
// count every bridge span of e, the spans of ContextWithRun and
// ContextWithNode included (their TracerProvider is it too). With a nil e
// its spans record nothing, and each call returns a new one.
func NewTracerProvider(e *engine.Engine) *TracerProvider {
	if e == nil {
		return newProvider(nil)
	}
	return hooks.Bridge(e, func() any { return newProvider(e) }).(*TracerProvider)
}

func newProvider(e *engine.Engine) *TracerProvider {
	p := &TracerProvider{e: e}
	p.tracer.p = p
	return p
}

// Tracer returns the provider's tracer; name and options are ignored. A
// nil *TracerProvider (a field left unset) returns OpenTelemetry's no-op
// tracer, whose spans record nothing and carry their parent's span
// context, where it panicked; its Stats are zero. The zero
// TracerProvider (not made by NewTracerProvider) is one with no engine:
// its spans record nothing, as NewTracerProvider(nil)'s, where they
// panicked.
func (p *TracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	if p == nil {
		return noop.NewTracerProvider().Tracer(name, opts...)
	}
	if p.tracer.p == nil { // the zero TracerProvider: set nothing, another call may read it
		return &tracer{p: p}
	}
	return &p.tracer
}

// ForceFlush hands the spans ended so far to the engine's sink and
// flushes it (engine.ForceFlush), as the SDK's TracerProvider flushes its
// span processors: code written for the SDK's provider (a serverless
// handler's flush before it freezes) finds the method. After Shutdown,
// or with no engine, there is nothing to flush: nil, as the SDK's
// provider returns once shut down.
func (p *TracerProvider) ForceFlush(ctx context.Context) error {
	if p == nil || p.e == nil {
		return nil
	}
	if err := p.e.ForceFlush(ctx); !errors.Is(err, engine.ErrShutdown) {
		return err
	}
	return nil
}

// Shutdown shuts the engine down (engine.Shutdown), which every span of
// the provider records into, as the SDK's TracerProvider shuts its span
// processors down: spans started after it record nothing and carry their
// parent's span context, each counted in the engine's Stats as
// DropShutdown. A second call returns the first's result; with no
// engine, nil.
func (p *TracerProvider) Shutdown(ctx context.Context) error {
	if p == nil || p.e == nil {
		return nil
	}
	return p.e.Shutdown(ctx)
}

// Stats returns the bridge's counters.
func (p *TracerProvider) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	return Stats{
		RunsStarted:         p.runs.Load(),
		NodesStarted:        p.nodes.Load(),
		Nested:              p.nested.Load(),
		LinksDropped:        p.links.Load(),
		EventAttrsDropped:   p.eventAttrs.Load(),
		RunAttrsDropped:     p.runAttrs.Load(),
		InvalidAttrsDropped: p.invalid.Load(),
	}
}

type tracer struct {
	embedded.Tracer
	p *TracerProvider
}

// bridgeSpan is a flowtel run or node seen as a trace.Span.
type bridgeSpan struct {
	embedded.Span
	p      *TracerProvider // the engine's; nil for a span of ContextWithRun/ContextWithNode with no engine
	e      *engine.Engine
	run    engine.Run  // the run the span is, or belongs to
	node   engine.Node // zero for a run span
	isNode bool
	sc     trace.SpanContext

	mu        sync.Mutex
	ended     bool
	owned     bool // End ends the run or node: the tracer started it
	root      bool // a node whose run the tracer started for it: End ends both (startGenAIRoot)
	genai     bool // a node span naming a GenAI operation (gen_ai.operation.name)
	nameFlow  bool // the run's flow id came from the span name
	status    codes.Code
	statusMsg string
	code      int64
	hasCode   bool
	// pending holds the attributes set after start on a span the tracer
	// started, each key once with its last value, as OpenTelemetry's
	// SetAttributes overwrites: End writes them, as it writes the status.
	// Written at once, a key set twice was on the span twice (OTLP's keys
	// are unique).
	pending []attribute.KeyValue
	// pendingAt indexes pending by key past maxScanStart keys, so that a
	// span of many keys does not cost their square.
	pendingAt map[attribute.Key]int
}

// maxPending bounds the distinct keys a span holds until End. Held in
// the order each first came and written at End, the engine's
// Limits.Attrs (by default OpenTelemetry's AttributeCountLimit, 128)
// keeps a span's first keys, each with its last value, and drops the
// later ones, as OpenTelemetry's SDK does; a limit raised past 128 keeps
// more, up to maxPending. Written at once instead, later keys took the
// limit from the first ones, and a key written and then set again was on
// the span twice (OTLP's keys are unique). Past maxPending keys, a new
// key is dropped and counted in the span's dropped_attributes_count, as
// the engine's limit drops one: the memory a span holds is bounded.
const maxPending = 1024

// lastOnly reports whether kvs[i] is the last attribute with its key:
// OpenTelemetry keeps the last value given for a key at start too.
func lastOnly(kvs []attribute.KeyValue, i int) bool {
	for _, kv := range kvs[i+1:] {
		if kv.Key == kvs[i].Key {
			return false
		}
	}
	return true
}

// maxScanStart is the number of start attributes up to which lastKeys
// compares each with the later ones; past it, a map of each key's last
// index keeps a span of many attributes from costing their square.
const maxScanStart = 16

// lastKeys answers lastOnly for the start attributes kvs.
type lastKeys struct {
	kvs  []attribute.KeyValue
	last map[attribute.Key]int // past maxScanStart: each key's last index
}

func newLastKeys(kvs []attribute.KeyValue) lastKeys {
	l := lastKeys{kvs: kvs}
	if len(kvs) > maxScanStart {
		l.last = make(map[attribute.Key]int, len(kvs))
		for i, kv := range kvs {
			l.last[kv.Key] = i
		}
	}
	return l
}

// is reports whether kvs[i] is the last attribute with its key.
func (l lastKeys) is(i int) bool {
	if l.last != nil {
		return l.last[l.kvs[i].Key] == i
	}
	return lastOnly(l.kvs, i)
}

// Start starts a run or a node, as the package documentation describes.
// The links given (trace.WithLinks) are counted in Stats.LinksDropped
// when the span records, each one OpenTelemetry's SDK would keep
// (keptLink).
func (t *tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	if ctx == nil {
		ctx = context.Background() // as OpenTelemetry's SDK tracer does
	}
	ctx, s := t.start(ctx, name, &cfg)
	if links := cfg.Links(); len(links) > 0 && s.IsRecording() {
		n := 0
		for _, l := range links {
			if keptLink(l) {
				n++
			}
		}
		t.p.links.Add(uint64(n))
	}
	return ctx, s
}

// keptLink reports whether OpenTelemetry's SDK keeps l on a recording
// span: not a link with neither a valid span context nor attributes nor
// a tracestate (trace.LinkFromContext of a context without a span).
func keptLink(l trace.Link) bool {
	return l.SpanContext.IsValid() || len(l.Attributes) > 0 || l.SpanContext.TraceState().Len() > 0
}

func (t *tracer) start(ctx context.Context, name string, cfg *trace.SpanConfig) (context.Context, *bridgeSpan) {
	p := t.p
	if p.e == nil { // no engine: a span that records nothing, as a refused run's
		s := &bridgeSpan{p: p, ended: true, sc: trace.SpanContextFromContext(ctx)}
		if cfg.NewRoot() {
			s.sc = trace.SpanContext{}
		}
		return trace.ContextWithSpan(ctx, s), s
	}
	if !cfg.NewRoot() {
		if parent, ok := trace.SpanFromContext(ctx).(*bridgeSpan); ok && parent.e == p.e && parent.run.IsRecording() {
			return t.startNode(ctx, parent, name, cfg)
		}
	}
	var info engine.RunInfo
	if !cfg.NewRoot() {
		if psc := trace.SpanContextFromContext(ctx); psc.IsValid() {
			info.Parent = engine.SpanContext{TraceID: encode.TraceID(psc.TraceID()), SpanID: encode.SpanID(psc.SpanID()),
				TraceState: psc.TraceState().String(), Sampled: psc.IsSampled(), Random: psc.TraceFlags().IsRandom()}
		}
	}
	info.FlowID = name
	s := &bridgeSpan{p: p, e: p.e, owned: true, nameFlow: true}
	var extra []attribute.KeyValue
	invalid := 0
	last := newLastKeys(cfg.Attributes())
	for i, kv := range cfg.Attributes() {
		if !kv.Valid() {
			invalid++
			continue
		}
		if !last.is(i) {
			continue
		}
		if !setRunInfo(&info, kv) {
			extra = append(extra, kv)
			continue
		}
		if kv.Key == "flow_id" {
			s.nameFlow = false
		}
	}
	s.run = p.e.StartRun(info)
	p.runs.Add(1)
	start, timed := spanTime(cfg.Timestamp())
	if timed && s.run.IsRecording() {
		hooks.SetRunStart(s.run, start)
	}
	if s.run.IsRecording() && genAIOp(extra) {
		if ns, ok := t.startGenAIRoot(s, name, extra, cfg); ok {
			ns.dropAttrs(dropInvalid, invalid)
			return trace.ContextWithSpan(ctx, ns), ns
		}
	}
	s.dropAttrs(dropInvalid, invalid)
	for _, kv := range extra {
		s.setRunAttr(kv)
	}
	if k := cfg.SpanKind(); k != trace.SpanKindServer && k != trace.SpanKindUnspecified {
		// SERVER, the run span's default, costs nothing; an invalid kind
		// is INTERNAL, as in the SDK (a run's zero kind is SERVER).
		hooks.SetRunKind(s.run, spanKind(trace.ValidateSpanKind(k)))
	}
	s.sc = toOTel(s.run.SpanContext(), trace.TraceState{})
	if !s.run.IsRecording() { // the engine refused the run: counted in its Stats
		s.ended = true
		s.sc = trace.SpanContextFromContext(ctx)
	}
	return trace.ContextWithSpan(ctx, s), s
}

func (t *tracer) startNode(ctx context.Context, parent *bridgeSpan, name string, cfg *trace.SpanConfig) (context.Context, *bridgeSpan) {
	p := t.p
	var parentID encode.SpanID
	if parent.isNode {
		p.nested.Add(1)
		// The parent's id from its span context, fixed at its start, never
		// from its node record: the parent's owner may be writing the
		// record (SetAttributes, SetName) on another goroutine, and a
		// node record takes one writer at a time.
		parentID = encode.SpanID(parent.sc.SpanID())
	}
	nodeType := "span"
	for _, kv := range cfg.Attributes() {
		if kv.Key == AttrNodeType && kv.Value.Type() == attribute.STRING {
			nodeType = kv.Value.AsString()
		}
	}
	s := &bridgeSpan{p: p, e: p.e, owned: true, run: parent.run, isNode: true, genai: genAIOp(cfg.Attributes())}
	s.node = parent.run.StartNode(name, nodeType, name)
	p.nodes.Add(1)
	invalid := 0
	last := newLastKeys(cfg.Attributes())
	for i, kv := range cfg.Attributes() {
		switch {
		case !kv.Valid():
			invalid++
		case (kv.Key != AttrNodeType || kv.Value.Type() != attribute.STRING) && last.is(i):
			switch {
			case !tokenCount(kv):
				invalid++
			case s.spanKey(kv.Key):
				s.node.SetAttributes(s.attr(kv))
			default:
				s.node.Input(s.attr(kv))
			}
		}
	}
	s.dropAttrs(dropInvalid, invalid)
	hooks.SetNodeShape(s.node, parentID, spanKind(cfg.SpanKind())) // an invalid kind is INTERNAL, as in the SDK
	if start, ok := spanTime(cfg.Timestamp()); ok && s.node.IsRecording() {
		hooks.SetNodeStart(s.node, start)
	}
	s.sc = toOTel(s.node.SpanContext(), parent.sc.TraceState())
	if !s.sc.IsValid() { // past Limits.NodesPerRun: counted in the engine's Stats
		s.ended = true
		s.sc = parent.sc
	}
	return trace.ContextWithSpan(ctx, s), s
}

// genAIOp reports whether kvs name a GenAI operation
// (gen_ai.operation.name).
func genAIOp(kvs []attribute.KeyValue) bool {
	for _, kv := range kvs {
		if kv.Key == genai.KeyOperationName {
			return true
		}
	}
	return false
}

// startGenAIRoot makes a GenAI span with no flowtel parent a node of the
// run rs just started, the run's only child unless spans start under it,
// as the package documentation says: the engine's GenAI metrics fold
// nodes. The node takes the start attributes the run did not (attrs) and
// the span's kind and start time; the run is INTERNAL. It reports false when the engine
// refused the node (counted in its Stats): rs is then the span.
func (t *tracer) startGenAIRoot(rs *bridgeSpan, name string, attrs []attribute.KeyValue, cfg *trace.SpanConfig) (*bridgeSpan, bool) {
	rs.sc = toOTel(rs.run.SpanContext(), trace.TraceState{})
	ncfg := trace.NewSpanStartConfig(trace.WithAttributes(attrs...), trace.WithSpanKind(cfg.SpanKind()), trace.WithTimestamp(cfg.Timestamp()))
	_, ns := t.startNode(context.Background(), rs, name, &ncfg)
	// A refused node has its run's span context, not an invalid one: its
	// handle says it.
	if ns.ended || !ns.node.IsRecording() {
		return nil, false
	}
	hooks.SetRunKind(rs.run, encode.SpanKindInternal)
	ns.root, ns.nameFlow = true, rs.nameFlow
	return ns, true
}

// genAIKey reports whether k is in the GenAI conventions' namespace
// (package genai): a node span keeps such a key as it is, not as an input
// or output value, since the conventions name the span's attributes and
// the engine's GenAI metrics read them there (gen_ai.operation.name,
// gen_ai.usage.*), as an OpenTelemetry-instrumented model client sets
// them.
func genAIKey(k attribute.Key) bool { return strings.HasPrefix(string(k), "gen_ai.") }

// spanKey reports whether a node span keeps k as given: a GenAI key, and
// on a span of a GenAI operation the other keys the GenAI conventions
// name on its span (error.type, which the engine's GenAI metrics read as
// the instrumentation's class of error, server.address, server.port),
// where an input. or output. key would be none of them. Callers hold
// s.mu or own s.
func (s *bridgeSpan) spanKey(k attribute.Key) bool {
	if genAIKey(k) {
		return true
	}
	return s.genai && (k == "error.type" || k == "server.address" || k == "server.port")
}

// tokenCount reports whether kv, when it is a node's
// gen_ai.usage.input_tokens or output_tokens, can be a token count: an
// int, as the GenAI conventions type it, not negative. The engine's GenAI
// metrics read those keys on the node: they leave a negative count out,
// counted in the engine's Stats.ValuesTruncated, and ignore another type
// (the string "12") unseen; the bridge drops such a value from the span
// as well and counts it (Stats.InvalidAttrsDropped).
func tokenCount(kv attribute.KeyValue) bool {
	if kv.Key != genai.KeyUsageInputTokens && kv.Key != genai.KeyUsageOutputTokens {
		return true
	}
	return kv.Value.Type() == attribute.INT64 && kv.Value.AsInt64() >= 0
}

// runInfoFields maps the attribute keys that name a string field of
// engine.RunInfo to that field.
var runInfoFields = map[attribute.Key]func(*engine.RunInfo) *string{
	"sid":        func(i *engine.RunInfo) *string { return &i.SID },
	"app_id":     func(i *engine.RunInfo) *string { return &i.AppID },
	"uid":        func(i *engine.RunInfo) *string { return &i.UID },
	"chat_id":    func(i *engine.RunInfo) *string { return &i.ChatID },
	"flow_id":    func(i *engine.RunInfo) *string { return &i.FlowID },
	"service_id": func(i *engine.RunInfo) *string { return &i.ServiceID },
	"bot_id":     func(i *engine.RunInfo) *string { return &i.BotID },
	"sub":        func(i *engine.RunInfo) *string { return &i.Sub },
	"caller":     func(i *engine.RunInfo) *string { return &i.Caller },
	"log_caller": func(i *engine.RunInfo) *string { return &i.LogCaller },
	"question":   func(i *engine.RunInfo) *string { return &i.Question },
}

// setRunInfo fills the engine.RunInfo field named by kv's key and reports whether
// there was one.
func setRunInfo(info *engine.RunInfo, kv attribute.KeyValue) bool {
	field, ok := runInfoFields[kv.Key]
	if !ok || kv.Value.Type() != attribute.STRING {
		return false
	}
	*field(info) = kv.Value.AsString()
	return true
}

// toAttr converts an OpenTelemetry attribute. Scalars keep their type;
// slices and maps become their string form (attribute.Value.Emit).
func toAttr(kv attribute.KeyValue) engine.Attr {
	k := string(kv.Key)
	switch kv.Value.Type() {
	case attribute.BOOL:
		return engine.Bool(k, kv.Value.AsBool())
	case attribute.INT64:
		return engine.Int64(k, kv.Value.AsInt64())
	case attribute.FLOAT64:
		return engine.Float64(k, kv.Value.AsFloat64())
	case attribute.STRING:
		return engine.String(k, kv.Value.AsString())
	case attribute.BYTESLICE:
		return engine.Bytes(k, kv.Value.AsByteSlice())
	case attribute.EMPTY:
		return engine.Attr{Key: k}
	}
	return engine.String(k, kv.Value.String())
}

// toOTel converts a flowtel SpanContext; ts, when not empty, is its
// already parsed tracestate.
//
// The engine keeps a valid tracestate as it was received, optional
// whitespace and empty or whitespace-only list-members included (Trace
// Context Level 2 allows them); OpenTelemetry's parser refuses a
// whitespace-only member and would drop the whole header, every vendor's
// entry with it. It gets the normalized header, which holds exactly the
// members the engine kept: the engine's key grammar (simple keys and
// tenant@system) is the one OpenTelemetry checks (internal/w3c's interop
// tests), so none is lost.
func toOTel(sc engine.SpanContext, ts trace.TraceState) trace.SpanContext {
	if !sc.IsValid() {
		return trace.SpanContext{}
	}
	if ts.Len() == 0 && sc.TraceState != "" {
		s := sc.TraceState
		if st, err := w3c.ParseTraceState(s); err == nil {
			s = st.String() // without allocating when it is normalized already
		}
		ts, _ = trace.ParseTraceState(s)
	}
	cfg := trace.SpanContextConfig{TraceID: trace.TraceID(sc.TraceID), SpanID: trace.SpanID(sc.SpanID), TraceState: ts}
	cfg.TraceFlags = trace.TraceFlags(0).WithSampled(sc.Sampled).WithRandom(sc.Random)
	return trace.NewSpanContext(cfg)
}

// ContextWithRun returns ctx with run as its current span: spans started
// in it by the engine's TracerProvider become nodes of run, and
// OpenTelemetry propagators inject run's span. The span in the context is
// not the owner: its End does nothing, end the run with Run.End, and
// SetName leaves the flow id the owner gave (as a run started with a
// flow_id attribute keeps it). Its other calls (SetAttributes,
// SetStatus, AddEvent, RecordError) write the run at once, whose methods
// take one goroutine at a time: a library that calls them on
// trace.SpanFromContext(ctx) from another goroutine while the run's
// owner writes it races with the owner (unlike spans the tracer starts,
// whose calls only the bridge makes). It allocates the span and the
// context.
func ContextWithRun(ctx context.Context, run engine.Run) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	s := &bridgeSpan{e: hooks.RunEngine(run), run: run}
	s.p = provider(s.e)
	s.sc = toOTel(run.SpanContext(), trace.TraceState{})
	return trace.ContextWithSpan(ctx, s)
}

// ContextWithNode is ContextWithRun for a node: spans started in ctx become
// nodes of the node's run (flattened, see the package documentation), and
// propagators inject the node's span as the remote parent. As with
// ContextWithRun, the span's SetAttributes, SetStatus, AddEvent and
// RecordError write the node at once: only while its owner does not (the
// node's methods take one goroutine at a time).
func ContextWithNode(ctx context.Context, node engine.Node) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	s := &bridgeSpan{node: node}
	if run, ok := hooks.NodeRun(node); ok {
		s.e, s.run, s.isNode = hooks.RunEngine(run), run, true
	}
	s.p = provider(s.e)
	s.sc = toOTel(node.SpanContext(), trace.TraceState{})
	return trace.ContextWithSpan(ctx, s)
}

// provider returns e's TracerProvider, nil for no engine (a zero
// handle's span, which records nothing).
func provider(e *engine.Engine) *TracerProvider {
	if e == nil {
		return nil
	}
	return NewTracerProvider(e)
}

// RunFromContext returns the run of the span in ctx when it is a flowtel
// run or node (started by the bridge or put there by ContextWithRun).
func RunFromContext(ctx context.Context) (engine.Run, bool) {
	s, ok := trace.SpanFromContext(ctx).(*bridgeSpan)
	if !ok || hooks.RunEngine(s.run) == nil {
		return engine.Run{}, false
	}
	return s.run, true
}

// NodeFromContext returns the node of the span in ctx when it is a flowtel
// node.
func NodeFromContext(ctx context.Context) (engine.Node, bool) {
	s, ok := trace.SpanFromContext(ctx).(*bridgeSpan)
	if !ok || !s.isNode {
		return engine.Node{}, false
	}
	return s.node, true
}

// SpanContextFromContext returns the flowtel engine.SpanContext of the span in
// ctx, whatever made it: the parent to inject for a call made in ctx.
func SpanContextFromContext(ctx context.Context) engine.SpanContext {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return engine.SpanContext{}
	}
	out := engine.SpanContext{TraceID: encode.TraceID(sc.TraceID()), SpanID: encode.SpanID(sc.SpanID()), Sampled: sc.IsSampled(),
		Random: sc.TraceFlags().IsRandom()}
	if sc.TraceState().Len() > 0 {
		out.TraceState = sc.TraceState().String()
	}
	return out
}

// live reports whether s records: not ended, and its run or node still
// open. Callers hold s.mu.
//
// The write calls check s.ended alone: a span the engine closed (its run
// ended first, the idle timeout) has not been ended by its owner, and
// what the owner still writes reaches the handle, whose engine counts
// each call as stale (Stats.StaleCalls) instead of losing it unseen.
func (s *bridgeSpan) live() bool {
	if s.ended {
		return false
	}
	if s.isNode {
		return s.node.IsRecording()
	}
	return s.run.IsRecording()
}

// Why the bridge drops attributes: the Stats counter each adds to.
const (
	dropEvent   = iota // Stats.EventAttrsDropped
	dropRunInfo        // Stats.RunAttrsDropped
	dropInvalid        // Stats.InvalidAttrsDropped
)

// dropAttrs counts n attributes the bridge drops for why: in its
// provider's Stats and, as OTLP counts them, in the span's
// dropped_attributes_count (and the engine's Stats.AttrsDropped).
func (s *bridgeSpan) dropAttrs(why, n int) {
	if n <= 0 {
		return
	}
	if p := s.p; p != nil {
		c := &p.eventAttrs
		switch why {
		case dropRunInfo:
			c = &p.runAttrs
		case dropInvalid:
			c = &p.invalid
		}
		c.Add(uint64(n))
	}
	if s.isNode {
		hooks.NodeDropAttrs(s.node, n)
	} else {
		hooks.RunDropAttrs(s.run, n)
	}
}

// End ends the run or node the tracer started; on a span made by
// ContextWithRun or ContextWithNode it does nothing. Called while
// panicking (defer span.End()), it records the panic as an exception
// event, with exception.stacktrace when trace.WithStackTrace(true) asks,
// and the panic goes on, as OpenTelemetry's SDK does.
func (s *bridgeSpan) End(opts ...trace.SpanEndOption) {
	var pmsg exceptionMsg
	ptyp := ""
	if s.owned {
		if v := recover(); v != nil {
			defer panic(v) // recorded, not stopped
			// Before s.mu: v's Error or String may call back into the span.
			pmsg, ptyp = exceptionMsg(fmt.Sprint(v)), typeStr(v)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owned || s.ended {
		return
	}
	var cfg trace.SpanConfig
	if len(opts) > 0 {
		cfg = trace.NewSpanEndConfig(opts...)
	}
	if ptyp != "" {
		s.exception(pmsg, ptyp, cfg.StackTrace())
	}
	end, timed := spanTime(cfg.Timestamp())
	s.ended = true
	// The held writes and the status reach the handle even when the run
	// closed the node first (or the engine did, at its idle timeout):
	// each is then a stale call the engine counts, rather than a value
	// lost unseen. The end itself is the engine's then (the span was
	// closed as incomplete), so End is not called again.
	for _, kv := range s.pending {
		s.write(kv)
	}
	s.pending, s.pendingAt = nil, nil
	status, msg, set := s.recordStatus()
	if s.isNode {
		if set {
			hooks.SetNodeStatus(s.node, status, msg)
		}
		switch {
		case !s.node.IsRecording():
		case timed:
			hooks.EndNodeAt(s.node, end)
		default:
			s.node.End()
		}
		if !s.root {
			return
		}
	}
	code := s.code
	if !s.hasCode && s.status == codes.Error {
		code = 1
	}
	if set {
		// OK even when a "code" attribute says the run failed (a status
		// the instrumentation set Ok is final in OpenTelemetry), ERROR
		// even when a "code" of 0 says it succeeded: OpenTelemetry
		// exports the status the instrumentation set.
		hooks.SetRunStatus(s.run, status, msg)
	}
	if !s.run.IsRecording() {
		return
	}
	if timed {
		hooks.SetRunEnd(s.run, end)
	}
	s.run.End(int(code), s.statusMsg)
}

// spanTime returns t, given by trace.WithTimestamp, in Unix nanoseconds,
// and whether it was given: the zero time, as in OpenTelemetry's SDK, a
// time before 1970, which OTLP's unsigned field cannot hold, and one past
// 2262, which an int64 of nanoseconds cannot (UnixNano wraps: year 1500
// read as 2084), are not, and the engine's clock is read.
func spanTime(t time.Time) (int64, bool) {
	if sec := t.Unix(); sec <= 0 || sec >= math.MaxInt64/1_000_000_000 {
		return 0, false
	}
	return t.UnixNano(), true
}

// AddEvent adds an info log entry named name, at the time
// trace.WithTimestamp gives (else the engine's clock), with its
// attributes, the name first under "INFO LOG", the key of an entry
// without attributes (Node.InfoEvent): within Limits.EventAttrs (the name
// takes one) and, on a node, Limits.Attrs, those cut counted in the
// engine's Stats.AttrsDropped and the span's dropped_attributes_count.
func (s *bridgeSpan) AddEvent(name string, opts ...trace.EventOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	var (
		kvs []attribute.KeyValue
		at  int64
	)
	if len(opts) > 0 {
		cfg := trace.NewEventConfig(opts...)
		kvs = cfg.Attributes()
		at = eventTime(opts)
	}
	var attrs []engine.Attr
	if len(kvs) > 0 {
		attrs = make([]engine.Attr, 1, 1+len(kvs))
		attrs[0] = engine.String(keyInfoLog, name)
		attrs = s.eventAttrs(attrs, kvs, keyInfoLog)
		if len(attrs) == 1 {
			attrs = nil // the name alone: the entry without attributes
		}
	}
	if s.isNode {
		hooks.NodeEvent(s.node, at, name, attrs)
	} else {
		hooks.RunEvent(s.run, at, name, attrs)
	}
}

// eventAttrs appends to attrs those of kvs an event keeps: not one with
// an empty key (counted in Stats.InvalidAttrsDropped), nor one under a
// key the event writes itself (own, or exception.* on an exception
// event: the event's own value stays, OTLP's keys being unique; counted
// in Stats.EventAttrsDropped). A key given twice keeps its last value
// (the encoder's). Callers hold s.mu.
func (s *bridgeSpan) eventAttrs(attrs []engine.Attr, kvs []attribute.KeyValue, own attribute.Key) []engine.Attr {
	named, invalid := 0, 0
	for _, kv := range kvs {
		switch {
		case !kv.Valid():
			invalid++
		case kv.Key == own || (own == "" && exceptionKey(kv.Key)):
			named++
		default:
			attrs = append(attrs, s.attr(kv))
		}
	}
	s.dropAttrs(dropEvent, named)
	s.dropAttrs(dropInvalid, invalid)
	return attrs
}

// exceptionKey reports whether k is an attribute an exception event
// writes itself.
func exceptionKey(k attribute.Key) bool {
	return k == "exception.type" || k == "exception.message" || k == "exception.stacktrace"
}

// eventTime returns the time the last trace.WithTimestamp of opts gives,
// in Unix nanoseconds, 0 for none (or one spanTime refuses): the engine's
// clock. trace.NewEventConfig cannot tell, reading time.Now() for an
// event given none, where the span's times are the engine's clock. The
// timestamp option is the event option that is both a SpanStartOption
// and a SpanEndOption (attributes are no end option, the stack trace no
// start option); a SpanEndConfig of it alone holds its time.
func eventTime(opts []trace.EventOption) int64 {
	var t time.Time
	for _, o := range opts {
		eo, end := o.(trace.SpanEndOption)
		if _, start := o.(trace.SpanStartOption); start && end {
			cfg := trace.NewSpanEndConfig(eo)
			t = cfg.Timestamp()
		}
	}
	ns, _ := spanTime(t)
	return ns
}

// keyInfoLog is the attribute of an info event's message (encode's).
const keyInfoLog = "INFO LOG"

// AddLink drops the link and counts it (Stats.LinksDropped), unless
// OpenTelemetry's SDK would not keep it either: on a span that has ended,
// or a link keptLink refuses.
func (s *bridgeSpan) AddLink(l trace.Link) {
	if s.p == nil || !keptLink(l) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.p.links.Add(1)
	}
}

// IsRecording reports whether the span has not ended.
func (s *bridgeSpan) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live()
}

// RecordError adds an exception event for err, with exception.stacktrace
// when trace.WithStackTrace(true) is given (or the engine has
// WithStackTraces), at the time trace.WithTimestamp gives, with the
// attributes trace.WithAttributes gives (within Limits.EventAttrs, the
// exception's own taking theirs, as AddEvent's); status and end are left
// to SetStatus and End, as OpenTelemetry specifies.
func (s *bridgeSpan) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	// Error runs before s.mu is taken, as the SDK calls it outside its
	// lock: it may call back into the span (IsRecording, SetAttributes).
	msg := exceptionMsg(err.Error())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	withStack := false
	var (
		attrs []engine.Attr
		at    int64
	)
	if len(opts) > 0 {
		cfg := trace.NewEventConfig(opts...)
		withStack = cfg.StackTrace()
		if kvs := cfg.Attributes(); len(kvs) > 0 {
			attrs = s.eventAttrs(make([]engine.Attr, 0, len(kvs)), kvs, "")
		}
		at = eventTime(opts)
	}
	s.exceptionAt(msg, typeStr(err), withStack, at, attrs)
}

// exception adds the exception event of message msg and type typ at the
// engine's clock. Callers hold s.mu.
func (s *bridgeSpan) exception(msg exceptionMsg, typ string, withStack bool) {
	s.exceptionAt(msg, typ, withStack, 0, nil)
}

// exceptionAt adds the exception event of message msg and type typ at
// t (0: the engine's clock) with attrs. Callers hold s.mu.
func (s *bridgeSpan) exceptionAt(msg exceptionMsg, typ string, withStack bool, t int64, attrs []engine.Attr) {
	if s.isNode {
		hooks.NodeException(s.node, msg, typ, withStack, t, attrs)
	} else {
		hooks.RunException(s.run, msg, typ, withStack, t, attrs)
	}
}

// exceptionMsg is an exception's message, built before s.mu is taken.
type exceptionMsg string

func (m exceptionMsg) Error() string { return string(m) }

// typeStr is the exception.type of v, an error or a panic value, as
// OpenTelemetry's SDK writes it: the type's package path and name
// (".string" for a string), reflect's String for an unnamed type
// (*url.Error).
func typeStr(v any) string {
	t := reflect.TypeOf(v)
	if t.PkgPath() != "" || t.Name() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

// SpanContext returns the run's or node's span context.
func (s *bridgeSpan) SpanContext() trace.SpanContext { return s.sc }

// SetStatus follows OpenTelemetry's rules: Ok is final, Error replaces
// Unset, Unset changes nothing; the description is kept for Error only.
// The test is the SDK's, a code never lower than the one set, so that a
// code the API does not define (past Ok) is, as there, kept, exported
// unset and final: it replaced the status, then Error or Ok replaced it.
func (s *bridgeSpan) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.status > code || code == codes.Unset {
		return
	}
	s.status = code
	s.statusMsg = ""
	if code == codes.Error {
		s.statusMsg = description
	}
	// The span of ContextWithRun or ContextWithNode writes it at once:
	// its End does nothing, and the owner's End keeps a status set.
	if status, msg, set := s.recordStatus(); set && !s.owned {
		if s.isNode {
			hooks.SetNodeStatus(s.node, status, msg)
		} else {
			hooks.SetRunStatus(s.run, status, msg)
		}
	}
}

// recordStatus returns the status set on s as a record holds it, and
// whether one was set (Ok or Error). Callers hold s.mu.
func (s *bridgeSpan) recordStatus() (encode.StatusCode, string, bool) {
	switch s.status {
	case codes.Error:
		return encode.StatusError, s.statusMsg, true
	case codes.Ok:
		return encode.StatusOK, "", true
	}
	return 0, "", false
}

// SetName renames a node (id and name), or a run whose flow id came from
// its span name.
func (s *bridgeSpan) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.isNode {
		hooks.RenameNode(s.node, name)
	}
	if (!s.isNode || s.root) && s.nameFlow {
		hooks.SetRunFlowID(s.run, name)
	}
}

// SetAttributes adds node output values or run span attributes. A key
// set again replaces its value, as OpenTelemetry specifies: on a span the
// tracer started, they are written at End, each key once, in the order
// each key first came (maxPending says why and how many); on a span of
// ContextWithRun
// or ContextWithNode, whose End does nothing, at once, as given.
func (s *bridgeSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	for _, a := range kv {
		if !a.Valid() {
			s.dropAttrs(dropInvalid, 1)
			continue
		}
		if a.Key == genai.KeyOperationName {
			s.genai = true // before End writes what was held
		}
		if s.owned {
			s.hold(a)
			continue
		}
		s.write(a)
	}
}

// hold keeps a in s.pending, replacing the value of its key. A new key
// past maxPending keys is dropped and counted in the span's
// dropped_attributes_count. Callers hold s.mu.
func (s *bridgeSpan) hold(a attribute.KeyValue) {
	if s.pendingAt != nil {
		if i, ok := s.pendingAt[a.Key]; ok {
			s.pending[i] = a
			return
		}
	} else {
		for i := range s.pending {
			if s.pending[i].Key == a.Key {
				s.pending[i] = a
				return
			}
		}
	}
	switch n := len(s.pending); {
	case n == maxPending:
		if s.isNode {
			hooks.NodeDropAttrs(s.node, 1)
		} else {
			hooks.RunDropAttrs(s.run, 1)
		}
		return
	case n == maxScanStart:
		s.pendingAt = make(map[attribute.Key]int, 2*n)
		for i, kv := range s.pending {
			s.pendingAt[kv.Key] = i
		}
	}
	if s.pendingAt != nil {
		s.pendingAt[a.Key] = len(s.pending)
	}
	s.pending = append(s.pending, a)
}

// write writes a node output value (a key spanKey keeps, as it is) or a
// run span attribute. Callers hold s.mu.
func (s *bridgeSpan) write(a attribute.KeyValue) {
	if s.isNode {
		switch {
		case !tokenCount(a):
			s.dropAttrs(dropInvalid, 1)
		case s.spanKey(a.Key):
			s.node.SetAttributes(s.attr(a))
		default:
			s.node.Output(s.attr(a))
		}
	} else {
		s.setRunAttr(a)
	}
}

// setRunAttr adds a run attribute. On a span the tracer started, an
// integer "code" is the return code End gives; a span of ContextWithRun,
// whose End does nothing, writes it as given (the encoder keeps the run's
// own code and counts the one left out), rather than hold it unseen.
// On a span the tracer started, a string under a key of engine.RunInfo,
// which only comes after start (Start puts those in RunInfo), is the run
// span's own key: flow_id renames the run's flow, as a key set again
// replaces its value, and the others are dropped and counted. A span of
// ContextWithRun writes them as given, as the run's owner would with
// Run.SetAttributes (the encoder keeps the run's own value and counts the
// other in the span's dropped_attributes_count).
func (s *bridgeSpan) setRunAttr(kv attribute.KeyValue) {
	if kv.Key == "code" && kv.Value.Type() == attribute.INT64 && s.owned {
		s.code, s.hasCode = kv.Value.AsInt64(), true
		return
	}
	if _, ok := runInfoFields[kv.Key]; ok && s.owned && kv.Value.Type() == attribute.STRING {
		if kv.Key == "flow_id" {
			hooks.SetRunFlowID(s.run, kv.Value.AsString())
			s.nameFlow = false
		} else {
			s.dropAttrs(dropRunInfo, 1)
		}
		return
	}
	s.run.SetAttributes(s.attr(kv))
}

// TracerProvider returns the engine's provider, the one NewTracerProvider
// returns (a new one recording nothing for a span with no engine).
func (s *bridgeSpan) TracerProvider() trace.TracerProvider {
	if s.p != nil {
		return s.p
	}
	return newProvider(nil)
}

package eino

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/enginehook"
)

// hooks gives the handler engine.Node's parent-span writer, which the
// engine keeps out of its public API (otelbridge starts its child spans the
// same way).
var hooks = enginehook.Get[engine.Engine, engine.Option, engine.Run, engine.Node]()

// Return codes of the runs the handler ends (the run's code, label ret of
// the request metrics).
const (
	CodeOK        = 0
	CodeError     = 500
	CodeCancelled = 499 // the context was cancelled or its deadline passed
)

// Node types the handler gives Eino's components (see the package doc).
const (
	TypeLLM         = "llm"
	TypeTool        = "tool"
	TypeTools       = "tools"
	TypeKnowledge   = "knowledge"
	TypeCode        = "code"
	TypeFlow        = "flow"
	TypePrompt      = "prompt"
	TypeEmbedding   = "embedding"
	TypeIndexer     = "indexer"
	TypeLoader      = "loader"
	TypeTransformer = "transformer"
	TypePassthrough = "passthrough"
	TypeUnknown     = "unknown"
)

// Handler is an Eino callbacks.Handler that traces into a flowtel engine:
// pass it with compose.WithCallbacks or callbacks.AppendGlobalHandlers.
// One Handler serves any number of concurrent invocations; it keeps no
// state of its own between calls (each invocation's state lives in its
// context).
type Handler struct {
	eng *engine.Engine
	cfg config
	// streams counts the stream readers running (Wait).
	streams sync.WaitGroup
}

var _ callbacks.Handler = (*Handler)(nil)

// ErrNoEngine is returned by NewHandler without an engine.
var ErrNoEngine = errors.New("eino: no engine")

// NewHandler returns a Handler that records into eng. It refuses a nil
// engine (ErrNoEngine) and invalid options (ErrInvalidOption, wrapped with
// the value).
func NewHandler(eng *engine.Engine, opts ...Option) (*Handler, error) {
	if eng == nil {
		return nil, ErrNoEngine
	}
	h := &Handler{eng: eng, cfg: defaultConfig()}
	for _, o := range opts {
		if err := o(&h.cfg); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// ctxKey finds the innermost span of one Handler in a context: two
// handlers on one invocation each see their own spans. A struct of one
// pointer is stored in an interface without allocating.
type ctxKey struct{ h *Handler }

// anyKey finds the innermost span of any Handler (RunFromContext).
type anyKey struct{}

// runState is one traced invocation: the flowtel run and the count of what
// still holds it open.
type runState struct {
	h   *Handler
	run engine.Run
	// root is the run's root span, whose slab holds the first nodes.
	root *rootSpan
	// slots counts the slab's slots taken (parallel nodes take them at once).
	slots atomic.Int32
	// more lists the spans of the nodes past the slab's, for abandon.
	more atomic.Pointer[moreSpan]
	// pending is 1 for the outermost invocation plus one per node started
	// and not yet ended (a streamed node ends when its reader finishes).
	// Whoever brings it to zero ends the run, so that a node still
	// streaming never outlives its run.
	pending atomic.Int64
	// code and msg are written by the outermost invocation before it
	// releases its hold, read by whoever ends the run.
	code int
	msg  string
}

// acquire takes a hold on the run for a new node, unless the run has ended.
func (r *runState) acquire() bool {
	for {
		p := r.pending.Load()
		if p <= 0 {
			return false
		}
		if r.pending.CompareAndSwap(p, p+1) {
			return true
		}
	}
}

// release drops a hold and ends the run with the last one.
func (r *runState) release() {
	if r.pending.Add(-1) == 0 {
		r.run.End(r.code, r.msg)
	}
}

// span is the context of one callback invocation: a node, or the outermost
// invocation (root). It is its own context.Context so that a node needs no
// context.WithValue: its span is a slot of its run's rootSpan (or, past
// inlineSpans, one allocation), and it is never reused: contexts derived
// from it may outlive the node.
type span struct {
	context.Context
	rs   *runState
	node engine.Node
	// id is node's span id, read by the goroutine that started the node
	// right after starting it: the parent of the nodes started below it,
	// from any goroutine, without touching node (see start).
	id encode.SpanID
	// started is when a model node started (its time to first chunk),
	// on the monotonic clock (mono).
	started int64
	// info is the RunInfo of the callback that started the span: Eino
	// passes the same one to every handler of a callback, so a handler
	// registered twice (once in the context, once in the call's options)
	// sees its own span with the same info and does nothing more.
	info *callbacks.RunInfo
	// parent is the span the node was started below: the run's root or
	// the node of a nested graph, ToolsNode or lambda (nil on a root).
	parent *span
	// state is spanStarting until the span is recorded, then spanOpen
	// until the first end callback, or its graph's failure (abandon),
	// takes it to spanEnded: whoever swaps it ends the node, once; a
	// duplicate end does nothing.
	state atomic.Uint32
	kind  kind
	// root is set on the outermost invocation's span, which holds the run.
	root bool
	// alsoNode is set on a root that is itself a component (not a graph):
	// node is its node.
	alsoNode bool
}

// moreSpan is the span of a node past its run's slab, linked in
// runState.more for abandon (the slab's spans need no link: 8 bytes less
// each in the run's one allocation).
type moreSpan struct {
	span
	next *moreSpan
}

// States of a span.
const (
	spanStarting = iota
	spanOpen
	spanEnded
)

// end claims the end of s: true for the first caller only.
func (s *span) end() bool { return s.state.CompareAndSwap(spanOpen, spanEnded) }

// Value returns the span for ctxKey and asks the parent for anything else.
func (s *span) Value(key any) any {
	switch k := key.(type) {
	case ctxKey:
		if k.h == s.rs.h {
			return s
		}
	case anyKey:
		return s
	}
	return s.Context.Value(key)
}

// inlineSpans is the number of node spans allocated with their run: the
// first nodes of a run cost no allocation of their own.
const inlineSpans = 8

// rootSpan is the span of the outermost invocation with its run's state
// and room for its first nodes' spans. A slot is taken once and never
// reused (contexts derived from a node may outlive it), so the slab lives
// as long as any of them is referenced.
type rootSpan struct {
	span
	state runState
	nodes [inlineSpans]span
}

// spanFrom returns h's innermost span in ctx, or nil.
func (h *Handler) spanFrom(ctx context.Context) *span {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(ctxKey{h}).(*span)
	return s
}

// kind is what the handler knows how to read from a component's callbacks.
type kind uint8

const (
	kindOther kind = iota
	kindGraph
	kindModel
	kindTool
	kindRetriever
	kindLambda
)

// componentKinds is what the handler reads from each component and the
// node type it gives it; a component not listed is kindOther, TypeUnknown.
// classify scans it in order, the components of most nodes first: a scan
// of a few string comparisons, most of them a length that differs, costs
// less than hashing the string for a map.
var componentKinds = [...]struct {
	component components.Component
	kind      kind
	nodeType  string
}{
	{compose.ComponentOfLambda, kindLambda, TypeCode},
	{components.ComponentOfChatModel, kindModel, TypeLLM},
	{components.ComponentOfTool, kindTool, TypeTool},
	{compose.ComponentOfToolsNode, kindOther, TypeTools},
	{compose.ComponentOfGraph, kindGraph, TypeFlow},
	{compose.ComponentOfChain, kindGraph, TypeFlow},
	{compose.ComponentOfWorkflow, kindGraph, TypeFlow},
	{components.ComponentOfRetriever, kindRetriever, TypeKnowledge},
	{components.ComponentOfPrompt, kindOther, TypePrompt},
	{compose.ComponentOfPassthrough, kindOther, TypePassthrough},
	{components.ComponentOfEmbedding, kindOther, TypeEmbedding},
	{components.ComponentOfIndexer, kindOther, TypeIndexer},
	{components.ComponentOfLoader, kindOther, TypeLoader},
	{components.ComponentOfTransformer, kindOther, TypeTransformer},
}

func classify(c components.Component) (kind, string) {
	for i := range componentKinds {
		if k := &componentKinds[i]; k.component == c {
			return k.kind, k.nodeType
		}
	}
	return kindOther, TypeUnknown
}

// OnStart starts a run (outermost invocation) or a node.
func (h *Handler) OnStart(ctx context.Context, info *callbacks.RunInfo, input callbacks.CallbackInput) context.Context {
	s := h.start(ctx, info, input)
	if s == nil {
		return ctx
	}
	return s
}

// OnStartWithStreamInput is OnStart for a streamed input. The handler does
// not read the input: it closes its copy at once, so Eino keeps no chunk
// for it and the other readers are never held back.
func (h *Handler) OnStartWithStreamInput(ctx context.Context, info *callbacks.RunInfo, input *schema.StreamReader[callbacks.CallbackInput]) context.Context {
	if input != nil {
		input.Close()
	}
	s := h.start(ctx, info, nil)
	if s == nil {
		return ctx
	}
	return s
}

// OnEnd ends the node, or the run of the outermost invocation.
func (h *Handler) OnEnd(ctx context.Context, info *callbacks.RunInfo, output callbacks.CallbackOutput) context.Context {
	s := h.spanFrom(ctx)
	if s == nil || !s.end() {
		return ctx
	}
	if s.root {
		if s.alsoNode {
			h.output(s, output)
			s.node.End()
		}
		h.rootAnswer(s, output)
		s.rs.code, s.rs.msg = CodeOK, h.cfg.okMessage
		s.rs.release()
		return ctx
	}
	h.output(s, output)
	s.node.End()
	s.rs.release()
	return ctx
}

// OnError marks the node failed (or cancelled) and ends it, or ends the
// run of the outermost invocation with CodeError or CodeCancelled.
func (h *Handler) OnError(ctx context.Context, info *callbacks.RunInfo, err error) context.Context {
	s := h.spanFrom(ctx)
	if s == nil || !s.end() {
		return ctx
	}
	h.fail(s, ctx, err)
	return ctx
}

// fail records err on s and releases it.
func (h *Handler) fail(s *span, ctx context.Context, err error) {
	c := cancelOf(ctx, err)
	h.abandon(s, err, c)
	if s.root {
		if s.alsoNode {
			recordError(s.node, err, c)
		}
		if c != nil {
			s.rs.code, s.rs.msg = CodeCancelled, c.msg
		} else {
			s.rs.code, s.rs.msg = CodeError, errText(err)
		}
		s.rs.run.Error(s.rs.msg)
		s.rs.release()
		return
	}
	recordError(s.node, err, c)
	s.rs.release()
}

// abandon ends the nodes below the failed span s that are still open,
// each with s's error: a node that panicked (Eino recovers the panic and
// fails the graph, or the ToolsNode, without the node's end callback), or
// one still running when its parent failed (its end, if it comes, then
// does nothing). Without it their holds would keep the run open until the
// engine's idle timeout. A node's own goroutine no longer touches its
// record once its end is claimed; the claim is the only contention.
func (h *Handler) abandon(s *span, err error, c *cancel) {
	rs := s.rs
	n := min(int(rs.slots.Load()), inlineSpans)
	for i := range n {
		h.abandonOne(s, &rs.root.nodes[i], err, c)
	}
	for o := rs.more.Load(); o != nil; o = o.next {
		h.abandonOne(s, &o.span, err, c)
	}
}

func (h *Handler) abandonOne(failed, o *span, err error, c *cancel) {
	if o.state.Load() != spanOpen || !below(o, failed) || !o.end() {
		return
	}
	recordError(o.node, err, c)
	o.rs.release()
}

// below reports whether s was started below p. A span's parent is written
// before its state is first stored, and read after it is loaded.
func below(s, p *span) bool {
	for q := s.parent; q != nil; q = q.parent {
		if q == p {
			return true
		}
	}
	return false
}

// OnEndWithStreamOutput reads the handler's copy of the output in a
// goroutine of its own, as the callbacks contract asks (every copy must be
// read or closed, and a handler must not hold up the caller): the first
// chunk is the node's first frame; the node ends, and its hold on the run
// is released, when the stream ends or fails. The goroutine keeps no chunk,
// only counts, times, the last usage and finish reason, and at most
// WithMaxOutputBytes of text.
func (h *Handler) OnEndWithStreamOutput(ctx context.Context, info *callbacks.RunInfo, output *schema.StreamReader[callbacks.CallbackOutput]) context.Context {
	s := h.spanFrom(ctx)
	if s == nil || output == nil {
		if output != nil {
			output.Close()
		}
		if s != nil {
			return h.OnEnd(ctx, info, nil)
		}
		return ctx
	}
	if !s.end() {
		output.Close()
		return ctx
	}
	h.streams.Add(1)
	go readStream(s, output)
	return ctx
}

// epoch is the origin of mono.
var epoch = time.Now()

// mono returns the nanoseconds since epoch on the monotonic clock: a span
// keeps 8 bytes for a time instead of time.Time's 24.
func mono() int64 { return int64(time.Since(epoch)) }

// Wait waits until the stream readers started so far have ended their
// nodes, and the runs those held open. Call it before the engine's
// ForceFlush or Shutdown at exit, so that runs whose streams were still
// being read are exported complete.
func (h *Handler) Wait() { h.streams.Wait() }

// start is OnStart: a run for the outermost invocation, a node otherwise.
func (h *Handler) start(ctx context.Context, info *callbacks.RunInfo, input callbacks.CallbackInput) *span {
	if info == nil {
		info = &callbacks.RunInfo{}
	}
	k, typ := classify(info.Component)
	parent := h.spanFrom(ctx)
	if parent == nil {
		return h.startRoot(ctx, info, k, typ, input)
	}
	if parent.info == info {
		return parent // this handler twice on one callback
	}
	rs := parent.rs
	if !rs.acquire() {
		// The context outlived its invocation (a goroutine a node left
		// behind invokes again): this is an invocation of its own.
		return h.startRoot(ctx, info, k, typ, input)
	}
	id, name := nodeID(ctx, info)
	var s *span
	if i := rs.slots.Add(1) - 1; i < inlineSpans {
		// Fields one by one: abandon may read the slot's state at once.
		s = &rs.root.nodes[i]
		s.Context, s.rs, s.kind, s.info, s.parent = ctx, rs, k, info, parent
	} else {
		m := &moreSpan{span: span{Context: ctx, rs: rs, kind: k, info: info, parent: parent}}
		for {
			m.next = rs.more.Load()
			if rs.more.CompareAndSwap(m.next, m) {
				break
			}
		}
		s = &m.span
	}
	if k == kindModel {
		s.started = mono()
	}
	s.node = rs.run.StartNode(id, typ, name)
	if parent.id != (encode.SpanID{}) {
		// Below a node (a nested graph's, a ToolsNode's, a lambda's that
		// invokes a component): the node's span is a child of parent's.
		// parent.node is not touched: it belongs to the goroutine running
		// parent, and this one may be a parallel branch or a stream reader.
		hooks.SetNodeShape(s.node, parent.id, engine.SpanKindInternal)
	}
	s.id = s.node.SpanContext().SpanID
	h.input(s, ctx, info, input)
	s.state.Store(spanOpen)
	return s
}

func (h *Handler) startRoot(ctx context.Context, info *callbacks.RunInfo, k kind, typ string, input callbacks.CallbackInput) *span {
	ri, _ := ctx.Value(runInfoKey{}).(*engine.RunInfo)
	var ei engine.RunInfo
	if ri != nil {
		ei = *ri
	}
	if ei.FlowID == "" {
		ei.FlowID = flowID(info)
	}
	if ei.Question == "" && k == kindGraph {
		ei.Question = bound(question(input), h.cfg.maxValue)
	}
	// The run's state shares the root span's allocation.
	rt := &rootSpan{span: span{Context: ctx, root: true, kind: k, info: info}}
	rt.state.h = h
	rt.state.root = rt
	s := &rt.span
	s.rs = &rt.state
	s.rs.pending.Store(1)
	s.rs.run = h.eng.StartRun(ei)
	if k != kindGraph {
		// A component invoked on its own is a run of one node.
		s.alsoNode = true
		if k == kindModel {
			s.started = mono()
		}
		id, name := nodeID(ctx, info)
		s.node = s.rs.run.StartNode(id, typ, name)
		s.id = s.node.SpanContext().SpanID
		h.input(s, ctx, info, input)
	}
	s.state.Store(spanOpen)
	return s
}

// flowID is the run's flow id when the context gives none: the graph's
// name (compose.WithGraphName), else its kind ("Graph", "Chain", ...).
func flowID(info *callbacks.RunInfo) string {
	if info.Name != "" {
		return info.Name
	}
	if info.Type != "" {
		return info.Type
	}
	if info.Component != "" {
		return string(info.Component)
	}
	return "eino"
}

// nodeID returns the node's id and name: the id is the key of the node in
// its graph (the last segment of compose.GetCurrentAddress: a node key, or
// a tool's name inside a ToolsNode), the name RunInfo.Name (the node name
// of compose.WithNodeName, or the tool's name) or else the id.
func nodeID(ctx context.Context, info *callbacks.RunInfo) (id, name string) {
	if a := compose.GetCurrentAddress(ctx); len(a) > 0 {
		id = a[len(a)-1].ID
	}
	name = info.Name
	if id == "" {
		id = name
	}
	if id == "" {
		id = info.Type
	}
	if id == "" {
		id = string(info.Component)
	}
	if name == "" {
		name = id
	}
	return id, name
}

// cancel is how a cancelled invocation is recorded: the reason given to
// Node.Cancel, and the run's message.
type cancel struct{ reason, msg string }

var (
	cancelled = &cancel{"context canceled", "cancelled: context canceled"}
	deadline  = &cancel{"context deadline exceeded", "cancelled: context deadline exceeded"}
)

// cancelOf returns how to record err when it is the cancellation of the
// invocation (err wraps context.Canceled or DeadlineExceeded, or ctx is
// done), and nil for any other failure.
func cancelOf(ctx context.Context, err error) *cancel {
	var cause error
	if ctx != nil {
		cause = ctx.Err()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), cause == context.DeadlineExceeded:
		return deadline
	case errors.Is(err, context.Canceled), cause != nil:
		return cancelled
	}
	return nil
}

// recordError ends n as cancelled (Node.Cancel: error.type "cancelled",
// counted apart from failures) or failed with err as an exception.
func recordError(n engine.Node, err error, c *cancel) {
	if c != nil {
		n.Cancel(c.reason)
		return
	}
	n.RecordError(err)
}

func errText(err error) string {
	if err == nil {
		return "error"
	}
	return err.Error()
}

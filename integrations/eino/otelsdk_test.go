package eino

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
)

// discardExporter is the SDK exporter of the benchmark: it counts the
// spans it is given and drops them, so the SDK pays its real batch
// processor and nothing more.
type discardExporter struct{ n atomic.Uint64 }

func (d *discardExporter) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	d.n.Add(uint64(len(s)))
	return nil
}

func (*discardExporter) Shutdown(context.Context) error { return nil }

// sdkHandler is Handler's twin on the OpenTelemetry Go SDK, as an Eino user
// would write it: the outermost invocation is a root span, every node a
// child span started with the same attributes the flowtel handler records
// (the run's identity from WithRunInfo, question, answer, first frame and
// status; node id, type, name and component type; model config, usage,
// finish reason, time to first chunk; tool name, call id, arguments,
// result; for a stream, read on a goroutine of its own: chunks, first
// chunk, time per chunk and the text, bounded as flowtel bounds it), the
// span carried in the context Eino hands back. It records no metrics:
// flowtel's request, node and GenAI metrics have no counterpart here.
type sdkHandler struct {
	tracer    trace.Tracer
	max       int
	maxStream int
	streams   sync.WaitGroup
}

// newSDKHandler returns a twin with flowtel's default bounds.
func newSDKHandler(tp trace.TracerProvider) *sdkHandler {
	return &sdkHandler{tracer: tp.Tracer("eino"), max: DefaultMaxValueBytes, maxStream: DefaultMaxStreamBytes}
}

type sdkRootKey struct{}

func (h *sdkHandler) OnStart(ctx context.Context, info *callbacks.RunInfo, in callbacks.CallbackInput) context.Context {
	return h.start(ctx, info, in)
}

func (h *sdkHandler) OnStartWithStreamInput(ctx context.Context, info *callbacks.RunInfo, in *schema.StreamReader[callbacks.CallbackInput]) context.Context {
	in.Close()
	return h.start(ctx, info, nil)
}

func (h *sdkHandler) start(ctx context.Context, info *callbacks.RunInfo, in callbacks.CallbackInput) context.Context {
	k, typ := classify(info.Component)
	if ctx.Value(sdkRootKey{}) == nil {
		attrs := []attribute.KeyValue{attribute.String("flow_id", flowID(info)), attribute.String("question", bound(question(in), h.max))}
		if ri, _ := ctx.Value(runInfoKey{}).(*engine.RunInfo); ri != nil {
			attrs = append(attrs, attribute.String("app_id", ri.AppID), attribute.String("uid", ri.UID))
		}
		ctx, span := h.tracer.Start(ctx, flowID(info), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		return context.WithValue(ctx, sdkRootKey{}, span)
	}
	id, name := nodeID(ctx, info)
	ctx, span := h.tracer.Start(ctx, id, trace.WithAttributes(
		attribute.String("node_id", id), attribute.String("node_type", typ), attribute.String("node_name", name)))
	if info.Type != "" {
		span.SetAttributes(attribute.String(KeyComponentType, info.Type))
	}
	switch k {
	case kindModel:
		if v, ok := in.(*model.CallbackInput); ok {
			span.SetAttributes(attribute.String(KeyOperation, "chat"), attribute.Int(KeyMessages, len(v.Messages)))
			if c := v.Config; c != nil {
				span.SetAttributes(attribute.String(KeyRequestModel, c.Model), attribute.Float64(KeyTemperature, float64(c.Temperature)))
				if c.TopP != 0 {
					span.SetAttributes(attribute.Float64(KeyTopP, float64(c.TopP)))
				}
				if c.MaxTokens != 0 {
					span.SetAttributes(attribute.Int(KeyMaxTokens, c.MaxTokens))
				}
			}
			if len(v.Messages) > 0 {
				span.SetAttributes(attribute.String(KeyQuery, bound(v.Messages[len(v.Messages)-1].Content, h.max)))
			}
		}
	case kindTool:
		span.SetAttributes(attribute.String(KeyOperation, "execute_tool"), attribute.String(KeyToolName, info.Name),
			attribute.String(KeyToolCallID, compose.GetToolCallID(ctx)))
		if v, ok := in.(*tool.CallbackInput); ok {
			span.SetAttributes(attribute.String(KeyToolArgs, bound(v.ArgumentsInJSON, h.max)))
		}
	default:
		if v, ok := in.(string); ok {
			span.SetAttributes(attribute.String(KeyInput, bound(v, h.max)))
		}
	}
	return ctx
}

// isRoot reports whether span is the root span of ctx's invocation.
func isRoot(ctx context.Context, span trace.Span) bool {
	r, _ := ctx.Value(sdkRootKey{}).(trace.Span)
	return r == span
}

func (h *sdkHandler) OnEnd(ctx context.Context, info *callbacks.RunInfo, out callbacks.CallbackOutput) context.Context {
	span := trace.SpanFromContext(ctx)
	if isRoot(ctx, span) {
		h.answer(span, out)
	} else {
		h.output(span, info, out)
	}
	span.End()
	return ctx
}

// answer records the outermost invocation's output and its success.
func (h *sdkHandler) answer(span trace.Span, out callbacks.CallbackOutput) {
	switch v := out.(type) {
	case string:
		span.SetAttributes(attribute.String("answer", bound(v, h.max)))
	case *schema.Message:
		if v != nil {
			span.SetAttributes(attribute.String("answer", bound(v.Content, h.max)))
		}
	}
	span.SetStatus(codes.Ok, "")
}

func (h *sdkHandler) output(span trace.Span, info *callbacks.RunInfo, out callbacks.CallbackOutput) {
	switch v := out.(type) {
	case *model.CallbackOutput:
		var st modelStats
		st.add(v)
		h.model(span, &st, bound(st.content, h.max))
	case *tool.CallbackOutput:
		span.SetAttributes(attribute.String(KeyToolResult, bound(v.Response, h.max)))
	case string:
		span.SetAttributes(attribute.String(KeyOutput, bound(v, h.max)))
	}
}

// model records a model's reply, finish reason and usage.
func (h *sdkHandler) model(span trace.Span, st *modelStats, text string) {
	if text != "" {
		span.SetAttributes(attribute.String("llm_output", text))
	}
	if st.finish != "" {
		span.SetAttributes(attribute.String(KeyFinishReason, st.finish))
	}
	if st.hasUse {
		u := st.usage
		if u.TotalTokens == 0 {
			u.TotalTokens = u.PromptTokens + u.CompletionTokens
		}
		span.SetAttributes(attribute.Int64("gen_ai.usage.input_tokens", u.PromptTokens),
			attribute.Int64("gen_ai.usage.output_tokens", u.CompletionTokens),
			attribute.Int64("gen_ai.usage.total_tokens", u.TotalTokens))
	}
}

func (h *sdkHandler) OnError(ctx context.Context, info *callbacks.RunInfo, err error) context.Context {
	span := trace.SpanFromContext(ctx)
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	span.End()
	return ctx
}

func (h *sdkHandler) OnEndWithStreamOutput(ctx context.Context, info *callbacks.RunInfo, out *schema.StreamReader[callbacks.CallbackOutput]) context.Context {
	span := trace.SpanFromContext(ctx)
	h.streams.Add(1)
	k, _ := classify(info.Component)
	if isRoot(ctx, span) {
		k = kindGraph
	}
	go h.readStream(span, k, out)
	return ctx
}

// readStream reads a stream copy on its own goroutine, gathering what
// flowtel's reader gathers (streamState: counts, times, the last usage and
// finish reason, the text up to maxStream). Like flowtel's reader it keeps
// its frame small and does its span work in functions of their own, so
// that the goroutine's first 2 KiB of stack hold the frames it parks under
// in Eino's copy and the runtime does not grow it (a frame of 392 bytes
// here did).
func (h *sdkHandler) readStream(span trace.Span, k kind, out *schema.StreamReader[callbacks.CallbackOutput]) {
	var d streamState
	for {
		o, err := out.Recv()
		if err != nil {
			out.Close()
			h.endStream(span, k, &d, err)
			h.streams.Done()
			return
		}
		h.chunk(span, k, &d, o)
	}
}

//go:noinline
func (h *sdkHandler) chunk(span trace.Span, k kind, d *streamState, o callbacks.CallbackOutput) {
	if d.chunks == 0 {
		d.first = mono()
		span.AddEvent("first_frame")
	}
	d.chunks++
	piece := ""
	if k == kindModel {
		d.st.add(o)
		piece = d.st.content
	} else {
		switch v := o.(type) {
		case string:
			piece = v
		case *schema.Message:
			if v != nil {
				piece = v.Content
			}
		case *tool.CallbackOutput:
			piece = v.Response
		}
	}
	if !d.textFull && piece != "" {
		if d.text.len()+len(piece) > h.maxStream {
			piece = bound(piece, h.maxStream-d.text.len())
			d.textFull = true
		}
		d.text.add(piece, h.maxStream)
	}
}

//go:noinline
func (h *sdkHandler) endStream(span trace.Span, k kind, d *streamState, err error) {
	if err != io.EOF {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return
	}
	text := d.text.string()
	if k == kindGraph {
		span.SetAttributes(attribute.String("answer", text))
		span.SetStatus(codes.Ok, "")
		span.End()
		return
	}
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, attribute.Int(KeyChunks, d.chunks))
	if d.chunks > 1 {
		attrs = append(attrs, attribute.Float64(KeyTimePerChunk, float64(mono()-d.first)/1e9/float64(d.chunks-1)))
	}
	switch k {
	case kindModel:
		if ro, ok := span.(sdktrace.ReadOnlySpan); ok && d.chunks > 0 {
			started := ro.StartTime().Sub(epoch).Nanoseconds()
			attrs = append(attrs, attribute.Float64(KeyFirstChunk, float64(d.first-started)/1e9))
		}
		span.SetAttributes(attrs...)
		h.model(span, &d.st, text)
	case kindTool:
		span.SetAttributes(append(attrs, attribute.String(KeyToolResult, text))...)
	default:
		if text != "" {
			attrs = append(attrs, attribute.String(KeyOutput, text))
		}
		span.SetAttributes(attrs...)
	}
	span.End()
}

// noopHandler is the cheapest handler the callbacks contract allows: it
// closes its stream copies at once. The benchmark subtracts it to give
// each handler's own cost apart from what Eino spends to call any handler.
type noopHandler struct{}

func (noopHandler) OnStart(ctx context.Context, _ *callbacks.RunInfo, _ callbacks.CallbackInput) context.Context {
	return ctx
}

func (noopHandler) OnEnd(ctx context.Context, _ *callbacks.RunInfo, _ callbacks.CallbackOutput) context.Context {
	return ctx
}

func (noopHandler) OnError(ctx context.Context, _ *callbacks.RunInfo, _ error) context.Context {
	return ctx
}

func (noopHandler) OnStartWithStreamInput(ctx context.Context, _ *callbacks.RunInfo, in *schema.StreamReader[callbacks.CallbackInput]) context.Context {
	in.Close()
	return ctx
}

func (noopHandler) OnEndWithStreamOutput(ctx context.Context, _ *callbacks.RunInfo, out *schema.StreamReader[callbacks.CallbackOutput]) context.Context {
	out.Close()
	return ctx
}

// readerHandler is noopHandler with the shape both tracing handlers share:
// it reads each stream output copy to its end on a goroutine of its own,
// as the callbacks contract asks of a handler that reads it. The benchmark
// subtracts it to give each handler's own cost apart from Eino's and from
// reading the streams.
type readerHandler struct {
	noopHandler
	streams sync.WaitGroup
}

func (h *readerHandler) OnEndWithStreamOutput(ctx context.Context, _ *callbacks.RunInfo, out *schema.StreamReader[callbacks.CallbackOutput]) context.Context {
	h.streams.Add(1)
	go func() {
		defer h.streams.Done()
		defer out.Close()
		for {
			if _, err := out.Recv(); err != nil {
				return
			}
		}
	}()
	return ctx
}

// The twin records what flowtel records of BenchmarkGraph's graph: the
// run's identity, answer and status, every node, the model's settings,
// reply, finish reason, usage and stream times.
func TestSDKTwinRecords(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := newSDKHandler(tp)
	g := benchGraph(&testing.B{})
	sr, err := g.Stream(WithRunInfo(context.Background(), engine.RunInfo{AppID: "app", UID: "u"}), "q", compose.WithCallbacks(h))
	must(t, err)
	drain(t, sr)
	h.streams.Wait()
	spans := exp.GetSpans()
	must(t, tp.Shutdown(context.Background()))
	if len(spans) != benchNodes+1 {
		t.Fatalf("%d spans, want %d", len(spans), benchNodes+1)
	}
	byName := map[string]map[attribute.Key]attribute.Value{}
	for _, s := range spans {
		m := map[attribute.Key]attribute.Value{}
		for _, a := range s.Attributes {
			m[a.Key] = a.Value
		}
		byName[s.Name] = m
	}
	for name, keys := range map[string][]string{
		"bench": {"flow_id", "question", "app_id", "uid", "answer"},
		"llm": {KeyComponentType, KeyOperation, KeyRequestModel, KeyTemperature, KeyMaxTokens, KeyMessages, KeyQuery,
			KeyChunks, KeyTimePerChunk, KeyFirstChunk, KeyFinishReason, "llm_output",
			"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.total_tokens"},
		"guard": {"node_id", "node_type", "node_name", KeyInput, KeyOutput},
	} {
		for _, k := range keys {
			if _, ok := byName[name][attribute.Key(k)]; !ok {
				t.Errorf("span %s lacks %s", name, k)
			}
		}
	}
	if got := byName["llm"]["llm_output"].AsString(); got != "one two three four five six seven eight" {
		t.Errorf("llm_output %q", got)
	}
}

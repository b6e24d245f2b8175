package eino

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
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
// (node id, type, name; model config, usage, finish reason; tool name, call
// id, arguments, result; chunks and first chunk for a stream, read on a
// goroutine of its own), the span carried in the context Eino hands back.
type sdkHandler struct {
	tracer  trace.Tracer
	max     int
	streams sync.WaitGroup
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
		ctx, _ = h.tracer.Start(ctx, flowID(info), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("flow_id", flowID(info)), attribute.String("question", bound(question(in), h.max))))
		return context.WithValue(ctx, sdkRootKey{}, true)
	}
	id, name := nodeID(ctx, info)
	ctx, span := h.tracer.Start(ctx, id, trace.WithAttributes(
		attribute.String("node_id", id), attribute.String("node_type", typ), attribute.String("node_name", name)))
	switch k {
	case kindModel:
		if v, ok := in.(*model.CallbackInput); ok {
			span.SetAttributes(attribute.String(KeyOperation, "chat"), attribute.Int(KeyMessages, len(v.Messages)))
			if c := v.Config; c != nil {
				span.SetAttributes(attribute.String(KeyRequestModel, c.Model), attribute.Float64(KeyTemperature, float64(c.Temperature)))
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

func (h *sdkHandler) OnEnd(ctx context.Context, info *callbacks.RunInfo, out callbacks.CallbackOutput) context.Context {
	span := trace.SpanFromContext(ctx)
	h.output(span, info, out)
	span.End()
	return ctx
}

func (h *sdkHandler) output(span trace.Span, info *callbacks.RunInfo, out callbacks.CallbackOutput) {
	switch v := out.(type) {
	case *model.CallbackOutput:
		if v.TokenUsage != nil {
			span.SetAttributes(attribute.Int("gen_ai.usage.input_tokens", v.TokenUsage.PromptTokens),
				attribute.Int("gen_ai.usage.output_tokens", v.TokenUsage.CompletionTokens))
		}
		if v.Message != nil {
			span.SetAttributes(attribute.String("llm_output", bound(v.Message.Content, h.max)))
		}
	case *tool.CallbackOutput:
		span.SetAttributes(attribute.String(KeyToolResult, bound(v.Response, h.max)))
	case string:
		span.SetAttributes(attribute.String(KeyOutput, bound(v, h.max)))
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
	go h.readStream(span, info, out)
	return ctx
}

// readStream reads a stream copy on its own goroutine. Like flowtel's
// reader it keeps its frame small and does its span work in functions of
// their own, so that the goroutine's first 2 KiB of stack hold the frames
// it parks under in Eino's copy and the runtime does not grow it (a frame
// of 392 bytes here did).
func (h *sdkHandler) readStream(span trace.Span, info *callbacks.RunInfo, out *schema.StreamReader[callbacks.CallbackOutput]) {
	chunks := 0
	var last callbacks.CallbackOutput
	for {
		o, err := out.Recv()
		if err != nil {
			out.Close()
			h.endStream(span, info, chunks, last, err)
			h.streams.Done()
			return
		}
		if chunks == 0 {
			firstFrame(span)
		}
		chunks++
		last = o
	}
}

//go:noinline
func firstFrame(span trace.Span) { span.AddEvent("first_frame") }

//go:noinline
func (h *sdkHandler) endStream(span trace.Span, info *callbacks.RunInfo, chunks int, last callbacks.CallbackOutput, err error) {
	if err != io.EOF {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return
	}
	span.SetAttributes(attribute.Int(KeyChunks, chunks))
	h.output(span, info, last)
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

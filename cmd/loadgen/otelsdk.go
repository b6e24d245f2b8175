package main

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/genai"
)

// sdkDriver records the same workload through the OpenTelemetry Go SDK,
// with the same attributes, events and statuses as flowtel's spans carry.
type sdkDriver struct {
	tracer   trace.Tracer
	runAttrs []attribute.KeyValue
	in, out  []attribute.KeyValue
	toolOut  []attribute.KeyValue
	cfg      []attribute.KeyValue
	usage    []attribute.KeyValue
	llm      []attribute.KeyValue // the GenAI attributes of an LLM node
	payload  string
}

func newSDKDriver(tp trace.TracerProvider, wl *workload) *sdkDriver {
	d := &sdkDriver{
		tracer: tp.Tracer("github.com/flowtel/flowtel/cmd/loadgen"),
		runAttrs: []attribute.KeyValue{
			attribute.String("sid", "spf00390001@hf17e12ef9c00a4bb202"), attribute.String("app_id", "app-42"),
			attribute.String("uid", "user-1001"), attribute.String("chat_id", "chat-9"), attribute.String("span_version", "1.0.0"),
			attribute.String("flow_id", "flow-7b1c"),
		},
		payload: wl.payload,
		usage: []attribute.KeyValue{
			attribute.Int("usage.question_tokens", wl.tokens/8), attribute.Int("usage.prompt_tokens", wl.tokens*3/4),
			attribute.Int("usage.completion_tokens", wl.tokens/4), attribute.Int("usage.total_tokens", wl.tokens),
			attribute.String("llm_output", wl.payload),
		},
	}
	d.llm = []attribute.KeyValue{
		attribute.String(genai.KeyOperationName, genai.OpChat), attribute.String(genai.KeyProviderName, llmProvider),
		attribute.String(genai.KeyRequestModel, llmRequestModel), attribute.String(genai.KeyResponseModel, llmResponseModel),
		attribute.String(genai.KeyFinishReasons, llmFinishReason),
		attribute.Int(genai.KeyUsageInputTokens, wl.tokens*3/4), attribute.Int(genai.KeyUsageOutputTokens, wl.tokens/4),
	}
	for _, a := range wl.in {
		d.in = append(d.in, attribute.String("input."+a.key, a.val))
	}
	for _, a := range wl.out {
		d.out = append(d.out, attribute.String("output."+a.key, a.val))
	}
	for _, a := range wl.cfg {
		d.cfg = append(d.cfg, attribute.String("config."+a.key, a.val))
	}
	d.toolOut = append([]attribute.KeyValue{attribute.String("output.result", wl.payload)}, d.out...)
	d.toolOut = d.toolOut[:len(d.out)]
	return d
}

func (d *sdkDriver) startRun(s *slot) {
	s.ctx, s.span = d.tracer.Start(context.Background(), "workflow_run", trace.WithAttributes(d.runAttrs...))
	s.live = true
}

func (d *sdkDriver) startNode(s *slot, spec *nodeSpec, i int) {
	_, sp := d.tracer.Start(s.ctx, spec.spanName, trace.WithAttributes(d.runAttrs...))
	s.spans[i] = sp
	sp.SetAttributes(attribute.String("node_id", spec.id), attribute.String("node_type", spec.typ), attribute.String("node_name", spec.name))
	if len(d.in) > 0 {
		sp.SetAttributes(d.in...)
	}
	if len(d.cfg) > 0 {
		sp.SetAttributes(d.cfg...)
	}
	if spec.llm {
		// The tool call below the node, as flowtel's StartChild records it.
		_, call := d.tracer.Start(trace.ContextWithSpan(s.ctx, sp), spec.callSpan,
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(d.runAttrs...))
		call.SetAttributes(attribute.String("node_id", spec.call), attribute.String("node_type", toolCallType), attribute.String("node_name", toolName),
			attribute.String(genai.KeyOperationName, genai.OpExecuteTool), attribute.String(genai.KeyToolName, toolName),
			attribute.String(genai.KeyToolCallID, spec.callID), attribute.String(genai.KeyToolType, toolType))
		s.callSpans[i] = call
	}
}

// endCall ends node i's tool call if it is still open.
func (d *sdkDriver) endCall(s *slot, i int) {
	if c := s.callSpans[i]; c != nil {
		c.End()
		s.callSpans[i] = nil
	}
}

// firstChunk ends the tool call and adds the first frame's event; flowtel
// writes the first token's cost only in the run trace log, which the SDK
// has no equivalent of.
func (d *sdkDriver) firstChunk(s *slot, i int, _ time.Duration) {
	d.endCall(s, i)
	s.spans[i].AddEvent("first_frame")
}

func (d *sdkDriver) endNode(w *worker, s *slot, spec *nodeSpec, i int) int {
	sp := s.spans[i]
	spans := 1
	switch {
	case spec.llm:
		d.endCall(s, i)
		spans++
		sp.SetAttributes(d.llm...)
		sp.SetAttributes(d.usage...)
		if len(d.out) > 0 {
			sp.SetAttributes(d.out...)
		}
	case spec.tool:
		if len(d.toolOut) > 0 {
			sp.SetAttributes(d.toolOut...)
		}
	default:
		if len(d.out) > 0 {
			sp.SetAttributes(d.out...)
		}
	}
	if spec.message {
		sp.AddEvent("INFO", trace.WithAttributes(attribute.String("INFO LOG", "message sent to the user")))
	}
	if len(spec.next) > 0 {
		sp.SetAttributes(attribute.StringSlice("next_log_ids", spec.next))
	}
	if w.fails() {
		sp.RecordError(errNode)
		sp.SetStatus(codes.Error, errNode.Error())
		s.failed = true
	}
	sp.End()
	return spans
}

func (d *sdkDriver) endRun(s *slot) {
	if s.failed {
		s.span.SetAttributes(attribute.Int("code", 500))
		s.span.SetStatus(codes.Error, "node failed")
	} else {
		s.span.SetAttributes(attribute.Int("code", 0))
	}
	s.span.End()
	s.span, s.ctx = nil, nil
}

// countingExporter counts the spans the SDK's exporter delivered: the SDK
// itself reports neither what it exported nor what it dropped.
type countingExporter struct {
	sdktrace.SpanExporter
	exported atomic.Uint64
	failed   atomic.Uint64
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		c.failed.Add(uint64(len(spans)))
	} else {
		c.exported.Add(uint64(len(spans)))
	}
	return err
}

// SDK batch processor settings of a performance-minded user (mode
// otelsdk-tuned): a queue 32 times the default 2,048 and batches 8 times
// the default 512, blocking instead of dropping when the queue is full.
const (
	sdkTunedQueue = 1 << 16
	sdkTunedBatch = 4096
)

// sdkConfig is how a mode configures the SDK's BatchSpanProcessor.
type sdkConfig struct {
	blocking bool // WithBlocking: wait for room instead of dropping
	tuned    bool // sdkTunedQueue and sdkTunedBatch instead of the defaults
}

// sdkModes maps the SDK's modes to their configurations: its defaults
// (which drop silently when the queue is full), its defaults with
// WithBlocking (lossless), and what a performance-minded user would choose
// (larger queue and batches, WithBlocking).
var sdkModes = map[string]sdkConfig{
	"otelsdk":          {},
	"otelsdk-blocking": {blocking: true},
	"otelsdk-tuned":    {blocking: true, tuned: true},
}

// newSDKProvider returns a tracer provider exporting over OTLP/gRPC to
// endpoint through a BatchSpanProcessor configured by sc.
func newSDKProvider(ctx context.Context, endpoint string, sc sdkConfig) (*sdktrace.TracerProvider, *countingExporter, error) {
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, nil, err
	}
	ce := &countingExporter{SpanExporter: exp}
	var opts []sdktrace.BatchSpanProcessorOption
	if sc.blocking {
		opts = append(opts, sdktrace.WithBlocking())
	}
	if sc.tuned {
		opts = append(opts, sdktrace.WithMaxQueueSize(sdkTunedQueue), sdktrace.WithMaxExportBatchSize(sdkTunedBatch))
	}
	res := resource.NewSchemaless(attribute.String("service.name", "loadgen"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(ce, opts...), sdktrace.WithResource(res))
	return tp, ce, nil
}

package otelbridge

import (
	"context"
	"encoding/hex"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/genai"
)

// TestBridgeGenAIRootSpanCounted: a GenAI client span started with no
// flowtel parent (a script calling a model, no server span around it)
// became a run, and the engine's GenAI metrics, which fold nodes, did not
// count the call: gen_ai.client.operation.duration and token.usage had
// nothing of it, where the GenAI conventions record them for every client
// operation. It is now a node of a run started for it, so both count it,
// and the node span keeps the span's kind and gen_ai.* attributes. Read
// by a real receiver with the official decoder.
func TestBridgeGenAIRootSpanCounted(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, c := tr.Start(context.Background(), "chat m", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String(genai.KeyOperationName, genai.OpChat), attribute.String(genai.KeyRequestModel, "m"),
		attribute.String("app_id", "app")))
	_, tool := tr.Start(ctx, "tool") // a span under it is a node of the same run, its child
	tool.End()
	c.SetAttributes(attribute.Int(genai.KeyUsageInputTokens, 10), attribute.Int(genai.KeyUsageOutputTokens, 5))
	c.SetStatus(codes.Error, "refused")
	c.End()
	if c.IsRecording() {
		t.Error("span recording after End")
	}
	st := tp.Stats()
	shutdown()

	if st.RunsStarted != 1 || st.NodesStarted != 2 || st.Nested != 1 {
		t.Errorf("Stats %+v, want 1 run, 2 nodes, 1 nested", st)
	}
	var run, node, child *tracepb.Span
	for _, sp := range receivedSpans(rc) {
		switch sp.Name {
		case "run:chat m":
			run = sp
		case "run_node:chat m":
			node = sp
		case "run_node:tool":
			child = sp
		}
	}
	if run == nil || node == nil || child == nil {
		t.Fatalf("spans run %v, node %v, child %v: want all three", run != nil, node != nil, child != nil)
	}
	if string(node.ParentSpanId) != string(run.SpanId) || string(child.ParentSpanId) != string(node.SpanId) {
		t.Errorf("parents: node's %s (run %s), child's %s (node %s)", hex.EncodeToString(node.ParentSpanId),
			hex.EncodeToString(run.SpanId), hex.EncodeToString(child.ParentSpanId), hex.EncodeToString(node.SpanId))
	}
	if id := c.SpanContext().SpanID(); string(id[:]) != string(node.SpanId) {
		t.Error("the span's context is not the node's: a client would inject the run as parent")
	}
	if node.Kind != tracepb.Span_SPAN_KIND_CLIENT || run.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Errorf("kinds node %v, run %v, want CLIENT and INTERNAL", node.Kind, run.Kind)
	}
	if node.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || run.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("status node %v, run %v, want ERROR both", node.Status, run.Status)
	}
	runAttrs, nodeAttrs := map[string]string{}, map[string]string{}
	for _, kv := range run.Attributes {
		runAttrs[kv.Key] = anyString(kv.Value)
	}
	for _, kv := range node.Attributes {
		nodeAttrs[kv.Key] = anyString(kv.Value)
	}
	if runAttrs["app_id"] != "app" || nodeAttrs[genai.KeyOperationName] != "chat" || nodeAttrs[genai.KeyUsageOutputTokens] != "5" {
		t.Errorf("run attributes %v, node attributes %v", runAttrs, nodeAttrs)
	}

	counts := map[string]uint64{}
	for _, name := range []string{genai.MetricOperationDuration, genai.MetricTokenUsage} {
		for _, m := range metricsNamed(rc, name) {
			for _, p := range m.GetHistogram().GetDataPoints() {
				counts[name] = max(counts[name], p.GetCount()) // cumulative
			}
		}
	}
	if counts[genai.MetricOperationDuration] != 1 || counts[genai.MetricTokenUsage] != 1 {
		t.Errorf("histogram counts %v, want %s 1 and %s 1 per token type", counts, genai.MetricOperationDuration, genai.MetricTokenUsage)
	}
}

package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/flowtel/flowtel/genai"
)

// TestBridgeGenAIAttributesKept: a model client instrumented with
// OpenTelemetry's GenAI conventions sets gen_ai.* attributes on its span,
// at start and later. The bridge wrote them as the node's input and
// output values, so the span carried input.gen_ai.operation.name and
// output.gen_ai.usage.input_tokens, and the engine's GenAI metrics, which
// read the span's gen_ai.* attributes, counted nothing of the call. They
// are now the span's attributes as given, each once with its last value,
// and gen_ai.client.token.usage counts the call's tokens; other keys stay
// input and output values. Read by a real receiver with the official
// decoder.
func TestBridgeGenAIAttributesKept(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, c := tr.Start(ctx, "chat m", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String(genai.KeyOperationName, genai.OpChat), attribute.String(genai.KeyRequestModel, "m"),
		attribute.String("prompt", "hi"), attribute.Int(genai.KeyUsageInputTokens, 1)))
	c.SetAttributes(attribute.Int(genai.KeyUsageInputTokens, 10), attribute.Int(genai.KeyUsageOutputTokens, 4))
	c.SetAttributes(attribute.Int(genai.KeyUsageOutputTokens, 5), attribute.String("answer", "hello"))
	c.End()
	root.End()
	shutdown()
	want := map[string]string{genai.KeyOperationName: "chat", genai.KeyRequestModel: "m", genai.KeyUsageInputTokens: "10",
		genai.KeyUsageOutputTokens: "5", "input.prompt": "hi", "output.answer": "hello"}
	found := false
	for _, sp := range receivedSpans(rc) {
		if sp.Name != "run_node:chat m" {
			continue
		}
		found = true
		seen := map[string]string{}
		for _, kv := range sp.Attributes {
			if _, dup := seen[kv.Key]; dup {
				t.Errorf("key %q written twice", kv.Key)
			}
			seen[kv.Key] = anyString(kv.Value)
		}
		for k, v := range want {
			if seen[k] != v {
				t.Errorf("%s = %q, want %q (span attributes %v)", k, seen[k], v, seen)
			}
		}
	}
	if !found {
		t.Fatal("no node span received")
	}
	sums := map[string]float64{}
	for _, req := range rc.Metrics() {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != genai.MetricTokenUsage {
						continue
					}
					// Each periodic export repeats a cumulative sum; deltas add up.
					delta := m.GetHistogram().GetAggregationTemporality() == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
					for _, p := range m.GetHistogram().GetDataPoints() {
						for _, a := range p.Attributes {
							if k := a.Value.GetStringValue(); a.Key == genai.KeyTokenType && delta {
								sums[k] += p.GetSum()
							} else if a.Key == genai.KeyTokenType {
								sums[k] = max(sums[k], p.GetSum())
							}
						}
					}
				}
			}
		}
	}
	if sums[genai.TokenInput] != 10 || sums[genai.TokenOutput] != 5 {
		t.Errorf("%s sums %v, want input 10 and output 5", genai.MetricTokenUsage, sums)
	}
}

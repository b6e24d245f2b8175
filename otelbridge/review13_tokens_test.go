package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// tokenUsage returns the sum and count of gen_ai.client.token.usage that
// rc received, by gen_ai.token.type. Each periodic export repeats a
// cumulative histogram; deltas add up.
func tokenUsage(rc *otlptest.Receiver) (sums, counts map[string]float64) {
	sums, counts = map[string]float64{}, map[string]float64{}
	for _, m := range metricsNamed(rc, genai.MetricTokenUsage) {
		delta := m.GetHistogram().GetAggregationTemporality() == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
		for _, p := range m.GetHistogram().GetDataPoints() {
			for _, a := range p.Attributes {
				if a.Key != genai.KeyTokenType {
					continue
				}
				k := a.Value.GetStringValue()
				if delta {
					sums[k] += p.GetSum()
					counts[k] += float64(p.GetCount())
				} else {
					sums[k] = max(sums[k], p.GetSum())
					counts[k] = max(counts[k], float64(p.GetCount()))
				}
			}
		}
	}
	return sums, counts
}

// TestBridgeGenAITokensNotCount: gen_ai.usage.input_tokens and
// output_tokens are ints in the GenAI conventions (semconv's
// GenAIUsageInputTokensKey, Type: int), counts of tokens. On a bridged
// GenAI span a negative count was recorded in gen_ai.client.token.usage
// as 0 and a string one ("12") ignored, both kept on the span and counted
// nowhere. Such a value is now dropped and counted
// (Stats.InvalidAttrsDropped, the span's dropped_attributes_count), at
// start and set later; valid counts are recorded as before. Over
// otlp's sink, a real receiver and the official decoder.
func TestBridgeGenAITokensNotCount(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	chat := func(name string, start attribute.KeyValue, later ...attribute.KeyValue) {
		_, c := tr.Start(ctx, name, trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat),
			attribute.String(genai.KeyRequestModel, "m"), start))
		c.SetAttributes(later...)
		c.End()
	}
	chat("bad", attribute.Int(genai.KeyUsageInputTokens, -3), attribute.String(genai.KeyUsageOutputTokens, "12"))
	chat("bad-later", attribute.Int(genai.KeyUsageInputTokens, 1),
		attribute.Float64(genai.KeyUsageInputTokens, 7), attribute.Int(genai.KeyUsageOutputTokens, -1))
	chat("good", attribute.Int(genai.KeyUsageInputTokens, 10), attribute.Int(genai.KeyUsageOutputTokens, 5))
	root.End()
	shutdown()
	if got := tp.Stats().InvalidAttrsDropped; got != 4 {
		t.Errorf("InvalidAttrsDropped %d, want the 4 values that are no token count", got)
	}
	// bad-later keeps its start count: a value set again that is cut
	// leaves the one before, as an invalid attribute does in the SDK.
	kept := map[string]string{"run_node:bad": "", "run_node:bad-later": genai.KeyUsageInputTokens}
	for _, sp := range receivedSpans(rc) {
		want, ok := kept[sp.Name]
		if !ok {
			continue
		}
		delete(kept, sp.Name)
		for _, kv := range sp.Attributes {
			if (kv.Key == genai.KeyUsageInputTokens || kv.Key == genai.KeyUsageOutputTokens) && kv.Key != want {
				t.Errorf("%s: %s = %v kept", sp.Name, kv.Key, kv.Value)
			}
		}
		if sp.DroppedAttributesCount != 2 {
			t.Errorf("%s: dropped_attributes_count %d, want 2", sp.Name, sp.DroppedAttributesCount)
		}
	}
	if len(kept) != 0 {
		t.Errorf("spans not received: %v", kept)
	}
	sums, counts := tokenUsage(rc)
	if sums[genai.TokenInput] != 11 || sums[genai.TokenOutput] != 5 || counts[genai.TokenInput] != 2 || counts[genai.TokenOutput] != 1 {
		t.Errorf("%s sums %v counts %v, want input 1+10 and output 5, of the valid counts alone", genai.MetricTokenUsage, sums, counts)
	}
}

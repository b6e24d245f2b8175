package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/genai"
)

// TestGenAIKeySetAgainOnce: a gen_ai.* key is kept as the node span's
// attribute; given at start and set again (a model client sets the
// response model or the usage as it learns them), the span has it once,
// with the last value, as OpenTelemetry's SetAttributes overwrites and
// OTLP's keys are unique. Read by a real receiver with the official
// decoder.
func TestGenAIKeySetAgainOnce(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, run := tr.Start(context.Background(), "flow")
	_, n := tr.Start(ctx, "chat", trace.WithAttributes(attribute.String(genai.KeyRequestModel, "a"), attribute.Int(genai.KeyUsageInputTokens, 1)))
	n.SetAttributes(attribute.String(genai.KeyRequestModel, "b"))
	n.SetAttributes(attribute.Int(genai.KeyUsageInputTokens, 2), attribute.Int(genai.KeyUsageInputTokens, 3))
	n.End()
	run.End()
	shutdown()
	found := false
	for _, sp := range receivedSpans(rc) {
		if sp.Name != "run_node:chat" {
			continue
		}
		found = true
		seen := map[string]int{}
		for _, kv := range sp.Attributes {
			seen[kv.Key]++
			switch kv.Key {
			case genai.KeyRequestModel:
				if v := kv.Value.GetStringValue(); v != "b" {
					t.Errorf("%s = %q, want the last value b", kv.Key, v)
				}
			case genai.KeyUsageInputTokens:
				if v := kv.Value.GetIntValue(); v != 3 {
					t.Errorf("%s = %d, want the last value 3", kv.Key, v)
				}
			}
		}
		for k, c := range seen {
			if c > 1 {
				t.Errorf("key %s %d times on the span", k, c)
			}
		}
	}
	if !found {
		t.Fatal("no node span")
	}
}

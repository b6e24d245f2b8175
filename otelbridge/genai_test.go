package otelbridge

import (
	"context"
	"testing"

	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/otlptest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
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
	sums, _ := tokenUsage(rc)
	if sums[genai.TokenInput] != 10 || sums[genai.TokenOutput] != 5 {
		t.Errorf("%s sums %v, want input 10 and output 5", genai.MetricTokenUsage, sums)
	}
}

// TestBridgeGenAISpanSemconvKeys: a model client instrumented with the
// GenAI conventions sets, besides gen_ai.*, the span attributes they
// name from the general registry: server.address and server.port at
// start and, for a failed call, error.type (Conditionally Required). On a
// GenAI span (a node under a run, and a GenAI span with no flowtel parent)
// they are the span's attributes as given, and the engine's
// gen_ai.client.operation.duration takes the instrumentation's
// error.type; a node that names no GenAI operation keeps them as input
// and output values. The bridge wrote them as input.server.address and
// output.error.type, keys the conventions do not know, and the metric's
// error.type was _OTHER. Read by a real receiver with the official
// decoder.
func TestBridgeGenAISpanSemconvKeys(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	start := trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat), attribute.String(genai.KeyRequestModel, "m"),
		attribute.String("server.address", "api.example.com"), attribute.Int("server.port", 443))
	call := func(s trace.Span) {
		s.SetAttributes(attribute.String("error.type", "rate_limit_exceeded"))
		s.SetStatus(codes.Error, "429")
		s.End()
	}
	ctx, root := tr.Start(context.Background(), "flow")
	_, c := tr.Start(ctx, "chat nested", trace.WithSpanKind(trace.SpanKindClient), start)
	call(c)
	_, h := tr.Start(ctx, "http", trace.WithAttributes(attribute.String("server.address", "db")))
	h.SetAttributes(attribute.String("error.type", "timeout"))
	h.End()
	root.End()
	_, g := tr.Start(context.Background(), "chat root", trace.WithSpanKind(trace.SpanKindClient), start)
	call(g)
	shutdown()
	genAIWant := map[string]string{"server.address": "api.example.com", "server.port": "443", "error.type": "rate_limit_exceeded"}
	want := map[string]map[string]string{
		"run_node:chat nested": genAIWant,
		"run_node:chat root":   genAIWant,
		"run_node:http":        {"input.server.address": "db", "output.error.type": "timeout", "server.address": "", "error.type": ""},
	}
	wantSpanAttrs(t, rc, want)
	points := 0
	for _, m := range metricsNamed(rc, genai.MetricOperationDuration) {
		for _, p := range m.GetHistogram().GetDataPoints() {
			for _, a := range p.Attributes {
				if a.Key == "error.type" {
					points++
					if v := a.Value.GetStringValue(); v != "rate_limit_exceeded" {
						t.Errorf("%s error.type %q, want the instrumentation's rate_limit_exceeded", m.Name, v)
					}
				}
			}
		}
	}
	if points == 0 {
		t.Errorf("no %s point with error.type", genai.MetricOperationDuration)
	}
}

// wantSpanAttrs checks that rc received each span named in want, whose
// attributes hold want's values ("" for a key it must not carry).
func wantSpanAttrs(t *testing.T, rc *otlptest.Receiver, want map[string]map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, sp := range receivedSpans(rc) {
		w, ok := want[sp.Name]
		if !ok {
			continue
		}
		seen[sp.Name] = true
		got := map[string]string{}
		for _, kv := range sp.Attributes {
			got[kv.Key] = anyString(kv.Value)
		}
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q (span attributes %v)", sp.Name, k, got[k], v, got)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("span %s not received", name)
		}
	}
}

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

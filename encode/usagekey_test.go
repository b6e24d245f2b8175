package encode_test

import (
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// TestUsageKeyOnce: a node given its usage and the GenAI usage attributes
// too (engine's Node.Usage beside genai.UsageInputTokens, as the load
// generator and docs/porting.md's first GenAI snippet did) has each key
// once on its span, with the caller's value, which the GenAI metrics read
// too. The encoder wrote gen_ai.usage.input_tokens and output_tokens from
// the usage and again from the attributes: OTLP allows a key once a span.
func TestUsageKeyOnce(t *testing.T) {
	run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, FlowID: "f",
		StartUnixNano: 1e18, EndUnixNano: 1e18 + 1e9,
		Usage: encode.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15},
		Attrs: []encode.Attr{{Key: "gen_ai.usage.output_tokens", Value: encode.Int64Value(6)}}}
	run.Nodes = []*encode.Node{
		{SpanID: encode.SpanID{2}, NodeID: "llm:1", StartUnixNano: 1e18, EndUnixNano: 1e18 + 1,
			Usage: encode.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}, HasUsage: true,
			Attrs: []encode.Attr{{Key: "gen_ai.operation.name", Value: encode.StringValue("chat")},
				{Key: "gen_ai.usage.input_tokens", Value: encode.Int64Value(11)},
				{Key: "gen_ai.usage.output_tokens", Value: encode.Int64Value(4)}}},
		{SpanID: encode.SpanID{3}, NodeID: "llm:2", StartUnixNano: 1e18, EndUnixNano: 1e18 + 1,
			Usage: encode.Usage{PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10}, HasUsage: true,
			Attrs: []encode.Attr{{Key: "gen_ai.usage.input_tokens", Value: encode.Int64Value(8)}}},
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(encode.NewEncoder(encode.Resource{ServiceName: "s"}).AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{ // span: input, output tokens on it
		"run:f": {10, 6}, "run_node:llm:1": {11, 4}, "run_node:llm:2": {8, 3}}
	for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		seen := map[string]int{}
		for _, kv := range sp.Attributes {
			if seen[kv.Key]++; seen[kv.Key] == 2 {
				t.Errorf("span %s: key %s more than once", sp.Name, kv.Key)
			}
		}
		a := otlpAttrMap(sp.Attributes)
		got := [2]int64{a["gen_ai.usage.input_tokens"].GetIntValue(), a["gen_ai.usage.output_tokens"].GetIntValue()}
		if got != want[sp.Name] || a["usage.prompt_tokens"] == nil {
			t.Errorf("span %s: gen_ai usage %v, want %v; usage.prompt_tokens %v", sp.Name, got, want[sp.Name], a["usage.prompt_tokens"])
		}
	}
}

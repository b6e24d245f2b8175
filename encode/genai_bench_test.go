package encode_test

import (
	"strconv"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// loadgenGenAIBatch returns loadgenBatch shaped as cmd/loadgen's
// synthetic workload writes it today: each LLM node carries the GenAI
// conventions' 7 attributes (Node.SetAttributes: operation, provider,
// request and response model, finish reason, input and output tokens)
// and calls a tool, a CLIENT child span after it with the tool's 4
// (operation, tool name, call id, type). Each node has its own arrays.
func loadgenGenAIBatch() []*encode.Run {
	str, num := encode.StringValue, encode.Int64Value
	runs := loadgenBatch()
	for _, r := range runs {
		var nodes []*encode.Node
		for j, n := range r.Nodes {
			nodes = append(nodes, n)
			if n.NodeType != "llm" {
				continue
			}
			n.Attrs = []encode.Attr{
				{Key: "gen_ai.operation.name", Value: str("chat")},
				{Key: "gen_ai.provider.name", Value: str("iflytek")},
				{Key: "gen_ai.request.model", Value: str("spark-4")},
				{Key: "gen_ai.response.model", Value: str("spark-4.0-ultra")},
				{Key: "gen_ai.response.finish_reasons", Value: str("stop")},
				{Key: "gen_ai.usage.input_tokens", Value: num(n.Usage.PromptTokens)},
				{Key: "gen_ai.usage.output_tokens", Value: num(n.Usage.CompletionTokens)},
			}
			seq := strconv.Itoa(j + 1)
			call := &encode.Node{
				SpanID: encode.SpanID{n.SpanID[0], n.SpanID[1], 0x44, 3, 4, 5, 6, 7}, ParentSpanID: n.SpanID,
				NodeID: "tool-call:" + seq, NodeType: "tool", NodeName: "web_search", Kind: encode.SpanKindClient,
				StartUnixNano: n.StartUnixNano + 1e5, EndUnixNano: n.StartUnixNano + 2e5,
				Attrs: []encode.Attr{
					{Key: "gen_ai.operation.name", Value: str("execute_tool")},
					{Key: "gen_ai.tool.name", Value: str("web_search")},
					{Key: "gen_ai.tool.call.id", Value: str("call_" + seq)},
					{Key: "gen_ai.tool.type", Value: str("function")},
				},
			}
			nodes = append(nodes, call)
		}
		r.Nodes = nodes
	}
	return runs
}

// BenchmarkEncodeTracesGenAI is AppendTraces on loadgenGenAIBatch.
func BenchmarkEncodeTracesGenAI(b *testing.B) {
	runs := loadgenGenAIBatch()
	e := encode.NewEncoder(otlpBenchResource)
	benchAppend(b, encode.NumSpans(runs), "span", func(buf []byte) []byte { return e.AppendTraces(buf, runs) })
}

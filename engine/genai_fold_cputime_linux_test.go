//go:build linux

package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestGenAIFoldCPUTime prints, with -cputime, the thread CPU time per
// GenAI node of the pipeline's GenAI fold (observeGenAINode, the run's
// usage) of runs as the loadgen's synthetic workload's: two streamed chat
// calls of two chunks with their token counts, each with its tool call,
// the fold flushed once per drain of 119 runs (the loadgen's mean), where
// observeRun, and so TestObserveRunCPUTime, flushes once a run: the least
// of 40 drains, 6 times, in the benchmark format:
//
//	go test -run TestGenAIFoldCPUTime -v ./engine/ -cputime | grep ^Benchmark
func TestGenAIFoldCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{NoExport: true}))
	const ms = int64(time.Millisecond)
	str := func(k, v string) encode.Attr { return encode.Attr{Key: k, Value: encode.StringValue(v)} }
	tokens := func(k string, v int64) encode.Attr { return encode.Attr{Key: k, Value: encode.Int64Value(v)} }
	r := &encode.Run{AppID: "app", FlowID: "flow", EndUnixNano: 3000 * ms, Usage: encode.Usage{PromptTokens: 600, CompletionTokens: 200}}
	for i := range 2 {
		llm := &encode.Node{NodeType: "llm", StartUnixNano: int64(i) * 1000 * ms, EndUnixNano: int64(i)*1000*ms + 900*ms,
			Attrs: []encode.Attr{str(keyGenAIOperation, "chat"), str(keyGenAIProvider, "p"), str(keyGenAIRequestModel, "m"),
				str(keyGenAIRespModel, "m-1"), str("gen_ai.response.finish_reasons", "stop"),
				tokens(keyGenAIInputTokens, 300), tokens(keyGenAIOutputTokens, 100)},
			FirstTokenCostNano: 300 * ms, HasFirstTokenCost: true, Chunks: 2,
			FirstChunkUnixNano: int64(i)*1000*ms + 300*ms, LastChunkUnixNano: int64(i)*1000*ms + 900*ms,
			ChunkGapMin: 600 * ms, ChunkGapMax: 600 * ms}
		llm.ChunkGaps[genAIBucket(600e3, &genAIDurationMicros)] = 1
		tool := &encode.Node{NodeType: "tool-call", StartUnixNano: int64(i) * 1000 * ms, EndUnixNano: int64(i)*1000*ms + 300*ms,
			Attrs: []encode.Attr{str(keyGenAIOperation, opExecuteTool), str(keyGenAIToolName, "search"),
				str("gen_ai.tool.call.id", "call-1"), str("gen_ai.tool.type", "function")}}
		r.Nodes = append(r.Nodes, tool, llm)
	}
	const drain = 119
	m := e.metrics
	for range 6 {
		least := testkit.LeastCPU(40, drain, func(i int) {
			observeGenAI(m, r, false)
			if i == drain-1 {
				m.flushFold()
			}
		})
		fmt.Printf("BenchmarkCPUTime/GenAIFold/drain=%d\t%d\t%.2f ns/op\n", drain, 40*drain*len(r.Nodes), float64(least)/drain/float64(len(r.Nodes)))
	}
}

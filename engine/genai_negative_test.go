package engine

import (
	"testing"

	"github.com/flowtel/flowtel/genai"
)

// TestGenAINegativeTokensCut gives the engine negative token counts
// directly, through Node.Usage and gen_ai.usage.* attributes:
// gen_ai.client.token.usage leaves each out, counted in
// Stats.ValuesTruncated, where it recorded a 0 counted nowhere.
func TestGenAINegativeTokensCut(t *testing.T) {
	e, _ := newTestEngine(t)
	run := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
	chat := []Attr{genai.OperationName(genai.OpChat), genai.RequestModel("m")}
	n := run.StartNode("llm:1", "llm", "chat") // the attribute's -5 over Usage's 7
	n.SetAttributes(append(chat, genai.UsageInputTokens(-5))...)
	n.Usage(Usage{PromptTokens: 7, CompletionTokens: 4})
	n.End()
	n = run.StartNode("llm:2", "llm", "chat")
	n.SetAttributes(chat...)
	n.Usage(Usage{PromptTokens: 3, CompletionTokens: -2})
	n.End()
	n = run.StartNode("llm:3", "llm", "chat")
	n.SetAttributes(append(chat, genai.UsageInputTokens(10), genai.UsageOutputTokens(-1))...)
	n.End()
	run.End(0, "ok")
	flush(t, e)

	d := collectOTLP(t, e)
	for typ, want := range map[string][2]float64{"input": {2, 13}, "output": {1, 4}} {
		p := d.one(t, MetricGenAITokenUsage, map[string]string{"gen_ai.token.type": typ})
		if float64(p.count) != want[0] || p.sum != want[1] || p.min <= 0 {
			t.Errorf("%s tokens: count %d, sum %g, min %g; want count %g, sum %g, no 0",
				typ, p.count, p.sum, p.min, want[0], want[1])
		}
	}
	if got := e.Stats().ValuesTruncated; got != 3 {
		t.Errorf("Stats.ValuesTruncated = %d, want the 3 negative counts", got)
	}
}

package engine

import (
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/flowtel/flowtel/genai"
)

// TestTokenSumsSaturate ends runs whose nodes' token counts sum past
// math.MaxInt64: the run's Usage, flowtel_gen_ai_tokens_total and
// gen_ai.client.token.usage's sum stay at math.MaxInt64 (they wrapped to
// negative numbers), each sum held counted in Stats.SumsSaturated.
func TestTokenSumsSaturate(t *testing.T) {
	e, sink := newTestEngine(t)
	const big = math.MaxInt64 - 10
	for range 2 {
		run := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
		for _, id := range []string{"llm:1", "llm:2"} {
			n := run.StartNode(id, "llm", "chat")
			n.SetAttributes(genai.OperationName(genai.OpChat), genai.RequestModel("m"))
			n.Usage(Usage{PromptTokens: big, CompletionTokens: 1, TotalTokens: big, QuestionTokens: math.MinInt64 + 1})
			n.End()
		}
		run.End(0, "ok")
	}
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs exported, want 2", len(runs))
	}
	for _, r := range runs {
		if u := r.Usage; u.PromptTokens != math.MaxInt64 || u.TotalTokens != math.MaxInt64 || u.CompletionTokens != 2 || u.QuestionTokens != math.MinInt64 {
			t.Errorf("run usage %+v, want prompt and total at MaxInt64, completion 2, question at MinInt64", u)
		}
	}
	// Per run: prompt, total and question saturate (3); the metrics: the
	// second run's prompt tokens on flowtel_gen_ai_tokens_total (1) and
	// the 2nd to 4th node's input on the token usage histogram (3).
	if got := e.Stats().SumsSaturated; got != 2*3+1+3 {
		t.Errorf("Stats.SumsSaturated = %d, want 10", got)
	}
	text := string(e.AppendPrometheus(nil))
	for _, re := range []string{
		`flowtel_gen_ai_tokens_total\{[^}]*gen_ai_token_type="input"[^}]*\} (\S+)`,
		`gen_ai_client_token_usage_sum\{[^}]*gen_ai_token_type="input"[^}]*\} (\S+)`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %s in\n%s", re, text)
		}
		if v, err := strconv.ParseFloat(m[1], 64); err != nil || v != math.MaxInt64 {
			t.Errorf("%s = %s, want %g", m[0], m[1], float64(math.MaxInt64))
		}
	}
}

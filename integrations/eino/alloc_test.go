package eino

import (
	"context"
	"testing"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestAllocs gives the handler's exact budget, the callbacks called as
// Eino calls them: one allocation per run (its root context, which holds
// the run's state and the contexts of its first 8 nodes) and one per node
// past the 8th, whatever the node carries or how deep it nests. Eino's own
// cost is not in it.
func TestAllocs(t *testing.T) {
	eng, h := newEngineHandler(t, nil)
	defer eng.Shutdown(context.Background())
	var (
		graph  = &callbacks.RunInfo{Name: "g", Component: compose.ComponentOfGraph}
		lambda = &callbacks.RunInfo{Name: "code", Component: compose.ComponentOfLambda}
		chat   = &callbacks.RunInfo{Name: "llm", Type: "Scripted", Component: components.ComponentOfChatModel}
		tl     = &callbacks.RunInfo{Name: "weather", Component: components.ComponentOfTool}
		msgs   = []*schema.Message{schema.UserMessage("what is the weather in Paris?")}
		mIn    = &model.CallbackInput{Messages: msgs, Config: &model.Config{Model: "m", Temperature: 0.5, MaxTokens: 10}}
		mOut   = &model.CallbackOutput{Message: &schema.Message{Content: "clear", ResponseMeta: &schema.ResponseMeta{FinishReason: "stop"}},
			TokenUsage: &model.TokenUsage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}}
		tIn  = &tool.CallbackInput{ArgumentsInJSON: `{"city":"Paris"}`}
		tOut = &tool.CallbackOutput{Response: `{"sky":"clear"}`}
		base = context.Background()
	)
	run := func(nodes int) func() {
		return func() {
			ctx := h.OnStart(base, graph, "question")
			for i := 0; i < nodes; i++ {
				var c context.Context
				switch i % 3 {
				case 0:
					c = h.OnStart(ctx, lambda, "in")
					h.OnEnd(c, lambda, "out")
				case 1:
					c = h.OnStart(ctx, chat, mIn)
					h.OnEnd(c, chat, mOut)
				case 2:
					c = h.OnStart(ctx, tl, tIn)
					h.OnEnd(c, tl, tOut)
				}
			}
			h.OnEnd(ctx, graph, "answer")
		}
	}
	// Warm the engine's records as its own tests do: records are
	// allocated on first use and reused after.
	held := make([]context.Context, 2048)
	for i := range held {
		held[i] = h.OnStart(base, graph, "q")
		for k := 0; k < 16; k++ {
			h.OnEnd(h.OnStart(held[i], lambda, "in"), lambda, "out")
		}
	}
	for _, c := range held {
		h.OnEnd(c, graph, "a")
	}
	if err := eng.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// want flushes first: the pipeline gives run records back behind the
	// caller, and one that lags (a loaded machine) by more than the warmed
	// records would make the engine allocate a fresh one inside the count.
	want := func(t *testing.T, n float64, f func()) {
		if err := eng.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		testkit.WantAllocs(t, n, f)
	}
	t.Run("run", func(t *testing.T) { want(t, 1, run(0)) })
	t.Run("run+8 nodes", func(t *testing.T) { want(t, 1, run(8)) })
	t.Run("run+12 nodes", func(t *testing.T) { want(t, 1+12-inlineSpans, run(12)) })
	t.Run("run+nested graph", func(t *testing.T) {
		// A node of a sub-graph is a child span of its graph's node: no
		// allocation more.
		want(t, 1, func() {
			ctx := h.OnStart(base, graph, "question")
			sub := h.OnStart(ctx, graph, "in")
			h.OnEnd(h.OnStart(sub, lambda, "in"), lambda, "out")
			h.OnEnd(h.OnStart(sub, tl, tIn), tl, tOut)
			h.OnEnd(sub, graph, "out")
			h.OnEnd(ctx, graph, "answer")
		})
	})
	if s := eng.Stats(); s.StaleCalls != 0 {
		t.Errorf("stale calls %d", s.StaleCalls)
	}
}

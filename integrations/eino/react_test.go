package eino

import (
	"context"
	"testing"

	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/flow/agent"
	"github.com/cloudwego/eino/flow/agent/react"
	"github.com/cloudwego/eino/schema"
)

// Eino's own ReAct agent (a graph of a model and a ToolsNode in a loop):
// one run named after the agent's graph, the model twice (tool call, then
// answer), the tool once between them.
func TestReActAgent(t *testing.T) {
	for _, stream := range []bool{false, true} {
		c := newCapture(t)
		ctx := context.Background()
		a, err := react.NewAgent(ctx, &react.AgentConfig{
			ToolCallingModel: planner(),
			ToolsConfig:      compose.ToolsNodeConfig{Tools: []tool.BaseTool{weather{}}},
		})
		must(t, err)
		in := []*schema.Message{schema.UserMessage("What is the weather in Paris?")}
		opt := agent.WithComposeOptions(compose.WithCallbacks(c.h))
		if stream {
			sr, err := a.Stream(WithRunInfo(ctx, identity), in, opt)
			must(t, err)
			drain(t, sr)
		} else {
			_, err = a.Generate(WithRunInfo(ctx, identity), in, opt)
			must(t, err)
		}
		run := c.one(t)
		if run.FlowID != react.GraphName || run.Code != CodeOK || run.AppID != identity.AppID {
			t.Errorf("stream %v: run %q code %d app %q", stream, run.FlowID, run.Code, run.AppID)
		}
		var llm, tools, calls int
		for _, n := range run.Nodes {
			switch n.NodeType {
			case TypeLLM:
				llm++
				if !n.HasUsage {
					t.Errorf("llm node without usage")
				}
			case TypeTools:
				tools++
			case TypeTool:
				calls++
				wantAttr(t, n.Attrs, KeyToolCallID, "call_1")
			}
			if n.Incomplete || !n.Running() {
				t.Errorf("stream %v: node %s %s incomplete %v running %v", stream, n.NodeID, n.NodeType, n.Incomplete, n.Running())
			}
		}
		if llm != 2 || tools != 1 || calls != 1 {
			t.Errorf("stream %v: %d llm, %d tools, %d tool calls; want 2, 1, 1", stream, llm, tools, calls)
		}
		if run.Usage.TotalTokens != 13+13 {
			t.Errorf("run usage %+v", run.Usage)
		}
	}
}

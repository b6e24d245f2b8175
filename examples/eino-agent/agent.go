package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cloudwego/eino/components/retriever"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
)

// latencies are the scripted components' delays.
type latencies struct {
	firstChunk, perChunk time.Duration // the chat models
	retrieve, tool       time.Duration
}

// guide is a retriever over a fixed travel guide (a knowledge node).
type guide struct{ delay time.Duration }

func (g guide) Retrieve(ctx context.Context, query string, _ ...retriever.Option) ([]*schema.Document, error) {
	if err := sleep(ctx, g.delay); err != nil {
		return nil, err
	}
	return []*schema.Document{
		{ID: "guide-1", Content: "Travellers should check the forecast before they pack."},
		{ID: "guide-2", Content: "Evenings are cooler than days in most cities."},
	}, nil
}

// weather is the agent's tool.
type weather struct{ delay time.Duration }

func (weather) Info(context.Context) (*schema.ToolInfo, error) {
	return &schema.ToolInfo{Name: "weather", Desc: "today's weather in a city",
		ParamsOneOf: schema.NewParamsOneOfByParams(map[string]*schema.ParameterInfo{
			"city": {Type: schema.String, Desc: "the city", Required: true}})}, nil
}

func (w weather) InvokableRun(ctx context.Context, args string, _ ...tool.Option) (string, error) {
	if err := sleep(ctx, w.delay); err != nil {
		return "", err
	}
	city := strings.TrimSuffix(strings.TrimPrefix(args, `{"city":"`), `"}`)
	return fmt.Sprintf("%s: clear sky, 24 °C, light wind", city), nil
}

// buildAgent compiles the agent graph:
//
//	START → classify → {guide ∥ profile} → prompt → planner ─branch─→ tools → respond → END
//	                                                        └──────────────────────────→ END
//
// classify and profile are lambdas (code), guide a retriever (knowledge),
// planner a chat model with the weather tool bound (llm), tools a ToolsNode
// running the weather tool, respond a nested graph of its own (format →
// writer, a second chat model). The branch sends the planner's tool calls
// to the tools and a direct answer to the end.
func buildAgent(ctx context.Context, l latencies) (compose.Runnable[string, *schema.Message], error) {
	w := weather{delay: l.tool}
	info, err := w.Info(ctx)
	if err != nil {
		return nil, err
	}
	planner, err := (&scriptedModel{name: "scripted-planner", firstChunk: l.firstChunk, perChunk: l.perChunk}).
		WithTools([]*schema.ToolInfo{info})
	if err != nil {
		return nil, err
	}
	writer := &scriptedModel{name: "scripted-writer", firstChunk: l.firstChunk, perChunk: l.perChunk}
	tools, err := compose.NewToolNode(ctx, &compose.ToolsNodeConfig{Tools: []tool.BaseTool{w}})
	if err != nil {
		return nil, err
	}

	respond := compose.NewGraph[[]*schema.Message, *schema.Message]()
	add := func(err error) {
		if err != nil {
			panic(err) // BUG: a graph built from constants
		}
	}
	add(respond.AddLambdaNode("format", compose.InvokableLambda(func(ctx context.Context, in []*schema.Message) ([]*schema.Message, error) {
		return append([]*schema.Message{schema.SystemMessage("Answer from the tool results.")}, in...), nil
	}), compose.WithNodeName("Format")))
	add(respond.AddChatModelNode("writer", writer, compose.WithNodeName("Writer")))
	add(respond.AddEdge(compose.START, "format"))
	add(respond.AddEdge("format", "writer"))
	add(respond.AddEdge("writer", compose.END))

	g := compose.NewGraph[string, *schema.Message]()
	add(g.AddLambdaNode("classify", compose.InvokableLambda(func(ctx context.Context, q string) (string, error) {
		return strings.TrimSpace(q), nil
	}), compose.WithNodeName("Classify")))
	add(g.AddRetrieverNode("guide", guide{delay: l.retrieve}, compose.WithOutputKey("docs"), compose.WithNodeName("Travel guide")))
	add(g.AddLambdaNode("profile", compose.InvokableLambda(func(ctx context.Context, q string) (string, error) {
		return "The user prefers metric units.", nil
	}), compose.WithOutputKey("profile"), compose.WithNodeName("User profile")))
	add(g.AddLambdaNode("prompt", compose.InvokableLambda(func(ctx context.Context, in map[string]any) ([]*schema.Message, error) {
		var sys strings.Builder
		for _, d := range in["docs"].([]*schema.Document) {
			sys.WriteString(d.Content + " ")
		}
		sys.WriteString(in["profile"].(string))
		return []*schema.Message{schema.SystemMessage(sys.String()), schema.UserMessage(in["question"].(string))}, nil
	}), compose.WithNodeName("Prompt")))
	add(g.AddPassthroughNode("question", compose.WithOutputKey("question")))
	add(g.AddChatModelNode("planner", planner, compose.WithNodeName("Planner")))
	add(g.AddToolsNode("tools", tools, compose.WithNodeName("Tools")))
	add(g.AddGraphNode("respond", respond, compose.WithNodeName("Respond")))

	add(g.AddEdge(compose.START, "classify"))
	add(g.AddEdge("classify", "guide"))
	add(g.AddEdge("classify", "profile"))
	add(g.AddEdge("classify", "question"))
	add(g.AddEdge("guide", "prompt"))
	add(g.AddEdge("profile", "prompt"))
	add(g.AddEdge("question", "prompt"))
	add(g.AddEdge("prompt", "planner"))
	add(g.AddBranch("planner", compose.NewGraphBranch(func(ctx context.Context, m *schema.Message) (string, error) {
		if len(m.ToolCalls) > 0 {
			return "tools", nil
		}
		return compose.END, nil
	}, map[string]bool{"tools": true, compose.END: true})))
	add(g.AddEdge("tools", "respond"))
	add(g.AddEdge("respond", compose.END))
	return g.Compile(ctx, compose.WithGraphName("travel-agent"))
}

package eino

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/otlp"
)

// nestedGraph is two levels of sub-graphs, with parallel nodes and a
// streaming model inside them, so that inner nodes start on goroutines
// other than the one running the node of their sub-graph:
//
//	START → plan → outer{ {x ∥ y} → inner{ prompt → llm } } → END
func nestedGraph(t *testing.T, par *barrier) compose.Runnable[string, *schema.Message] {
	t.Helper()
	ctx := context.Background()
	pass := func(ctx context.Context, s string) (string, error) { return s, nil }
	inner := compose.NewGraph[map[string]any, *schema.Message]()
	must(t, inner.AddLambdaNode("prompt", compose.InvokableLambda(func(ctx context.Context, m map[string]any) ([]*schema.Message, error) {
		return []*schema.Message{schema.UserMessage(m["x"].(string) + m["y"].(string))}, nil
	})))
	must(t, inner.AddChatModelNode("llm", writer()))
	must(t, inner.AddEdge(compose.START, "prompt"))
	must(t, inner.AddEdge("prompt", "llm"))
	must(t, inner.AddEdge("llm", compose.END))

	branch := func(key string) *compose.Lambda {
		return compose.InvokableLambda(func(ctx context.Context, s string) (string, error) {
			if err := par.arrive(ctx); err != nil {
				return "", err
			}
			return key + s, nil
		})
	}
	outer := compose.NewGraph[string, *schema.Message]()
	must(t, outer.AddLambdaNode("x", branch("x"), compose.WithOutputKey("x")))
	must(t, outer.AddLambdaNode("y", branch("y"), compose.WithOutputKey("y")))
	must(t, outer.AddGraphNode("inner", inner))
	must(t, outer.AddEdge(compose.START, "x"))
	must(t, outer.AddEdge(compose.START, "y"))
	must(t, outer.AddEdge("x", "inner"))
	must(t, outer.AddEdge("y", "inner"))
	must(t, outer.AddEdge("inner", compose.END))

	g := compose.NewGraph[string, *schema.Message]()
	must(t, g.AddLambdaNode("plan", compose.InvokableLambda(pass)))
	must(t, g.AddGraphNode("outer", outer))
	must(t, g.AddEdge(compose.START, "plan"))
	must(t, g.AddEdge("plan", "outer"))
	must(t, g.AddEdge("outer", compose.END))
	r, err := g.Compile(ctx, compose.WithGraphName("nested"))
	must(t, err)
	return r
}

// receivedTree returns the spans rc received by name, failing t when a name
// repeats, and the one root span.
func receivedTree(t *testing.T, rc *otlptest.Receiver) (root *tracepb.Span, byName map[string]*tracepb.Span) {
	t.Helper()
	byName = map[string]*tracepb.Span{}
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					if len(sp.ParentSpanId) == 0 {
						if root != nil {
							t.Fatalf("two root spans: %q and %q", root.Name, sp.Name)
						}
						root = sp
						continue
					}
					if byName[sp.Name] != nil {
						t.Fatalf("span %q twice", sp.Name)
					}
					byName[sp.Name] = sp
				}
			}
		}
	}
	if root == nil {
		t.Fatalf("no root span among %d", len(byName))
	}
	return root, byName
}

// wantTree checks that the node spans are exactly those of parentOf, each
// under its parent node ("" the run's span), in the run's trace.
func wantTree(t *testing.T, root *tracepb.Span, byName map[string]*tracepb.Span, parentOf map[string]string) {
	t.Helper()
	if len(byName) != len(parentOf) {
		t.Errorf("%d node spans, want %d", len(byName), len(parentOf))
	}
	for id, parent := range parentOf {
		sp := byName["run_node:"+id]
		if sp == nil {
			t.Errorf("no span of node %q", id)
			continue
		}
		want, wantName := root.SpanId, root.Name
		if parent != "" {
			p := byName["run_node:"+parent]
			if p == nil {
				t.Errorf("no span of node %q, parent of %q", parent, id)
				continue
			}
			want, wantName = p.SpanId, p.Name
		}
		if !bytes.Equal(sp.ParentSpanId, want) || !bytes.Equal(sp.TraceId, root.TraceId) {
			t.Errorf("node %q: parent %x, want %x (%s)", id, sp.ParentSpanId, want, wantName)
		}
	}
}

// TestNestedSpanTree runs real Eino graphs whose nodes run below other
// nodes (sub-graphs two levels deep with parallel branches and a streaming
// model inside; a ToolsNode and its tool), through the OTLP encoder and
// exporter to a real receiver, and checks the parent of every span the
// official decoder reads.
func TestNestedSpanTree(t *testing.T) {
	for _, tc := range []struct {
		name     string
		run      func(t *testing.T, ctx context.Context, h *Handler)
		parentOf map[string]string
	}{
		{"nested/stream", func(t *testing.T, ctx context.Context, h *Handler) {
			sr, err := nestedGraph(t, newBarrier(2)).Stream(ctx, "q", compose.WithCallbacks(h))
			must(t, err)
			drain(t, sr)
		}, map[string]string{"plan": "", "outer": "", "x": "outer", "y": "outer", "inner": "outer", "prompt": "inner", "llm": "inner"}},
		{"nested/invoke", func(t *testing.T, ctx context.Context, h *Handler) {
			_, err := nestedGraph(t, newBarrier(2)).Invoke(ctx, "q", compose.WithCallbacks(h))
			must(t, err)
		}, map[string]string{"plan": "", "outer": "", "x": "outer", "y": "outer", "inner": "outer", "prompt": "inner", "llm": "inner"}},
		{"support/stream", func(t *testing.T, ctx context.Context, h *Handler) {
			sr, err := supportGraph(t, planner(), writer(), newBarrier(2), nil).Stream(ctx, "What is the weather in Paris?", compose.WithCallbacks(h))
			must(t, err)
			drain(t, sr)
		}, map[string]string{"classify": "", "retrieve": "", "profile": "", "prompt": "", "llm": "", "tools": "",
			"weather": "tools", "summarize": "", "format": "summarize", "writer": "summarize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := otlptest.StartKeeping(t, otlptest.GRPC)
			eng, err := otlp.New(export.Config{Protocol: "grpc", Endpoint: rc.Endpoint(), Insecure: true},
				engine.WithBatch(16, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
			must(t, err)
			h, err := NewHandler(eng)
			if err != nil {
				_ = eng.Shutdown(context.Background())
				t.Fatal(err)
			}
			tc.run(t, WithRunInfo(context.Background(), identity), h)
			h.Wait()
			must(t, eng.Shutdown(context.Background()))
			if s := eng.Stats(); s.Dropped != 0 || s.Exported != uint64(len(tc.parentOf)+1) {
				t.Fatalf("stats %+v: want %d exported, none dropped", s, len(tc.parentOf)+1)
			}
			root, byName := receivedTree(t, rc)
			wantTree(t, root, byName, tc.parentOf)
		})
	}
}

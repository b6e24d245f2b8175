package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/testkit"
)

// warm makes the engine allocate records for runs in flight at once,
// each with nodes, as a workload with that concurrency would: records
// are allocated on first use and reused after, so the measurement that
// follows (fewer runs than that in flight) sees the steady state.
func warm(t testing.TB, e *Engine, runs, nodes int) {
	held := make([]Run, runs)
	for i := range held {
		held[i] = e.StartRun(RunInfo{})
		for k := 0; k < nodes; k++ {
			n := held[i].StartNode("a:1", "a", "a")
			n.Input(Bytes("warm", make([]byte, 64)))
			n.End()
		}
	}
	for _, r := range held {
		r.End(0, "")
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var attrs8 = [8]Attr{
	String("query", "what is the weather"), String("model", "spark-4"), Int64("max_tokens", 2048),
	Float64("temperature", 0.7), Bool("stream", true), String("system", "you are helpful"),
	Int64("top_k", 4), String("plugin", "weather"),
}

// TestAllocs gives the exact allocation budget of every hot call.
func TestAllocs(t *testing.T) {
	e, err := New(WithLimits(Limits{Attrs: 16, Events: 4, ValueBytes: 1 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	raw := []byte("raw bytes")
	long := strings.Repeat("x", 2<<10)
	node := func(run Run) {
		n := run.StartNode("llm:1", "llm", "LLM")
		n.Input(attrs8[0], attrs8[1], attrs8[2], attrs8[3])
		n.Output(attrs8[4], attrs8[5])
		n.Config(attrs8[6], attrs8[7])
		n.Usage(Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3})
		n.Info("called")
		n.End()
	}
	cases := []struct {
		name string
		n    float64
		f    func()
	}{
		{"StartRun+End", 0, func() { e.StartRun(RunInfo{FlowID: "f", AppID: "a"}).End(0, "ok") }},
		{"StartNode+8attrs+Usage+Info+End", 0, func() {
			run := e.StartRun(RunInfo{})
			node(run)
			run.End(0, "")
		}},
		{"every node call", 0, func() {
			run := e.StartRun(RunInfo{})
			n := run.StartNode("llm:1", "llm", "LLM")
			n.Next("a:1", "b:1")
			n.Input(Bytes("raw", raw))
			n.LLMOutput("out")
			n.FirstFrame()
			n.FirstTokenCost(1200 * time.Millisecond)
			n.SetAttributes(String("gen_ai.operation.name", "chat"), String("gen_ai.request.model", "spark-4"))
			n.SetCode(0)
			n.InfoEvent(Float64("llm first token cost: ", 1.2))
			n.ErrorEvent(String("error", "rate limited"))
			n.Error("bad")
			_ = n.SpanContext()
			n.End()
			run.Answer("a")
			run.Srv("k", "v")
			run.SrvTag("k", "v")
			run.SetAttributes(Int("x", 1))
			run.Info("i")
			run.FirstFrame()
			run.End(0, "")
		}},
		{"StartChild+grandchild+SetAttributes+SetSpanKind+Fail+End", 0, func() {
			run := e.StartRun(RunInfo{})
			n := run.StartNode("agent:1", "agent", "Agent")
			c := n.StartChild("llm:1", "llm", "LLM")
			c.SetAttributes(String("gen_ai.operation.name", "chat"))
			c.SetSpanKind(SpanKindClient)
			c.StartChild("llm:2", "llm", "retry").Fail("rate limited")
			c.End()
			n.StartChild("plugin:1", "plugin", "tool") // left open: ends with the run
			n.End()
			run.End(0, "")
		}},
		{"Fail and Cancel", 0, func() {
			run := e.StartRun(RunInfo{})
			run.StartNode("plugin:1", "plugin", "tool").Fail("tool failed with 500")
			run.StartNode("plugin:2", "plugin", "tool").Cancel("user left")
			run.End(0, "")
		}},
		{"overflow: attrs and events past limits", 0, func() {
			run := e.StartRun(RunInfo{})
			n := run.StartNode("llm:1", "llm", "LLM")
			n.Input(attrs8[:]...)
			n.Output(attrs8[:]...)
			n.Config(attrs8[:]...) // 8 over the limit of 16
			for i := 0; i < 6; i++ {
				n.Info("x") // 2 over the limit of 4
			}
			n.End()
			run.End(0, "")
		}},
		{"strings past ValueBytes cut", 0, func() {
			run := e.StartRun(RunInfo{FlowID: long, AppID: long})
			n := run.StartNode(long, long, long)
			n.Input(String(long, long))
			n.End()
			run.SetAttributes(String(long, long))
			run.End(0, long)
		}},
		{"stale calls after End", 0, func() {
			run := e.StartRun(RunInfo{})
			n := run.StartNode("a:1", "a", "a")
			n.End()
			run.End(0, "")
			n.End()
			n.Input(attrs8[0])
			n.StartChild("c:1", "c", "c").End()
			n.SetSpanKind(SpanKindClient)
			run.End(0, "")
			run.StartNode("b:1", "b", "b").End()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			warm(t, e, 2048, 4)
			testkit.WantAllocs(t, c.n, c.f)
		})
	}
}

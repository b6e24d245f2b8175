package otlp

import (
	"bytes"
	"context"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestChildSpanTree sends a run with child and grandchild nodes through the
// real encoder and exporter to a real receiver and checks the span tree the
// official decoder reads: each child under its parent node, in the run's
// trace, the kind set; a child left open ended with the run; the children past
// Limits.NodesPerRun and those of an ended node counted, not sent.
func TestChildSpanTree(t *testing.T) {
	rc := otlptest.StartKeeping(t, "grpc")
	e, err := New(export.Config{Protocol: "grpc", Endpoint: rc.Endpoint(), Insecure: true},
		engine.WithLimits(engine.Limits{NodesPerRun: 5}), engine.WithBatch(16, 10*time.Millisecond),
		engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(engine.RunInfo{FlowID: "flow", AppID: "app", SID: "sid"})
	agent := run.StartNode("agent:1", "agent", "Agent")
	llm := agent.StartChild("llm:1", "llm", "LLM call")
	llm.SetSpanKind(engine.SpanKindClient)
	retry := llm.StartChild("llm:2", "llm", "LLM retry")
	retry.SetAttributes(engine.String("gen_ai.operation.name", "chat"))
	retry.Fail("rate limited")
	llm.End()
	tool := agent.StartChild("plugin:1", "plugin", "tool call") // left open: ends with the run
	tool.Input(engine.String("q", "x"))
	agent.StartChild("plugin:2", "plugin", "past the limit").End() // the 5th node
	agent.StartChild("plugin:3", "plugin", "past the limit").End() // the 6th: cut
	agent.End()
	agent.StartChild("plugin:4", "plugin", "of an ended node").End() // stale
	run.End(0, "ok")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Drops(engine.DropNodeLimit) != 1 || s.Exported != 6 {
		t.Fatalf("stats %+v: want 6 exported, 1 cut by NodesPerRun", s)
	}
	if s.StaleCalls != 1 { // the ended node's StartChild
		t.Fatalf("stale calls %d, want 1", s.StaleCalls)
	}
	byName := map[string]*tracepb.Span{}
	var root *tracepb.Span
	for _, sp := range receivedSpans(rc) {
		if len(sp.ParentSpanId) == 0 {
			root = sp
			continue
		}
		byName[sp.Name] = sp
	}
	if root == nil || len(byName) != 5 {
		t.Fatalf("root %v, %d node spans: %v", root, len(byName), byName)
	}
	parentOf := map[string]string{ // span name: parent span name ("" the run)
		"run_node:agent:1":  "",
		"run_node:llm:1":    "run_node:agent:1",
		"run_node:llm:2":    "run_node:llm:1",
		"run_node:plugin:1": "run_node:agent:1",
		"run_node:plugin:2": "run_node:agent:1",
	}
	for name, parent := range parentOf {
		sp := byName[name]
		if sp == nil {
			t.Fatalf("no span %q among %v", name, byName)
		}
		want := root.SpanId
		if parent != "" {
			want = byName[parent].SpanId
		}
		if !bytes.Equal(sp.ParentSpanId, want) || !bytes.Equal(sp.TraceId, root.TraceId) {
			t.Errorf("span %q: parent %x trace %x, want parent %x (%s) trace %x", name, sp.ParentSpanId, sp.TraceId, want, parent, root.TraceId)
		}
		if sp.EndTimeUnixNano == 0 || sp.EndTimeUnixNano < sp.StartTimeUnixNano {
			t.Errorf("span %q: start %d end %d", name, sp.StartTimeUnixNano, sp.EndTimeUnixNano)
		}
	}
	for name, sp := range byName {
		want := tracepb.Span_SPAN_KIND_INTERNAL
		if name == "run_node:llm:1" {
			want = tracepb.Span_SPAN_KIND_CLIENT
		}
		if sp.Kind != want {
			t.Errorf("span %q: kind %v, want %v", name, sp.Kind, want)
		}
	}
	if byName["run_node:llm:2"].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("failed retry: status %v", byName["run_node:llm:2"].Status)
	}
}

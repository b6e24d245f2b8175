package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/w3c"
)

// TestRunBytesTraceStateEverySpan: Limits.RunBytes counts the tracestate
// once per span, as the encoder writes it on every span (trace_state). It
// counted once: a run of 64 nodes under a 475-byte tracestate exported
// 30,875 bytes of it under a 16 KiB bound, uncut. The calls the run makes
// still carry it whole: the bound is on what the run exports.
func TestRunBytesTraceStateEverySpan(t *testing.T) {
	const budget, nodes = 16 << 10, 64
	members := []string{"ot=th:8", "rojo=" + strings.Repeat("r", 110), "congo=" + strings.Repeat("c", 110),
		"vendor=" + strings.Repeat("v", 110), "tenant@sys=" + strings.Repeat("t", 105)}
	ts := strings.Join(members, ",")
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithLimits(Limits{RunBytes: budget}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(RunInfo{FlowID: "f", Parent: SpanContext{TraceID: [16]byte{0: 1, 9: 0xff}, SpanID: [8]byte{1}, TraceState: ts, Sampled: true}})
	for range nodes {
		n := run.StartNode("n", "t", "name")
		if got := n.SpanContext().TraceState; got != ts {
			t.Fatalf("a node passes on tracestate %q, want %q", got, ts)
		}
		n.End()
	}
	run.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs := sink.Runs()
	if len(runs) != 1 {
		t.Fatalf("%d runs exported", len(runs))
	}
	got := runs[0].TraceState
	if spans := 1 + len(runs[0].Nodes); len(got)*spans > budget {
		t.Errorf("trace_state of %d bytes on %d spans: %d bytes past RunBytes %d", len(got), spans, len(got)*spans, budget)
	}
	if _, err := w3c.ParseTraceState(got); err != nil || got == "" || !strings.HasPrefix(ts+",", got+",") {
		t.Errorf("trace_state %q (%v), want the first whole members of %q", got, err, ts)
	}
	if e.Stats().ValuesTruncated == 0 {
		t.Error("the tracestate's cut not counted")
	}
}

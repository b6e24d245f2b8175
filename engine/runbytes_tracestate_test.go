package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/w3c"
)

// TestRunBytesTraceState: a run whose strings pass Limits.RunBytes keeps
// whole members of its tracestate, in the specification's order (those
// over 128 characters first, then from the end), not its first bytes: the
// cut to the identity floor gave the backend "rojo=rrrrrrrr", a value the
// vendor never wrote.
func TestRunBytesTraceState(t *testing.T) {
	members := []string{"ot=th:fd", "rojo=" + strings.Repeat("r", 100), "congo=" + strings.Repeat("c", 30), "vendor=" + strings.Repeat("v", 150)}
	ts := strings.Join(members, ",")
	for _, rb := range []int{200, 400, 1000} {
		sink := &MemorySink{}
		e, err := New(WithSink(sink), WithLimits(Limits{RunBytes: rb}))
		if err != nil {
			t.Fatal(err)
		}
		run := e.StartRun(RunInfo{FlowID: "f", Parent: SpanContext{TraceID: [16]byte{1}, SpanID: [8]byte{1}, TraceState: ts, Sampled: true}})
		for range 5 {
			run.StartNode("node-"+strings.Repeat("n", 100), "t", "name").End()
		}
		run.End(0, strings.Repeat("m", 10000))
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		runs := sink.Runs()
		if len(runs) != 1 {
			t.Fatalf("RunBytes %d: %d runs exported", rb, len(runs))
		}
		got := runs[0].TraceState
		t.Logf("RunBytes %d: trace_state %q", rb, got)
		if _, err := w3c.ParseTraceState(got); err != nil || len(got) >= len(ts) {
			t.Fatalf("RunBytes %d: trace_state %q (%v), want a cut of %q", rb, got, err, ts)
		}
		for _, m := range strings.Split(got, ",") {
			if m != "" && !strings.Contains(","+ts+",", ","+m+",") {
				t.Errorf("RunBytes %d: trace_state %q holds %q, which the caller did not send", rb, got, m)
			}
		}
	}
}

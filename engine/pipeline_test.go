package engine

import (
	"slices"
	"testing"
)

// TestPipelineNodeOrder checks that a run lists its nodes in the order
// they ended, those its end closed last, whether they ended in the order
// they started (the pipeline's fast path, which does not sort) or not.
func TestPipelineNodeOrder(t *testing.T) {
	e, sink := newTestEngine(t)
	inOrder := e.StartRun(RunInfo{FlowID: "in-order"})
	for _, id := range []string{"a:1", "b:1", "c:1"} {
		inOrder.StartNode(id, "a", "A").End()
	}
	inOrder.End(0, "")
	crossed := e.StartRun(RunInfo{FlowID: "crossed"})
	a := crossed.StartNode("a:1", "a", "A")
	b := crossed.StartNode("b:1", "b", "B")
	crossed.StartNode("open:1", "c", "C") // closed by the run's end
	c := crossed.StartNode("c:1", "c", "C")
	c.End()
	b.End()
	a.End()
	crossed.End(0, "")
	flush(t, e)
	want := map[string][]string{"in-order": {"a:1", "b:1", "c:1"}, "crossed": {"c:1", "b:1", "a:1", "open:1"}}
	runs := sink.Runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	for _, r := range runs {
		var got []string
		for _, n := range r.Nodes {
			got = append(got, n.NodeID)
		}
		if !slices.Equal(got, want[r.FlowID]) {
			t.Errorf("run %s: nodes %v, want %v", r.FlowID, got, want[r.FlowID])
		}
	}
}

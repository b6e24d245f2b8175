package engine

import (
	"fmt"
	"testing"
)

// TestSlotNodeIsSlotsNode checks that slotNode, which computes a node's
// encode.Node from its record's address (so that the pipeline does not
// load the record's first line), is &slot(i).Node for every node of a run
// whose nodes fill the inline chunks and go on into the directory.
func TestSlotNodeIsSlotsNode(t *testing.T) {
	const nodes = nodeKeepChunks*nodeChunkSize + 2*nodeChunkSize + 5
	e, _ := newTestEngine(t, WithLimits(Limits{NodesPerRun: 2 * nodes}))
	run := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
	r := run.r
	if r == nil {
		t.Fatal("run refused")
	}
	for i := range nodes {
		n := run.StartNode(fmt.Sprint("n", i), "t", "N")
		if i%3 != 0 {
			n.End()
		}
	}
	for i := range nodes {
		s := r.slot(i)
		if s == nil {
			t.Fatalf("node %d: no record", i)
		}
		if got, want := r.slotNode(i), &s.Node; got != want {
			t.Fatalf("node %d: slotNode %p, &slot(i).Node %p", i, got, want)
		}
	}
	run.End(0, "")
	flush(t, e)
}

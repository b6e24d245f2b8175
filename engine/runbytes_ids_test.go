package engine

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunBytesHoldsWithLongIDs: a run whose nodes have long ids, names,
// attribute keys and next ids (the keys of a document's fields, say)
// holds at most Limits.RunBytes, its common strings counted once per
// span, every span there with a prefix of its identity (the status
// message the engine gives a node the run's end closed is its own, not
// counted). Each identity
// string kept idFloor (128) bytes past the budget: this run held 5.3
// times a RunBytes of 64 KiB (and 299,165 bytes with a RunBytes of 1),
// and with the default limits (1,024 nodes of 128 attributes with long
// keys) a run of 16 MiB RunBytes could hold 33 MiB.
func TestRunBytesHoldsWithLongIDs(t *testing.T) {
	for _, budget := range []int{1, 300, 64 << 10, 1 << 20} {
		sink := &MemorySink{}
		e, err := New(WithSink(sink), WithBatch(1, time.Millisecond), WithLimits(Limits{RunBytes: budget, Attrs: 64}))
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("é", 1000)
		r := e.StartRun(RunInfo{FlowID: "f" + long, SID: "s" + long, AppID: "a" + long})
		const nodes = 64
		for i := range nodes {
			n := r.StartNode("n:"+long, "t"+long, "name"+long)
			for k := range 60 {
				n.SetAttributes(String(string(rune('a'+k%26))+strings.Repeat("k", 2000+k), "v"))
			}
			n.Next("next:"+long, "next2:"+long)
			n.InfoEvent(String("ev"+long, "x"))
			if i%2 == 0 {
				n.End()
			} // the others the run's end closes open: identity only
		}
		r.End(0, "")
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		runs := sink.Runs()
		if len(runs) != 1 || len(runs[0].Nodes) != nodes {
			t.Fatalf("RunBytes %d: %d runs, stats %+v", budget, len(runs), e.Stats())
		}
		run := &runs[0]
		got, _ := runBytes(run)
		got += len(run.Nodes) * commonBytes(run) // written on every span
		got += len(run.FlowID)                   // written twice, as each node's id, type and name
		for _, n := range run.Nodes {
			got += len(n.NodeID) + len(n.NodeType) + len(n.NodeName)
			if n.Incomplete {
				got -= len(n.StatusMessage) // the engine's own words, as the encoding's fixed fields
			}
		}
		if got > budget {
			t.Errorf("RunBytes %d: the run holds %d bytes (%.1fx)", budget, got, float64(got)/float64(budget))
		}
		if e.Stats().ValuesTruncated == 0 {
			t.Errorf("RunBytes %d: no cut counted", budget)
		}
		for _, n := range run.Nodes {
			if !strings.HasPrefix("n:"+long, n.NodeID) || !strings.HasPrefix("name"+long, n.NodeName) {
				t.Fatalf("RunBytes %d: node identity not a prefix: %q %q", budget, n.NodeID, n.NodeName)
			}
		}
		if budget >= 64<<10 && !strings.HasPrefix(run.Nodes[0].NodeID, "n:") {
			t.Errorf("RunBytes %d: node id cut to %q", budget, run.Nodes[0].NodeID)
		}
	}
}

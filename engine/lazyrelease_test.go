package engine

import (
	"context"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// TestPlainReleaseLeavesNothing: a plain node's record is released
// without a reset (reopen resets it on reuse), yet no record keeps an
// earlier node's attributes or ids: the next node's End clears the pool
// past what it wrote over, and the release of a run with fewer nodes
// resets the records its run did not reuse.
func TestPlainReleaseLeavesNothing(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	flush := func() {
		t.Helper()
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	run := e.StartRun(RunInfo{FlowID: "f"})
	rec := run.r
	for range 4 {
		n := run.StartNode("a:1", "a", "A")
		n.Input(attrs8[:4]...)
		n.Output(attrs8[4:6]...)
		n.Config(attrs8[6:]...)
		n.End()
	}
	run.End(0, "")
	flush()
	if rec.lazy != 4 {
		t.Fatalf("lazy = %d after a run of 4 plain nodes", rec.lazy)
	}
	run = e.StartRun(RunInfo{FlowID: "f"})
	if run.r != rec {
		t.Fatal("the run record was not reused")
	}
	n := run.StartNode("b:1", "b", "B")
	n.Input(String("k", "v"), Int64("i", 1))
	rn := n.n
	if rn.leftover != 8 || rn.pooled != 2 {
		t.Fatalf("reopened: leftover %d pooled %d, want 8 and 2", rn.leftover, rn.pooled)
	}
	if len(rn.Output) != 0 || len(rn.Config) != 0 || rn.EndUnixNano != 0 || rn.big != 0 {
		t.Fatalf("reopened record keeps its last node: %+v", rn.Node)
	}
	n.End()
	for i, a := range rn.pool[2:] {
		if a != (encode.Attr{}) {
			t.Fatalf("after End, pool[%d] = %v: the node before's", 2+i, a)
		}
	}
	run.End(0, "")
	flush()
	for i := 1; i < 4; i++ {
		m := rec.slot(i)
		if m.pooled != 0 || m.leftover != 0 || m.pool[0] != (encode.Attr{}) || m.NodeID != "" || m.Input != nil {
			t.Errorf("node record %d, not reused, keeps its node: pooled %d, %+v", i, m.pooled, m.Node)
		}
	}
	if rec.lazy != 1 {
		t.Errorf("lazy = %d after a run of 1 node", rec.lazy)
	}
}

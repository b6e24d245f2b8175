package engine

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestStaleHandleWhileReleased calls a node handle its owner ended while
// the export stage releases the node's record, which the package doc
// promises is safe ("Handles stay safe after End"): the release must not
// read the record's state word with a plain load while the stale call's
// claim compares-and-swaps it, which the race detector reports (an
// earlier read-ahead pass did, against Node.SetSpanKind's claim).
func TestStaleHandleWhileReleased(t *testing.T) {
	e, err := New(WithSink(&MemorySink{}), WithBatch(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stale := make(chan Node)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := range stale {
			for i := 0; i < 2000; i++ {
				n.SetSpanKind(SpanKindClient) // a no-op counted in StaleCalls
				n.Info("late")
			}
		}
	}()
	for round := 0; round < 50; round++ {
		run := e.StartRun(RunInfo{})
		n := run.StartNode("a:1", "a", "a")
		n.End()
		run.End(0, "")
		stale <- n
		for i := 0; i < 20; i++ { // reuse the record while the stale calls go on
			r := e.StartRun(RunInfo{})
			r.StartNode("b:1", "b", "b").End()
			r.End(0, "")
		}
	}
	close(stale)
	wg.Wait()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.StaleCalls == 0 {
		t.Fatalf("no stale call counted: %+v", s)
	}
}

package engine

import (
	"context"
	"testing"
	"time"
)

// TestNilContext gives ForceFlush and Shutdown a nil context, as a caller
// that forgot one does: they work as with context.Background(). Shutdown
// panicked inside its once, so the pipeline never stopped (its goroutines
// leaked, goleak's TestMain saw them) and a second Shutdown with a real
// context waited for it until its deadline, the runs never delivered.
func TestNilContext(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var nilCtx context.Context
	r := e.StartRun(RunInfo{})
	r.StartNode("a:1", "a", "a").End()
	r.End(0, "")
	if err := e.ForceFlush(nilCtx); err != nil {
		t.Fatalf("ForceFlush(nil): %v", err)
	}
	open := e.StartRun(RunInfo{})
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("Shutdown(nil) panicked: %v", p)
			}
		}()
		if err := e.Shutdown(nilCtx); err != nil {
			t.Errorf("Shutdown(nil): %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after Shutdown(nil): %v", err)
	}
	open.End(0, "")
	s := e.Stats()
	checkIdentity(t, s)
	if s.InFlight != 0 || len(sink.Runs()) != 2 {
		t.Errorf("after shutdown: %d runs delivered, stats %+v", len(sink.Runs()), s)
	}
}

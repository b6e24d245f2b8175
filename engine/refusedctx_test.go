package engine

import (
	"context"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestRefusedNodeSpanContext: a node refused inside an accepted run, past
// Limits.NodesPerRun or at the memory limit, hands on its parent's span
// context (the run's span; the parent node's below StartChild), so that
// the calls it makes stay in the run's trace. It returned the zero
// SpanContext, and propagation.InjectHTTP removed the traceparent.
func TestRefusedNodeSpanContext(t *testing.T) {
	parent := SpanContext{TraceID: encode.TraceID{1, 2, 3}, SpanID: encode.SpanID{4, 5, 6}, TraceState: "a=1,b@c=2", Sampled: true}
	want := func(t *testing.T, run Run, id encode.SpanID, n Node) {
		t.Helper()
		sc := run.SpanContext()
		sc.SpanID = id
		if n.IsRecording() {
			t.Fatal("the node was not refused")
		}
		if got := n.SpanContext(); got != sc || !got.IsValid() {
			t.Fatalf("refused node's SpanContext %+v, want %+v", got, sc)
		}
	}

	t.Run("NodesPerRun", func(t *testing.T) {
		e, err := New(WithLimits(Limits{NodesPerRun: 2}))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Shutdown(context.Background())
		run := e.StartRun(RunInfo{Parent: parent})
		first := run.StartNode("a:1", "a", "A")
		_ = run.StartNode("a:2", "a", "A")
		refused := run.StartNode("a:3", "a", "A")
		want(t, run, run.SpanContext().SpanID, refused)
		child := first.StartChild("llm:1", "llm", "LLM")
		want(t, run, first.SpanContext().SpanID, child)
		want(t, run, first.SpanContext().SpanID, child.StartChild("tool:1", "tool", "T")) // below a refused node
		// Thousands refused in the run keep one slot of the ring: the first
		// refused node's context stays.
		for range 4 * refusedSlots {
			run.StartNode("a:4", "a", "A")
		}
		want(t, run, run.SpanContext().SpanID, refused)
		if s := e.Stats().Drops(DropNodeLimit); s != 4*refusedSlots+3 {
			t.Errorf("%d refused nodes counted", s)
		}
		testkit.WantAllocs(t, 0, func() {
			if !run.StartNode("a:5", "a", "A").SpanContext().IsValid() {
				t.Fatal("zero SpanContext")
			}
		})
		runSC := run.SpanContext()
		run.End(0, "")
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Its handle keeps the context after the run ended, as a
		// non-recording span keeps its own.
		if got := refused.SpanContext(); got != runSC {
			t.Fatalf("after the run ended: %+v, want %+v", got, runSC)
		}
	})

	t.Run("MemoryLimit", func(t *testing.T) {
		e, err := New(WithMemoryLimit(8<<20), WithShards(1), WithRingCapacity(64), WithLimits(Limits{NodesPerRun: 1 << 16}))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Shutdown(context.Background())
		run := e.StartRun(RunInfo{})
		var refused Node
		for range 1 << 16 {
			if n := run.StartNode("a:1", "a", "A"); !n.IsRecording() {
				refused = n
				break
			}
		}
		if e.Stats().Drops(DropMemoryLimit) == 0 {
			t.Fatal("no node refused at the memory limit")
		}
		want(t, run, run.SpanContext().SpanID, refused)
		run.End(0, "")
	})
}

// TestRefusedNodeRacesEnd refuses nodes on parallel branches while the
// run ends and its record is reused by the next run: a refused node's
// SpanContext is its run's span context or zero, never the next run's
// ids or a mix (run with -race).
func TestRefusedNodeRacesEnd(t *testing.T) {
	e, err := New(WithLimits(Limits{NodesPerRun: 1, RunsInFlight: 2}), WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for range 200 {
		run := e.StartRun(RunInfo{})
		want := run.SpanContext()
		run.StartNode("a:1", "a", "A")
		done := make(chan struct{})
		for range 2 {
			go func() {
				defer func() { done <- struct{}{} }()
				for range 50 {
					sc := run.StartNode("a:2", "a", "A").SpanContext()
					if sc != want && sc != (SpanContext{}) {
						t.Errorf("refused node's SpanContext %+v, want %+v or zero", sc, want)
						return
					}
				}
			}()
		}
		run.End(0, "")
		e.StartRun(RunInfo{}).End(0, "") // may reuse the record
		<-done
		<-done
	}
}

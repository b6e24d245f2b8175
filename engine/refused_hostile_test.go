package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/enginehook"
)

// TestChildOfRefusedNodeCounted: every node the caller starts is a span
// exported or dropped and counted. A node started in a refused run is
// counted as dropped for the run's reason, and one past
// Limits.NodesPerRun as a node_limit drop, but the calls the caller makes
// below such a node (StartChild: an LLM node's tool call, a nested flow's
// nodes) returned a no-op handle counted nowhere: 3 spans asked for and
// lost silently here.
func TestChildOfRefusedNodeCounted(t *testing.T) {
	e, err := New(WithSink(&MemorySink{}), WithBatch(1, time.Millisecond), WithLimits(Limits{NodesPerRun: 1}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(RunInfo{})
	run.StartNode("a:1", "a", "a").End()
	refused := run.StartNode("b:1", "b", "b") // past NodesPerRun: dropped and counted
	for i := 0; i < 3; i++ {
		refused.StartChild("tool:1", "tool", "call").End()
	}
	run.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Accepted != 2+1+3 || s.Drops(DropNodeLimit) != 1+3 {
		t.Fatalf("accepted %d (want the run, its node, the refused node and its 3 children: 6), node_limit drops %d (want 4)", s.Accepted, s.Drops(DropNodeLimit))
	}
}

// TestNilOption: a nil Option, as conditional options leave one
// (var opt Option; if x { opt = WithStackTraces(true) }), is ignored by
// New and by what otlp reads of the options. It panicked.
func TestNilOption(t *testing.T) {
	var none Option
	e, err := New(none, WithSink(&MemorySink{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(RunInfo{}).End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Exported != 1 {
		t.Fatalf("stats %+v", s)
	}
	h := enginehook.Get[Engine, Option, Run, Node]()
	_, _, _ = h.Resource([]Option{nil}), h.MemoryLimit([]Option{nil}), h.Sink([]Option{nil})
}

// TestTypedNilSink: a nil pointer given as the sink, as a conditional
// assignment leaves one (var s *MySink; if on { s = newSink() };
// WithSink(s)), is refused by New and Tee. The engine took it, and its
// first Export panicked on the export stage's goroutine, ending the process.
func TestTypedNilSink(t *testing.T) {
	var ms *MemorySink
	var tee *TeeSink
	for name, opt := range map[string]Option{
		"WithSink(*MemorySink)":            WithSink(ms),
		"WithSink(*TeeSink)":               WithSink(tee), // a MemoryUser: New read its MemoryBytes
		"WithMetricsExporter(*nilMetrics)": WithMetricsExporter((*nilMetrics)(nil)),
	} {
		if _, err := New(opt); !errors.Is(err, ErrNilSink) {
			t.Errorf("%s: %v, want ErrNilSink", name, err)
		}
	}
	if _, err := Tee(&MemorySink{}, ms); !errors.Is(err, ErrNilSink) {
		t.Errorf("Tee with a nil *MemorySink: %v", err)
	}
	if _, err := Tee(ms); !errors.Is(err, ErrNilSink) {
		t.Errorf("Tee of a nil *MemorySink: %v", err)
	}
}

type nilMetrics struct{ MetricsExporter }

// TestDropsUnknownReason: Stats.Drops of a reason this version does not
// have is 0, as its String is "unknown". It panicked with an index out
// of range (a dashboard looping over reasons up to a newer version's).
func TestDropsUnknownReason(t *testing.T) {
	s := Stats{DroppedBy: [numDropReasons]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}}
	for r := DropReason(0); r < 255; r++ {
		if got := s.Drops(r); r < numDropReasons && got != uint64(r)+1 || r >= numDropReasons && got != 0 {
			t.Fatalf("Drops(%d) = %d", r, got)
		}
	}
}

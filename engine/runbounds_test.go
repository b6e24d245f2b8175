package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// gatedSink holds its first Export until released, then records runs as
// MemorySink does.
type gatedSink struct {
	MemorySink
	release, entered chan struct{}
	once             sync.Once
}

func (s *gatedSink) Export(runs []*encode.Run) error {
	s.once.Do(func() { close(s.entered); <-s.release })
	return s.MemorySink.Export(runs)
}

// TestNodeWithinRun checks that an exported node lies within its run: a
// node whose owner ends it after the run's End read the clock, but before
// the pipeline closes it (a parallel branch ending as the run ends), ended
// after its run in the spans and the run trace log. The pipeline is held
// behind a sink that blocks, so the node's End always comes first.
func TestNodeWithinRun(t *testing.T) {
	sink := &gatedSink{release: make(chan struct{}), entered: make(chan struct{})}
	e, err := New(WithSink(sink), WithShards(1), WithBatch(1, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	e.StartRun(RunInfo{FlowID: "first"}).End(0, "")
	<-sink.entered
	// The export stage holds the first batch; two more fill the batches
	// between the stages, so the pipeline stops before the next run.
	e.StartRun(RunInfo{FlowID: "second"}).End(0, "")
	e.StartRun(RunInfo{FlowID: "third"}).End(0, "")
	run := e.StartRun(RunInfo{FlowID: "late"})
	node := run.StartNode("n:1", "n", "N")
	run.End(0, "")
	node.End() // after the run's End, before the pipeline closes it
	close(sink.release)
	flush(t, e)
	for _, r := range sink.Runs() {
		for _, n := range r.Nodes {
			if n.StartUnixNano < r.StartUnixNano || n.EndUnixNano > r.EndUnixNano || n.EndUnixNano < n.StartUnixNano {
				t.Errorf("run %s [%d, %d]: node %s [%d, %d] (incomplete %v)", r.FlowID, r.StartUnixNano, r.EndUnixNano,
					n.NodeID, n.StartUnixNano, n.EndUnixNano, n.Incomplete)
			}
		}
	}
	if s := e.Stats(); s.StaleCalls != 0 {
		t.Errorf("the node's End counted as stale: %+v", s)
	}
}

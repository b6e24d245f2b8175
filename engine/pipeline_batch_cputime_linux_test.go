//go:build linux

package engine

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestPipelineBatchCPUTime prints, with -cputime, the pipeline's thread
// CPU time per span when the rings hold a whole batch of ended runs, as
// under load: the loadgen's synthetic workload drained 119 runs at a time
// on average, where TestPipelineCPUTime, its two goroutines side by side,
// mostly finds a run or two. The caller ends a batch's runs (the node
// cases of TestPipelineCPUTime, 512 runs open, advanced round robin)
// while the pipeline waits in the sink's Export; then the pipeline
// releases the batch before and reads, folds and batches them back to
// back. It prints the median over 80 batches of 4096 spans. On a shared
// host it moves with the other processes' work as much as the others do:
// compare alternated runs.
//
//	go test -run TestPipelineBatchCPUTime -v ./engine/ -cputime | grep ^Benchmark
func TestPipelineBatchCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	for range 6 {
		for _, c := range pipelineCases() {
			fmt.Printf("BenchmarkCPUTime/PipelineBatch/%s\t%d\t%.1f ns/op\n", c.name, 4096, pipelineBatchCPUTime(t, c.f))
		}
	}
}

// gateSink is a sink whose Export, from the second, keeps the pipeline's
// thread CPU time per span since the last returned, then waits until the
// caller has ended the next batch's runs (ready) or closed ready.
type gateSink struct {
	locked  bool
	last    int64
	per     []float64
	ready   chan struct{}
	waiting chan struct{}
}

func (s *gateSink) Export(runs []*encode.Run) error {
	if !s.locked {
		runtime.LockOSThread() // the engine's goroutine: it ends with the engine
		s.locked = true
	} else {
		t, spans := testkit.ThreadCPU(), 0
		for _, r := range runs {
			spans += 1 + len(r.Nodes)
		}
		s.per = append(s.per, float64(t-s.last)/float64(spans))
	}
	select {
	case s.waiting <- struct{}{}:
		<-s.ready
	case <-s.ready: // closed: the engine shuts down
	}
	s.last = testkit.ThreadCPU()
	return nil
}

func (s *gateSink) ForceFlush(context.Context) error { return nil }
func (s *gateSink) Shutdown(context.Context) error   { return nil }

// pipelineBatchCPUTime returns the median thread CPU time per span of the
// pipeline on node case f as described above.
func pipelineBatchCPUTime(t *testing.T, f func(e *Engine, run Run)) float64 {
	sink := &gateSink{ready: make(chan struct{}), waiting: make(chan struct{})}
	// A run is 1+nodesPerRun spans: a batch is perBatch runs, which a
	// shard of the rings holds.
	const warm, batches, spans = 4, 80, 4096
	const perBatch = (spans + nodesPerRun) / (1 + nodesPerRun)
	e, err := New(WithSink(sink), WithBatch(spans, time.Hour), WithOverflow(Block, time.Minute), WithRingCapacity(1024))
	if err != nil {
		t.Fatal(err)
	}
	rr := newRoundRobin(e, f)
	batch := func() {
		for ended := 0; ended < perBatch; {
			if rr.step() {
				ended++
			}
		}
	}
	batch() // the first batch, which the sink holds
	<-sink.waiting
	for range warm + batches { // records allocated and reused, then measured
		batch()
		sink.ready <- struct{}{}
		<-sink.waiting
	}
	close(sink.ready)
	rr.end()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Dropped != 0 {
		t.Fatalf("%d spans dropped", s.Dropped)
	}
	// Export's last appends happened before Shutdown returned.
	if len(sink.per) < warm+batches {
		t.Fatalf("%d batches exported, want %d", len(sink.per), warm+batches)
	}
	per := sink.per[warm:]
	slices.Sort(per)
	return per[len(per)/2]
}

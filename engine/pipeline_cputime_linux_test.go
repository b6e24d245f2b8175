package engine

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestPipelineCPUTime prints, with -cputime, the thread CPU time per span
// of the pipeline's goroutine and of the caller's, in the shape of
// BenchmarkCaptureInterleaved (512 runs of 8 nodes open, advanced round
// robin, so that records are reused cold, written on the other core): the
// least over batches of 4096 spans of the pipeline's thread CPU between
// two of the sink's Exports (the runs of one batch read, folded and
// batched, the batch before released), and the least over the same
// spans of the caller's. Thread CPU is what the work costs, less what the
// busy host's other processes add to wall and process time:
//
//	go test -run TestPipelineCPUTime -v ./engine/ -cputime | grep ^Benchmark
func TestPipelineCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	for range 6 {
		for _, c := range pipelineCases() {
			pipe, caller := pipelineCPUTime(t, c.f)
			fmt.Printf("BenchmarkCPUTime/Pipeline/%s/pipeline\t%d\t%.1f ns/op\n", c.name, 4096, pipe)
			fmt.Printf("BenchmarkCPUTime/Pipeline/%s/caller\t%d\t%.1f ns/op\n", c.name, 4096, caller)
		}
	}
}

// pipelineCases are the node cases of the pipeline's CPU time tests:
// node/attrs0, node/attrs8, node/next, node/llm.
func pipelineCases() []struct {
	name string
	f    func(e *Engine, run Run)
} {
	return append(captureCases[:3:3], pipelineLLMCase, pipelineTypesCase)
}

// pipelineTypes are the loadgen's synthetic workload's node types: its
// runs have 9, where the other cases have one.
var pipelineTypes = [...]string{"start", "llm", "tool-call", "code", "knowledge", "decision", "message", "iteration", "node-end"}

// pipelineTypesCase is a plain node of the next of pipelineTypes at each
// call, so that a run's nodes are of several types, as the loadgen's:
// what the metrics' fold of the node families costs per node.
var pipelineTypesCase = struct {
	name string
	f    func(e *Engine, run Run)
}{"node/types9", func(e *Engine, run Run) {
	pipelineTypeNext = (pipelineTypeNext + 1) % len(pipelineTypes)
	run.StartNode("n:1", pipelineTypes[pipelineTypeNext], "N").End()
}}

// pipelineTypeNext is the index in pipelineTypes of pipelineTypesCase's
// last node: the cases are called by one goroutine at a time.
var pipelineTypeNext int

// pipelineLLMCase is a node as the loadgen's synthetic workload records
// an LLM node: attrs8's calls, the GenAI attributes, usage, the model's
// output, a log entry and the next node's id: not plain, folded into the
// GenAI families.
var pipelineLLMCase = struct {
	name string
	f    func(e *Engine, run Run)
}{"node/llm", func(e *Engine, run Run) {
	n := run.StartNode("llm:1", "llm", "LLM")
	n.Input(attrs8[0], attrs8[1], attrs8[2], attrs8[3])
	n.Config(attrs8[6], attrs8[7])
	n.SetAttributes(String("gen_ai.operation.name", "chat"), String("gen_ai.provider.name", "p"),
		String("gen_ai.request.model", "m"), String("gen_ai.response.model", "m-1"))
	n.Usage(encode.Usage{PromptTokens: 300, CompletionTokens: 100, TotalTokens: 400})
	n.LLMOutput("the model's answer")
	n.Output(attrs8[4], attrs8[5])
	n.Info("message sent to the user")
	n.Next("tool:2")
	n.End()
}}

// threadSink is a sink that locks the pipeline's goroutine to its thread
// at its first Export and keeps, from the second, the least thread CPU
// time per span between two Exports.
type threadSink struct {
	mu      sync.Mutex
	locked  bool
	last    int64
	least   float64
	batches int
}

func (s *threadSink) Export(runs []*encode.Run) error {
	if !s.locked {
		runtime.LockOSThread() // the engine's goroutine: it ends with the engine
		s.locked = true
		s.last = testkit.ThreadCPU()
		return nil
	}
	t := testkit.ThreadCPU()
	spans := 0
	for _, r := range runs {
		spans += 1 + len(r.Nodes)
	}
	s.mu.Lock()
	if s.batches++; s.batches > 2 { // the first read records not warm yet
		s.least = min(s.least, float64(t-s.last)/float64(spans))
	}
	s.mu.Unlock()
	s.last = testkit.ThreadCPU()
	return nil
}

func (s *threadSink) ForceFlush(context.Context) error { return nil }
func (s *threadSink) Shutdown(context.Context) error   { return nil }

// pipelineCPUTime returns the least thread CPU time per span of the
// pipeline and of the caller running node case f as described above.
func pipelineCPUTime(t *testing.T, f func(e *Engine, run Run)) (pipe, caller float64) {
	sink := &threadSink{least: 1e18}
	e, err := New(WithSink(sink), WithBatch(4096, time.Hour), WithOverflow(Block, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	const batches = 60
	rr := newRoundRobin(e, f)
	step := func() int { // one node, and its run's end: spans offered
		if rr.step() {
			return 2
		}
		return 1
	}
	for range 4 * openRuns * nodesPerRun { // every record allocated and reused once
		step()
	}
	caller = 1e18
	for range batches {
		t0, spans := testkit.ThreadCPU(), 0
		for spans < 4096 {
			spans += step()
		}
		caller = min(caller, float64(testkit.ThreadCPU()-t0)/float64(spans))
	}
	rr.end()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Dropped != 0 {
		t.Fatalf("%d spans dropped", s.Dropped)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.batches < 10 {
		t.Fatalf("%d batches exported", sink.batches)
	}
	return sink.least, caller
}

// The runs of the pipeline's CPU time tests: openRuns open, of
// nodesPerRun nodes each, advanced round robin.
const openRuns, nodesPerRun = 512, 8

// roundRobin advances openRuns runs one node at a time, in turn, so that
// records are reused cold, written on the other core.
type roundRobin struct {
	e     *Engine
	f     func(e *Engine, run Run)
	runs  [openRuns]Run
	nodes [openRuns]int
	k     int
}

func newRoundRobin(e *Engine, f func(e *Engine, run Run)) *roundRobin {
	rr := &roundRobin{e: e, f: f}
	for i := range rr.runs {
		rr.runs[i] = e.StartRun(RunInfo{FlowID: "flow"})
	}
	return rr
}

// step records one node and reports whether its run ended (every
// nodesPerRun), a new run taking its place.
func (rr *roundRobin) step() bool {
	k := rr.k
	rr.f(rr.e, rr.runs[k])
	ended := false
	if rr.nodes[k]++; rr.nodes[k] == nodesPerRun {
		rr.runs[k].End(0, "")
		rr.runs[k], rr.nodes[k] = rr.e.StartRun(RunInfo{FlowID: "flow"}), 0
		ended = true
	}
	if rr.k++; rr.k == openRuns {
		rr.k = 0
	}
	return ended
}

// end ends the runs open.
func (rr *roundRobin) end() {
	for i := range rr.runs {
		rr.runs[i].End(0, "")
	}
}

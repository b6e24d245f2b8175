package main

import (
	"context"
	"io"
	"math"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestFlowtelDriverCalls runs a plan of LLM nodes through the flowtel
// driver: every LLM node offers the engine two spans (its own and its
// tool call's), the workload counts exactly what the engine accepted, and
// a run with its GenAI attributes, tool calls and streamed first chunks
// allocates nothing.
func TestFlowtelDriverCalls(t *testing.T) {
	c, e := driverEngine(t)
	pl := &planner{rng: newRand(), types: []string{"llm"}, cum: []int{1}, nodes: 4}
	w := &worker{rng: newRand(), ctr: &counters{}, plans: []plan{pl.build(shapeChain)}, firstFrame: true}
	drv := newFlowtelDriver(e, newWorkload(c))
	var s slot
	run := func() { steps(w, drv, &s); w.finish(drv, &s); w.flush() }
	run()
	// The run's span; start, 2 LLM nodes with a tool call each, end.
	if got := w.ctr.produced.Load(); got != 1+4+2 {
		t.Fatalf("produced %d spans, want 7", got)
	}
	wantWarmRuns(t, e, w, drv)
}

// TestSyntheticV1 runs the default plans of -workload synthetic-v1 through
// the flowtel driver: a run offers the engine its own span and one per
// node (no tool calls: 9 spans for the default 8 nodes, where synthetic
// offers 11), the engine accepts exactly that, and a run allocates
// nothing.
func TestSyntheticV1(t *testing.T) {
	c, e := driverEngine(t, "-workload=synthetic-v1")
	plans, wl, err := buildWorkload(c)
	if err != nil {
		t.Fatal(err)
	}
	drv := newFlowtelDriver(e, wl)
	w := &worker{rng: newRand(), ctr: &counters{}, plans: plans, firstFrame: true, v1: drv}
	var s slot
	run := func() { steps(w, drv, &s); w.finish(drv, &s); w.flush() }
	for _, p := range plans {
		before := w.ctr.produced.Load()
		run()
		if got := w.ctr.produced.Load() - before; got != uint64(1+p.nodes) || got != 9 {
			t.Fatalf("plan %s of %d nodes: a run offered %d spans, want %d (and 9 for the default flags)", p.name, p.nodes, got, 1+p.nodes)
		}
	}
	wantWarmRuns(t, e, w, drv)
}

// driverEngine parses args as the command line does and starts an engine
// with the default settings, shut down when the test ends.
func driverEngine(t *testing.T, args ...string) (*config, *engine.Engine) {
	t.Helper()
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return c, e
}

// steps begins a run in s and runs every step of its plan.
func steps(w *worker, drv *flowtelDriver, s *slot) {
	w.begin(drv, s)
	for _, st := range s.plan.steps {
		w.runStep(drv, s, st)
	}
}

// wantWarmRuns checks that a whole run allocates nothing once the engine
// has records to reuse, and that the engine accepted exactly the spans the
// workload counted. Records are allocated on first use and reused after
// the pipeline gives them back: as many runs are held in flight at once as
// the measure runs, so it finds records to reuse however far the pipeline
// lags.
func wantWarmRuns(t *testing.T, e *engine.Engine, w *worker, drv *flowtelDriver) {
	t.Helper()
	held := make([]slot, testkit.AllocRuns+1)
	for i := range held {
		steps(w, drv, &held[i])
	}
	for i := range held {
		w.finish(drv, &held[i])
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var s slot
	testkit.WantAllocs(t, 0, func() { steps(w, drv, &s); w.finish(drv, &s) })
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	w.flush()
	if got := w.ctr.produced.Load(); st.Accepted != got || st.StaleCalls != 0 {
		t.Errorf("engine accepted %d spans (stale calls %d), the workload counted %d", st.Accepted, st.StaleCalls, got)
	}
}

// TestFailsRate: fails fails nodes at the error rate, each independently
// (the gaps between failures geometric: as many runs of no failure of
// each length as a draw per node gives, within their spread), never at
// rate 0 and always at rate 1.
func TestFailsRate(t *testing.T) {
	for _, p := range []float64{0, 0.01, 0.3, 1} {
		w := &worker{rng: newRand(), errRate: p}
		const n = 400_000
		failed, gap1 := 0, 0 // gap1: failures right after a failure
		last := false
		for range n {
			f := w.fails()
			if f {
				failed++
				if last {
					gap1++
				}
			}
			last = f
		}
		got := float64(failed) / n
		if sd := math.Sqrt(p * (1 - p) / n); math.Abs(got-p) > 5*sd+1e-12 {
			t.Errorf("rate %v: %v of nodes failed", p, got)
		}
		if failed > 100 && p < 1 {
			// P(fail | the node before failed) = p when independent.
			if c := float64(gap1) / float64(failed); math.Abs(c-p) > 5*math.Sqrt(p*(1-p)/float64(failed)) {
				t.Errorf("rate %v: %v of failures follow a failure", p, c)
			}
		}
	}
	if g := failGap(0.5, 0); g != 0 {
		t.Errorf("failGap(0.5, 0) = %d", g)
	}
	if g := failGap(1e-300, 1-1e-16); g != 1<<40 {
		t.Errorf("failGap(1e-300, ~1) = %d, want the cap", g)
	}
}

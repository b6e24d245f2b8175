package main

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
)

// slot is one run in flight on a worker. A worker keeps several slots and
// advances them, so that runs in flight are really open at once without a
// goroutine each.
type slot struct {
	plan   *plan
	step   int
	active bool
	failed bool
	// live is false when the tracer refused the run (its nodes are then
	// counted as dropped by the engine).
	live bool

	// The timed workload: nodes of the current step not yet ended, which
	// have ended, and the sampled capture cost of each (-1: not sampled).
	pending int
	at      int64 // when the current step started, ns after the worker's base
	ended   []bool
	cost    []int64

	// flowtel; calls[i] is node i's tool call, called[i] whether the
	// engine was offered one (it may have dropped it at a limit)
	run    engine.Run
	nodes  []engine.Node
	calls  []engine.Node
	called []bool
	// otelsdk
	ctx       context.Context
	span      trace.Span
	spans     []trace.Span
	callSpans []trace.Span
}

// driver records the workload's runs and nodes through one tracer. Node i
// is the i-th node of the run's current step. An LLM node calls a tool
// below itself (a child span) when it starts, which returns before the
// model streams its first chunk: firstChunk ends the call (endNode when no
// first chunk is recorded) and gets how long the model took to send it.
// endNode returns the spans node i offered the tracer: its own, and its
// tool call's when it made one.
type driver interface {
	startRun(s *slot)
	startNode(s *slot, spec *nodeSpec, i int)
	firstChunk(s *slot, i int, cost time.Duration)
	endNode(w *worker, s *slot, spec *nodeSpec, i int) int
	endRun(s *slot)
}

// v1Driver is a driver that can also record -workload synthetic-v1: a
// whole step as dc34226 recorded it, returning the spans offered.
type v1Driver interface {
	stepV1(w *worker, s *slot, st step) int
}

// counters are a worker's live totals, read by the progress line. The
// worker counts in its own tally and adds it to them once a round of its
// slots (flush): an atomic add per step, whose lock waits for the stores
// before it to drain (the node records' lines, out of the caches), took
// 14 ns of each span in the loadgen's profile (synthetic-v1, -rate 0).
type counters struct {
	produced atomic.Uint64 // spans offered and counted by the tracer
	refused  atomic.Uint64 // node spans of refused runs (also in produced)
	started  atomic.Uint64 // runs started
	runs     atomic.Uint64 // runs ended
	nodes    atomic.Uint64 // node spans offered
	_        [24]byte
}

// tally is what a worker counted since its last flush.
type tally struct{ produced, refused, started, runs, nodes uint64 }

// flush adds the worker's tally to its counters.
func (w *worker) flush() {
	p := &w.pend
	for _, c := range [...]struct {
		n   uint64
		ctr *atomic.Uint64
	}{{p.produced, &w.ctr.produced}, {p.refused, &w.ctr.refused}, {p.started, &w.ctr.started}, {p.runs, &w.ctr.runs}, {p.nodes, &w.ctr.nodes}} {
		if c.n != 0 {
			c.ctr.Add(c.n)
		}
	}
	*p = tally{}
}

// worker drives slots. Its histogram is its own: HDR histograms are not
// safe for concurrent use, so they are merged after the run.
type worker struct {
	id      int
	rng     *rand.Rand
	hist    *hdrhistogram.Histogram
	every   int // sample one step in every
	tick    int
	base    time.Time
	ctr     *counters
	pend    tally // counted, not yet in ctr (flush)
	runSeq  uint64
	plans   []plan
	errRate float64
	toFail  int64 // nodes up to and including the next failure; 0: not drawn (fails)
	// firstFrame makes LLM nodes record their first streamed frame.
	firstFrame bool
	// scale multiplies the timed workload's node durations.
	scale float64
	// v1 records every step through v1.stepV1 (-workload synthetic-v1);
	// nil for the other workloads.
	v1 v1Driver
}

// Latency histogram range: 1 ns to 10 s, 3 significant digits. Values are
// clamped first: an out-of-range value makes RecordValue return an error
// that allocates.
const (
	histMin = 1
	histMax = 10_000_000_000
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, 3) }

func recordClamped(h *hdrhistogram.Histogram, v int64) {
	_ = h.RecordValue(min(max(v, histMin), histMax))
}

// limiter spaces run starts evenly at a global rate, reached by a linear
// ramp over the first ramp of the load. It keeps no lock: a start claims
// the next slot in time with one atomic add.
type limiter struct {
	start    time.Time
	interval float64 // ns between runs at full rate
	ramp     float64 // ns of the ramp; 0 starts at full rate
	next     atomic.Int64
	stop     *atomic.Bool
}

// due returns when run k starts, in ns after start. During the ramp the
// rate grows linearly, so k runs have started by t = sqrt(2·ramp·k·interval);
// after it, runs follow at the full rate.
func (l *limiter) due(k int64) float64 {
	rampRuns := l.ramp / (2 * l.interval)
	if float64(k) < rampRuns {
		return math.Sqrt(2 * l.ramp * float64(k) * l.interval)
	}
	return l.ramp + (float64(k)-rampRuns)*l.interval
}

// claim takes the next start and returns when it is due, in ns after
// start; 0 without a limiter (as fast as the workers go). The first run
// starts at once; a start past the int64 range (a rate of one run in
// more than 292 years: -rate=1e-300) is math.MaxInt64, never in the load,
// where converting it wrapped to a start long past on amd64.
func (l *limiter) claim() int64 {
	if l == nil {
		return 0
	}
	k := l.next.Add(1) - 1
	if k == 0 {
		return 0 // due(0) is NaN when the interval is infinite (0·Inf)
	}
	if d := l.due(k); d < math.MaxInt64 {
		return int64(d)
	}
	return math.MaxInt64
}

// wait blocks until the caller's turn, or until stop is set.
func (l *limiter) wait() {
	if l == nil {
		return
	}
	due := l.start.Add(time.Duration(l.claim()))
	for {
		d := time.Until(due)
		if d <= 0 || l.stop.Load() {
			return
		}
		time.Sleep(min(d, 50*time.Millisecond))
	}
}

// begin starts the next plan's run in s.
func (w *worker) begin(drv driver, s *slot) {
	s.plan = &w.plans[w.runSeq%uint64(len(w.plans))]
	w.runSeq++
	s.step, s.failed, s.active = 0, false, true
	if width := s.plan.width; cap(s.nodes) < width {
		s.nodes, s.spans = make([]engine.Node, width), make([]trace.Span, width)
		s.calls, s.callSpans, s.called = make([]engine.Node, width), make([]trace.Span, width), make([]bool, width)
		s.ended, s.cost = make([]bool, width), make([]int64, width)
	}
	drv.startRun(s)
	w.pend.started++
	w.pend.produced++
}

// finish ends s's run.
func (w *worker) finish(drv driver, s *slot) {
	drv.endRun(s)
	s.active = false
	w.pend.runs++
}

// counted adds n spans of ended nodes (and their calls) of s to the
// counters.
func (w *worker) counted(s *slot, n int) {
	w.pend.produced += uint64(n)
	if s.live {
		w.pend.nodes += uint64(n)
	} else {
		// The engine counts these as dropped, for the run's reason.
		w.pend.refused += uint64(n)
	}
}

// runStep does one step of s at once: starts its nodes, records them and
// ends them (the synthetic workloads: nodes take no time).
func (w *worker) runStep(drv driver, s *slot, st step) {
	if w.v1 != nil {
		w.counted(s, w.v1.stepV1(w, s, st))
		return
	}
	for i := range st {
		drv.startNode(s, &st[i], i)
		if st[i].llm && w.firstFrame {
			drv.firstChunk(s, i, 0) // nodes take no time
		}
	}
	spans := 0
	for i := range st {
		spans += drv.endNode(w, s, &st[i], i)
	}
	w.counted(s, spans)
}

// loop runs the synthetic workload: slots advanced one step at a time,
// round robin, as fast as the worker goes, until stop is set; then it ends
// every run still open.
func (w *worker) loop(drv driver, nslots int, lim *limiter, stop *atomic.Bool) {
	slots := make([]slot, nslots)
	for i := range slots {
		if stop.Load() {
			break
		}
		lim.wait()
		w.begin(drv, &slots[i])
	}
	for !stop.Load() {
		for i := range slots {
			s := &slots[i]
			if !s.active {
				continue
			}
			if s.step < len(s.plan.steps) {
				st := s.plan.steps[s.step]
				s.step++
				if w.tick++; w.tick >= w.every {
					w.tick = 0
					t0 := time.Since(w.base)
					w.runStep(drv, s, st)
					d := time.Since(w.base) - t0
					recordClamped(w.hist, int64(d)/int64(len(st)))
				} else {
					w.runStep(drv, s, st)
				}
				continue
			}
			w.finish(drv, s)
			if stop.Load() {
				break
			}
			lim.wait()
			w.begin(drv, s)
		}
		w.flush()
	}
	for i := range slots {
		if s := &slots[i]; s.active {
			w.finish(drv, s)
		}
	}
	w.flush()
}

// fails decides whether a node fails, at the configured error rate: each
// node independently, drawn as the number of nodes up to the next failure
// (geometric), one draw per failure where a draw per node took 6 ns of
// each span in the loadgen's profile.
func (w *worker) fails() bool {
	if w.errRate <= 0 {
		return false
	}
	if w.toFail == 0 {
		w.toFail = 1 + failGap(w.errRate, w.rng.Float64())
	}
	w.toFail--
	return w.toFail == 0
}

// failGap is the number of nodes that do not fail before one that does,
// at rate p in (0, 1], for u uniform in [0, 1): the inverse of the
// geometric distribution's CDF at 1-u, in (0, 1].
func failGap(p, u float64) int64 {
	if p >= 1 {
		return 0
	}
	return int64(min(math.Floor(math.Log(1-u)/math.Log1p(-p)), 1<<40))
}

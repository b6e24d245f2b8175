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
// advances them one step at a time, round robin, so that runs in flight
// are really open at once without a goroutine each.
type slot struct {
	plan   *plan
	step   int
	active bool
	failed bool
	// live is false when the tracer refused the run (its nodes are then
	// counted as dropped by the engine).
	live bool

	// flowtel
	run   engine.Run
	nodes []engine.Node
	// otelsdk
	ctx   context.Context
	span  trace.Span
	spans []trace.Span
}

// driver turns the workload's steps into calls on one tracer.
type driver interface {
	startRun(w *worker, s *slot)
	runStep(w *worker, s *slot, st step)
	endRun(w *worker, s *slot)
}

// counters are a worker's live totals, read by the progress line.
type counters struct {
	produced atomic.Uint64 // spans offered and counted by the tracer
	refused  atomic.Uint64 // node spans of refused runs (also in produced)
	runs     atomic.Uint64 // runs ended
	nodes    atomic.Uint64 // node spans offered
	_        [32]byte
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
	runSeq  uint64
	plans   []plan
	errRate float64
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

// wait blocks until the caller's turn, or until stop is set.
func (l *limiter) wait() {
	if l == nil {
		return
	}
	k := l.next.Add(1) - 1
	due := l.start.Add(time.Duration(l.due(k)))
	for {
		d := time.Until(due)
		if d <= 0 || l.stop.Load() {
			return
		}
		time.Sleep(min(d, 50*time.Millisecond))
	}
}

// loop runs slots until stop is set, then ends every run still open.
func (w *worker) loop(drv driver, nslots int, lim *limiter, stop *atomic.Bool) {
	slots := make([]slot, nslots)
	begin := func(s *slot) {
		lim.wait()
		s.plan = &w.plans[w.runSeq%uint64(len(w.plans))]
		w.runSeq++
		s.step, s.failed, s.active = 0, false, true
		drv.startRun(w, s)
	}
	for i := range slots {
		if stop.Load() {
			break
		}
		begin(&slots[i])
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
					drv.runStep(w, s, st)
					d := time.Since(w.base) - t0
					recordClamped(w.hist, int64(d)/int64(len(st)))
				} else {
					drv.runStep(w, s, st)
				}
				continue
			}
			drv.endRun(w, s)
			s.active = false
			w.ctr.runs.Add(1)
			if stop.Load() {
				break
			}
			begin(s)
		}
	}
	for i := range slots {
		if s := &slots[i]; s.active {
			drv.endRun(w, s)
			s.active = false
			w.ctr.runs.Add(1)
		}
	}
}

// fails decides whether a node fails, at the configured error rate.
func (w *worker) fails() bool { return w.errRate > 0 && w.rng.Float64() < w.errRate }

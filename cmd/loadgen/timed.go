package main

import (
	"math"
	"sync/atomic"
	"time"
)

// The realistic workload is timed: nodes take as long as real ones (an LLM
// streams for seconds, a tool call for tens of milliseconds), so thousands
// of runs are in flight at a few thousand runs per second. A goroutine
// sleeping per node would measure the Go scheduler with hundreds of
// thousands of goroutines; instead each worker keeps the due events of its
// runs in one min-heap and sleeps until the earliest.

// Event kinds.
const (
	evStartRun   uint8 = iota // start a run in the slot
	evFirstChunk              // an LLM node's first streamed frame
	evEndNode                 // a node's work is done: record and end it
)

// event is something due at a time (ns after the worker's base) for node
// node of slot slot's current step.
type event struct {
	at   int64
	slot int32
	node uint16
	kind uint8
}

// eventHeap is a binary min-heap of events by time, written out rather
// than through container/heap, whose interface would box every event.
type eventHeap []event

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if q[p].at <= q[i].at {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

// pop removes and returns the earliest event; the heap must not be empty.
func (h *eventHeap) pop() event {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && q[l].at < q[m].at {
			m = l
		}
		if r := l + 1; r < n && q[r].at < q[m].at {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

// timed is a worker's state in the timed workload.
type timed struct {
	w     *worker
	drv   driver
	lim   *limiter
	slots []slot
	ev    eventHeap
}

// now returns the time since the worker's base, in ns.
func (t *timed) now() int64 { return int64(time.Since(t.w.base)) }

// draw returns a duration drawn log-uniformly from [lo, hi], times the
// workload's scale.
func (t *timed) draw(lo, hi time.Duration) int64 {
	if hi <= lo {
		return int64(float64(lo) * t.w.scale)
	}
	x := math.Log(float64(lo)) + t.w.rng.Float64()*math.Log(float64(hi)/float64(lo))
	return int64(math.Exp(x) * t.w.scale)
}

// timedLoop runs the realistic workload until stop is set, then ends every
// node and run still open (as a process that stops does).
func (w *worker) timedLoop(drv driver, nslots int, lim *limiter, stop *atomic.Bool) {
	t := &timed{w: w, drv: drv, lim: lim, slots: make([]slot, nslots), ev: make(eventHeap, 0, 4*nslots)}
	for i := range t.slots {
		t.ev.push(event{at: lim.claim(), slot: int32(i), kind: evStartRun})
	}
	for !stop.Load() {
		now := t.now()
		if d := t.ev[0].at - now; d > 0 {
			// Sleep in short slices so that stop is seen promptly.
			time.Sleep(time.Duration(min(d, int64(10*time.Millisecond))))
			continue
		}
		for len(t.ev) > 0 && t.ev[0].at <= now && !stop.Load() {
			t.handle(t.ev.pop(), now)
		}
		w.flush()
	}
	t.endAll()
	w.flush()
}

// handle does what an event stands for.
func (t *timed) handle(e event, now int64) {
	s := &t.slots[e.slot]
	switch e.kind {
	case evStartRun:
		t.w.begin(t.drv, s)
		t.startStep(e.slot, now)
	case evFirstChunk:
		first := time.Duration(now - s.at)
		if s.cost[e.node] >= 0 {
			t0 := time.Since(t.w.base)
			t.drv.firstChunk(s, int(e.node), first)
			s.cost[e.node] += int64(time.Since(t.w.base) - t0)
		} else {
			t.drv.firstChunk(s, int(e.node), first)
		}
	case evEndNode:
		t.endNode(s, int(e.node))
		if s.pending > 0 {
			return
		}
		if s.step++; s.step < len(s.plan.steps) {
			t.startStep(e.slot, now)
			return
		}
		t.w.finish(t.drv, s)
		t.ev.push(event{at: max(t.lim.claim(), now), slot: e.slot, kind: evStartRun})
	}
}

// startStep starts the nodes of the slot's current step and schedules
// their first chunks and ends.
func (t *timed) startStep(si int32, now int64) {
	s := &t.slots[si]
	st := s.plan.steps[s.step]
	s.pending, s.at = len(st), now
	for i := range st {
		spec := &st[i]
		s.ended[i] = false
		s.cost[i] = -1
		if t.w.tick++; t.w.tick >= t.w.every {
			t.w.tick = 0
			t0 := time.Since(t.w.base)
			t.drv.startNode(s, spec, i)
			s.cost[i] = int64(time.Since(t.w.base) - t0)
		} else {
			t.drv.startNode(s, spec, i)
		}
		d := t.draw(spec.lat.min, spec.lat.max)
		if spec.llm && t.w.firstFrame {
			first := min(t.draw(spec.lat.firstMin, spec.lat.firstMax), d-1) // strictly before the end, which ends the node
			t.ev.push(event{at: now + first, slot: si, node: uint16(i), kind: evFirstChunk})
		}
		t.ev.push(event{at: now + d, slot: si, node: uint16(i), kind: evEndNode})
	}
}

// endNode ends node i of s's current step, recording its sampled capture
// cost (its calls at start, first chunk and end together).
func (t *timed) endNode(s *slot, i int) {
	spec := &s.plan.steps[s.step][i]
	var spans int
	if c := s.cost[i]; c >= 0 {
		t0 := time.Since(t.w.base)
		spans = t.drv.endNode(t.w, s, spec, i)
		recordClamped(t.w.hist, c+int64(time.Since(t.w.base)-t0))
	} else {
		spans = t.drv.endNode(t.w, s, spec, i)
	}
	s.ended[i] = true
	s.pending--
	t.w.counted(s, spans)
}

// endAll ends the nodes and runs still open when the load stops.
func (t *timed) endAll() {
	for i := range t.slots {
		s := &t.slots[i]
		if !s.active {
			continue
		}
		if s.step < len(s.plan.steps) {
			for j := range s.plan.steps[s.step] {
				if !s.ended[j] {
					t.endNode(s, j)
				}
			}
		}
		t.w.finish(t.drv, s)
	}
}

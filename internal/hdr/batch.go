package hdr

import "sync/atomic"

// Batch drains many Histograms together, with one fence per P for all of
// them (drainAll) where each one's Snapshot makes one per P it has been
// recorded on since the last: every membarrier interrupts every running
// thread of the process, so a collection pass should pay as few as it
// can. Add the pass's Histograms (AddVec for a family), Drain, then read
// each with SnapshotDrained, DeltaSnapshotDrained and
// Counter.ValueDrained, which see every record that returned before
// Drain began. A Batch belongs to one collector at a time; it allocates
// only while its lists grow.
type Batch struct {
	hs, held, locked []*Histogram
	olds             []*buf
}

// Add adds h to the next Drain.
func (b *Batch) Add(h *Histogram) { b.hs = append(b.hs, h) }

// AddVec adds to b's next Drain the Histogram hist returns for each
// series of v, its overflow series included (nothing to swap while
// nothing was routed to it). hist must not call v's methods.
func AddVec[T any](b *Batch, v *Vec[T], hist func(*T) *Histogram) {
	v.mu.Lock()
	for i := range v.order {
		b.hs = append(b.hs, hist(v.order[i].s))
	}
	v.mu.Unlock()
	b.hs = append(b.hs, hist(v.overflow))
}

// Drain moves what the added Histograms recorded into their collected
// state, with at most one fence per P for all of them, and empties the
// list. A Histogram another collector holds (to drain or only to read
// it) is drained on its own once that collector lets it go, after the
// others.
func (b *Batch) Drain() {
	b.held, b.locked, b.olds = drainAll(b.hs, b.held, b.locked, b.olds)
	clear(b.hs)
	b.hs = b.hs[:0]
}

// fences counts the membarriers collectors have made.
var fences atomic.Uint64

// Fences returns how many membarriers collectors have made since the
// process started (none off the fence path): for tests and benchmarks
// that count what a collection pass costs the process's other threads.
func Fences() uint64 { return fences.Load() }

package engine

import "sync/atomic"

// arena holds every run record the engine may have in flight. Records are
// allocated on first use and reused forever, so steady state allocates
// nothing; the arena's size is Limits.RunsInFlight. The pipeline scans it to
// close runs that were never ended.
//
// Free slots form a Treiber stack of indices. The head packs a 32-bit ABA
// tag above index+1 (0 means empty).
type arena struct {
	slots []atomic.Pointer[runRecord]
	next  []atomic.Uint32 // index+1 of the next free slot, 0 at the bottom
	head  atomic.Uint64
	_     [56]byte
}

func newArena(n int) *arena {
	a := &arena{
		slots: make([]atomic.Pointer[runRecord], n),
		next:  make([]atomic.Uint32, n),
	}
	for i := 0; i < n-1; i++ {
		a.next[i].Store(uint32(i + 2))
	}
	a.head.Store(1)
	return a
}

// pop returns a free slot index, or -1 if every slot is in use.
func (a *arena) pop() int {
	for {
		h := a.head.Load()
		idx := uint32(h)
		if idx == 0 {
			return -1
		}
		nxt := a.next[idx-1].Load()
		if a.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(nxt)) {
			return int(idx - 1)
		}
	}
}

// push returns slot i to the free stack.
func (a *arena) push(i int) {
	for {
		h := a.head.Load()
		a.next[i].Store(uint32(h))
		if a.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(i+1)) {
			return
		}
	}
}

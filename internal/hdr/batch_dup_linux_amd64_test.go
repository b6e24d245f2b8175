//go:build !race

package hdr

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBatchDuplicateFencesOnce adds one Histogram to a Batch many times,
// as a tail policy's pass does when its flows share the overflow series,
// while writers record into it: the pass drains it once, with at most one
// membarrier per P, where each copy it found locked by itself was drained
// again, with a fence per P that had recorded meanwhile.
func TestBatchDuplicateFencesOnce(t *testing.T) {
	if !fenced {
		t.Skip("the kernel offers no private expedited membarrier: the fence path is not taken")
	}
	h := mustNew(t, Config{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for v := int64(1); !stop.Load(); v++ {
				h.Record(v & 1023)
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	var b Batch
	p := uint64(runtime.GOMAXPROCS(0))
	for range 20 {
		for range 100 {
			b.Add(h)
		}
		before := Fences()
		b.Drain()
		if n := Fences() - before; n > p {
			t.Fatalf("a Batch holding one Histogram 100 times made %d membarriers, want at most GOMAXPROCS (%d)", n, p)
		}
	}
}

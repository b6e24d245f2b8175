//go:build !race

package hdr

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// TestBatchFencesOncePerP counts the membarriers of collecting 200
// histograms recorded into on every P: one by one, each pays one per P it
// was recorded on; through a Batch, the pass pays at most one per P.
func TestBatchFencesOncePerP(t *testing.T) {
	if !fenced {
		t.Skip("the kernel offers no private expedited membarrier: the fence path is not taken")
	}
	const series = 200
	hs := make([]*Histogram, series)
	for i := range hs {
		hs[i] = mustNew(t, Config{})
	}
	record := func() {
		var wg sync.WaitGroup
		for w := range 4 * runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i, h := range hs {
					h.Record(int64(w + i + 1))
				}
			})
		}
		wg.Wait()
	}
	call := membarrier
	defer func() { membarrier = call }()
	var calls int
	membarrier = func(cmd uintptr) syscall.Errno {
		calls++ // collectors are serial here
		return call(cmd)
	}

	record()
	var s Snapshot
	for _, h := range hs {
		h.Snapshot(&s)
	}
	single := calls
	if single < series {
		t.Errorf("%d membarriers one by one, want at least one per histogram (%d)", single, series)
	}

	record()
	calls = 0
	var b Batch
	for _, h := range hs {
		b.Add(h)
	}
	b.Drain()
	if p := runtime.GOMAXPROCS(0); calls < 1 || calls > p {
		t.Errorf("%d membarriers through a Batch, want 1 to GOMAXPROCS (%d)", calls, p)
	}
	t.Logf("%d histograms: %d membarriers one by one, %d through a Batch", series, single, calls)
}

//go:build linux && amd64 && !race

package engine

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// guardedPages returns k pages, each followed by a PROT_NONE page: a load
// or store past the end of one faults.
func guardedPages(t testing.TB, k int) [][]byte {
	t.Helper()
	const page = 4096
	mem, err := syscall.Mmap(-1, 0, 2*k*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	pages := make([][]byte, k)
	for i := range pages {
		at := 2 * i * page
		if err := syscall.Mprotect(mem[at+page:at+2*page], syscall.PROT_NONE); err != nil {
			t.Fatal(err)
		}
		pages[i] = mem[at : at+page : at+page]
	}
	return pages
}

// TestGuardPrefetch runs the engine's assembly that takes addresses
// (prefetch_amd64.s, publish_amd64.s, release_amd64.s, clock_amd64.s) on
// memory that ends at a guard page: the prefetches over ranges that run
// into the guard page (a record at a page's end, for publishNode), from
// every offset of the page's last line, fault on nothing (they are
// hints); storeRelease and publishNode write their 8 bytes and no more;
// clockNow reads a clock laid out at a page's end.
func TestGuardPrefetch(t *testing.T) {
	pages := guardedPages(t, 2)
	p := pages[0]
	for off := 1; off <= 128; off++ {
		at := unsafe.Pointer(&p[len(p)-off])
		for _, n := range []uintptr{0, 1, uintptr(off), uintptr(off) + 1, 64, 4096, 3 * 4096} {
			prefetch(at, n)
			prefetchw(at, n)
		}
	}
	prefetch(nil, 4096) // the zero page
	prefetchw(nil, 4096)

	// storeRelease and publishNode at the last word before the guard,
	// publishNode's next record starting a line before it.
	w := (*atomic.Uint64)(unsafe.Pointer(&p[len(p)-8]))
	storeRelease(w, 1<<63|7)
	if got := w.Load(); got != 1<<63|7 {
		t.Fatalf("storeRelease stored %#x", got)
	}
	wi := (*atomic.Int64)(unsafe.Pointer(&p[len(p)-16]))
	storeReleaseInt64(wi, -5)
	if wi.Load() != -5 || w.Load() != 1<<63|7 {
		t.Fatalf("storeReleaseInt64 stored %d beside %#x", wi.Load(), w.Load())
	}
	for _, off := range []int{64, 128, 4096} {
		next := (*nodeRecord)(unsafe.Pointer(&pages[1][len(pages[1])-off]))
		publishNode(w, 42, next)
		if w.Load() != 42 || wi.Load() != -5 {
			t.Fatalf("publishNode stored %d beside %d", w.Load(), wi.Load())
		}
	}
	publishNode(w, 43, nil)

	// A clock laid out at a page's end, before and after its line.
	c := (*clock)(unsafe.Pointer(&pages[1][len(pages[1])-int(unsafe.Sizeof(clock{}))]))
	*c = clock{}
	c.init(time.Now().Add(-time.Second))
	last := clockNow(c)
	for range 100 {
		c.calibrate()
		if now := clockNow(c); now < last {
			t.Fatalf("clockNow went back from %d to %d", last, now)
		} else {
			last = now
		}
	}
	*c = clock{} // no pointer left in the mapping
}

//go:build linux && amd64

package prefetch

import (
	"syscall"
	"testing"
	"unsafe"
)

// TestGuardLines prefetches ranges that run into a PROT_NONE page, from
// every offset of the last two lines before it, and from the zero page:
// a prefetch is a hint and faults on nothing. It runs under -race too:
// the race build links the same assembly, and the test takes addresses
// in memory it mapped itself, which the race detector does not track.
func TestGuardLines(t *testing.T) {
	const page = 4096
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Munmap(mem) }()
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	p := mem[:page]
	for off := 1; off <= 128; off++ {
		at := unsafe.Pointer(&p[len(p)-off])
		for _, n := range []uintptr{0, 1, uintptr(off), uintptr(off) + 1, 64, page, 3 * page} {
			Lines(at, n)
		}
	}
	Lines(nil, page)
}

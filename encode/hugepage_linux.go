package encode

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

// hugePageBytes is the transparent huge page size of amd64 Linux, and of
// arm64 with 4 KiB pages.
const hugePageBytes = 2 << 20

// thpMadvise reports whether the kernel gives transparent huge pages of
// hugePageBytes only to memory advised with MADV_HUGEPAGE: with "always"
// it gives them anyway, with "never" not at all, and with another size
// (arm64 with 16 or 64 KiB pages) the rounding below would be wrong, and
// adviseHugePages does nothing.
var thpMadvise = sync.OnceValue(func() bool {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) {
		return false
	}
	size, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
	return err == nil && string(bytes.TrimSpace(size)) == strconv.Itoa(hugePageBytes)
})

// adviseHugePages backs the 2 MiB-aligned pages around b, a new array no
// one has written yet, with transparent huge pages where they hold no
// page yet: it advises them (MADV_HUGEPAGE), writes a zero byte of b in
// each, which faults one huge page in, and takes the advice back
// (MADV_NOHUGEPAGE, what "madvise" gives memory without advice), so that
// khugepaged never gathers the heap's released pages around b into huge
// pages again (Go's runtime stopped advising its heap for that). A new
// request buffer is usually fresh memory of a growing heap, whose every
// 4 KiB page faults on its first write; on the 2-vCPU AMD EPYC VM each
// fault cost about 11 us of the process's CPU, a 2 MiB fault 0.3-0.8 us
// per 4 KiB it covers (225 KiB buffers, 80 % written, after small
// garbage: 580-650 us a buffer, 70-130 advised). The pages round out to
// whole huge pages, which may hold other heap objects: the advice changes
// how memory is backed, never what it holds, and a Go heap arena (64 MiB,
// aligned) shares no huge page with another mapping; the free heap pages
// a huge page takes in count in the process's RSS until the runtime's
// scavenger releases them, as it does any free page. A failed call
// changes nothing.
func adviseHugePages(b []byte) {
	if cap(b) == 0 || !thpMadvise() {
		return
	}
	b = b[:cap(b)]
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := p &^ (hugePageBytes - 1)
	hi := (p + uintptr(len(b)) + hugePageBytes - 1) &^ (hugePageBytes - 1)
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_HUGEPAGE); e != 0 {
		return
	}
	for off := uintptr(0); off < uintptr(len(b)); off = (p+off+hugePageBytes)&^(hugePageBytes-1) - p {
		b[off] = 0
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_NOHUGEPAGE)
}

package engine

import "unsafe"

// prefetchw asks the CPU to bring every cache line of [p, p+n) into its
// caches for writing (PREFETCHW): a hint that never faults and retires at
// once, so that its miss overlaps the work that follows, and the line
// arrives owned, so that the stores that follow do not ask the other
// cores for it again after a read brought it in shared. The race detector
// does not see it: it reads nothing.
//
//go:noescape
func prefetchw(p unsafe.Pointer, n uintptr)

// prefetch asks the CPU to bring every cache line of [p, p+n) into its
// caches for reading (PREFETCHT0), a hint like prefetchw's.
//
//go:noescape
func prefetch(p unsafe.Pointer, n uintptr)

// Package prefetch asks the CPU to bring memory into its caches ahead of
// the loads that need it.
package prefetch

import "unsafe"

// Lines asks the CPU to bring every cache line of [p, p+n) into its caches
// for reading (PREFETCHT0): a hint that never faults and retires at once,
// so that its misses overlap the work that follows. The race detector does
// not see it: it reads nothing.
//
//go:noescape
func Lines(p unsafe.Pointer, n uintptr)

package ringbuf

import (
	_ "unsafe" // For go:linkname.
)

// procPin pins the goroutine to its P and returns the P's id. The runtime
// keeps it linkable on purpose (go.dev/issue/67401); sync.Pool uses the
// same pair to find its per-P shard.
//
//go:linkname procPin runtime.procPin
func procPin() int

// procUnpin undoes procPin.
//
//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// currentP returns the id of the P running the caller. The goroutine is
// unpinned at once: the id is a hint that picks an uncontended shard, not
// a lock, so a migration right after it only costs a shared cache line.
func currentP() int {
	p := procPin()
	procUnpin()
	return p
}

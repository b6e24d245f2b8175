// Package pin gives the index of the P (scheduler processor) the calling
// goroutine runs on, so that per-core state can be chosen without a lock.
//
// It links to runtime.procPin and runtime.procUnpin, which the runtime keeps
// linkable for the packages that use them ("hall of shame" in runtime/proc.go).
// Pinning costs about 2 ns and never allocates.
package pin

import _ "unsafe" // for go:linkname

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// ID returns the index of the current P. The goroutine may move to another P
// right after the call: use the result to spread load, not for exclusion.
func ID() int {
	id := procPin()
	procUnpin()
	return id
}

// Pin pins the calling goroutine to its P, with preemption disabled, and
// returns the P's index: until Unpin, no other goroutine runs on that P,
// so per-P state may be written without a lock. Keep the section short
// and never block in it.
func Pin() int { return procPin() }

// Unpin ends the section Pin began.
func Unpin() { procUnpin() }

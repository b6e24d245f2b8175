package hdr

import _ "unsafe" // for go:linkname

// procPin pins the calling goroutine to its P, disables preemption and
// returns the P's id. The runtime keeps this symbol reachable by linkname
// on purpose (go.dev/issue/67401).
//
//go:linkname procPin runtime.procPin
func procPin() int

// procUnpin undoes procPin.
//
//go:linkname procUnpin runtime.procUnpin
func procUnpin()

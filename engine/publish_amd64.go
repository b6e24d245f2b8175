//go:build !race

package engine

import "sync/atomic"

// publishNode opens a node record, storing w in its state word sw with
// storeRelease's release semantics (a plain MOV: see release_amd64.go),
// and prefetches for writing, as prefetchStart does, what the StartNode
// of the record next (nil: none) writes. It is StartNode's publication
// and its prefetch of the next index's record in one call to assembly,
// where they were three: each call to assembly is one across which the
// compiler keeps no value in a register, so StartNode saved and
// reloaded its live values around each.
//
//go:noescape
func publishNode(sw *atomic.Uint64, w uint64, next *nodeRecord)

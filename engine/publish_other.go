//go:build !amd64 || race

package engine

import (
	"sync/atomic"
	"unsafe"
)

// publishNode is storeRelease, then prefetchStart's prefetch of next:
// see publish_amd64.go.
func publishNode(sw *atomic.Uint64, w uint64, next *nodeRecord) {
	storeRelease(sw, w)
	if next != nil {
		prefetchw(unsafe.Pointer(next), nodeStart)
		prefetchw(unsafe.Pointer(&next.pool[0]), 4*cacheLine)
	}
}

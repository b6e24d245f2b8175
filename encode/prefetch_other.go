//go:build !amd64

package encode

// prefetchRanges does nothing on this architecture: see prefetch_amd64.go.
func prefetchRanges(rs *[prefetchMax]prefetchRange) {}

// prefetchNodes does nothing on this architecture: see prefetch_amd64.go.
func prefetchNodes(next, ahead *Node) {}

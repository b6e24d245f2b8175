package encode

// prefetchRanges asks the CPU to bring the bytes of each range of rs into
// its cache, one PREFETCHT0 per cache line; a range of n = 0 is skipped.
// A prefetch is a hint: it never faults, retires at once, and its miss
// overlaps the work that follows, where a load of a line another core
// just wrote stalls the encoder until the line arrives.
//
//go:noescape
func prefetchRanges(rs *[prefetchMax]prefetchRange)

// prefetchNodes prefetches the struct of node ahead, when not nil, and
// what the struct of node next, when not nil, points to that its span
// reads: its attribute arrays, next node ids and events.
//
//go:noescape
func prefetchNodes(next, ahead *Node)

package engine

import (
	"math/bits"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/race"
)

// arena holds every run record the engine may have in flight. A record is
// allocated on first use, reused while the engine is busy, and given back
// to the garbage collector once it has been idle for idleRecordAge or when
// the engine is over its memory limit, so steady state allocates nothing
// and a burst does not pin its records forever. The arena's size is
// Limits.RunsInFlight. The pipeline scans slots to close runs that were
// never ended.
//
// Free slots form a Treiber stack of indices. The head packs a 32-bit ABA
// tag above index+1 (0 means empty). slots[i] is the record last used by
// index i, seen by the pipeline; spare[i] holds it while i is free. Whoever
// swaps a record out of spare owns it: StartRun to reuse it, the trimmer to
// free it, so the two never share one.
type arena struct {
	slots []atomic.Pointer[runRecord]
	spare []atomic.Pointer[runRecord]
	next  []atomic.Uint32 // index+1 of the next free slot, 0 at the bottom
	head  atomic.Uint64
	_     [cacheLine - 8]byte // head is hot: alone on its line
}

// arenaSlotBytes is what the arena takes per run in flight, allocated by New.
const arenaSlotBytes = 8 + 8 + 4

func newArena(n int) *arena {
	a := &arena{
		slots: make([]atomic.Pointer[runRecord], n),
		spare: make([]atomic.Pointer[runRecord], n),
		next:  make([]atomic.Uint32, n),
	}
	for i := 0; i < n-1; i++ {
		a.next[i].Store(uint32(i + 2))
	}
	a.head.Store(1)
	return a
}

// pop returns a free slot index, or -1 if every slot is in use.
func (a *arena) pop() int {
	for {
		h := a.head.Load()
		idx := uint32(h)
		if idx == 0 {
			return -1
		}
		nxt := a.next[idx-1].Load()
		if a.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(nxt)) {
			return int(idx - 1)
		}
	}
}

// push returns slot i to the free stack.
func (a *arena) push(i int) {
	for {
		h := a.head.Load()
		a.next[i].Store(uint32(h))
		if a.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(i+1)) {
			return
		}
	}
}

// take returns the record kept for the free index i, or nil when there is
// none (never allocated, or freed).
func (a *arena) take(i int) *runRecord { return a.spare[i].Swap(nil) }

// put keeps r for its index and frees the index.
func (a *arena) put(r *runRecord) {
	a.spare[r.idx].Store(r)
	a.push(r.idx)
}

// memory is the engine's byte budget (WithMemoryLimit). held counts the
// bytes of the rings, the arena, and every run and node record with the
// buffers it keeps; a call that would allocate past limit is refused and
// counted instead. The accounting follows what the engine allocates, so
// it is close to, not exactly, what the heap holds: record sizes are
// rounded up to the allocator's size classes, and the strings callers hand
// in are theirs, not counted.
type memory struct {
	limit int64
	held  atomic.Int64
	_     [cacheLine - 16]byte // limit and held together on one line
}

// add counts d more (or, negative, fewer) bytes held. d is usually 0 (a
// reused record reserves nothing, a released one is the size it was):
// skipping the add keeps the shared counter's cache line out of every
// StartNode and every node the pipeline releases.
func (m *memory) add(d int64) {
	if d != 0 {
		m.held.Add(d)
	}
}

// reserve counts n more bytes if they fit the limit.
func (m *memory) reserve(n int64) bool {
	if m.held.Add(n) > m.limit {
		m.held.Add(-n)
		return false
	}
	return true
}

// How long a record may stay unused before the pipeline frees it. Longer
// than any pause of a steady workload, short enough that a burst's
// records go within seconds after it.
const idleRecordAge = 5 * time.Second

// allocSize rounds n up as the allocator's size classes do above 1 KiB
// (steps of an eighth of the power of two below), close enough below.
func allocSize(n uintptr) int64 {
	if n <= 1024 {
		return int64((n + 63) &^ 63)
	}
	step := uintptr(1) << (bits.Len(uint(n)) - 4)
	return int64((n + step - 1) &^ (step - 1))
}

var (
	runRecordBytes  = allocSize(unsafe.Sizeof(runRecord{}))
	nodeRecordBytes = allocSize(unsafe.Sizeof(nodeRecord{}))
	nodeChunkBytes  = allocSize(unsafe.Sizeof(nodeChunk{}))
)

// grown returns the bytes of s's backing array when it is not the inline
// array that starts at inline.
func grown[T any](s []T, inline *T) int64 {
	if cap(s) == 0 || unsafe.SliceData(s) == inline {
		return 0
	}
	var z T
	return int64(cap(s)) * int64(unsafe.Sizeof(z))
}

// measure returns the bytes node record n holds now.
func (n *nodeRecord) measure() int64 {
	return nodeRecordBytes + int64(cap(n.bytes)) + n.grownAttrs(n.Input) + n.grownAttrs(n.Output) +
		n.grownAttrs(n.Config) + grown(n.Events, &n.events[0]) + grown(n.Next, &n.nextIDs[0]) +
		n.grownAttrs(n.Attrs) + grown(n.eventAttrs, &n.evAttrs[0])
}

// grownAttrs returns the bytes of list s's backing array when it is not
// in the record's pool.
func (n *nodeRecord) grownAttrs(s []encode.Attr) int64 {
	if cap(s) == 0 || n.inPool(s) {
		return 0
	}
	return int64(cap(s)) * int64(unsafe.Sizeof(encode.Attr{}))
}

// measureExtra returns the bytes run record r holds in arrays past its
// inline ones.
func (r *runRecord) measureExtra() int64 {
	return grown(r.Srv, &r.srv[0]) + grown(r.SrvTag, &r.srvTag[0]) + grown(r.Attrs, &r.attrs[0]) +
		grown(r.Events, &r.events[0]) + grown[*encode.Node](r.order, nil)
}

// remeasure recounts what n holds after a reset, which may have let a
// buffer go or kept a grown array.
func (e *Engine) remeasureNode(n *nodeRecord) {
	m := n.measure()
	e.mem.add(m - n.mem.Swap(m))
}

// remeasureRun recounts the arrays r keeps past its inline ones.
func (e *Engine) remeasureRun(r *runRecord) {
	x := r.measureExtra()
	e.mem.add(x - r.extra)
	r.extra = x
}

// chunkBytes returns the bytes of chunk c and its node records.
func chunkBytes(c *nodeChunk) int64 {
	b := nodeChunkBytes
	for i := range c {
		if n := c[i].Load(); n != nil {
			b += n.mem.Load()
		}
	}
	return b
}

// dropMore gives up r's chunk directory and every record in it, returning
// the bytes they held. The caller owns r.
func (r *runRecord) dropMore() int64 {
	m := r.more.Swap(nil)
	if m == nil {
		return 0
	}
	b := allocSize(uintptr(len(*m)) * 8)
	for i := range *m {
		if c := (*m)[i].Load(); c != nil {
			b += chunkBytes(c)
		}
	}
	return b
}

// bytes returns everything r holds. The caller owns r.
func (r *runRecord) bytes() int64 {
	b := runRecordBytes + r.extra
	if m := r.more.Load(); m != nil {
		b += allocSize(uintptr(len(*m)) * 8)
	}
	r.eachChunk(func(c *nodeChunk) { b += chunkBytes(c) })
	return b
}

// eachChunk calls f with each of r's node chunks, inline and in the
// directory. The caller owns r.
func (r *runRecord) eachChunk(f func(*nodeChunk)) {
	for i := range r.chunks {
		if c := r.chunks[i].Load(); c != nil {
			f(c)
		}
	}
	if m := r.more.Load(); m != nil {
		for i := range *m {
			if c := (*m)[i].Load(); c != nil {
				f(c)
			}
		}
	}
}

// recycle keeps a released record for reuse, or frees it when the engine
// is over its memory limit.
func (e *Engine) recycle(r *runRecord) {
	if e.mem.held.Load() > e.mem.limit {
		e.freeRecord(r)
		e.arena.push(r.idx)
		return
	}
	r.freedAt = e.mono()
	e.arena.put(r)
}

// freeRecord lets the garbage collector have r, which the caller owns.
func (e *Engine) freeRecord(r *runRecord) {
	e.arena.slots[r.idx].CompareAndSwap(r, nil)
	e.mem.held.Add(-r.bytes())
}

// trimIdle frees the records that have been free for idleRecordAge. The
// pipeline calls it; it scans at most once a second.
func (e *Engine) trimIdle(mono int64) {
	if mono-e.lastTrim < int64(time.Second) {
		return
	}
	e.lastTrim = mono
	for i := range e.arena.spare {
		sp := &e.arena.spare[i]
		r := sp.Load()
		if r == nil || mono-r.freedAt < int64(idleRecordAge) {
			continue
		}
		if sp.CompareAndSwap(r, nil) {
			e.freeRecord(r)
		}
	}
}

// releaseAhead is how many nodes ahead of the one it resets release asks
// for the pool lines of a node, and half of how far ahead for the lines of
// its fields. By the time a batch is released its records have left this
// core's caches (a batch of 4096 spans is megabytes of them, written on
// another core), and the reset's stores would wait for each line in turn;
// prefetched for writing, the lines of a few nodes are on their way at
// once, and arrive owned. It replaced a pass of plain loads over the run
// before its release (touchNodes), which brought the lines in shared, for
// the stores to ask for them again: release of cold records of
// BenchmarkCapture/node/attrs8's nodes, 202-224 -> 163-177 ns a node
// (thread CPU, AMD EPYC); 1 and 4 did no better, 8 worse.
const releaseAhead = 2

// prefetchHead prefetches, for writing, the lines of node i's fields that
// its release touches, when its record exists and the node is not plain
// (reopen resets a plain one): those every node touches.
func (r *runRecord) prefetchHead(i int) {
	if r.isPlain(i) {
		return
	}
	if n := r.slot(i); n != nil {
		prefetchw(unsafe.Pointer(n), nodeHot)
	}
}

// prefetchPool prefetches, for writing, the attributes node i's lists took
// of its record's pool, and the other lines reset writes past nodeHot,
// unless the node is plain (its pool is left for reopen). It reads
// pooled and the lists' lengths, which prefetchHead asked for earlier, and
// which the owner of a node its run's drop left open may be writing: the
// count only sizes a hint, but the race detector would report the read,
// so race builds skip the pool.
func (r *runRecord) prefetchPool(i int) {
	if race.Enabled || r.isPlain(i) {
		return
	}
	n := r.slot(i)
	if n == nil {
		return
	}
	prefetchw(unsafe.Pointer(&n.pool[0]), uintptr(max(n.pooled, n.leftover))*unsafe.Sizeof(n.pool[0]))
	// What reset writes past nodeHot: the events and next ids it clears,
	// at the record's end, and encode.Node's rare fields when its flags
	// (on a line prefetchHead asked for) say they were set: their stores
	// missed one line after the other (node/llm's release spent a fifth
	// of its time on the rare fields' line).
	if len(n.Events) != 0 {
		prefetchw(unsafe.Pointer(unsafe.SliceData(n.Events)), uintptr(min(len(n.Events), len(n.events)))*unsafe.Sizeof(encode.Event{}))
	}
	if len(n.Next) != 0 {
		prefetchw(unsafe.Pointer(unsafe.SliceData(n.Next)), uintptr(min(len(n.Next), len(n.nextIDs)))*unsafe.Sizeof(""))
	}
	if nd := &n.Node; nd.HasCode || nd.HasUsage || nd.HasFirstTokenCost || nd.Chunks != 0 {
		prefetchw(unsafe.Pointer(&nd.Code), unsafe.Sizeof(encode.Node{})-unsafe.Offsetof(encode.Node{}.Code))
	}
}

// addAhead is how many nodes ahead of the one it reads the pipeline's pass
// over a run (pipeline.add) asks for the lines it reads of a node
// (prefetchRead). 4 did worse (BenchmarkCapture/node/attrs8/parallel's
// pipeline goroutines, CPU profile samples, 5 alternating runs: 0.618 s
// against 0.488 s).
const addAhead = 2

// nodeFlat is the offset in a record of the end of what the pipeline
// reads of a plain node (see nodeRecord.flat): the state word's line and
// encode.Node's first two (ids, times, node id, type and name).
const nodeFlat = nodeHead + unsafe.Offsetof(encode.Node{}.NodeName) + unsafe.Sizeof(encode.Node{}.NodeName)

// prefetchRead prefetches, for reading, the lines of node i's record that
// the pipeline reads, when the record exists: a node's record comes to the
// pipeline from another core, mostly through memory, and its lines are
// then on their way while the pipeline works on the nodes before. It asks
// for those of a plain node (to nodeFlat), or, whole, for those of any
// (to nodeHot).
func (r *runRecord) prefetchRead(i int, whole bool) {
	if n := r.slot(i); n != nil {
		end := nodeFlat
		if whole {
			end = nodeHot
		}
		prefetch(unsafe.Pointer(&n.sw), end-nodeRead)
	}
}

// nodeStart is the offset in a record of the end of the fields StartNode
// and the lists' first attributes write: up to encode.Node's Attrs.
const nodeStart = nodeHead + unsafe.Offsetof(encode.Node{}.Attrs)

// prefetchStart prefetches, for writing, what the StartNode of node i
// writes of its record, and the first lines of its pool, when the record
// exists: StartNode calls it for the index after its own. Records are
// reused after the run records of all the runs in flight have been
// through (under load, the rings hold thousands of nodes), so the next
// node's lines are out of the caches: asked for now, they arrive while
// the caller works on this node.
func (r *runRecord) prefetchStart(i int) {
	if uint(i) >= nodeKeepChunks*nodeChunkSize {
		return
	}
	c := r.chunks[uint(i)/nodeChunkSize].Load()
	if c == nil {
		return
	}
	if n := c[uint(i)%nodeChunkSize].Load(); n != nil {
		prefetchw(unsafe.Pointer(n), nodeStart)
		prefetchw(unsafe.Pointer(&n.pool[0]), 4*cacheLine)
	}
}

// resetLazy resets the records of nodes count and up that an earlier run
// of r released plain (reopen) and its run, of count nodes, did not reuse,
// and records how many of this run's may be released so. The caller owns
// r, whose plain bits are still this run's.
func (r *runRecord) resetLazy(count int) {
	for i := count; i < r.lazy; i++ {
		if n := r.slot(i); n != nil {
			n.resetPlain()
		}
	}
	r.lazy = min(count, len(r.plain)*64)
}

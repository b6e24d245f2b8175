package engine

import (
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/w3c"
)

// nodeInline is how many attributes a node record holds without
// allocating: its Input, Output, Config and SetAttributes lists share one
// array of this many (see carve), so 8 of each kind, or any mix within
// it, allocate nothing (BenchmarkCapture/node/attrs8).
const nodeInline = 32

// nodeRecord is laid out for the caches: a node travels from the caller's
// core to the pipeline's, and under load mostly through memory (the rings
// hold thousands of nodes), so every cache line a node touches is paid
// for by each stage: the caller writes it, the pipeline and the encoder
// read it, the release rewrites it. What every node touches comes first:
// the engine's fields, then encode.Node's common fields (its rare ones
// last, behind flags: see encode.Node), then the attributes, one array
// starting on a cache line, filled from its start; the arrays of rare
// events and next ids last. BenchmarkCapture/node/attrs8 touches 13 lines
// of a record (header, node, 8 attributes) where the layout with an
// array per kind after the whole encode.Node touched 18 to 19. The
// pipeline reads 3 of a plain node (nodeRead to nodeFlat: the engine's
// fields the owner alone reads take the first line, apart; rare says
// whether the rest need be read), 6 of any other (to nodeHot), and the
// release of a plain node writes none (reopen), where it wrote 9.
type nodeRecord struct {
	// The first line holds what only the node's owner reads; the second
	// what the pipeline reads too, with encode.Node's common fields after
	// it (nodeRead).
	e   *Engine
	run *runRecord // fixed: a node record belongs to one run record

	// Set by StartNode and read-only until the record is reused: what a
	// call needs of its run without reading the run record, which an
	// orphaned node's owner may no longer read (see the package doc).
	anchor     int64 // wall nanoseconds = anchor + monotonic reading
	traceID    encode.TraceID
	traceState string
	// mem is the bytes this record holds, counted in Engine.mem. It is
	// atomic because the owner of an orphaned record may still grow it
	// while the pipeline gives its bytes back (orphanMem).
	mem atomic.Int64

	sw         atomic.Uint64 // generation and state: see stateFree
	traceFlags uint8
	// pooled is how many attributes of pool the lists have taken.
	pooled uint8
	// leftover is how far pool may hold the attributes of the node the
	// record held before, past pooled: a plain node is released without
	// a reset (see reopen), and its successor's End clears what it did
	// not write over.
	leftover uint8
	// rare is set by every call that may make the node not plain
	// (nodeRecord.plain) past what this line shows: begin, claim, and a
	// list leaving the pool (addMore). See pipeline.add.
	rare bool
	// big is the bytes of the attributes longer than smallValue (key and
	// value), of the next ids longer than it and of the events' texts,
	// saturated: see valueBound.
	big        uint32
	eventAttrs []encode.Attr
	bytes      []byte // copies of Bytes values, reused

	encode.Node
	_ [nodePad]byte // pool starts on a cache line

	pool    [nodeInline]encode.Attr // backing of Input, Output, Config and Attrs: see carve
	evAttrs [4]encode.Attr          // backing of the events' Attrs
	events  [4]encode.Event
	nextIDs [4]string
	// nextSet holds Next's ids once it has more than maxScanNext (built
	// by hasNext), so that an id is found in a hash, not compared with
	// every id kept.
	nextSet map[string]struct{}
}

// maxScanNext is the number of next ids up to which Next finds a repeat
// by comparing with each.
const maxScanNext = 16

// nextSetEntryBytes is what nextSet is counted in Stats.HeldBytes per id
// (hold), until reset drops it and remeasureNode gives it back: a string
// header and a control byte at the map's 7/8 load, doubled for the room
// of its last growth (TestNextSetHeld).
const nextSetEntryBytes = 40

// nodePad aligns nodeRecord.pool on a cache line (records are allocated
// in size classes that are multiples of 64 bytes, so they start on one).
const nodePad = (cacheLine - (nodeHead+unsafe.Sizeof(encode.Node{}))%cacheLine) % cacheLine

// nodeHead is the size of nodeRecord's fields before encode.Node.
const nodeHead = 2 * cacheLine

// The fields before encode.Node take nodeHead bytes, and pool starts on a
// cache line: both are checked here, at compile time (an index out of
// range, or a constant overflow, fails the build), on 64-bit platforms.
// On 32-bit ones the fields are smaller: the layout is only less tight
// there, and the engine builds (GOARCH=386 and arm failed to build).
var (
	_ = [1]int{}[(nodeHead-unsafe.Offsetof(nodeRecord{}.Node))*is64]
	_ = [1]int{}[unsafe.Offsetof(nodeRecord{}.pool)%cacheLine*is64]
	_ = [1]int{}[(cacheLine-unsafe.Offsetof(nodeRecord{}.sw))*is64]
)

// is64 is 1 on a 64-bit platform, else 0.
const is64 = ^uintptr(0) >> 63

// nodeHot is the offset in a record of the end of what every node
// touches: the engine's fields and encode.Node's common ones.
const nodeHot = nodeHead + unsafe.Offsetof(encode.Node{}.Code)

// nodeRead is the offset in a record of what the pipeline reads of every
// node, up to nodeHot: the state word's line (its owner's fields before
// it, on their own line, are not read), then encode.Node's common fields.
const nodeRead = unsafe.Offsetof(nodeRecord{}.sw)

func newNodeRecord(r *runRecord) *nodeRecord {
	n := &nodeRecord{e: r.e, run: r}
	n.Events, n.Next = n.events[:0], n.nextIDs[:0]
	n.eventAttrs = n.evAttrs[:0]
	return n
}

// carve returns d, a list of the record (Input, Output, Config, Attrs),
// with room for k more attributes taken from pool: in place when d is the
// last list carved and pool has room past it, else at pool's first free
// attribute, d copied there. It reports false, d unchanged, when pool has
// no room: the list grows on the heap then (appendAttrs). A list carved
// has no room past its length, so that an append never writes over the
// list carved after it. A node whose lists take their attributes in one
// call each (as most do) uses pool's first attributes, contiguous.
func (n *nodeRecord) carve(d []encode.Attr, k int) ([]encode.Attr, bool) {
	used, need := int(n.pooled), len(d)+k
	if c := cap(d); c != 0 && n.inPool(d) {
		off := int((uintptr(unsafe.Pointer(unsafe.SliceData(d))) - uintptr(unsafe.Pointer(&n.pool[0]))) / unsafe.Sizeof(encode.Attr{}))
		if off+c == used && off+need <= nodeInline {
			n.pooled = uint8(off + need)
			return n.pool[off : off+len(d) : off+need], true
		}
	}
	if used+need > nodeInline {
		return d, false
	}
	nd := n.pool[used : used+len(d) : used+need]
	copy(nd, d)
	n.pooled = uint8(used + need)
	return nd, true
}

// inPool reports whether list s lies in the record's pool.
func (n *nodeRecord) inPool(s []encode.Attr) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	base := uintptr(unsafe.Pointer(&n.pool[0]))
	return p-base < unsafe.Sizeof(n.pool) // p < base wraps around
}

// keepAttrs returns list s emptied for the record's next node: nil when
// it lies in pool (cleared with it), else, grown on the heap, kept.
func (n *nodeRecord) keepAttrs(s []encode.Attr) []encode.Attr {
	if cap(s) == 0 || n.inPool(s) {
		return nil
	}
	clear(s)
	return s[:0]
}

// reset empties the record for its next node. It writes only the lines a
// node touches, and the rare fields' when a flag says they were set
// (TestNodeResetClearsAll checks that every field is cleared). Clearing
// up to 4 events, next ids and event attributes by a loop of stores, not
// clear's call to the runtime, did not help: TestPipelineCPUTime
// node/next pipeline 135.1 -> 149.8 ns (p=0.049), the others unmoved
// (8 alternated pairs).
func (n *nodeRecord) reset() {
	clear(n.pool[:max(n.pooled, n.leftover)])
	n.pooled, n.leftover, n.big, n.rare = 0, 0, 0, false
	clear(n.Events)
	clear(n.Next)
	if len(n.Next) > maxScanNext && n.nextSet != nil { // see Next
		n.nextSet = nil
	}
	clear(n.eventAttrs)
	n.eventAttrs = n.eventAttrs[:0]
	if cap(n.bytes) > 64<<10 {
		n.bytes = nil // one huge Bytes value does not pin its copy forever
	} else {
		n.bytes = n.bytes[:0]
	}
	nd := &n.Node
	if nd.HasCode || nd.HasUsage || nd.HasFirstTokenCost || nd.Chunks != 0 {
		nd.Code, nd.Usage, nd.FirstTokenCostNano = 0, encode.Usage{}, 0
		nd.FirstChunkUnixNano, nd.LastChunkUnixNano = 0, 0
		nd.ChunkGapMin, nd.ChunkGapMax, nd.ChunkGaps = 0, 0, [15]uint32{}
	}
	nd.SpanID, nd.ParentSpanID, nd.StartUnixNano, nd.EndUnixNano = encode.SpanID{}, encode.SpanID{}, 0, 0
	nd.NodeID, nd.NodeType, nd.NodeName = "", "", ""
	nd.Input, nd.Output, nd.Config = n.keepAttrs(nd.Input), n.keepAttrs(nd.Output), n.keepAttrs(nd.Config)
	nd.Attrs, nd.Next, nd.Events = n.keepAttrs(nd.Attrs), nd.Next[:0], nd.Events[:0]
	nd.SpanName, nd.LLMOutput, nd.StatusMessage = [2]string{}, "", ""
	nd.FirstFrameUnixNano = 0
	nd.DroppedAttrs, nd.DroppedEvents, nd.Chunks = 0, 0, 0
	nd.Kind, nd.Status = 0, 0
	nd.HasCode, nd.HasUsage, nd.HasFirstTokenCost, nd.Incomplete, nd.Cancelled = false, false, false, false, false
}

// plain reports whether the ended node holds nothing but what
// resetPlain clears: its ids and times, and Input, Output and Config in
// the pool. The pipeline asks once it has read the node's lines (add),
// so that the metrics' fold reads no more of it and its release
// (runRecord.plain) leaves it as it is, for reopen to reset, where reset
// reads and writes every line a node may touch.
// TestNodePlain fails when a field of encode.Node is not checked.
func (n *nodeRecord) plain() bool {
	nd := &n.Node
	return len(n.eventAttrs) == 0 && len(n.bytes) == 0 &&
		n.pooledList(nd.Input) && n.pooledList(nd.Output) && n.pooledList(nd.Config) && cap(nd.Attrs) == 0 &&
		len(nd.Next) == 0 && len(nd.Events) == 0 && nd.SpanName == [2]string{} && nd.LLMOutput == "" &&
		nd.StatusMessage == "" && nd.FirstFrameUnixNano == 0 && nd.DroppedAttrs == 0 && nd.DroppedEvents == 0 &&
		nd.Chunks == 0 && nd.Kind == 0 && nd.Status == 0 &&
		!nd.HasCode && !nd.HasUsage && !nd.HasFirstTokenCost && !nd.Incomplete && !nd.Cancelled
}

// pooledList reports whether list s is empty or lies in the pool.
func (n *nodeRecord) pooledList(s []encode.Attr) bool { return cap(s) == 0 || n.inPool(s) }

// resetPlain is reset for a node plain reported true for: it leaves the
// record as reset would, writing only the fields plain allows to be set.
// The record's bytes are what they were (plain: no Bytes value copied, no
// list off the pool), so it is not measured again. Release leaves a plain
// node as it is, for reopen to reset when the record is reused; it calls
// resetPlain on those its run record's next runs did not reuse.
func (n *nodeRecord) resetPlain() {
	clear(n.pool[:max(n.pooled, n.leftover)])
	n.pooled, n.leftover, n.big = 0, 0, 0
	nd := &n.Node
	nd.SpanID, nd.ParentSpanID, nd.StartUnixNano, nd.EndUnixNano = encode.SpanID{}, encode.SpanID{}, 0, 0
	nd.NodeID, nd.NodeType, nd.NodeName = "", "", ""
	nd.Input, nd.Output, nd.Config = nil, nil, nil
}

// reopen readies a free record for StartNode, which writes its ids and
// start time next: a record released plain (release) still holds its
// last node's times, lists and pool, which reopen empties, the pool's
// attributes left for End to clear past what the new node writes over
// (leftover); on a record reset in full it writes what is zero already.
// The release of a plain node so writes nothing of its record, not even
// its state word (the node's generation is its run's: see the package
// doc), where it wrote the ten lines of its fields and attributes, which
// a caller reusing the record soon writes again anyway: the lines a node
// touches are paid for once per stage (see nodeRecord).
//
// It writes only what is not zero, and StartNode calls it after its clock
// reading, beside its own stores: a record whose last node had no
// attributes (BenchmarkCaptureCaller/node/attrs0) is reopened by loads
// alone. Written unconditionally and before the clock reading, its stores
// cost that node 2.3 ns of the caller's 40.8 (thread CPU, AMD EPYC), and
// a node with 8 attributes 1.5 ns.
func (n *nodeRecord) reopen() {
	if n.pooled != 0 || n.big != 0 || n.rare {
		n.leftover, n.pooled, n.big, n.rare = max(n.leftover, n.pooled), 0, 0, false
	}
	if n.Input != nil || n.Output != nil || n.Config != nil {
		n.Input, n.Output, n.Config = nil, nil, nil
	}
	n.EndUnixNano = 0 // on the line of the ids StartNode writes
}

// Node is a handle on one node execution. The zero Node is a no-op handle.
// A Node's methods must be called from one goroutine at a time. After End
// (or RecordError) every call is a counted no-op, even when the engine has
// reused the record for another node.
type Node struct {
	n      *nodeRecord
	gen    uint32
	runGen uint32 // the generation of the run the node was started in
}

// begin returns the record if the handle still owns it and it is open,
// counting a stale call otherwise. It is one atomic load: the owner's
// writes that follow need no claim (see the package doc's protocol).
func (h Node) begin() *nodeRecord {
	n := h.open()
	if n != nil {
		n.rare = true
	}
	return n
}

// open is begin for the calls that write nothing plain rules out
// (SpanContext, StartChild; End checks as it does, in endNow): it leaves
// rare as it is.
func (h Node) open() *nodeRecord {
	n := h.n
	if n == nil {
		return nil
	}
	if n.sw.Load() != packState(h.gen, stateOpen) {
		n.stale()
		return nil
	}
	return n
}

// claim is begin for the calls that write what the pipeline exports of a
// node its run closed (span kind, parent, id and name): it marks the
// record busy, so that the pipeline waits for the write, until unclaim.
func (h Node) claim() *nodeRecord {
	n := h.n
	if n == nil {
		return nil
	}
	if !n.sw.CompareAndSwap(packState(h.gen, stateOpen), packState(h.gen, stateBusy)) {
		n.stale()
		return nil
	}
	n.rare = true
	return n
}

// refusedNode is the handle of a node the engine refused for why (its
// run refused, Limits.NodesPerRun, the memory limit): no call records
// anything, as on the zero Node, but the children StartChild starts below
// it are counted, dropped for the same reason. Its record, the engine's
// refused, belongs to no run and is never open.
//
// gen holds why in its low byte and the high bits of the ticket of its
// run's parent above, runGen the low bits: SpanContext returns that parent
// (refusedctx.go).
func (e *Engine) refusedNode(why DropReason, ticket uint64) Node {
	return Node{n: e.refused, gen: refusedTag(why, ticket), runGen: uint32(ticket)}
}

// refusedRun is the handle of a run refused for why, whose parent is kept
// under ticket (refusedctx.go).
func (e *Engine) refusedRun(why DropReason, ticket uint64) Run {
	return Run{refused: e, gen: uint32(ticket), tag: refusedTag(why, ticket)}
}

// refusedTag is what a refused handle keeps beside the low 32 bits of its
// parent's ticket: why in the low byte, the ticket's high bits above.
func refusedTag(why DropReason, ticket uint64) uint32 { return uint32(why) | uint32(ticket>>32)<<8 }

// refusedWhy returns the drop reason of a refused handle's tag.
func refusedWhy(tag uint32) DropReason { return DropReason(tag & 0xff) }

// refusedTicket returns the ticket of tag and its low bits lo.
func refusedTicket(tag, lo uint32) uint64 { return uint64(tag>>8)<<32 | uint64(lo) }

// ticket returns the ticket of a refused run's parent.
func (h Run) ticket() uint64 { return refusedTicket(h.tag, h.gen) }

// refusedTicket returns the ticket of a refused node's run's parent.
func (h Node) refusedTicket() uint64 { return refusedTicket(h.gen, h.runGen) }

// stale counts a call on a handle that no longer owns its record; calls
// on a refused node's handle are no-ops.
func (n *nodeRecord) stale() {
	if n.run != nil {
		n.e.stats.staleCalls.Add(1)
	}
}

func (n *nodeRecord) unclaim(gen uint32) { storeRelease(&n.sw, packState(gen, stateOpen)) }

// nodeSpanID returns the span id of node index i of a run whose span id
// is run: splitmix64's finalizer of run + (i+1)·γ (γ the golden ratio's
// odd 64-bit constant). The finalizer is a bijection and (i+1)·γ differs
// for every i, so the nodes of a run never share an id, and ids of other
// runs or spans meet them with the odds of random ones (2^-64 a pair). It
// costs a few cycles where drawing a random id (math/rand/v2, ChaCha8)
// cost 6 ns of a node's 85; what it gives up is that an id tells the
// others of its run to someone who knows this function, and span ids are
// no secret.
func nodeSpanID(run encode.SpanID, i int) (s encode.SpanID) {
	x := binary.BigEndian.Uint64(run[:]) + uint64(i+1)*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	if x == 0 { // only from run + (i+1)·γ == 0
		x = 0x9e3779b97f4a7c15
	}
	binary.BigEndian.PutUint64(s[:], x)
	return s
}

// IsRecording reports whether the node is open.
func (h Node) IsRecording() bool {
	return h.n != nil && h.n.sw.Load() == packState(h.gen, stateOpen)
}

// SpanContext returns the node's span context, the parent to hand to the
// calls the node makes; on a node the engine refused, its parent's: in a
// refused run the run's parent (Run.SpanContext), past Limits.NodesPerRun
// or the memory limit the run's span, or the parent node's for StartChild
// (refusedctx.go).
func (h Node) SpanContext() SpanContext {
	n := h.open()
	if n == nil {
		if h.n != nil && h.n.run == nil { // refused: its run's parent (refusedctx.go)
			return h.n.e.parents.spanContext(h.refusedTicket())
		}
		return SpanContext{}
	}
	return SpanContext{TraceID: n.traceID, SpanID: n.SpanID, TraceState: n.traceState,
		Sampled: n.traceFlags&w3c.FlagSampled != 0, Random: n.traceFlags&w3c.FlagRandom != 0}
}

// StartChild starts a node execution below this one: an LLM or tool call,
// a retry, an inner node of an iteration or sub-workflow. The child is a
// Node like the others (every Node call, the same budgets): its span's
// parent is this node's span, in the same trace; the run log lists it in
// the run's trace as the original listed nested work, one node execution
// among the others. It counts against Limits.NodesPerRun with the run's
// other nodes; past it, or on an ended or stale node, it returns a no-op
// Node and counts the drop or the stale call. Below a node the engine
// refused (its run refused, past Limits.NodesPerRun) each child is counted
// dropped for the same reason. A child left open ends with
// the run, as nodes do.
func (h Node) StartChild(nodeID, nodeType, nodeName string) Node {
	n := h.open()
	if n == nil {
		if h.n != nil && h.n.run == nil {
			// Below a refused node: lost for its reason, and counted.
			h.n.e.stats.accepted.Add(1)
			h.n.e.stats.drop(refusedWhy(h.gen), 1)
			return h
		}
		return Node{}
	}
	// The run handle carries the generation the node was started in: a
	// run ended and reused since has another, so startNode refuses it.
	return h.runHandle().startNode(n.SpanID, nodeID, nodeType, nodeName)
}

// SpanKind is the OpenTelemetry kind of a node's span.
type SpanKind = encode.SpanKind

// The span kinds, numbered as in OTLP.
const (
	SpanKindInternal = encode.SpanKindInternal
	SpanKindServer   = encode.SpanKindServer
	SpanKindClient   = encode.SpanKindClient
	SpanKindProducer = encode.SpanKindProducer
	SpanKindConsumer = encode.SpanKindConsumer
)

// SetSpanKind sets the kind of the node's span, INTERNAL unless set:
// SpanKindClient for a call to another service, such as an LLM or tool
// call started with StartChild (the GenAI conventions' kind for an
// inference span). A kind OTLP does not define sets INTERNAL.
func (h Node) SetSpanKind(k SpanKind) {
	if n := h.claim(); n != nil {
		if k > SpanKindConsumer {
			k = SpanKindInternal
		}
		n.Kind = k
		n.unclaim(h.gen)
	}
}

// runHandle returns a handle on the node's run, at the generation the
// node was started in.
func (h Node) runHandle() Run {
	n := h.n
	if n.run == nil { // a refused node's: its nodes are counted as refused
		return n.e.refusedRun(refusedWhy(h.gen), h.refusedTicket())
	}
	return Run{r: n.run, gen: h.runGen}
}

// setShape sets the parent span (zero: the run's) and the span kind of a
// node started by the OpenTelemetry bridge.
func (h Node) setShape(parent encode.SpanID, kind encode.SpanKind) {
	if n := h.claim(); n != nil {
		n.ParentSpanID, n.Kind = parent, kind
		n.unclaim(h.gen)
	}
}

// Next records the ids of the nodes that follow this one.
func (h Node) Next(ids ...string) {
	n := h.begin()
	if n == nil {
		return
	}
	for _, id := range ids {
		id = n.e.value(id) // ids equal once cut are one
		if n.hasNext(id) {
			continue // next_log_ids is a set
		}
		if n.attrCount() >= n.e.cfg.limits.Attrs {
			n.DroppedAttrs++
			n.e.stats.attrsDropped.Add(1)
			continue
		}
		if len(id) > n.e.cfg.smallBytes() {
			n.addBig(len(id))
		}
		n.Next = append(n.Next, id)
		// nextSet is built only past maxScanNext ids (hasNext), and its
		// line, the record's last, is otherwise never touched: loaded
		// first, it missed the caches in most loadgen nodes.
		if len(n.Next) > maxScanNext+1 && n.nextSet != nil {
			n.nextSet[id] = struct{}{}
			n.hold(nextSetEntryBytes)
		}
	}
}

// hasNext reports whether id is one of the node's next ids: by comparing
// up to maxScanNext of them, past that in nextSet, built on first use, so
// that a call costs the ids' bytes, not the ids times Limits.Attrs.
func (n *nodeRecord) hasNext(id string) bool {
	if len(n.Next) <= maxScanNext {
		return slices.Contains(n.Next, id)
	}
	if n.nextSet == nil {
		n.nextSet = make(map[string]struct{}, 2*len(n.Next))
		for _, s := range n.Next {
			n.nextSet[s] = struct{}{}
		}
		n.hold(int64(2*len(n.Next)) * nextSetEntryBytes)
	}
	_, ok := n.nextSet[id]
	return ok
}

// appendAttrs appends attrs to dst within Limits.Attrs, keys and values
// cut to Limits.ValueBytes: the general case of add, and the events'
// attributes. pooled says dst is one of the lists carved from the
// record's pool.
func (n *nodeRecord) appendAttrs(dst, attrs []encode.Attr, pooled bool) []encode.Attr {
	e := n.e
	if room := e.cfg.limits.Attrs - n.attrCount(); len(attrs) > room {
		room = max(room, 0)
		over := len(attrs) - room
		n.DroppedAttrs += uint32(over)
		e.stats.attrsDropped.Add(uint64(over))
		attrs = attrs[:room]
	}
	if pooled && len(dst)+len(attrs) > cap(dst) {
		dst, _ = n.carve(dst, len(attrs))
	}
	start, before := len(dst), cap(dst)
	dst = append(dst, attrs...)
	if c := cap(dst); c != before {
		// Past the record's arrays: counted now, recounted at release.
		n.hold(int64(c) * int64(unsafe.Sizeof(encode.Attr{})))
	}
	small := e.cfg.smallBytes()
	for i := start; i < len(dst); i++ {
		a := &dst[i]
		if len(a.Key) > small || a.Value.Long(small) {
			a.Key = e.value(a.Key)
			a.Value = e.limitValue(a.Value, n)
			n.addBig(len(a.Key) + len(a.Value.Str()))
		}
	}
	return dst
}

// idBytes is the bytes of the node's identity: its id, type, name and
// span name.
func (n *nodeRecord) idBytes() int {
	return len(n.NodeID) + len(n.NodeType) + len(n.NodeName) + len(n.SpanName[0]) + len(n.SpanName[1])
}

// smallBytes is the length up to which an attribute is counted by number
// in nodeRecord.valueBound: smallValue, or less when Limits.ValueBytes cuts
// every value shorter.
func (c *config) smallBytes() int { return min(c.limits.ValueBytes, smallValue) }

// smallValue is the length up to which an attribute's key and value are
// counted by number only in valueBound; longer ones are summed in big.
const smallValue = 1024

// addEventBig adds to big the texts of the event appended past the
// node's first k, if any (Limits.Events may have dropped it): counted
// where the caller wrote them, they are not read again by valueBound,
// whose reading of the events' line, out of the pipeline's caches, was
// most of its cost (node/llm).
func (n *nodeRecord) addEventBig(k int) {
	if len(n.Events) > k {
		ev := &n.Events[k]
		n.addBig(len(ev.Message) + len(ev.Type) + len(ev.Stacktrace))
	}
}

// addBig adds k bytes to big, saturating.
func (n *nodeRecord) addBig(k int) {
	n.big = uint32(min(int64(n.big)+int64(k), math.MaxUint32))
}

// valueBound is at least the bytes of the strings and bytes values of the
// node's span (Limits.RunBytes): the attributes and next ids of up to
// smallValue bytes by their number, the longer ones and the events' texts
// by big, and the rest by their length.
// It reads what the pipeline reads anyway, not the attributes' values;
// small is config.smallBytes, read once per run. The pipeline calls it on
// an ended node only.
func (n *nodeRecord) valueBound(small int) int {
	b := int(n.big) + n.idBytes() + len(n.LLMOutput) + len(n.StatusMessage)
	b += 2*small*(len(n.Input)+len(n.Output)+len(n.Config)+len(n.Attrs)+len(n.eventAttrs)) + small*len(n.Next)
	return b // the events' texts are in big (addEventBig)
}

// add appends attrs to *dst, one of the node's attribute lists, for a
// handle of generation gen: Input, Output, Config and SetAttributes past
// their nil check, which keeps them small enough to inline, so that each
// is one call. Its common case, a list's first call, with room for attrs
// within Limits.Attrs and at the pool's first free attribute (carve's
// common case), copies each attribute once, checked on the way from the
// caller's array (a bulk copy read back from the record stalled on store
// forwarding), in a loop that calls nothing, so that nothing in it is
// spilled to the stack; the first attribute to cut or copy (addCut), a
// list's second call and a full pool or Limits.Attrs (addMore) take calls
// of their own.
//
// The value's test (Long) is most of what the checks cost: without it
// node/attrs8 takes 63.5 ns of 66.4, without both tests 62.6 (thread CPU,
// one CPU, 15 alternated samples). Tests of fewer instructions were
// slower, each taking a branch or a spill per attribute more: the length
// word rotated so that one compare tells kind and length, the scalar
// test past it (+2.0 %, n=24), or both tests without a branch (+7.3 %);
// the tests ORed into one word checked after the loop (+2.6 %), in a
// helper of its own (+8.3 %); a loop of tests, then one of copies
// (+3.5 %).
func (n *nodeRecord) add(gen uint32, dst *[]encode.Attr, attrs []encode.Attr) {
	if n.sw.Load() != packState(gen, stateOpen) {
		n.stale()
		return
	}
	u, k := int(n.pooled), len(attrs)
	if cap(*dst) != 0 || u+k > nodeInline || n.attrCount()+k > n.e.cfg.limits.Attrs {
		n.addMore(dst, attrs)
		return
	}
	to := n.pool[u : u+k : u+k]
	n.pooled = uint8(u + k)
	small := n.e.cfg.smallBytes()
	for i := range to {
		a := &attrs[i]
		if len(a.Key) > small || a.Value.Long(small) {
			n.addCut(to[i:], attrs[i:])
			break
		}
		to[i] = *a
	}
	*dst = to
}

// addMore is add past its common case: a list that has attributes, a
// full pool (carve), Limits.Attrs (appendAttrs).
func (n *nodeRecord) addMore(dst *[]encode.Attr, attrs []encode.Attr) {
	e, d := n.e, *dst
	end := len(d) + len(attrs)
	over := n.attrCount()+len(attrs) > e.cfg.limits.Attrs
	if end > cap(d) && !over {
		d, _ = n.carve(d, len(attrs))
	}
	if end > cap(d) || over {
		n.rare = true
		*dst = n.appendAttrs(d, attrs, true)
		return
	}
	d = d[:end]
	to := d[end-len(attrs):]
	n.addCut(to, attrs)
	*dst = d
}

// addCut copies attrs to to, of the same length, cutting keys and values
// to Limits.ValueBytes and copying bytes values (limitValue).
func (n *nodeRecord) addCut(to, attrs []encode.Attr) {
	e := n.e
	small := e.cfg.smallBytes()
	to = to[:len(attrs)]
	for i := range attrs {
		a := &attrs[i]
		if len(a.Key) > small || a.Value.Long(small) {
			to[i] = encode.Attr{Key: e.value(a.Key), Value: e.limitValue(a.Value, n)}
			n.addBig(len(to[i].Key) + len(to[i].Value.Str()))
			continue
		}
		to[i] = *a
	}
}

func (n *nodeRecord) attrCount() int {
	return len(n.Input) + len(n.Output) + len(n.Config) + len(n.Next) + len(n.Attrs) + len(n.eventAttrs)
}

// Input adds input values.
func (h Node) Input(attrs ...Attr) {
	if n := h.n; n != nil {
		n.add(h.gen, &n.Input, attrs)
	}
}

// Output adds output values.
func (h Node) Output(attrs ...Attr) {
	if n := h.n; n != nil {
		n.add(h.gen, &n.Output, attrs)
	}
}

// Config adds configuration values.
func (h Node) Config(attrs ...Attr) {
	if n := h.n; n != nil {
		n.add(h.gen, &n.Config, attrs)
	}
}

// SetAttributes adds span attributes with the caller's keys, written as
// they are (gen_ai.request.model, vendor keys), where Input, Output and
// Config prefix theirs: the original's span.set_attribute. They count
// against Limits.Attrs with the node's other attributes and are not part
// of the run trace log. A key given twice, here or as a prefixed Input,
// Output or Config key, is exported once with its last value; a key the
// node span writes itself (node_id, code when SetCode was called, ...)
// keeps the span's value (see encode's doc).
func (h Node) SetAttributes(attrs ...Attr) {
	if n := h.begin(); n != nil { // begin: a node with span attributes is not plain
		n.add(h.gen, &n.Attrs, attrs)
	}
}

// SetCode sets the node span's attribute "code", the node's return code
// (the original's span.set_code). The last call counts.
func (h Node) SetCode(code int) {
	if n := h.begin(); n != nil {
		n.Code, n.HasCode = int64(code), true
	}
}

// InfoEvent adds an info event given as data (the original's
// add_info_events): span event "INFO" with attrs as its attributes, and a
// log entry holding their text as Python's str() of a dict writes it
// ({'llm first token cost: ': 1.2}). The attributes count against
// Limits.Attrs (at most Limits.EventAttrs of them), the event against
// Limits.Events.
func (h Node) InfoEvent(attrs ...Attr) {
	if n := h.begin(); n != nil {
		n.appendEventAttrs(n.now(), encode.EventInfo, attrs)
	}
}

// ErrorEvent is InfoEvent for an error (the original's add_error_events):
// span event "ERROR", span attribute error=true, and the node marked
// failed as Error does.
func (h Node) ErrorEvent(attrs ...Attr) {
	if n := h.begin(); n != nil {
		n.appendEventAttrs(n.now(), encode.EventError, attrs)
		n.Status = encode.StatusError
	}
}

// appendEventAttrs appends an event of attributes at t within
// Limits.Events, its attributes kept in the node's own array, at most
// Limits.EventAttrs of them.
func (n *nodeRecord) appendEventAttrs(t int64, kind encode.EventKind, attrs []Attr) {
	e := n.e
	if len(n.Events) >= e.cfg.limits.Events {
		n.DroppedEvents++
		e.stats.eventsDropped.Add(1)
		return
	}
	if k := len(attrs) - e.cfg.limits.EventAttrs; k > 0 { // Limits.EventAttrs
		n.DroppedAttrs += uint32(k)
		e.stats.attrsDropped.Add(uint64(k))
		attrs = attrs[:e.cfg.limits.EventAttrs]
	}
	start := len(n.eventAttrs)
	n.eventAttrs = n.appendAttrs(n.eventAttrs, attrs, false)
	end := len(n.eventAttrs)
	n.Events = append(n.Events, encode.Event{TimeUnixNano: t, Kind: kind, Attrs: n.eventAttrs[start:end:end]})
}

// Usage sets the node's token usage (data.usage of the run trace log); the
// run sums it when it ends. The node's span carries it as usage.* and as
// gen_ai.usage.input_tokens and output_tokens (PromptTokens and
// CompletionTokens) unless SetAttributes gave either key: the span then
// carries the caller's value, once, as the GenAI metrics read it. A
// negative token count is no count: gen_ai.client.token.usage leaves it
// out, counted in Stats.ValuesTruncated (the span and the run keep it).
func (h Node) Usage(u Usage) {
	if n := h.begin(); n != nil {
		n.Node.Usage, n.HasUsage = u, true
	}
}

// LLMOutput sets an LLM node's output text.
func (h Node) LLMOutput(s string) {
	if n := h.begin(); n != nil {
		n.Node.LLMOutput = n.e.value(s)
	}
}

// FirstFrame records that the node streamed its first output now. Only the
// first call counts.
func (h Node) FirstFrame() {
	if n := h.begin(); n != nil {
		if n.FirstFrameUnixNano == 0 {
			n.FirstFrameUnixNano = n.now()
		}
	}
}

// FirstTokenCost records how long the LLM took to send its first token,
// measured by the caller from the request it made (the original's
// set_node_first_cost_time, which its callers fed round(seconds, 2)). The
// run trace log writes it as node_first_cost_time in seconds with two
// decimals; a node without it writes -1. The last call counts.
func (h Node) FirstTokenCost(d time.Duration) {
	if n := h.begin(); n != nil {
		n.FirstTokenCostNano, n.HasFirstTokenCost = int64(d), true
	}
}

// Info adds an info log entry (span event "INFO").
func (h Node) Info(msg string) {
	if n := h.begin(); n != nil {
		k := len(n.Events)
		n.Events = n.e.appendEvent(n.Events, n.now(), encode.EventInfo, msg, &n.DroppedEvents)
		n.addEventBig(k)
	}
}

// Error adds an error log entry (span event "ERROR", span attribute
// error=true) and marks the node failed, as the original's error path:
// running_status false, span status ERROR (its message the first error's
// when none was set), counted with status "error" in the node metrics. The
// node stays open: End, or Fail, ends it.
func (h Node) Error(msg string) {
	if n := h.begin(); n != nil {
		n.fail(n.now(), msg)
	}
}

// Fail is Error(msg) then End with one clock reading: it fails the node
// without a Go error value (RecordError takes one).
func (h Node) Fail(msg string) {
	if n := h.begin(); n != nil {
		mono := n.e.mono()
		n.fail(n.wall(mono), msg)
		n.end(h.gen, mono)
	}
}

// Cancel ends the node as cancelled: running_status false, span status
// ERROR with reason as its message ("cancelled" when empty) and attribute
// error.type "cancelled", counted with status "cancelled" in the node
// metrics, apart from failures. Use it when the run gave up on the node
// (a timeout elsewhere, the user left), not when the node failed.
func (h Node) Cancel(reason string) {
	if n := h.begin(); n != nil {
		if reason == "" {
			reason = "cancelled"
		}
		n.Status, n.StatusMessage, n.Cancelled = encode.StatusError, n.e.value(reason), true
		n.end(h.gen, n.e.mono())
	}
}

// fail records an error log entry at t and marks the node failed, keeping
// the first failure's message as the span status message.
func (n *nodeRecord) fail(t int64, msg string) {
	msg = n.e.value(msg) // cut and counted once, for the entry and the status
	k := len(n.Events)
	n.Events = n.e.appendEvent(n.Events, t, encode.EventError, msg, &n.DroppedEvents)
	n.addEventBig(k)
	if n.Status != encode.StatusError {
		n.Status, n.StatusMessage = encode.StatusError, msg
	}
}

// RecordError records err as an exception event, sets the node's status to
// error (running_status false) and ends the node. It allocates what
// err.Error() allocates, and the stack when WithStackTraces is on.
func (h Node) RecordError(err error) {
	n := h.begin()
	if n == nil {
		return
	}
	mono := n.e.mono()
	var msg string
	k := len(n.Events)
	n.Events, msg = n.e.appendException(n.Events, n.wall(mono), err, &n.DroppedEvents)
	n.addEventBig(k)
	n.Status, n.StatusMessage = encode.StatusError, msg
	n.end(h.gen, mono)
}

// End ends the node. A second End is a counted no-op.
func (h Node) End() {
	if n := h.n; n != nil {
		n.endNow(h.gen)
	}
}

// endNow is End past its nil check, which keeps End small enough to
// inline: begin's check, then end's body at one clock reading, written
// out so that End is one call where it was two.
func (n *nodeRecord) endNow(gen uint32) {
	if n.sw.Load() != packState(gen, stateOpen) {
		n.stale()
		return
	}
	mono := n.e.mono()
	n.EndUnixNano = max(n.wall(mono), n.StartUnixNano) // as end
	if n.leftover > n.pooled {
		clear(n.pool[n.pooled:n.leftover])
	}
	n.leftover = 0
	n.run.touch(mono)
	if !n.sw.CompareAndSwap(packState(gen, stateOpen), packState(gen, stateEnded)) {
		n.e.stats.staleCalls.Add(1)
	}
}

// end finishes the node: its one compare-and-swap, open to ended, hands
// every write before it to the pipeline. It fails only when the node's run
// ended first and the pipeline closed the node: the record is orphaned
// then, and the call counts as stale.
func (n *nodeRecord) end(gen uint32, mono int64) { n.endAt(gen, mono, n.wall(mono)) }

// endAt is end with the span's end at wall: the clock's reading, or the
// time the bridge was given (trace.WithTimestamp).
func (n *nodeRecord) endAt(gen uint32, mono, wall int64) {
	// Not before the start, should the clock give up its counter (clock).
	n.EndUnixNano = max(wall, n.StartUnixNano)
	if n.leftover > n.pooled {
		clear(n.pool[n.pooled:n.leftover]) // the node before's: see reopen
	}
	n.leftover = 0
	n.run.touch(mono)
	if !n.sw.CompareAndSwap(packState(gen, stateOpen), packState(gen, stateEnded)) {
		n.e.stats.staleCalls.Add(1)
	}
}

// wall converts a monotonic reading to wall nanoseconds, anchored at the
// run's start.
func (n *nodeRecord) wall(mono int64) int64 { return n.anchor + mono }

// now reads the clock once and returns wall nanoseconds, marking activity.
func (n *nodeRecord) now() int64 {
	mono := n.e.mono()
	n.run.touch(mono)
	return n.anchor + mono
}

// orphanMem is what an orphaned record's mem holds once the pipeline has
// given its bytes back: so negative that a late grow by its owner keeps it
// negative and is not counted (hold).
const orphanMem = math.MinInt64 / 2

// hold counts b more bytes held by the record, unless the record is
// orphaned: those bytes go to the garbage collector with it.
func (n *nodeRecord) hold(b int64) {
	if n.mem.Add(b) >= 0 {
		n.e.mem.held.Add(b)
	}
}

// copyBytes copies b into the node's own buffer. It reports false, and
// copies nothing, when a larger buffer would pass the memory limit.
func (n *nodeRecord) copyBytes(b []byte) ([]byte, bool) {
	start := len(n.bytes)
	if start+len(b) > cap(n.bytes) {
		// The values copied so far keep the old buffer until the
		// record is reset: both are counted until then.
		size := max(2*cap(n.bytes), start+len(b), 256)
		if !n.e.mem.reserve(int64(size)) {
			return nil, false
		}
		if n.mem.Add(int64(size)) < 0 {
			n.e.mem.held.Add(-int64(size)) // orphaned: see hold
		}
		nb := make([]byte, start, size)
		copy(nb, n.bytes)
		n.bytes = nb
	}
	n.bytes = append(n.bytes, b...)
	return n.bytes[start:len(n.bytes):len(n.bytes)], true
}

// stack returns the calling goroutine's stack, growing its buffer up to
// 64 KiB; a deeper stack is cut there.
func stack() string {
	buf := make([]byte, 4096)
	for {
		n := runtime.Stack(buf, false)
		if n < len(buf) || len(buf) >= 64<<10 {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

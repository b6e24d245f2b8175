package engine

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/w3c"
)

// Record states. A record is open while its owner may write it; busy
// while a node's owner writes what the pipeline exports of a node its run
// closed, or, for runs, never (runs count writers instead); ending while
// Run.End writes the last fields; ended once handed on; closed when the
// pipeline closed it for its owner (idle timeout, shutdown, run end).
//
// A record's state word packs its generation (high 32 bits, bumped on
// every reuse) and its state (bits 24-31). A run's word also packs the
// callers inside a Run method (writers, bits 21-23) and the nodes started
// in it (count, bits 0-20, refused ones included): StartNode takes its
// node's index with one compare-and-swap that also checks the handle's
// generation and that the run is open, and Run.End fixes the count with
// the compare-and-swap that ends the run. The package doc gives the
// protocol and why it holds.
const (
	stateFree uint64 = iota
	stateOpen
	stateBusy
	stateEnding
	stateEnded
	stateClosed
)

const (
	countBits   = 21 // Limits.NodesPerRun is at most 1<<20
	countMask   = 1<<countBits - 1
	writerShift = countBits
	writerOne   = 1 << writerShift
	writerMask  = 7 << writerShift
	stateShift  = 24
	stateMask   = 0xff << stateShift
)

func packState(gen uint32, state uint64) uint64 { return uint64(gen)<<32 | state<<stateShift }
func stateOf(w uint64) uint64                   { return w >> stateShift & 0xff }
func genOf(w uint64) uint32                     { return uint32(w >> 32) }
func countOf(w uint64) int                      { return int(w & countMask) }

// withState returns w in state s, its generation, writers and count kept.
func withState(w, s uint64) uint64 { return w&^stateMask | s<<stateShift }

// SpanContext identifies a span across process boundaries.
type SpanContext struct {
	TraceID    encode.TraceID
	SpanID     encode.SpanID
	TraceState string
	Sampled    bool
	// Random is W3C Trace Context Level 2's random trace-id flag: at least
	// the right-most 7 bytes of TraceID were drawn at random. It is kept as
	// received for the same trace-id; flowtel sets it on the traces it
	// starts. The other, reserved, flags are not kept: a sender sets them
	// to zero.
	Random bool
}

// spanContext returns the span context of span id in run r: the run's
// trace, tracestate and flags.
func (r *runRecord) spanContext(id encode.SpanID) SpanContext {
	return SpanContext{TraceID: r.TraceID, SpanID: id, TraceState: r.TraceState,
		Sampled: r.TraceFlags&w3c.FlagSampled != 0, Random: r.TraceFlags&w3c.FlagRandom != 0}
}

// IsValid reports whether both ids are non-zero.
func (sc SpanContext) IsValid() bool { return !sc.TraceID.IsZero() && !sc.SpanID.IsZero() }

// RunInfo identifies a run. Strings are kept, not copied: they must not be
// built on memory the caller changes later (Go strings never are).
//
// The fields are the original's WorkflowLog fields of the same names in
// the run trace log. FlowID also names the root span ("run:{flow_id}")
// and is the func label of the request metrics, AppID their app_id
// label; SID, AppID, UID and ChatID are attributes of every span of the
// run; ServiceID, FlowID, BotID, Sub and Caller attributes of its root
// span when not empty.
type RunInfo struct {
	SID       string // generated when empty and the engine has WithSID
	ServiceID string // when empty: BotID if Sub is "SparkAgent", else FlowID
	FlowID    string
	BotID     string
	Sub       string
	AppID     string
	UID       string
	ChatID    string
	Caller    string
	LogCaller string // in the run trace log only
	Question  string // the original's add_q
	// Parent, when valid, makes the run join the caller's trace.
	Parent SpanContext
}

// runInline sizes the inline arrays of a run: srv, srv_tag and attributes
// seen in real workflows fit, so a run allocates nothing.
const runInline = 4

// Moving e and the run's anchor (StartUnixNano less startMono) onto sw's
// line, so that StartNode reads two lines of the record where it reads
// four, measured -2 % in TestCaptureColdCPUTime on its own and +6 % with
// an unrelated change to node.go: within what code layout alone moves
// StartNode (see that test).
type runRecord struct {
	encode.Run
	e   *Engine
	idx int
	sw  atomic.Uint64 // generation, state, writers and nodes started: see stateFree

	dropNext   *runRecord // in Engine.dropped
	freedAt    int64      // when the record was last released (trimIdle)
	extra      int64      // bytes of arrays past the inline ones, counted in Engine.mem
	startMono  int64
	lastActive atomic.Int64
	refusedAt  atomic.Uint64 // ticket of the span context its refused nodes hand on (refusedctx.go)
	// chunks hold the run's node records by start index: the first
	// nodeKeepChunks inline, the rest in more, allocated by the first run
	// of this record with that many nodes and dropped when it ends, so that
	// a high Limits.NodesPerRun costs nothing up front. Records stay with
	// the run record and are reused by its next runs; a chunk is allocated
	// the first time a run of this record needs it.
	chunks [nodeKeepChunks]atomic.Pointer[nodeChunk]
	more   atomic.Pointer[[]atomic.Pointer[nodeChunk]]

	// plain has bit i%64 of word i/64 set when node i's record holds
	// only what nodeRecord.resetPlain clears, as the pipeline found it
	// (add); release reads it, and leaves such a record as it is, not
	// even its state word written. Nodes past its bits are released
	// whole.
	plain [nodeKeepChunks * nodeChunkSize / 64]uint64
	// lazy is how many of the run record's first node records may hold a
	// plain node release left as it was (reopen): those the next runs do
	// not reuse are reset when they are released, so that no record keeps
	// a caller's strings for longer than its run record's next run.
	lazy int

	srv    [runInline]encode.Attr
	srvTag [runInline]encode.Attr
	attrs  [runInline]encode.Attr
	events [2]encode.Event
	sidBuf [MaxSIDBytes]byte
	order  []*encode.Node // backing of Run.Nodes, reused
	endAt  int64          // the span's end given to the bridge (Run.setEnd), 0 for End's clock
}

// nodeChunkSize is the node records per chunk: most runs fit in one.
const nodeChunkSize = 32

// nodeKeepChunks is how many chunks a run record keeps once a huge run
// ends, so that one run of thousands of nodes does not pin its records.
const nodeKeepChunks = 8

type nodeChunk [nodeChunkSize]atomic.Pointer[nodeRecord]

func newRunRecord(e *Engine, idx int) *runRecord {
	r := &runRecord{e: e, idx: idx}
	r.Srv, r.SrvTag, r.Attrs, r.Events = r.srv[:0], r.srvTag[:0], r.attrs[:0], r.events[:0]
	return r
}

// wall converts a monotonic reading to wall nanoseconds anchored at the run start.
func (r *runRecord) wall(mono int64) int64 { return r.StartUnixNano + (mono - r.startMono) }

func (r *runRecord) reset() {
	keepOrder := r.order[:0]
	clear(r.Srv)
	clear(r.SrvTag)
	clear(r.Attrs)
	clear(r.Events)
	clear(r.order)
	srv, tag, attrs, events := r.Srv[:0], r.SrvTag[:0], r.Attrs[:0], r.Events[:0]
	// Zeroed in place, then the arrays put back: a literal with them was
	// built on the stack and copied.
	r.Run = encode.Run{}
	r.Srv, r.SrvTag, r.Attrs, r.Events = srv, tag, attrs, events
	r.order = keepOrder
	r.plain = [len(r.plain)]uint64{}
	r.endAt = 0
}

// setPlain records that node i is plain (nodeRecord.plain), when i has a
// bit.
func (r *runRecord) setPlain(i int) {
	if uint(i) < uint(len(r.plain)*64) {
		r.plain[i/64] |= 1 << (i % 64)
	}
}

// isPlain reports whether setPlain recorded node i.
func (r *runRecord) isPlain(i int) bool {
	return uint(i) < uint(len(r.plain)*64) && r.plain[i/64]&(1<<(i%64)) != 0
}

// Run is a handle on one workflow run. The zero Run is a no-op handle.
// A Run's methods other than StartNode must be called from one goroutine
// at a time; StartNode may be called from many (parallel branches).
// After End every call is a counted no-op, even when the engine has reused
// the record for another run.
type Run struct {
	r   *runRecord
	gen uint32
	// refused is set on the handle of a run the engine refused, so that
	// the nodes started in it are counted too; tag then holds why in its
	// low byte and the high bits of its parent's ticket above, gen the
	// low bits (refusedctx.go). Four fields, not five: the compiler keeps
	// a struct of at most four in registers, and a fifth (f6acc5b) put
	// every handle in memory: TestCPUTime's CaptureCaller node/attrs0 40
	// -> 56 ns, run 25 -> 32.
	refused *Engine
	tag     uint32
}

// begin claims the record for a write if the handle still owns it and
// it is open, counting a stale call otherwise. done releases the claim.
// The pipeline does not close a run with writers (idle timeout,
// shutdown), so a Run method never writes into a closed or reused record.
func (h Run) begin() *runRecord {
	r := h.r
	if r == nil {
		return nil
	}
	for {
		w := r.sw.Load()
		if genOf(w) != h.gen || stateOf(w) != stateOpen {
			r.e.stats.staleCalls.Add(1)
			return nil
		}
		if w&writerMask == writerMask {
			// Seven callers at once break the contract: let one leave
			// rather than carry into the state.
			runtime.Gosched()
			continue
		}
		if r.sw.CompareAndSwap(w, w+writerOne) {
			return r
		}
	}
}

func (r *runRecord) done() { r.sw.Add(^uint64(writerOne - 1)) }

// IsRecording reports whether the run is open: started, accepted and not ended.
func (h Run) IsRecording() bool {
	if h.r == nil {
		return false
	}
	w := h.r.sw.Load()
	return genOf(w) == h.gen && stateOf(w) == stateOpen
}

// SID returns the run's SID. The string lives in the run's record: it is
// valid until the run is ended; strings.Clone it to keep it longer.
func (h Run) SID() string {
	r := h.begin()
	if r == nil {
		return ""
	}
	defer r.done()
	return r.SID
}

// SpanContext returns the run's trace and span ids; on a run the engine
// refused, the parent it was started under (the zero SpanContext for a
// root run), as OpenTelemetry's non-recording span keeps its parent's.
func (h Run) SpanContext() SpanContext {
	r := h.begin()
	if r == nil {
		if h.refused != nil { // its parent, if any (refusedctx.go)
			return h.refused.parents.spanContext(h.ticket())
		}
		return SpanContext{}
	}
	defer r.done()
	return r.spanContext(r.SpanID)
}

// Answer sets the run's answer.
func (h Run) Answer(s string) {
	if r := h.begin(); r != nil {
		r.Answer = r.e.value(s)
		r.done()
	}
}

// Srv adds a key and value to the run's srv and srv_tag maps, as the
// original's add_srv.
func (h Run) Srv(key, value string) {
	if r := h.begin(); r != nil {
		r.Srv = r.e.appendAttr(r.Srv, String(key, value), &r.DroppedAttrs)
		r.SrvTag = r.e.appendAttr(r.SrvTag, String(key, value), &r.DroppedAttrs)
		r.done()
	}
}

// FirstFrame records that the run streamed its first output now (the
// original's add_first_frame_duration). Only the first call counts; a run
// without it takes its first frame from its first message or node-end
// node (encode.Run.FirstFrameMillis).
func (h Run) FirstFrame() {
	if r := h.begin(); r != nil {
		if r.FirstFrameUnixNano == 0 {
			r.FirstFrameUnixNano = r.now()
		}
		r.done()
	}
}

// SrvTag adds a key and value to the run's srv_tag map alone.
func (h Run) SrvTag(key, value string) {
	if r := h.begin(); r != nil {
		r.SrvTag = r.e.appendAttr(r.SrvTag, String(key, value), &r.DroppedAttrs)
		r.done()
	}
}

// SetAttributes adds attributes to the run's span. A key given twice is
// exported once with its last value; a key the run span writes itself
// (app_id, code, usage.*, ...) keeps the span's value (see encode's doc).
func (h Run) SetAttributes(attrs ...Attr) {
	if r := h.begin(); r != nil {
		for _, a := range attrs {
			r.Attrs = r.e.appendAttr(r.Attrs, a, &r.DroppedAttrs)
		}
		r.done()
	}
}

// Info adds an event INFO (attribute "INFO LOG") to the run's span. The
// run trace log has no logs of its own (the original's WorkflowLog had
// none): a log a consumer of that JSON reads belongs on a node.
func (h Run) Info(msg string) {
	if r := h.begin(); r != nil {
		r.Events = r.e.appendEvent(r.Events, r.now(), encode.EventInfo, msg, &r.DroppedEvents)
		r.done()
	}
}

// Error adds an event ERROR (attribute "ERROR LOG") to the run's span and
// sets its attribute error=true. It is not in the run trace log (see Info)
// and does not fail the run: the status is End's code.
func (h Run) Error(msg string) {
	if r := h.begin(); r != nil {
		r.Events = r.e.appendEvent(r.Events, r.now(), encode.EventError, msg, &r.DroppedEvents)
		r.done()
	}
}

// now reads the clock once and returns wall nanoseconds, marking activity.
func (r *runRecord) now() int64 {
	mono := r.e.mono()
	r.touch(mono)
	return r.wall(mono)
}

// End ends the run with its return code (0 is success) and message. The
// pipeline sums the nodes' usage into the run once and exports it. A second
// End is a counted no-op.
func (h Run) End(code int, message string) {
	r := h.r
	if r == nil {
		return
	}
	var w uint64
	for {
		w = r.sw.Load()
		if genOf(w) != h.gen || stateOf(w) != stateOpen {
			r.e.stats.staleCalls.Add(1)
			return
		}
		if w&writerMask != 0 {
			// A Run method is running on another goroutine (a broken
			// contract, or the bridge): let it finish.
			runtime.Gosched()
			continue
		}
		// The state change fixes the count: a StartNode that took an
		// index before it is in the run, one after it sees the run ended.
		if r.sw.CompareAndSwap(w, withState(w, stateEnding)) {
			break
		}
	}
	mono := r.e.mono()
	// A clock that fell back from the counter can read up to its skew
	// behind the start; a run never ends before it starts.
	r.EndUnixNano = max(r.wall(mono), r.StartUnixNano)
	r.Code = int64(code)
	r.Message = r.e.value(message)
	r.sw.Store(withState(w, stateEnded))
	// The run's nodes enter the accounting with it: one counter update
	// per run instead of one per node, none for a run without nodes.
	if n := r.startedNodes(); n != 0 {
		r.e.stats.accepted.Add(uint64(n))
	}
	r.e.push(r)
}

// StartNode starts a node execution in the run. nodeID is "type:uuid"
// (e.g. "llm:1"); the three strings are cut to Limits.ValueBytes. Past Limits.NodesPerRun, or in a run the engine refused,
// it returns a no-op Node and counts the drop.
func (h Run) StartNode(nodeID, nodeType, nodeName string) Node {
	return h.startNode(encode.SpanID{}, nodeID, nodeType, nodeName)
}

// startNode starts a node in the run whose span's parent is parent (zero:
// the run's span). Its one atomic read-modify-write on the run is the
// compare-and-swap that takes the node's index; the node is published to
// the pipeline by the store that opens it. The refused run's case is
// here, not in StartNode, so that StartNode is inlined: one call.
func (h Run) startNode(parent encode.SpanID, nodeID, nodeType, nodeName string) Node {
	r := h.r
	if r == nil {
		if h.refused != nil {
			// The run was refused: its nodes are spans lost for the same reason.
			h.refused.stats.accepted.Add(1)
			h.refused.stats.drop(refusedWhy(h.tag), 1)
			return h.refused.refusedNode(refusedWhy(h.tag), h.ticket())
		}
		return Node{}
	}
	e := r.e
	var (
		n    *nodeRecord
		c    *nodeChunk // node i's chunk, when it is one of the inline ones
		i    int
		need int64
	)
	for {
		w := r.sw.Load()
		if genOf(w) != h.gen || stateOf(w) != stateOpen {
			e.stats.staleCalls.Add(1)
			return Node{}
		}
		i = countOf(w)
		if i >= e.cfg.limits.NodesPerRun {
			// Refused, and counted in the run (DroppedNodes) while
			// the count has room.
			if i < countMask && !r.sw.CompareAndSwap(w, w+1) {
				continue
			}
			e.stats.accepted.Add(1)
			e.stats.drop(DropNodeLimit, 1)
			return e.refusedNode(DropNodeLimit, h.keepRefused(parent))
		}
		// A node that needs a new record must fit the memory limit
		// before it takes an index: every index taken gets its record.
		// slot, inline, keeping the chunk for the next index's prefetch.
		n, c, need = nil, nil, 0
		if uint(i) < nodeKeepChunks*nodeChunkSize {
			if c = r.chunks[uint(i)/nodeChunkSize].Load(); c != nil {
				n = c[uint(i)%nodeChunkSize].Load()
			}
		} else {
			n = r.slot(i)
		}
		if n == nil {
			need = r.slotBytes(i)
			if !e.mem.reserve(need) {
				e.stats.accepted.Add(1)
				e.stats.drop(DropMemoryLimit, 1)
				return e.refusedNode(DropMemoryLimit, h.keepRefused(parent))
			}
		}
		if r.sw.CompareAndSwap(w, w+1) {
			break
		}
		e.mem.add(-need)
	}
	if n == nil {
		n = r.nodeSlot(i)
		e.mem.add(-need) // nodeSlot counted what it allocated
	}
	// The run record is not reused before this node is open: the pipeline
	// waits for every index taken (node), so its fields are read safely.
	// The node's generation is its run's: a record holds one node of each
	// run of its run record (see the package doc's protocol).
	gen := h.gen
	mono := e.mono() // read after the compare-and-swap: read before it, node/attrs8 took 65.7 -> 69.0 ns (least of 15)
	n.reopen()
	n.SpanID, n.ParentSpanID = nodeSpanID(r.SpanID, i), parent
	n.NodeID, n.NodeType, n.NodeName = e.value(nodeID), e.value(nodeType), e.value(nodeName)
	n.traceID, n.traceState, n.traceFlags = r.TraceID, r.TraceState, r.TraceFlags
	n.anchor = r.StartUnixNano - r.startMono
	n.StartUnixNano = n.anchor + mono
	r.touch(mono)
	// The publication, and the prefetch of the next index's record: its
	// lines are out of the caches under load (see prefetchStart).
	// Prefetching two indices ahead (StartRun the first two), the record
	// itself before the compare-and-swap, or one found through a hint on
	// sw's line did no better in TestCaptureColdCPUTime (12-16 alternated
	// pairs), and the hint cost CaptureCaller/node/attrs0 38.0 -> 40.4 ns.
	if j := uint(i + 1); c != nil && j%nodeChunkSize != 0 {
		publishNode(&n.sw, packState(gen, stateOpen), c[j%nodeChunkSize].Load())
	} else {
		publishNode(&n.sw, packState(gen, stateOpen), nil)
		r.prefetchStart(i + 1)
	}
	return Node{n: n, gen: gen, runGen: h.gen}
}

// touch records activity for the idle timeout. It stores only when the
// last store is older than the reaper can tell apart, so that parallel
// branches do not bounce the run's cache line on every event.
func (r *runRecord) touch(mono int64) {
	if mono-r.lastActive.Load() > int64(time.Millisecond) {
		storeReleaseInt64(&r.lastActive, mono) // no read-modify-write: see the package doc
	}
}

// slot returns the record for node index i, or nil when this run record
// has none yet.
func (r *runRecord) slot(i int) *nodeRecord {
	if uint(i) < nodeKeepChunks*nodeChunkSize { // inline: no call to chunk
		if c := r.chunks[uint(i)/nodeChunkSize].Load(); c != nil {
			return c[uint(i)%nodeChunkSize].Load()
		}
		return nil
	}
	cp := r.chunk(i/nodeChunkSize, false)
	if cp == nil {
		return nil
	}
	c := cp.Load()
	if c == nil {
		return nil
	}
	return c[i%nodeChunkSize].Load()
}

// slotNode returns the exported part of the record for node index i,
// which exists (i < startedNodes of a run that ended). Computed from the
// record's address, not as &slot(i).Node, whose nil check loads the
// record's first line: its owner's fields (nodeRecord), which the
// pipeline reads nowhere else, so a miss per node in pipeline.add's pass
// after boundRun (the loadgen's profile: 100 ms of its pipeline's 1.34 s
// on that load).
func (r *runRecord) slotNode(i int) *encode.Node {
	return (*encode.Node)(unsafe.Add(unsafe.Pointer(r.slot(i)), unsafe.Offsetof(nodeRecord{}.Node)))
}

// setSlot makes n the record for node index i, which exists. The caller
// owns the run record (the pipeline, once the run ended).
func (r *runRecord) setSlot(i int, n *nodeRecord) {
	r.chunk(i/nodeChunkSize, false).Load()[i%nodeChunkSize].Store(n)
}

// nodeSlot returns the record for node index i, allocating it (and its
// chunk) the first time this run record needs it.
func (r *runRecord) nodeSlot(i int) *nodeRecord {
	cp := r.chunk(i/nodeChunkSize, true)
	c := cp.Load()
	if c == nil {
		c = new(nodeChunk)
		if cp.CompareAndSwap(nil, c) {
			r.e.mem.held.Add(nodeChunkBytes)
		} else {
			c = cp.Load()
		}
	}
	sp := &c[i%nodeChunkSize]
	n := sp.Load()
	if n == nil {
		n = newNodeRecord(r)
		n.mem.Store(nodeRecordBytes)
		r.e.mem.held.Add(nodeRecordBytes)
		sp.Store(n)
	}
	return n
}

// slotBytes returns what nodeSlot(i) would allocate now: nothing once the
// record of index i exists.
func (r *runRecord) slotBytes(i int) int64 {
	if i >= r.e.cfg.limits.NodesPerRun {
		return 0
	}
	k := i / nodeChunkSize
	cp := r.chunk(k, false)
	if cp == nil {
		return dirBytes(r.e.cfg.limits.NodesPerRun) + nodeChunkBytes + nodeRecordBytes
	}
	c := cp.Load()
	if c == nil {
		return nodeChunkBytes + nodeRecordBytes
	}
	if c[i%nodeChunkSize].Load() == nil {
		return nodeRecordBytes
	}
	return 0
}

// dirBytes is the size of the chunk directory of a run of nodes nodes.
func dirBytes(nodes int) int64 {
	return allocSize(uintptr((nodes+nodeChunkSize-1)/nodeChunkSize-nodeKeepChunks) * 8)
}

// chunk returns the pointer to chunk k, or nil when k is past the inline
// chunks and the directory of the others does not exist yet; alloc makes
// it (sized for Limits.NodesPerRun) when it is missing.
func (r *runRecord) chunk(k int, alloc bool) *atomic.Pointer[nodeChunk] {
	if k < nodeKeepChunks {
		return &r.chunks[k]
	}
	m := r.more.Load()
	if m == nil {
		if !alloc {
			return nil
		}
		d := make([]atomic.Pointer[nodeChunk], (r.e.cfg.limits.NodesPerRun+nodeChunkSize-1)/nodeChunkSize-nodeKeepChunks)
		if !r.more.CompareAndSwap(nil, &d) {
			m = r.more.Load()
		} else {
			m = &d
			r.e.mem.held.Add(dirBytes(r.e.cfg.limits.NodesPerRun))
		}
	}
	return &(*m)[k-nodeKeepChunks]
}

// startedNodes returns how many node records the run holds.
func (r *runRecord) startedNodes() int {
	return min(countOf(r.sw.Load()), r.e.cfg.limits.NodesPerRun)
}

// refusedNodes returns how many StartNode calls the run refused past
// Limits.NodesPerRun (counted up to the word's room).
func (r *runRecord) refusedNodes() int {
	return max(countOf(r.sw.Load())-r.e.cfg.limits.NodesPerRun, 0)
}

// freeNodeWords stores free, generation 0, in every node record's state
// word, once the run record's generation wraps (release): a record's word
// keeps the generation of the last run that took its index, which the
// runs since need not have taken, so that 2^32 runs later it would hold
// the generation of the run about to take it, and node would take it for
// its publication. Once every 2^32 runs of a record, no word older than
// the wrap is left. The caller owns r (its release).
func (r *runRecord) freeNodeWords() {
	r.eachChunk(func(c *nodeChunk) {
		for i := range c {
			if n := c[i].Load(); n != nil {
				n.sw.Store(packState(0, stateFree))
			}
		}
	})
}

// node returns the record of node i < startedNodes, waiting for a StartNode
// that claimed index i to finish writing it: for the record's state word
// to hold the run's generation, which the release of the record's last
// node left at the generation before (a record holds one node of each
// run), or at free for a new record.
func (r *runRecord) node(i int) *nodeRecord {
	gen := genOf(r.sw.Load())
	for {
		if cp := r.chunk(i/nodeChunkSize, false); cp == nil {
			// The StartNode that claimed i is allocating the directory.
		} else if c := cp.Load(); c != nil {
			if n := c[i%nodeChunkSize].Load(); n != nil {
				if w := n.sw.Load(); genOf(w) == gen && stateOf(w) != stateFree {
					return n
				}
			}
		}
		time.Sleep(time.Microsecond)
	}
}

// setSID writes a generated SID into the record's own buffer, stamped
// with the run's start (StartRun's clock reading) unless sid.Config.Now
// is the clock: a second reading, time.Now, took 9-12 ns a loadgen span.
func (r *runRecord) setSID() {
	var b []byte
	if r.e.cfg.sid.Now == nil {
		b = r.e.sid.AppendNextAt(r.sidBuf[:0], r.StartUnixNano/1e6)
	} else {
		b = r.e.sid.AppendNext(r.sidBuf[:0])
	}
	r.SID = unsafe.String(unsafe.SliceData(b), len(b))
}

package engine

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowtel/flowtel/encode"
)

// Record states. A record is open while its owner writes it; ending while
// End writes its last fields; ended once handed on; closed when the
// pipeline closed it for its owner (idle timeout, shutdown, run end).
const (
	stateFree uint32 = iota
	stateOpen
	stateEnding
	stateEnded
	stateClosed
)

// SpanContext identifies a span across process boundaries.
type SpanContext struct {
	TraceID    encode.TraceID
	SpanID     encode.SpanID
	TraceState string
	Sampled    bool
}

// IsValid reports whether both ids are non-zero.
func (sc SpanContext) IsValid() bool { return !sc.TraceID.IsZero() && !sc.SpanID.IsZero() }

// RunInfo identifies a run. Strings are kept, not copied: they must not be
// built on memory the caller changes later (Go strings never are).
type RunInfo struct {
	SID       string // generated when empty and the engine has WithSID
	ServiceID string
	FlowID    string
	BotID     string
	Sub       string
	AppID     string
	UID       string
	ChatID    string
	Caller    string
	LogCaller string
	Question  string
	// Parent, when valid, makes the run join the caller's trace.
	Parent SpanContext
}

// runInline sizes the inline arrays of a run: srv, srv_tag and attributes
// seen in real workflows fit, so a run allocates nothing.
const runInline = 4

type runRecord struct {
	encode.Run
	e     *Engine
	idx   int
	gen   atomic.Uint32
	state atomic.Uint32

	startMono  int64
	lastActive atomic.Int64
	// chunks hold the run's node records by start index. Records stay with
	// the run record and are reused by its next runs; a chunk is allocated
	// the first time a run of this record needs it.
	chunks    []atomic.Pointer[nodeChunk]
	nodeCount atomic.Int32 // StartNode calls, including refused ones

	srv    [runInline]encode.Attr
	srvTag [runInline]encode.Attr
	attrs  [runInline]encode.Attr
	events [2]encode.Event
	sidBuf [64]byte
	order  []*encode.Node // backing of Run.Nodes, reused
}

// nodeChunkSize is the node records per chunk: most runs fit in one.
const nodeChunkSize = 32

// nodeKeepChunks is how many chunks a run record keeps once a huge run
// ends, so that one run of thousands of nodes does not pin its records.
const nodeKeepChunks = 8

type nodeChunk [nodeChunkSize]atomic.Pointer[nodeRecord]

func newRunRecord(e *Engine, idx int) *runRecord {
	r := &runRecord{e: e, idx: idx}
	r.chunks = make([]atomic.Pointer[nodeChunk], (e.cfg.limits.NodesPerRun+nodeChunkSize-1)/nodeChunkSize)
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
	r.Run = encode.Run{Srv: srv, SrvTag: tag, Attrs: attrs, Events: events}
	r.order = keepOrder
	r.nodeCount.Store(0)
}

// Run is a handle on one workflow run. The zero Run is a no-op handle.
// A Run's methods other than StartNode must be called from one goroutine
// at a time; StartNode may be called from many (parallel branches).
// After End every call is a counted no-op, even when the engine has reused
// the record for another run.
type Run struct {
	r   *runRecord
	gen uint32
}

// live returns the record if the handle still owns it and it is open.
func (h Run) live() *runRecord {
	r := h.r
	if r == nil {
		return nil
	}
	if r.gen.Load() != h.gen || r.state.Load() != stateOpen {
		r.e.stats.staleCalls.Add(1)
		return nil
	}
	return r
}

// IsRecording reports whether the run is open: started, accepted and not ended.
func (h Run) IsRecording() bool {
	return h.r != nil && h.r.gen.Load() == h.gen && h.r.state.Load() == stateOpen
}

// SID returns the run's SID. The string lives in the run's record: it is
// valid until the run is ended; strings.Clone it to keep it longer.
func (h Run) SID() string {
	if !h.IsRecording() {
		return ""
	}
	return h.r.SID
}

// SpanContext returns the run's trace and span ids.
func (h Run) SpanContext() SpanContext {
	if !h.IsRecording() {
		return SpanContext{}
	}
	return SpanContext{TraceID: h.r.TraceID, SpanID: h.r.SpanID, TraceState: h.r.TraceState, Sampled: true}
}

// Answer sets the run's answer.
func (h Run) Answer(s string) {
	if r := h.live(); r != nil {
		r.Answer = r.e.value(s)
	}
}

// Srv adds a key and value to the run's srv map.
func (h Run) Srv(key, value string) {
	if r := h.live(); r != nil {
		r.Srv = r.e.appendAttr(r.Srv, String(key, value), &r.DroppedAttrs)
	}
}

// SrvTag adds a key and value to the run's srv_tag map.
func (h Run) SrvTag(key, value string) {
	if r := h.live(); r != nil {
		r.SrvTag = r.e.appendAttr(r.SrvTag, String(key, value), &r.DroppedAttrs)
	}
}

// SetAttributes adds attributes to the run's span.
func (h Run) SetAttributes(attrs ...Attr) {
	if r := h.live(); r != nil {
		for _, a := range attrs {
			r.Attrs = r.e.appendAttr(r.Attrs, a, &r.DroppedAttrs)
		}
	}
}

// Info adds an info log entry to the run.
func (h Run) Info(msg string) {
	if r := h.live(); r != nil {
		r.Events = r.e.appendEvent(r.Events, r.now(), encode.EventInfo, msg, &r.DroppedEvents)
	}
}

// Error adds an error log entry to the run.
func (h Run) Error(msg string) {
	if r := h.live(); r != nil {
		r.Events = r.e.appendEvent(r.Events, r.now(), encode.EventError, msg, &r.DroppedEvents)
	}
}

// now reads the clock once and returns wall nanoseconds, marking activity.
func (r *runRecord) now() int64 {
	mono := r.e.mono()
	r.lastActive.Store(mono)
	return r.wall(mono)
}

// End ends the run with its return code (0 is success) and message. The
// pipeline sums the nodes' usage into the run once and exports it. A second
// End is a counted no-op.
func (h Run) End(code int, message string) {
	r := h.live()
	if r == nil {
		return
	}
	mono := r.e.mono()
	if !r.state.CompareAndSwap(stateOpen, stateEnding) {
		r.e.stats.staleCalls.Add(1)
		return
	}
	r.EndUnixNano = r.wall(mono)
	r.Code = int64(code)
	r.Message = r.e.value(message)
	r.state.Store(stateEnded)
	r.e.push(r)
}

// StartNode starts a node execution in the run. nodeID is "type:uuid"
// (e.g. "llm:1"). Past Limits.NodesPerRun it returns a no-op Node and
// counts the drop.
func (h Run) StartNode(nodeID, nodeType, nodeName string) Node {
	r := h.live()
	if r == nil {
		return Node{}
	}
	e := r.e
	e.stats.accepted.Add(1)
	i := int(r.nodeCount.Add(1)) - 1
	if i >= e.cfg.limits.NodesPerRun {
		e.stats.drop(DropNodeLimit, 1)
		return Node{}
	}
	n := r.nodeSlot(i)
	mono := e.mono()
	n.SpanID = newSpanID()
	n.NodeID, n.NodeType, n.NodeName = nodeID, nodeType, nodeName
	n.StartUnixNano = r.wall(mono)
	r.lastActive.Store(mono)
	n.state.Store(stateOpen)
	return Node{n: n, gen: n.gen.Load()}
}

// nodeSlot returns the record for node index i, allocating it (and its
// chunk) the first time this run record needs it.
func (r *runRecord) nodeSlot(i int) *nodeRecord {
	cp := &r.chunks[i/nodeChunkSize]
	c := cp.Load()
	if c == nil {
		c = new(nodeChunk)
		if !cp.CompareAndSwap(nil, c) {
			c = cp.Load()
		}
	}
	sp := &c[i%nodeChunkSize]
	n := sp.Load()
	if n == nil {
		n = newNodeRecord(r)
		sp.Store(n)
	}
	return n
}

// startedNodes returns how many node records the run holds.
func (r *runRecord) startedNodes() int {
	return min(int(r.nodeCount.Load()), r.e.cfg.limits.NodesPerRun)
}

// node returns the record of node i < startedNodes, waiting for a StartNode
// that claimed index i to finish writing it.
func (r *runRecord) node(i int) *nodeRecord {
	for {
		if c := r.chunks[i/nodeChunkSize].Load(); c != nil {
			if n := c[i%nodeChunkSize].Load(); n != nil && n.state.Load() != stateFree {
				return n
			}
		}
		time.Sleep(time.Microsecond)
	}
}

// setSID writes a generated SID into the record's own buffer.
func (r *runRecord) setSID() {
	b := r.e.sid.AppendNext(r.sidBuf[:0])
	r.SID = unsafe.String(unsafe.SliceData(b), len(b))
}

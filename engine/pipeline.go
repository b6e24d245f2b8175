package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/w3c"
)

// Incomplete status messages.
const (
	msgRunIdle     = "run not ended within the idle timeout"
	msgRunShutdown = "run not ended before the engine shut down"
	msgNodeOpen    = "node not ended before its run ended"
)

// batch is finished runs on their way to the sink.
type batch struct {
	recs  []*runRecord
	runs  []*encode.Run
	spans int
	// logOnly are runs sampled out whose run log is exported all the same
	// (TailPolicy.RunLogAlways); their records are in recs too. logSpans
	// are their spans, which their run logs hold as nodes: they count
	// toward the batch's size as the spans exported do, so that a batch
	// of runs mostly sampled out leaves at the same size in bytes.
	logOnly  []*encode.Run
	logSpans int
}

// pipeline is the state of the goroutine that drains the rings and hands
// its batches to the sink (exportStage).
type pipeline struct {
	e          *Engine
	drained    []*runRecord
	cur        *batch // being filled
	batchStart int64  // monotonic time the first run of cur arrived
	lastReap   int64
	// lastCalibration is when the clock was last calibrated.
	lastCalibration int64
	// folded is set while the metrics' fold holds nodes add folded
	// (flushFold).
	folded bool
	// flushes counts the ForceFlush goroutines running: the sink is shut
	// down after they return (TestShutdownWaitsForFlush).
	flushes sync.WaitGroup
}

func (e *Engine) loop() {
	defer close(e.done)
	p := &pipeline{
		e:       e,
		drained: make([]*runRecord, 0, 256),
		cur:     &batch{recs: make([]*runRecord, 0, 256), runs: make([]*encode.Run, 0, 256)},
	}
	for {
		select {
		case <-e.stop:
			e.shutErr = p.shutdown(e.stopCtx)
			e.stopCancel()
			p.failPending()
			return
		case req := <-e.ctl:
			p.flush(req)
			continue
		default:
		}
		if p.drainOnce() > 0 {
			continue
		}
		// The rings are empty. A partial batch leaves once it is
		// flushInterval old; until then, park until a shard fills to
		// WakeAt, a control request wakes us, or the batch is due.
		// Woken, this goroutine goes to the waker's P and may wait tens
		// of milliseconds for a CPU while the waker goes on ending runs
		// (41.8 ms in a traced burst of 10,000 run ends): the rings,
		// sized to hold every run in flight, absorb that wait.
		wait := e.cfg.flushInterval
		if len(p.cur.recs) > 0 {
			age := time.Duration(e.mono() - p.batchStart)
			if age >= e.cfg.flushInterval {
				p.exportBatch()
			} else {
				wait -= age
			}
		}
		e.ring.Wait(min(wait, p.reapEvery())) // idle runs and records are due too
	}
}

// drainOnce moves what the rings hold into batches and returns how many
// runs it took.
func (p *pipeline) drainOnce() int {
	p.e.releaseDropped()
	p.drained = p.e.ring.Drain(p.drained[:0], cap(p.drained))
	// Two runs ahead of add, the run record's lines are asked for; one
	// run ahead, its first chunk of node records, read through the
	// record: add's first reads of each waited for memory.
	d := p.drained
	for k, r := range d {
		if k+2 < len(d) {
			d[k+2].prefetchRun()
		}
		if k+1 < len(d) {
			d[k+1].prefetchChunk()
		}
		p.add(r, "")
	}
	clear(p.drained)
	mono := p.e.mono()
	if mono-p.lastCalibration > int64(calibrateEvery(mono)) {
		p.lastCalibration = mono
		p.e.clock.calibrate()
	}
	if mono-p.lastReap > int64(p.reapEvery()) {
		p.reap(mono, false)
		p.e.trimIdle(mono)
	}
	p.flushFold()
	return len(p.drained)
}

// flushFold adds the node metrics add folded to their series
// (Metrics.flushFold), once a drain and as a batch leaves (exportBatch):
// every path that ends runs (a drain, reap, flush, shutdown) goes through
// one of the two. A pipeline that folded nothing since leaves the fold
// alone.
func (p *pipeline) flushFold() {
	if p.folded {
		p.e.metrics.flushFold()
		p.folded = false
	}
}

// runRead is the offset in a run record of the end of the fields add
// reads: encode.Run, then the engine's fields up to the nodes' plain
// bits; of the rest, add reads the order array's header.
const runRead = unsafe.Offsetof(runRecord{}.lazy)

// prefetchRun prefetches, for reading, the lines of run record r that
// add reads, two runs before add reaches it: a run record comes to the
// pipeline from the caller's core, mostly through memory, and add's
// first reads of it waited for the miss (the loadgen's profile: 160 ms of
// 4.2 s on add's first line). The loadgen's drains took 119 runs each.
func (r *runRecord) prefetchRun() {
	prefetch(unsafe.Pointer(r), runRead)
	prefetch(unsafe.Pointer(&r.order), unsafe.Sizeof(r.order))
}

// prefetchChunk prefetches the first chunk of r's node directory, the
// run before add reaches it, whose head prefetchRun asked for a run
// earlier: add's first reads of the nodes go through it (prefetchRead).
func (r *runRecord) prefetchChunk() {
	if c := r.chunks[0].Load(); c != nil {
		prefetch(unsafe.Pointer(c), uintptr(min(countOf(r.sw.Load()), nodeChunkSize))*unsafe.Sizeof(c[0]))
	}
}

// attrsAhead bounds the span attributes of a node add prefetches: most
// nodes carry a few (the GenAI ones), and a long list is read anyway.
const attrsAhead = 8

func (p *pipeline) reapEvery() time.Duration {
	d := p.e.cfg.idleTimeout / 4
	return min(max(d, 10*time.Millisecond), time.Second)
}

// add finishes a run: closes its open nodes, orders them, sums usage, and
// appends it to the batch. incomplete, when set, is the reason the run was
// closed by the engine.
func (p *pipeline) add(r *runRecord, incomplete string) {
	e := p.e
	if incomplete != "" {
		r.Incomplete = true
		r.Status, r.StatusMessage = encode.StatusError, incomplete
		r.EndUnixNano = max(r.wall(e.mono()), r.StartUnixNano)
		if r.Code == 0 {
			r.Code = -1
		}
		r.Message = incomplete
		e.stats.runsTimedOut.Add(1)
		e.stats.accepted.Add(uint64(r.startedNodes())) // End, which counts them, never ran
	} else {
		if r.endAt != 0 { // the bridge's (trace.WithTimestamp)
			r.EndUnixNano = max(r.endAt, r.StartUnixNano)
		}
		if r.Code != 0 && r.Status != encode.StatusOK { // OK: set by the bridge, final
			r.Status, r.StatusMessage = encode.StatusError, r.Message
		}
	}
	count := r.startedNodes()
	if cap(r.order) < count {
		r.order = make([]*encode.Node, 0, count)
	}
	r.order = r.order[:0]
	var usage encode.Usage
	sorted, last, bound, small := true, int64(math.MinInt64), 0, e.cfg.smallBytes()
	// The nodes are folded into their types' series as they are read, up
	// to the first whose type boundRun may cut (longer than idFloor): from
	// it on after boundRun, as observeRun does. The GenAI families read
	// span attributes, which boundRun may cut too: the nodes with any,
	// from the first (genai), are folded into them after it. Each family
	// so sees the nodes in their order. Before, every node from the first
	// with attributes was folded after boundRun, read again whole (a
	// switch flipped every batch of TestPipelineBatchCPUTime: node/llm
	// 712.8 -> 612.6 ns a span).
	m := e.metrics
	p.folded = true
	later, genai := count, count
	// The start of the first node whose start is the run's first frame
	// (encode.IsStreamNode), -1 while there is none: read here, on the
	// node's lines this pass reads, it saves the encoder a pass over the
	// nodes' ids (encode.Run.StreamStartUnixNano).
	stream := int64(-1)
	// Nodes ahead are prefetched whole while the last node read was not
	// plain: a run's nodes tend to be alike.
	whole := true
	for i := range min(count, addAhead) {
		r.prefetchRead(i, whole)
	}
	for i := 0; i < count; i++ {
		if j := i + addAhead; j < count {
			r.prefetchRead(j, whole)
		}
		n, closed := r.closeNode(i)
		plain := false
		switch {
		case closed:
			bound += n.idBytes() // what a node closed open exports
			n.Incomplete = true
			n.Status, n.StatusMessage = encode.StatusError, msgNodeOpen
			n.EndUnixNano = r.EndUnixNano
			e.stats.nodesIncomplete.Add(1)
		case n.flat():
			// Plain: its first three lines tell (see flat).
			bound += n.flatBound(small)
			r.setPlain(i)
			plain = true
		default:
			bound += n.valueBound(small)
			if n.plain() {
				r.setPlain(i)
			}
			if n.HasUsage {
				usage = e.addUsage(usage, n.Node.Usage)
			}
			if len(n.Attrs) != 0 {
				// The metrics' fold reads them after boundRun
				// (observeGenAINode), the encoder next: up to
				// attrsAhead of them are asked for now.
				prefetch(unsafe.Pointer(unsafe.SliceData(n.Attrs)), uintptr(min(len(n.Attrs), attrsAhead))*unsafe.Sizeof(n.Attrs[0]))
			}
		}
		// A node lies within its run: one ended by its owner after the
		// run's End read the clock (a branch ending as the run ends), or
		// read the clock on a core a few ticks behind, is cut to it.
		// Written only when they change: a store would make the line
		// dirty on this core for the release to take back.
		if s := min(max(n.StartUnixNano, r.StartUnixNano), r.EndUnixNano); s != n.StartUnixNano {
			n.StartUnixNano = s
		}
		if t := min(max(n.EndUnixNano, n.StartUnixNano), r.EndUnixNano); t != n.EndUnixNano {
			n.EndUnixNano = t
		}
		whole = !plain
		if i < later {
			if len(n.NodeType) > idFloor {
				later = i
			} else {
				m.foldType(&n.Node, plain)
			}
		}
		if genai == count && !plain && len(n.Attrs) != 0 {
			genai = i
		}
		sorted = sorted && n.EndUnixNano >= last
		last = n.EndUnixNano
		if stream < 0 && encode.IsStreamNode(n.NodeID) {
			stream = n.StartUnixNano
		}
		r.order = append(r.order, &n.Node)
	}
	// The trace lists nodes in the order they ended, as the original
	// appends a node's record at its end; those closed above come last.
	// Nodes started one after the other end in that order: then the
	// stable sort would leave them as they are.
	if !sorted {
		slices.SortStableFunc(r.order, byEnd)
		if st, ok := encode.StreamStart(r.order); ok {
			stream = st
		} else {
			stream = -1
		}
	}
	if r.FirstFrameUnixNano == 0 && stream != 0 {
		r.StreamStartUnixNano = stream // what FirstFrameMillis reads of the nodes
	}
	r.Nodes = r.order
	r.Usage = usage
	r.DroppedNodes = uint32(r.refusedNodes())
	e.boundRun(&r.Run, bound)
	m.observeRequest(&r.Run)
	for i := min(later, genai); i < count; i++ {
		n, plain := r.slotNode(i), r.isPlain(i)
		if i >= later {
			m.foldType(n, plain)
		}
		if !plain && len(n.Attrs) != 0 {
			m.observeGenAINode(n)
		}
	}
	m.observeGenAIUsage(&r.Run)
	kept := p.sampled(r)
	if !kept {
		if p.dropPanicked(r, count) {
			return // TailPolicy.Decide panicked: dropped, not sampled out
		}
		e.stats.sampledOut.Add(uint64(1 + count))
		e.stats.runsSampledOut.Add(1)
		if e.logSink == nil {
			e.release(r)
			return
		}
	}
	b := p.cur
	if len(b.recs) == 0 {
		p.batchStart = e.mono()
	}
	b.recs = append(b.recs, r)
	if kept {
		b.runs = append(b.runs, &r.Run)
		b.spans += 1 + count
	} else {
		b.logOnly = append(b.logOnly, &r.Run)
		b.logSpans += 1 + count
	}
	if b.spans+b.logSpans >= e.cfg.batchSpans {
		p.exportBatch()
	}
}

// flat reports whether node n, ended, is plain (nodeRecord.plain) as
// its state word's line tells: no call that may make it not plain ran
// (rare: events, status, usage, span attributes, next ids, span kind and
// name, a list off the pool or past Limits.Attrs) and no Bytes value was
// copied. A plain node is so read on the lines this one and flatBound
// read, where plain reads six. A node flat rejects may still be plain:
// the pipeline reads it all then. TestFlatMeansPlain checks the rule
// for every method of Node, and fails on a method it does not know.
func (n *nodeRecord) flat() bool { return !n.rare && len(n.bytes) == 0 }

// flatBound is valueBound for a node flat accepts: its lists lie in the
// pool, within the pooled attributes it has carved, so that their count
// is read on the state word's line, and only its identity on the next two.
func (n *nodeRecord) flatBound(small int) int {
	return int(n.big) + len(n.NodeID) + len(n.NodeType) + len(n.NodeName) + 2*small*int(n.pooled)
}

// sampled reports whether r is exported: the head decision sampled it and
// the tail policy, if any, keeps it. The metrics have folded r already.
func (p *pipeline) sampled(r *runRecord) bool {
	if r.TraceFlags&w3c.FlagSampled == 0 {
		p.e.stats.runsHeadOut.Add(1)
		return false
	}
	return p.e.tail == nil || p.e.tail.keep(&r.Run, p.e.mono())
}

// byEnd orders nodes by their end time.
func byEnd(a, b *encode.Node) int { return cmp.Compare(a.EndUnixNano, b.EndUnixNano) }

// closeNode returns the record of node i < startedNodes of run r, which
// has ended or been closed by the engine, closing the node if its owner
// never ended it. A node it closes is orphaned: its owner may still be
// writing it (the run ended on another goroutine), so the record is never
// read again, nor reused. In its slot goes a new record holding what the
// owner wrote before opening the node, or under a claim (ids, kind, start
// time), which is what the run exports of it; closed reports that case.
func (r *runRecord) closeNode(i int) (n *nodeRecord, closed bool) {
	n = r.node(i)
	for {
		w := n.sw.Load()
		switch stateOf(w) {
		case stateOpen:
			if n.sw.CompareAndSwap(w, withState(w, stateClosed)) {
				return r.orphan(i, n), true
			}
		case stateBusy:
			runtime.Gosched() // the owner is inside a claim: a few ns
		default:
			return n, false
		}
	}
}

// orphan replaces node i's record n, just closed, by a new record with
// n's identity, and gives n's bytes back: n goes to the garbage collector
// once its owner drops its handle. The nodes a run exports closed are
// counted in Stats.NodesIncomplete; those of a run the ring dropped, in
// its drop.
func (r *runRecord) orphan(i int, n *nodeRecord) *nodeRecord {
	m := newNodeRecord(r)
	m.SpanID, m.ParentSpanID, m.Kind = n.SpanID, n.ParentSpanID, n.Kind
	m.NodeID, m.NodeType, m.NodeName = n.NodeID, n.NodeType, n.NodeName
	m.StartUnixNano = n.StartUnixNano
	m.mem.Store(nodeRecordBytes)
	m.sw.Store(packState(genOf(r.sw.Load()), stateClosed))
	r.e.mem.held.Add(nodeRecordBytes - n.mem.Swap(orphanMem))
	r.setSlot(i, m)
	return m
}

// exportBatch hands the batch being filled to the sink (exportStage).
// Meanwhile nothing drains the rings (backpressure: they fill and the
// overflow policy applies).
func (p *pipeline) exportBatch() {
	// The metrics count what the sink is handed (and, the batch empty,
	// the runs sampled out and released): ForceFlush and Shutdown find
	// them counted.
	p.flushFold()
	if len(p.cur.recs) == 0 {
		return
	}
	p.e.exportStage(p.cur)
}

// shutdownExpired reports whether Shutdown was called and its deadline
// has passed. stopCtx is set before stop is closed.
func (e *Engine) shutdownExpired() bool {
	select {
	case <-e.stop:
		return e.stopCtx.Err() != nil
	default:
		return false
	}
}

// exportStage hands b to the sink, counts it, releases its records and
// empties it. It runs on the pipeline's goroutine, which has just read
// every record of b, so the sink encodes them from this core's cache: on a
// goroutine of its own, up to two batches behind, it read them from the
// other core or from memory (the loadgen's encode stage took 326 ns per
// span where the encoder takes about 220 on a batch in the cache), and
// each batch woke it. A large batch still uses every core (otlp.Sink
// splits it across one encoder per P).
func (e *Engine) exportStage(b *batch) {
	if len(b.runs)+len(b.logOnly) > 0 && e.shutdownExpired() {
		// Past Shutdown's deadline each batch could wait the sink's
		// own timeout for room: what is left is dropped instead.
		e.stats.drop(DropShutdown, uint64(b.spans))
		if len(b.logOnly) > 0 {
			e.stats.runLogsDropped.Add(uint64(len(b.logOnly)))
			e.cfg.errorHandler(fmt.Errorf("engine: shutdown deadline passed: the run logs of %d runs sampled out not exported", len(b.logOnly)))
		}
		clear(b.runs)
		clear(b.logOnly)
		b.runs, b.logOnly = b.runs[:0], b.logOnly[:0]
	}
	if len(b.runs) > 0 { // a batch may hold only run logs of runs sampled out
		e.exportRuns(b.runs, b.spans)
	}
	if len(b.logOnly) > 0 {
		e.exportLogs(b.logOnly)
		clear(b.logOnly)
		b.logOnly = b.logOnly[:0]
	}
	b.logSpans = 0
	for _, r := range b.recs {
		e.release(r)
	}
	clear(b.recs)
	clear(b.runs)
	b.recs, b.runs, b.spans = b.recs[:0], b.runs[:0], 0
}

// reap closes runs idle for longer than the idle timeout, or every open
// run when all is set (shutdown).
func (p *pipeline) reap(mono int64, all bool) {
	e := p.e
	p.lastReap = mono
	idle := int64(e.cfg.idleTimeout)
	msg := msgRunIdle
	if all {
		msg = msgRunShutdown
	}
	for i := range e.arena.slots {
		r := e.arena.slots[i].Load()
		if r == nil {
			continue
		}
		for {
			w := r.sw.Load()
			if stateOf(w) != stateOpen || (!all && mono-r.lastActive.Load() < idle) {
				break
			}
			if w&writerMask != 0 {
				if !all {
					break // its owner is writing: not idle, look again next time
				}
				runtime.Gosched()
				continue
			}
			if r.sw.CompareAndSwap(w, withState(w, stateClosed)) {
				p.add(r, msg)
				break
			}
		}
	}
}

// flush drains what the rings held when it was asked, exports the batch
// and has the sink flushed. Runs ended during the flush may wait for the
// next. The sink's flush runs on a goroutine of its own, so that this
// goroutine goes on draining the rings: a sink whose flush waits for a
// collector that never answers held capture for all of ForceFlush's
// context (TestForceFlushHangingBackendKeepsCapturing).
func (p *pipeline) flush(req ctlRequest) {
	for left := p.e.ring.Len(); left > 0; {
		k := p.drainOnce()
		if k == 0 {
			break
		}
		left -= k
	}
	p.exportBatch()
	if err := req.ctx.Err(); err != nil {
		req.done <- err
		return
	}
	p.flushes.Go(func() { req.done <- p.e.sinkFlush(req.ctx) })
}

// failPending answers flush requests that raced with shutdown.
func (p *pipeline) failPending() {
	for {
		select {
		case req := <-p.e.ctl:
			req.done <- ErrShutdown
		default:
			return
		}
	}
}

// shutdown closes the ring, closes every open run, exports everything and
// shuts the sink down.
func (p *pipeline) shutdown(ctx context.Context) error {
	e := p.e
	e.ring.Close()
	// A push that began before Close may still store its run: wait for
	// it. Pushes that begin later see the ring closed and count a drop.
	for e.pushing.Sum() != 0 {
		time.Sleep(10 * time.Microsecond)
	}
	for p.drainOnce() > 0 {
	}
	p.reap(e.mono(), true)
	// A hanging sink holds this goroutine until it returns; Shutdown's
	// callers return at their context meanwhile.
	p.exportBatch()
	e.releaseDropped()
	// A ForceFlush's sink flush may still run on its goroutine: the
	// sink's Shutdown comes after it.
	p.flushes.Wait()
	// The sink flushes before the final metrics collection, so that the
	// metrics exporter's families (flowtel_export_*) count every run
	// exported; the sink shuts down after, so that the final metrics
	// still leave.
	flushErr := e.sinkFlush(ctx)
	return errors.Join(flushErr, e.metrics.shutdown(ctx), e.sinkShutdown(ctx))
}

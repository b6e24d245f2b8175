package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/w3c"
	"github.com/flowtel/flowtel/ringbuf"
	"github.com/flowtel/flowtel/sid"
)

// Engine captures runs and nodes and hands them, finished, to its Sink.
// All its methods are safe for concurrent use.
//
// Make one with New. The zero Engine never panics: it acts as one already
// shut down that captures nothing (StartRun returns a no-op Run, counted
// dropped as DropShutdown; the metrics methods return nothing), and its
// ForceFlush and Shutdown return ErrNotStarted. A nil *Engine is the zero
// one that counts nothing: Stats is zero and StartRun's Run is the zero
// Run.
type Engine struct {
	cfg   config
	base  time.Time // monotonic origin of every reading
	clock clock     // reads it: see clock
	wall  wallAnchor
	ring  *ringbuf.Sharded[*runRecord]
	arena *arena
	sid   *sid.Generator
	sink  Sink
	stats stats
	mem   memory

	lastTrim int64 // the pipeline's last trimIdle

	closed     atomic.Bool
	pushing    stripedGauge              // Run.End calls inside ring.Push
	dropped    atomic.Pointer[runRecord] // runs the ring dropped, for the pipeline to release
	ctl        chan ctlRequest
	done       chan struct{}
	stop       chan struct{} // closed by Shutdown
	stopCtx    context.Context
	stopCancel context.CancelFunc
	shutOnce   sync.Once
	shutErr    error       // written by the pipeline before it closes done
	shutSaid   atomic.Bool // shutErr was returned to a Shutdown call
	metrics    *Metrics
	tail       *tailSampler // nil without tail sampling; the pipeline's
	logSink    LogSink      // set with TailPolicy.RunLogAlways when the sink takes run logs apart
	// refused is the record every refused node's handle points to: see
	// refusedNode.
	refused *nodeRecord
	// parents keeps the parents of refused runs (refusedctx.go).
	parents *refusedParents
	// bridge holds otelbridge's TracerProvider of the engine
	// (enginehook.Hooks.Bridge): one per engine, not a package's global.
	bridge atomic.Value
	// panicGate bounds the stacks of the recovered panics' errors.
	panicGate stackGate
}

// New returns a running engine. Invalid options return an error wrapping
// one of the package's sentinel errors; a nil Option is ignored, so that
// options can be chosen conditionally. Validate checks options the same
// way without making an engine.
func New(opts ...Option) (*Engine, error) {
	st, err := settle(opts)
	if err != nil {
		return nil, err
	}
	cfg := st.cfg
	e := &Engine{
		cfg:   cfg,
		base:  time.Now(),
		arena: newArena(cfg.limits.RunsInFlight),
		sink:  st.sink,
		ctl:   make(chan ctlRequest, 16),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	e.refused = &nodeRecord{e: e}
	e.parents = new(refusedParents)
	e.clock.init(e.base)
	e.wall.off.Store(e.base.UnixNano())
	e.mem.limit = st.limit
	e.mem.held.Store(cfg.fixedBytes())
	e.cfg.errorHandler = e.handleError(cfg.errorHandler)
	e.sid = st.sid
	e.logSink = st.logSink
	tail := st.tail
	ring, err := ringbuf.New(ringbuf.Config[*runRecord]{
		Shards:       e.cfg.shards,
		Capacity:     e.cfg.capacity,
		Policy:       cfg.policy,
		BlockTimeout: cfg.blockTimeout,
		WakeAt:       wakeAt(e.cfg),
		OnDrop:       e.onRingDrop,
	})
	if err != nil {
		return nil, err // validateRing checked the settings
	}
	e.ring = ring
	e.metrics = newMetrics(e)
	if tail != nil {
		tail.quantile = newFlowQuantiles(e.metrics).get
		tail.capOut = &e.stats.runsCapOut
		tail.gate = &e.panicGate
	}
	e.tail = tail
	go e.loop()
	return e, nil
}

// Validate returns the error New would return for opts, without making
// an engine: it allocates neither the rings nor the arena and starts no
// goroutine, so that a program can refuse a setting from its flags or
// its configuration before it builds anything (the loadgen checks every
// flag an engine setting comes from with it). It also returns what New
// would allocate up front with opts, in bytes: the rings' slots and the
// arena, which WithMemoryLimit's bound includes. New runs the same
// checks: there is one set of rules.
func Validate(opts ...Option) (upFront int64, err error) {
	st, err := settle(opts)
	if err != nil {
		return 0, err
	}
	return st.cfg.fixedBytes(), nil
}

// settings are New's options resolved and checked.
type settings struct {
	cfg     config
	limit   int64 // the bound on what the records hold: see memoryLimit
	sink    Sink  // the sink, or discardSink
	sid     *sid.Generator
	tail    *tailSampler // nil without tail sampling
	logSink LogSink      // set with TailPolicy.RunLogAlways
}

// settle applies opts to the defaults and makes every check New makes,
// before anything is allocated up front: New and Validate both call it.
func settle(opts []Option) (settings, error) {
	st := settings{cfg: defaultConfig()}
	cfg := &st.cfg
	cfg.apply(opts)
	if err := cfg.validate(); err != nil {
		return st, err
	}
	limit, err := cfg.memoryLimit()
	if err != nil {
		return st, err
	}
	st.limit = limit
	if cfg.resource.ServiceName == "" {
		cfg.resource.ServiceName = DefaultServiceName
	}
	st.sink = cfg.sink
	if st.sink == nil {
		st.sink = discardSink{}
	}
	if cfg.sid != nil {
		g, err := sid.New(*cfg.sid)
		if err != nil {
			return st, fmt.Errorf("engine: SID configuration: %w", err)
		}
		if maxSID := len(runRecord{}.sidBuf); g.Len() > maxSID { // MaxSIDBytes
			// A longer SID would not fit the run record's buffer: each
			// StartRun would allocate it.
			return st, fmt.Errorf("engine: SID configuration: Sub (%d bytes) and Location (%d bytes), %d bytes together, make a SID of %d bytes; a run holds at most %d (Sub and Location at most %d bytes together)",
				len(cfg.sid.Sub), len(cfg.sid.Location), len(cfg.sid.Sub)+len(cfg.sid.Location), g.Len(), maxSID, maxSID-(g.Len()-len(cfg.sid.Sub)-len(cfg.sid.Location)))
		}
		st.sid = g
	}
	// The tail policy is checked before New's newMetrics starts the
	// metrics goroutine, which a refused New would leave running.
	st.tail, err = newTailSampler(&cfg.tail)
	if err != nil {
		return st, err // ErrInvalidSampler, naming the TailPolicy field
	}
	if err := cfg.tail.checkRuleIDs(cfg.limits.ValueBytes); err != nil {
		return st, err
	}
	if cfg.metrics.SkipRunRequests && cfg.tail.slowestFraction() {
		return st, fmt.Errorf("%w: TailPolicy.SlowestFraction reads the runs' request histogram, which MetricsConfig.SkipRunRequests leaves them out of: no run would be slow", ErrInvalidSampler)
	}
	if ls, ok := st.sink.(LogSink); ok && cfg.tail.RunLogAlways && takesLogs(st.sink) {
		st.logSink = ls
	} else if cfg.tail.RunLogAlways && cfg.sink != nil {
		return st, fmt.Errorf("%w: TailPolicy.RunLogAlways hands the runs sampled out to the sink's ExportLogs, and the sink (%T) takes no run logs (not an engine.LogSink, or one whose TakesLogs is false): their run logs would go nowhere", ErrInvalidSampler, cfg.sink)
	}
	return st, nil
}

// maxBlockCapacity bounds the derived slots per shard under Block, where
// a full ring is the backpressure and a larger one only holds more
// records out of the CPU caches.
const maxBlockCapacity = 1024

// ringCapacity derives the slots per shard from the runs the engine may
// hold. A run in a ring is one of Limits.RunsInFlight records, and a push
// into a full shard spills into the others (ringbuf), so under the drop
// policies shards x capacity >= runs in flight means a ring can never be
// full: a burst of run ends, such as thousands of runs answered by one
// upstream in the same millisecond, waits in the rings instead of being
// dropped while the pipeline is still on its way to a CPU. The cost is a
// 16-byte slot per run. Under Block the rings must fill before the run
// limit refuses runs, so they hold at most a quarter of them.
func ringCapacity(shards, runsInFlight int, p Policy) int {
	per := (runsInFlight + shards - 1) / shards
	if p == Block {
		per = min(max(runsInFlight/(4*shards), 2), maxBlockCapacity)
		return 1 << (bits.Len(uint(per)) - 1) // round down
	}
	return 1 << bits.Len(uint(max(per, 2)-1)) // round up
}

// wakeAt is the shard fill that wakes the pipeline early: about a batch of
// runs of a few nodes each, so a busy engine drains in batches.
func wakeAt(cfg config) int {
	w := cfg.batchSpans / 8
	if w < 1 {
		w = 1
	}
	if w > cfg.capacity/2 {
		w = cfg.capacity / 2
	}
	return w
}

// mono reads the monotonic clock once, in nanoseconds since New.
func (e *Engine) mono() int64 { return e.clock.now() }

// wallAnchor maps the engine's clock to wall time: off is the wall time
// of mono 0, as time.Now said at mono at. StartRun adds it to its clock
// reading instead of reading time.Now, which was 39 % of the CPU profile
// of StartRun and End (a run without nodes: 163.7 -> 92 ns of thread CPU
// time without it, AMD EPYC); it reads time.Now again once the anchor is
// wallResync old. The monotonic and wall clocks advance at the same
// rate (NTP slews both), so the mapping is exact but for a step of the
// wall clock, which runs follow within wallResync.
type wallAnchor struct {
	off atomic.Int64
	at  atomic.Int64
	_   [cacheLine - 16]byte // read by every StartRun, written once a second
}

// wallResync is how old the wall anchor may get.
const wallResync = time.Second

// wallAt returns the wall time, in nanoseconds since the Unix epoch, of
// the engine's clock reading mono.
func (e *Engine) wallAt(mono int64) int64 {
	if w := &e.wall; mono-w.at.Load() <= int64(wallResync) {
		return mono + w.off.Load()
	}
	return e.resyncWall(mono)
}

// wallNow is time.Now; a test stalls it.
var wallNow = time.Now

// maxWallPair bounds the engine's clock time between the two readings
// around time.Now for an anchor to be kept: a goroutine descheduled
// between them (a loaded host) would otherwise anchor every run of the
// next second early by as long as it waited.
const maxWallPair = 50 * time.Microsecond

// resyncWall reads time.Now between two readings of the engine's clock,
// the closest of up to three tries, and returns the wall time of mono by
// it; it makes it the anchor when the readings are within maxWallPair
// (else the next run tries again). Callers that race store anchors as
// good as each other.
func (e *Engine) resyncWall(mono int64) int64 {
	best, off := int64(math.MaxInt64), int64(0)
	for range 3 {
		a := e.mono()
		wall := wallNow().UnixNano()
		b := e.mono()
		if b-a < best {
			best, off = b-a, wall-(a+(b-a)/2)
		}
		if best <= int64(maxWallPair) {
			e.wall.off.Store(off)
			e.wall.at.Store(b)
			break
		}
	}
	return mono + off
}

func newTraceID() (t encode.TraceID) {
	a, b := rand.Uint64(), rand.Uint64()
	for a|b == 0 {
		a, b = rand.Uint64(), rand.Uint64()
	}
	binary.BigEndian.PutUint64(t[:8], a)
	binary.BigEndian.PutUint64(t[8:], b)
	return t
}

func newSpanID() (s encode.SpanID) {
	a := rand.Uint64()
	for a == 0 {
		a = rand.Uint64()
	}
	binary.BigEndian.PutUint64(s[:], a)
	return s
}

// StartRun starts a workflow run. When the engine is shut down or
// Limits.RunsInFlight runs are in flight it returns a no-op Run and counts
// the drop; a run refused at the run or memory limit is still a request
// the server serves, counted in server_request_total with ret RetRefused.
func (e *Engine) StartRun(info RunInfo) Run {
	if e == nil {
		return Run{} // a nil *Engine is a shut-down one with no counts
	}
	e.stats.accepted.Add(1)
	if e.closed.Load() || e.arena == nil { // arena: the zero Engine
		return e.refuseRun(DropShutdown, &info.Parent)
	}
	idx := e.arena.pop()
	if idx < 0 {
		e.metrics.refusedRequest(info.AppID, info.FlowID)
		return e.refuseRun(DropRunLimit, &info.Parent)
	}
	r := e.arena.take(idx)
	if r == nil {
		if !e.mem.reserve(runRecordBytes) {
			e.arena.push(idx)
			e.metrics.refusedRequest(info.AppID, info.FlowID)
			return e.refuseRun(DropMemoryLimit, &info.Parent)
		}
		r = newRunRecord(e, idx)
		e.arena.slots[idx].Store(r)
	}
	// The run's wall time anchors the engine's clock, whose readings all
	// its events take (see clock).
	r.startMono = e.mono()
	r.StartUnixNano = e.wallAt(r.startMono)
	// Activity as a node marks it (touch): a record reused within the
	// reaper's resolution keeps its last mark, and StartRun saves a store.
	r.touch(r.startMono)
	parent := headParent{joined: info.Parent.IsValid(), random: true}
	if parent.joined {
		r.TraceID, r.ParentSpanID = info.Parent.TraceID, info.Parent.SpanID
		parent.sampled, parent.random, parent.traceState = info.Parent.Sampled, info.Parent.Random, info.Parent.TraceState
	} else {
		r.TraceID = newTraceID()
	}
	// A root run under AlwaysOn, the default, is sampled with an empty
	// tracestate: decided here, without a call.
	sampled, ts := true, ""
	if parent.joined || e.cfg.sampler.kind != sampleAlways {
		sampled, ts = e.cfg.sampler.decide(parent, r.TraceID)
	}
	// A root run's tracestate is the sampler's own (empty, or the ot entry
	// built at construction), valid: only a caller's is parsed again.
	r.TraceState = ts
	if parent.joined {
		r.TraceState = e.traceState(ts)
	}
	r.TraceFlags = w3c.FlagRandom
	if !parent.random {
		r.TraceFlags = 0
	}
	if sampled {
		r.TraceFlags |= w3c.FlagSampled
	}
	r.SpanID = newSpanID()
	r.ServiceID, r.FlowID, r.BotID, r.Sub = e.value(info.ServiceID), e.value(info.FlowID), e.value(info.BotID), e.value(info.Sub)
	r.AppID, r.UID, r.ChatID = e.value(info.AppID), e.value(info.UID), e.value(info.ChatID)
	r.Caller, r.LogCaller, r.Question = e.value(info.Caller), e.value(info.LogCaller), e.value(info.Question)
	r.SID = e.value(info.SID)
	if r.SID == "" && e.sid != nil {
		r.setSID()
	}
	gen := genOf(r.sw.Load())
	r.sw.Store(packState(gen, stateOpen))
	if e.closed.Load() && r.sw.CompareAndSwap(packState(gen, stateOpen), packState(gen+1, stateFree)) {
		// Shutdown began meanwhile and its last sweep may have missed
		// this run: refuse it rather than leave it in flight.
		r.reset()
		e.arena.put(r)
		return e.refuseRun(DropShutdown, &info.Parent)
	}
	return Run{r: r, gen: gen}
}

// refuseRun counts a run refused for why and returns its handle, which
// keeps parent for SpanContext (refusedctx.go).
func (e *Engine) refuseRun(why DropReason, parent *SpanContext) Run {
	e.stats.drop(why, 1)
	return e.refusedRun(why, e.parents.keep(parent))
}

// value applies Limits.ValueBytes to a string.
func (e *Engine) value(s string) string {
	if len(s) > e.cfg.limits.ValueBytes {
		e.stats.valuesTruncated.Add(1)
		return truncate(s, e.cfg.limits.ValueBytes)
	}
	return s
}

// traceState returns the tracestate s as a valid header: discarded, and
// counted, when it is invalid, as a receiver would (a member holding a
// control character makes net/http refuse the request it is injected
// into). A valid one is kept whole, as OpenTelemetry's Go SDK keeps it:
// Limits.ValueBytes bounds attributes, not what a run forwards, and W3C
// Trace Context asks a participant to propagate at least 512 characters.
// The grammar bounds it (32 members, a header of at most
// w3c.MaxTraceStateBytes), and Limits.RunBytes counts it on every span.
// It does not allocate.
func (e *Engine) traceState(s string) string {
	if _, err := w3c.ParseTraceState(s); err != nil {
		e.stats.valuesTruncated.Add(1)
		return ""
	}
	return s
}

// appendAttr appends a run attribute to dst within Limits.Attrs.
func (e *Engine) appendAttr(dst []encode.Attr, a encode.Attr, dropped *uint32) []encode.Attr {
	if len(dst) >= e.cfg.limits.Attrs {
		*dropped++
		e.stats.attrsDropped.Add(1)
		return dst
	}
	a.Key = e.value(a.Key)
	a.Value = e.limitValue(a.Value, nil)
	return append(dst, a)
}

// limitValue cuts a string or bytes value to Limits.ValueBytes, counting
// the cut, and copies a bytes value: into n's reused buffer, or, for a run
// attribute (n nil), into a new slice, since runs rarely carry bytes.
func (e *Engine) limitValue(v encode.Value, n *nodeRecord) encode.Value {
	switch v.Kind() {
	case encode.KindString:
		if len(v.Str()) > e.cfg.limits.ValueBytes {
			return encode.StringValue(e.value(v.Str()))
		}
	case encode.KindBytes:
		b := v.Bytes()
		if len(b) > e.cfg.limits.ValueBytes {
			e.stats.valuesTruncated.Add(1)
			b = b[:e.cfg.limits.ValueBytes]
		}
		if n != nil {
			c, ok := n.copyBytes(b)
			if !ok {
				e.stats.valuesTruncated.Add(1) // no memory left for the copy
			}
			return encode.BytesValue(c)
		}
		return encode.BytesValue(append([]byte(nil), b...))
	}
	return v
}

// appendEvent appends a log entry within Limits.Events.
func (e *Engine) appendEvent(dst []encode.Event, t int64, kind encode.EventKind, msg string, dropped *uint32) []encode.Event {
	if len(dst) >= e.cfg.limits.Events {
		*dropped++
		e.stats.eventsDropped.Add(1)
		return dst
	}
	return append(dst, encode.Event{TimeUnixNano: t, Kind: kind, Message: e.value(msg)})
}

// push hands an ended run to the ring. Shutdown waits for pushes that
// began before the ring closed, so none lands after the last drain.
func (e *Engine) push(r *runRecord) {
	g := e.pushing.Add(1)
	e.ring.Push(r)
	g.Add(^uint64(0)) // -1
}

// appendException appends the exception event of err within
// Limits.Events and returns err's message (cut to Limits.ValueBytes).
func (e *Engine) appendException(dst []encode.Event, t int64, err error, dropped *uint32) ([]encode.Event, string) {
	msg, typ := "<nil>", "<nil>"
	if err != nil {
		msg, typ = err.Error(), errorType(err)
	}
	msg = e.value(msg)
	if len(dst) >= e.cfg.limits.Events {
		*dropped++
		e.stats.eventsDropped.Add(1)
		return dst, msg
	}
	ev := encode.Event{TimeUnixNano: t, Kind: encode.EventException, Message: msg, Type: typ}
	if e.cfg.stackTraces {
		ev.Stacktrace = stack()
	}
	return append(dst, ev), msg
}

// onRingDrop is called by the ring for every run it could not keep.
func (e *Engine) onRingDrop(r *runRecord, reason ringbuf.Reason) {
	spans := uint64(1 + r.startedNodes())
	switch reason {
	case ringbuf.ReasonFull:
		e.stats.drop(DropRingFull, spans)
	case ringbuf.ReasonEvicted:
		e.stats.drop(DropRingEvicted, spans)
	case ringbuf.ReasonTimeout:
		e.stats.drop(DropBlockTimeout, spans)
	default:
		e.stats.drop(DropShutdown, spans)
	}
	// The caller does not pay for the cleanup: the pipeline releases
	// dropped runs on its next cycle.
	for {
		head := e.dropped.Load()
		r.dropNext = head
		if e.dropped.CompareAndSwap(head, r) {
			return
		}
	}
}

// releaseDropped releases the runs the ring dropped. The pipeline takes
// the whole list at once, so the list has no ABA problem.
func (e *Engine) releaseDropped() {
	for r := e.dropped.Swap(nil); r != nil; {
		next := r.dropNext
		r.dropNext = nil
		e.release(r)
		r = next
	}
}

// release returns a run and its nodes for reuse. Every handle on them
// becomes stale. The pipeline's goroutine calls it.
func (e *Engine) release(r *runRecord) {
	count := r.startedNodes()
	for i := range min(count, 2*releaseAhead) {
		r.prefetchHead(i)
	}
	for i := range min(count, releaseAhead) {
		r.prefetchPool(i)
	}
	for i := 0; i < count; i++ {
		if j := i + 2*releaseAhead; j < count {
			r.prefetchHead(j)
		}
		if j := i + releaseAhead; j < count {
			r.prefetchPool(j)
		}
		if r.isPlain(i) {
			continue // reset by its reuse (reopen): not even its state word is written
		}
		n, _ := r.closeNode(i) // a node still open is orphaned (a run the ring dropped)
		n.reset()
		e.remeasureNode(n)
	}
	r.resetLazy(count)
	if count > nodeKeepChunks*nodeChunkSize {
		e.mem.held.Add(-r.dropMore())
	}
	gen := genOf(r.sw.Load())
	if gen+1 == 0 {
		r.freeNodeWords()
	}
	r.reset()
	e.remeasureRun(r)
	r.sw.Store(packState(gen+1, stateFree))
	e.recycle(r)
}

// Sink returns the sink the engine hands finished runs to (set by
// WithSink; a sink that discards them otherwise).
func (e *Engine) Sink() Sink {
	if e == nil {
		return nil
	}
	return e.sink
}

// Resource returns the identity the engine exports with (WithResource,
// its unset service name filled with DefaultServiceName).
func (e *Engine) Resource() encode.Resource {
	if e == nil {
		return encode.Resource{}
	}
	return e.cfg.resource
}

// Stats returns a snapshot of the engine's accounting.
func (e *Engine) Stats() Stats {
	if e == nil {
		return Stats{}
	}
	ss, reports := e.sinkStats()
	s := e.stats.snapshot()
	if reports {
		s.foldSink(ss)
	}
	s.HeldBytes, s.MemoryLimit = e.mem.held.Load(), e.mem.limit
	return s
}

// ctlRequest travels on the control path, never through the rings.
type ctlRequest struct {
	ctx  context.Context
	done chan error
}

// ForceFlush hands every run ended before the call to the sink and flushes
// the sink. It returns ctx's error if ctx ends first; the work goes on.
// Otherwise it returns the sink's flush error: the OTLP sink's wraps
// export.ErrDropped when a batch it waited for was dropped, not exported.
// Capture and export go on meanwhile: a sink's flush that waits for its
// backend holds only ForceFlush's caller. A
// nil ctx is context.Background().
func (e *Engine) ForceFlush(ctx context.Context) error {
	if e == nil || e.done == nil {
		return ErrNotStarted
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if e.closed.Load() {
		return ErrShutdown
	}
	req := ctlRequest{ctx: ctx, done: make(chan error, 1)}
	select {
	case e.ctl <- req:
		e.ring.Wake()
	case <-e.done:
		return ErrShutdown
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops accepting runs, closes every run still open as incomplete,
// hands everything to the sink, and shuts the sink down. It is idempotent:
// every call waits for the same shutdown, and the shutdown's error goes to
// one of them, the first to see the shutdown end; the others return nil,
// as the OTel Go SDK's TracerProvider.Shutdown does after its first call
// (a deferred Shutdown does not report the failure again). If ctx ends
// first it returns ctx's error; the shutdown goes on, and what is not yet
// exported is counted in Stats as in flight. Past ctx's deadline the
// batches not yet handed to the sink are dropped as DropShutdown (the one
// the sink holds ends at the sink's own timeout), and the sink is shut
// down with the expired context. A nil ctx is context.Background().
func (e *Engine) Shutdown(ctx context.Context) error {
	if e == nil || e.done == nil {
		return ErrNotStarted
	}
	if ctx == nil {
		// A nil context panicked inside the once: the pipeline never
		// stopped and every later Shutdown waited for it in vain.
		ctx = context.Background()
	}
	e.shutOnce.Do(func() {
		e.closed.Store(true)
		// The shutdown goes on when ctx is cancelled, but keeps its
		// deadline: the sink and exporter stop waiting at it.
		e.stopCtx, e.stopCancel = context.WithoutCancel(ctx), func() {}
		if d, ok := ctx.Deadline(); ok {
			e.stopCtx, e.stopCancel = context.WithDeadline(e.stopCtx, d)
		}
		close(e.stop)
		e.ring.Wake()
	})
	select {
	case <-e.done:
		if e.shutErr != nil && e.shutSaid.CompareAndSwap(false, true) {
			return e.shutdownError(e.shutErr)
		}
		return nil
	case <-ctx.Done():
		return e.shutdownError(ctx.Err())
	}
}

// shutdownError wraps err with what the shutdown did not deliver: the
// spans dropped as shutdown and those still in flight.
func (e *Engine) shutdownError(err error) error {
	s := e.Stats()
	dropped := s.Drops(DropShutdown)
	return fmt.Errorf("engine: shutdown: %d spans not delivered (%d dropped, %d in flight): %w", dropped+s.InFlight, dropped, s.InFlight, err)
}

// String describes the engine by its state alone: fmt would otherwise read
// every field of a running engine while its pipeline writes them (a data
// race in a log line that prints it).
func (e *Engine) String() string {
	switch {
	case e == nil:
		return "engine.Engine(nil)"
	case e.closed.Load() || e.arena == nil:
		return "engine.Engine(shut down)"
	}
	return "engine.Engine(running)"
}

// GoString is String, for %#v.
func (e *Engine) GoString() string { return e.String() }

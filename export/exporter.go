package export

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/grpc"
)

// sender sends one request and judges the result. The request is the
// concatenation of parts, each an encoded Export*ServiceRequest of the
// sender's signal: concatenated, they are one request holding all their
// resources (protobuf appends repeated fields). Only a sender that
// coalesces gets more than one part.
type sender interface {
	send(ctx context.Context, parts [][]byte) outcome
	// coalesces reports whether the sender takes several parts without
	// copying them into one.
	coalesces() bool
}

// maxCoalesce bounds the batches one request carries, coalesceScan the
// queued batches a worker looks at for them.
const (
	maxCoalesce  = 16
	coalesceScan = 8
)

// retry is a batch waiting for its next attempt.
type retry struct {
	en       entry
	attempt  int           // attempts made
	interval time.Duration // the next backoff before jitter
	start    time.Time     // of the first attempt
	// deadline ends the batch's export, every attempt and wait: its
	// first attempt's start plus the signal's Timeout.
	deadline time.Time
	due      time.Time
	// last is the outcome of the last attempt, reported if the batch is
	// dropped before its next one.
	last outcome
	// group, when not nil, holds the batches (en first) of a coalesced
	// request that failed with a retryable error: they are sent again
	// together, as the request they were. alone says that the batches of
	// the last attempt are each to go alone (the receiver refused them
	// together for good).
	group []entry
	alone bool
}

// entry is one queued batch.
type entry struct {
	buf   *bytebufferpool.ByteBuffer
	seq   uint64
	items int64
	sig   Signal
	// split marks a part of a split batch: its buffer is the exporter's,
	// from bytebufferpool, not the caller's (Config.Release).
	split bool
	// failed marks a buffer an attempt that failed carried: the transport
	// may still read it after the call returned (net/http's body writer),
	// so it is left to the garbage collector, never pooled and rewritten.
	failed bool
	// lease, once the batch went over gRPC, returns its buffer when
	// neither the exporter nor gRPC holds it (grpc.go).
	lease *lease
}

// dropZero is Enqueue on the zero Exporter: the batch is dropped and
// counted as after Shutdown, its buffers returned to bytebufferpool.
func (e *Exporter) dropZero(sig Signal, bufs []*bytebufferpool.ByteBuffer, items int) bool {
	e.mu.Lock()
	st := &e.stats[sig]
	st.Enqueued += uint64(items)
	st.DroppedBy[DropShutdown] += uint64(items)
	st.EnqueuedBatches += uint64(len(bufs))
	st.DroppedBatches += uint64(len(bufs))
	e.mu.Unlock()
	for _, b := range bufs {
		if b != nil {
			bytebufferpool.Put(b)
		}
	}
	return false
}

// free returns en's buffer to the pool it came from, unless a failed
// attempt carried it, or gRPC still holds it.
func (e *Exporter) free(en entry) {
	if en.lease != nil {
		en.lease.unref()
		return
	}
	if en.failed {
		return
	}
	if en.split {
		bytebufferpool.Put(en.buf)
		return
	}
	e.release(en.buf)
}

// Exporter ships encoded OTLP requests. See the package documentation for
// its contract. Make one with New: the zero Exporter acts as one shut
// down (Enqueue drops every batch, counted as DropShutdown; Shutdown
// returns ErrNotStarted).
type Exporter struct {
	release func(*bytebufferpool.ByteBuffer) // Config.Release
	// handlerPanics counts the panics of Config.ErrorHandler recovered.
	handlerPanics atomic.Uint64
	set           settings
	senders       [NumSignals]sender
	conns         []*grpc.ClientConn
	clients       []*http.Client

	// ctx is the parent of every export attempt and backoff wait; cancel
	// aborts them when Shutdown's context ends.
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	work sync.Cond // signalled when the queue gains an entry or stop is set
	// ring is the FIFO of queued batches; head is its first slot, n its length.
	ring    []entry
	head, n int
	// held is the bytes of batches queued or being exported; heldSpans
	// the spans of the trace batches among them.
	held, heldSpans int64
	// seq is the sequence number of the next accepted batch. The queue
	// stays in seq order (coalesceLocked keeps the batches it passes over
	// in order), so every batch with seq below the head's has left it.
	seq uint64
	// active holds, per worker, 1 + seq of the batch it exports, 0 if idle.
	active []uint64
	// waiting holds batches between attempts: a batch that failed with a
	// retryable error waits here for its backoff instead of holding a
	// worker, so that a failing receiver does not stall the batches
	// behind it. wake broadcasts work when the earliest is due.
	waiting []retry
	wake    *time.Timer
	// progress is closed (and cleared) when a batch completes, to wake
	// ForceFlush callers; nil when nobody waits.
	progress chan struct{}
	// flushes holds the ForceFlush calls waiting, told of every batch
	// they wait for that is dropped (noteDropLocked).
	flushes []*flushWait
	// lastDrop is the highest seq of a dropped batch (1 + seq, 0 if none)
	// and lastDropErr why it was dropped; flushFloor the target of the
	// last ForceFlush that returned, so that the next one also reports a
	// batch enqueued after it and dropped before the call.
	lastDrop, flushFloor uint64
	lastDropErr          error
	// notices holds the notices reportOnce reported.
	notices map[string]struct{}
	// outages holds, per signal, the notices of the retryable failures
	// reportOutage reported since the signal's last success.
	outages [NumSignals]map[string]struct{}
	// paused holds, per signal, when the receiver's last throttle
	// (Retry-After, RetryInfo) ends: no batch of the signal is sent
	// before, so the exporter throttles itself as OTLP asks. pausedMax is
	// the latest of them, to skip the check when none is in force.
	paused    [NumSignals]time.Time
	pausedMax time.Time
	closed    bool // Enqueue drops with DropShutdown
	running   int  // workers not yet exited
	stats     [NumSignals]SignalStats

	// space wakes one blocked Enqueue when room is freed (Config.Block).
	space chan struct{}
	// closing is closed by Shutdown to wake blocked Enqueue calls.
	closing chan struct{}
	// exited is closed when the last worker has exited.
	exited chan struct{}

	shutdownOnce sync.Once
	shutdownDone chan struct{}
}

// New validates cfg, applies its defaults and starts the export workers.
// It does not connect: connections are made on the first export. It returns
// an error wrapping one of the package's sentinel errors.
func New(cfg Config) (*Exporter, error) {
	e, err := newExporter(cfg)
	if err != nil {
		return nil, err
	}
	e.start()
	return e, nil
}

// newExporter builds an Exporter without starting its workers.
func newExporter(cfg Config) (*Exporter, error) {
	set, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	e := &Exporter{
		set:          set,
		ring:         make([]entry, set.queueBatches),
		active:       make([]uint64, set.concurrency),
		space:        make(chan struct{}, 1),
		closing:      make(chan struct{}),
		exited:       make(chan struct{}),
		shutdownDone: make(chan struct{}),
	}
	e.release = cfg.Release
	if e.release == nil {
		e.release = bytebufferpool.Put
	}
	e.work.L = &e.mu
	e.wake = time.AfterFunc(time.Hour, func() {
		e.mu.Lock()
		e.work.Broadcast()
		e.mu.Unlock()
	})
	e.wake.Stop()
	e.ctx, e.cancel = context.WithCancel(context.Background())
	conns := grpcConns{}
	for sig := Signal(0); sig < NumSignals; sig++ {
		t := &set.targets[sig]
		if t.protocol == ProtocolGRPC {
			c, err := conns.get(t, set.retry)
			if err != nil {
				e.closeTransports(conns)
				return nil, err
			}
			e.senders[sig] = newGRPCSender(sig, t, c)
		} else {
			c := newHTTPClient(t)
			e.clients = append(e.clients, c)
			e.senders[sig] = newHTTPSender(sig, t, c)
		}
	}
	for _, c := range conns {
		e.conns = append(e.conns, c)
	}
	return e, nil
}

func (e *Exporter) closeTransports(conns grpcConns) {
	for _, c := range conns {
		_ = c.Close()
	}
	e.cancel()
}

// start starts the workers.
func (e *Exporter) start() {
	e.mu.Lock()
	e.running = len(e.active)
	e.mu.Unlock()
	for w := range e.active {
		go e.worker(w)
	}
}

// Enqueue queues buf, an encoded Export*ServiceRequest of sig holding items
// spans, data points or log records, and takes ownership of buf: it is
// returned to bytebufferpool once sent or dropped. It never blocks unless
// Config.Block is set. It reports false if the batch was dropped (counted
// in Stats by reason). A negative items counts as 0. What a caller may
// get wrong is refused without a panic: a nil buf is dropped and its
// items counted as DropTooLarge (not a well-formed request), an invalid
// sig is refused, buf released and the error handler told (Stats has no
// row for it), and a nil *Exporter takes nothing (buf goes back to the
// pool).
//
// A batch larger than MaxRequestBytes is split into requests that fit,
// each keeping the resource, scope and metric of its items; an item that
// alone does not fit is dropped (DropTooLarge). It reports false if any
// part was dropped.
func (e *Exporter) Enqueue(sig Signal, buf *bytebufferpool.ByteBuffer, items int) bool {
	return e.enqueueDone(nil, sig, buf, items)
}

// EnqueueContext is Enqueue that, when Config.Block makes it wait for
// room, waits no longer than ctx (nil is context.Background()): a batch
// it gives up on when ctx ends is dropped and counted as
// DropBlockTimeout, as one whose BlockTimeout passed. A caller with a
// deadline of its own (an SDK's ExportSpans) returns by it.
func (e *Exporter) EnqueueContext(ctx context.Context, sig Signal, buf *bytebufferpool.ByteBuffer, items int) bool {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	return e.enqueueDone(done, sig, buf, items)
}

// enqueueDone is Enqueue whose wait for room (Config.Block) also ends
// when done is closed; a nil done never is.
func (e *Exporter) enqueueDone(done <-chan struct{}, sig Signal, buf *bytebufferpool.ByteBuffer, items int) bool {
	if e == nil || !sig.valid() {
		return e.refuse(sig, []*bytebufferpool.ByteBuffer{buf}, []int{items}, "invalid signal")
	}
	items = max(items, 0)
	if e.ctx == nil {
		return e.dropZero(sig, []*bytebufferpool.ByteBuffer{buf}, items)
	}
	if buf == nil {
		e.mu.Lock()
		e.countEnqueuedLocked(sig, int64(items))
		e.stats[sig].DroppedBy[DropTooLarge] += uint64(items)
		e.stats[sig].DroppedBatches++
		e.mu.Unlock()
		e.report(fmt.Errorf("export: Enqueue of %d %s items with a nil buffer: dropped as not a request (too_large)", items, sig))
		return false
	}
	if int64(len(buf.B)) > e.MaxRequestBytes() {
		return e.enqueueSplit(done, sig, buf, items)
	}
	return e.enqueue(done, sig, entry{buf: buf, items: int64(items), sig: sig})
}

// EnqueueParts queues bufs, the encoded requests of one batch of sig (a
// batch its caller encoded in parts at once, as the OTLP sink does on
// several cores), bufs[i] holding items[i] items, and takes ownership of
// every buffer. Each part counts as a batch of its own (Stats, Release),
// as if Enqueue queued each in turn, which is what it does when the parts
// do not all fit the queue now, when one is larger than MaxRequestBytes or
// after Shutdown. Otherwise it queues them all at once and wakes one
// worker for them: the worker that takes the first takes the others into
// the same request (Config.CoalesceBytes), where parts queued
// one at a time become a request each as soon as two workers wait (two
// 256-span requests cost 404 ns of process CPU a span, one of 512 247 in
// bench's BenchmarkTransport). It reports false if any part was dropped.
// len(items) must be len(bufs): when it is not, every part is dropped,
// the items counted as DropTooLarge and the error handler told. Other
// mistakes are refused as Enqueue refuses them.
func (e *Exporter) EnqueueParts(sig Signal, bufs []*bytebufferpool.ByteBuffer, items []int) bool {
	if e == nil || !sig.valid() {
		return e.refuse(sig, bufs, items, "invalid signal")
	}
	if len(bufs) != len(items) {
		return e.refuse(sig, bufs, items, fmt.Sprintf("%d buffers and %d item counts", len(bufs), len(items)))
	}
	if e.ctx == nil {
		n := 0
		for _, k := range items {
			n += max(k, 0)
		}
		return e.dropZero(sig, bufs, n)
	}
	size, spans := int64(0), int64(0)
	for i, b := range bufs {
		if b == nil || int64(len(b.B)) > e.MaxRequestBytes() {
			size = -1 // queued one by one, as Enqueue takes each
			break
		}
		size += int64(len(b.B))
		spans += int64(max(items[i], 0))
	}
	if sig != Traces {
		spans = 0
	}
	if len(bufs) > 1 && size >= 0 {
		e.mu.Lock()
		if !e.closed && e.n+len(bufs) <= len(e.ring) && e.fitsLocked(size, spans) {
			for i, b := range bufs {
				n := int64(max(items[i], 0))
				e.countEnqueuedLocked(sig, n)
				e.pushLocked(entry{buf: b, items: n, sig: sig})
			}
			e.mu.Unlock()
			if e.set.coalesce > 0 && e.set.coalesce >= size && e.senders[sig].coalesces() {
				e.work.Signal() // one request
			} else {
				e.work.Broadcast()
			}
			return true
		}
		e.mu.Unlock()
	}
	all := true
	for i, b := range bufs {
		if !e.Enqueue(sig, b, items[i]) {
			all = false
		}
	}
	return all
}

// refuse drops bufs, given with a mistake why that leaves nothing to
// queue (an invalid sig, lists of different lengths, a nil Exporter), and
// returns false. The items of a valid sig are counted as DropTooLarge,
// and the error handler is told; a nil Exporter has nowhere to count.
func (e *Exporter) refuse(sig Signal, bufs []*bytebufferpool.ByteBuffer, items []int, why string) bool {
	put := bytebufferpool.Put
	if e != nil && e.release != nil {
		put = e.release
	}
	for _, b := range bufs {
		if b != nil {
			put(b)
		}
	}
	if e == nil {
		return false
	}
	n := 0
	for _, k := range items {
		n += max(k, 0)
	}
	if sig.valid() && e.ctx != nil {
		e.mu.Lock()
		e.stats[sig].Enqueued += uint64(n)
		e.stats[sig].EnqueuedBatches += uint64(len(bufs))
		e.stats[sig].DroppedBy[DropTooLarge] += uint64(n)
		e.stats[sig].DroppedBatches += uint64(len(bufs))
		e.mu.Unlock()
	}
	e.report(fmt.Errorf("export: %d batches of signal %d (%d items) refused: %s", len(bufs), sig, n, why))
	return false
}

// enqueueSplit splits an oversize batch and queues its parts. The batch is
// dropped whole (DropTooLarge) if it is not a well-formed request. If the
// items found differ from items (the caller's count), the last part (or
// the too-large count) carries the difference, so that the accounting
// identity holds in the caller's count and every item is still sent.
func (e *Exporter) enqueueSplit(done <-chan struct{}, sig Signal, buf *bytebufferpool.ByteBuffer, items int) bool {
	var parts []entry
	tooLarge, ok := splitRequest(sig, buf.B, int(e.MaxRequestBytes()), func(req []byte, n int) {
		b := bytebufferpool.Get()
		b.B = append(b.B[:0], req...)
		parts = append(parts, entry{buf: b, items: int64(n), sig: sig, split: true})
	})
	if !ok {
		e.reportTooLarge(sig, items)
		e.mu.Lock()
		e.countEnqueuedLocked(sig, int64(items))
		return e.dropLocked(sig, buf, int64(items), DropTooLarge)
	}
	diff := int64(items - tooLarge)
	for _, p := range parts {
		diff -= p.items
	}
	for i := len(parts) - 1; i >= 0 && diff != 0; i-- {
		d := max(diff, -parts[i].items)
		parts[i].items += d
		diff -= d
	}
	tooLarge += int(diff)
	e.release(buf)
	all := tooLarge == 0
	if tooLarge > 0 {
		e.reportTooLarge(sig, tooLarge)
		e.mu.Lock()
		e.countEnqueuedLocked(sig, int64(tooLarge))
		e.stats[sig].DroppedBy[DropTooLarge] += uint64(tooLarge)
		e.stats[sig].DroppedBatches++
		e.mu.Unlock()
	}
	for _, p := range parts {
		if !e.enqueue(done, sig, p) {
			all = false
		}
	}
	return all
}

// reportTooLarge tells the error handler of items dropped as too large:
// no retry or receiver will ever take them, so the loss is a setting to
// change (Limits.ValueBytes, the resource), as a permanent refusal is.
func (e *Exporter) reportTooLarge(sig Signal, items int) {
	e.report(fmt.Errorf("export: dropped %d %s items, each larger than a request may be (%d bytes)", items, sig, e.MaxRequestBytes()))
}

// enqueue queues en, a batch that fits MaxRequestBytes; a wait for room
// ends when done is closed (enqueueDone).
func (e *Exporter) enqueue(done <-chan struct{}, sig Signal, en entry) bool {
	buf := en.buf
	size := int64(len(buf.B))
	n := en.items
	e.mu.Lock()
	e.countEnqueuedLocked(sig, n)
	if e.closed {
		return e.dropEntryLocked(en, DropShutdown)
	}
	spans := int64(0)
	if sig == Traces {
		spans = n
	}
	if !e.fitsLocked(size, spans) {
		if !e.set.block {
			return e.dropEntryLocked(en, DropQueueFull)
		}
		if reason, ok := e.waitLocked(done, size, spans); !ok {
			return e.dropEntryLocked(en, reason)
		}
	}
	e.pushLocked(en)
	e.mu.Unlock()
	e.work.Signal()
	return true
}

// countEnqueuedLocked counts a batch of n items of sig given to the
// exporter, before it is queued or dropped.
func (e *Exporter) countEnqueuedLocked(sig Signal, n int64) {
	e.stats[sig].Enqueued += uint64(n)
	e.stats[sig].EnqueuedBatches++
}

// pushLocked queues en (countEnqueuedLocked counted it given) and counts
// it in flight and queued; it fits.
func (e *Exporter) pushLocked(en entry) {
	size, n := int64(len(en.buf.B)), en.items
	st := &e.stats[en.sig]
	en.seq = e.seq
	e.ring[(e.head+e.n)%len(e.ring)] = en
	e.n++
	e.seq++
	e.held += size
	if en.sig == Traces {
		e.heldSpans += n
	}
	st.InFlight += uint64(n)
	st.QueuedItems += uint64(n)
	st.QueuedBytes += uint64(size)
	st.QueuedBatches++
	if e.set.block && e.fitsLocked(1, 0) {
		e.signalSpace() // pass the wake-up on to another blocked Enqueue
	}
}

// MaxRequestBytes returns the largest request the exporter sends
// (Config.MaxRequestBytes or its default, at most Config.QueueBytes);
// Enqueue splits a larger batch.
func (e *Exporter) MaxRequestBytes() int64 {
	if e == nil {
		return 0
	}
	return min(e.set.maxRequest, e.set.queueBytes)
}

// fitsLocked reports whether a batch of size bytes and spans spans (0 for
// metrics and logs) fits now: within QueueSpans, or no span is held.
func (e *Exporter) fitsLocked(size, spans int64) bool {
	return e.n < len(e.ring) && e.held+size <= e.set.queueBytes &&
		(e.set.queueSpans == 0 || spans == 0 || e.heldSpans == 0 || e.heldSpans+spans <= e.set.queueSpans)
}

// waitLocked waits, with e.mu held on entry and on return, until a batch of
// size bytes and spans spans fits, BlockTimeout passes, done is closed
// (the caller's context ended: counted as a block timeout) or Shutdown
// begins.
func (e *Exporter) waitLocked(done <-chan struct{}, size, spans int64) (DropReason, bool) {
	timer := time.NewTimer(e.set.blockTimeout)
	defer timer.Stop()
	for !e.fitsLocked(size, spans) {
		e.mu.Unlock()
		gaveUp := false
		select {
		case <-e.space:
		case <-timer.C:
			gaveUp = true
		case <-done:
			gaveUp = true
		case <-e.closing:
			e.mu.Lock()
			return DropShutdown, false
		}
		e.mu.Lock()
		if gaveUp {
			if e.fitsLocked(size, spans) && !e.closed {
				return 0, true
			}
			return DropBlockTimeout, false
		}
		if e.closed {
			return DropShutdown, false
		}
	}
	return 0, true
}

func (e *Exporter) signalSpace() {
	select {
	case e.space <- struct{}{}:
	default:
	}
}

// dropEntryLocked counts a batch refused by Enqueue, unlocks and frees it.
func (e *Exporter) dropEntryLocked(en entry, r DropReason) bool {
	e.stats[en.sig].DroppedBy[r] += uint64(en.items)
	e.stats[en.sig].DroppedBatches++
	e.mu.Unlock()
	e.free(en)
	return false
}

// dropLocked counts a batch refused by Enqueue, unlocks and frees buf.
func (e *Exporter) dropLocked(sig Signal, buf *bytebufferpool.ByteBuffer, n int64, r DropReason) bool {
	e.stats[sig].DroppedBy[r] += uint64(n)
	e.stats[sig].DroppedBatches++
	e.mu.Unlock()
	e.release(buf)
	return false
}

// worker exports batches until the queue is empty and Shutdown has begun.
func (e *Exporter) worker(w int) {
	group := make([]entry, 0, maxCoalesce) // the batches of one request
	parts := make([][]byte, 0, maxCoalesce)
	e.mu.Lock()
	for {
		r, ok := e.nextLocked()
		if !ok {
			e.running--
			if e.running == 0 {
				e.wake.Stop()
				close(e.exited)
			}
			e.mu.Unlock()
			return
		}
		if r.group != nil {
			group = append(group[:0], r.group...)
		} else {
			group = append(group[:0], r.en)
		}
		if r.attempt == 0 {
			group = e.coalesceLocked(group)
		}
		// The batches of a group have consecutive seqs: the first is
		// what ForceFlush compares.
		e.active[w] = r.en.seq + 1
		e.mu.Unlock()

		parts = parts[:0]
		for _, en := range group {
			parts = append(parts, en.buf.B)
		}
		sent := r.attempt
		rejected, reason, dropped, again, derr := e.attempt(&r, group, parts)
		clear(parts)
		if r.attempt > sent && (dropped || again) {
			for i := range group {
				group[i].failed = true
			}
		}

		e.mu.Lock()
		e.active[w] = 0
		if again && len(group) > 1 && !r.alone {
			// A retryable failure: the request is sent again whole, as
			// OTel's exporters send a batch again (it went batch by
			// batch, a request each).
			r.en, r.group = group[0], slices.Clone(group)
			e.waiting = append(e.waiting, r)
			clear(group)
			e.armLocked()
			continue
		}
		if again {
			// Each batch of the group waits for its next attempt alone.
			for _, en := range group {
				rr := r
				rr.en, rr.group, rr.alone = en, nil, false
				e.waiting = append(e.waiting, rr)
			}
			clear(group)
			e.armLocked()
			continue
		}
		for _, en := range group {
			size := int64(len(en.buf.B))
			e.free(en)
			st := &e.stats[en.sig]
			st.InFlight -= uint64(en.items)
			if dropped {
				st.DroppedBy[reason] += uint64(en.items)
				st.DroppedBatches++
				e.noteDropLocked(en.seq, derr)
			} else {
				// The receiver's rejections are the request's: the
				// first batches take them.
				rej := min(rejected, en.items)
				rejected -= rej
				st.Exported += uint64(en.items - rej)
				st.Rejected += uint64(rej)
				st.ExportedBatches++
			}
			e.held -= size
			if en.sig == Traces {
				e.heldSpans -= en.items
			}
		}
		clear(group)
		if e.progress != nil {
			close(e.progress)
			e.progress = nil
		}
		if e.set.block {
			e.signalSpace()
		}
	}
}

// nextLocked waits for the next batch to attempt: a waiting batch whose
// backoff is over, else the head of the queue. It reports false when the
// exporter is closed and nothing is queued or waiting. After an aborted
// Shutdown (e.ctx done) waiting batches are due at once, so that their
// attempt drops them.
func (e *Exporter) nextLocked() (retry, bool) {
	for {
		now := time.Now()
		for i := range e.waiting {
			if r := e.waiting[i]; !now.Before(r.due) && !e.pausedLocked(r.en.sig, now) || e.ctx.Err() != nil {
				last := len(e.waiting) - 1
				e.waiting[i] = e.waiting[last]
				e.waiting[last] = retry{}
				e.waiting = e.waiting[:last]
				return r, true
			}
		}
		if e.n > 0 {
			if i := e.readyLocked(now); i >= 0 {
				en := e.takeLocked(i)
				if e.set.block {
					e.signalSpace()
				}
				return retry{en: en, interval: e.set.targets[en.sig].firstRetry}, true
			}
		}
		if e.closed && e.n == 0 && len(e.waiting) == 0 {
			return retry{}, false
		}
		e.armLocked()
		e.work.Wait()
	}
}

// pausedLocked reports whether the receiver's throttle keeps sig from
// being sent at now. Once Shutdown is aborted nothing is paused.
func (e *Exporter) pausedLocked(sig Signal, now time.Time) bool {
	return now.Before(e.pausedMax) && now.Before(e.paused[sig]) && e.ctx.Err() == nil
}

// readyLocked returns the index in the queue of the first batch whose
// signal is not paused, -1 if none: a signal the receiver throttles waits
// without holding up the others.
func (e *Exporter) readyLocked(now time.Time) int {
	if !now.Before(e.pausedMax) {
		return 0
	}
	for i := range e.n {
		if !e.pausedLocked(e.ring[(e.head+i)%len(e.ring)].sig, now) {
			return i
		}
	}
	return -1
}

// takeLocked takes the batch at index i of the queue, moving the ones
// before it up a slot so that the queue stays in seq order.
func (e *Exporter) takeLocked(i int) entry {
	if i > 0 {
		l := len(e.ring)
		en := e.ring[(e.head+i)%l]
		for j := i; j > 0; j-- {
			e.ring[(e.head+j)%l] = e.ring[(e.head+j-1)%l]
		}
		e.ring[e.head] = en
	}
	return e.popLocked()
}

// pauseLocked pauses sig until until, unless it is paused longer.
func (e *Exporter) pauseLocked(sig Signal, until time.Time) {
	if until.After(e.paused[sig]) {
		e.paused[sig] = until
	}
	if until.After(e.pausedMax) {
		e.pausedMax = until
	}
}

// coalesceLocked appends to group, which holds a batch just taken from the
// queue, batches of the same signal queued behind it while the request
// stays within the coalescing bound (Config.CoalesceBytes): fewer, larger
// requests, sent without a copy (the sender takes the parts as they are).
// A request costs its calls, frames, goroutine wake-ups and system calls on
// both ends whatever its size; on the 2-vCPU VM a request of 256 spans
// took 30 % more process CPU per span than one of 512 (BenchmarkTransport),
// and the OTLP sink hands the exporter the parts of each engine batch,
// which it encodes on several cores, together (EnqueueParts).
func (e *Exporter) coalesceLocked(group []entry) []entry {
	first := group[0]
	if e.set.coalesce <= 0 || !e.senders[first.sig].coalesces() {
		return group
	}
	// The batches of first's signal among the next coalesceScan are
	// taken, up to the bound; the others (the sink enqueues a batch's
	// traces and logs one after the other) are kept, in order, just
	// before the batches not looked at, so the queue stays in seq order.
	var kept [coalesceScan]entry
	k, scanned := 0, 0
	size := int64(len(first.buf.B))
	for ; scanned < min(e.n, coalesceScan) && len(group) < maxCoalesce; scanned++ {
		en := e.ring[(e.head+scanned)%len(e.ring)]
		if en.sig != first.sig {
			kept[k] = en
			k++
			continue
		}
		if size+int64(len(en.buf.B)) > e.set.coalesce {
			break
		}
		size += int64(len(en.buf.B))
		st := &e.stats[en.sig]
		st.QueuedItems -= uint64(en.items)
		st.QueuedBytes -= uint64(len(en.buf.B))
		st.QueuedBatches--
		group = append(group, en)
	}
	taken := scanned - k
	if taken == 0 {
		return group
	}
	for i := range taken {
		e.ring[(e.head+i)%len(e.ring)] = entry{}
	}
	for i := range k {
		e.ring[(e.head+taken+i)%len(e.ring)] = kept[i]
	}
	e.head = (e.head + taken) % len(e.ring)
	e.n -= taken
	if e.set.block {
		e.signalSpace()
	}
	return group
}

// popLocked takes the batch at the head of the queue.
func (e *Exporter) popLocked() entry {
	en := e.ring[e.head]
	e.ring[e.head] = entry{}
	e.head = (e.head + 1) % len(e.ring)
	e.n--
	st := &e.stats[en.sig]
	st.QueuedItems -= uint64(en.items)
	st.QueuedBytes -= uint64(len(en.buf.B))
	st.QueuedBatches--
	return en
}

// armLocked sets the wake timer to the earliest due waiting batch.
func (e *Exporter) armLocked() {
	var due time.Time
	earliest := func(t time.Time) {
		if due.IsZero() || t.Before(due) {
			due = t
		}
	}
	now := time.Now()
	for _, r := range e.waiting {
		if e.pausedLocked(r.en.sig, now) {
			earliest(e.paused[r.en.sig])
		} else {
			earliest(r.due)
		}
	}
	if e.n > 0 && now.Before(e.pausedMax) {
		// Queued batches of a paused signal: wake when a pause ends.
		for sig := range e.paused {
			if now.Before(e.paused[sig]) {
				earliest(e.paused[sig])
			}
		}
	}
	if !due.IsZero() {
		e.wake.Reset(time.Until(due))
	}
}

// attempt sends the batches of group (r's batch first, with the batches
// coalesced behind it), whose bytes are parts, in one request. It returns
// the items the receiver rejected, or the reason the batches were dropped,
// or again when each is to wait until r.due for another attempt.
//
// On a drop, err says why (the error reported, secrets redacted).
func (e *Exporter) attempt(r *retry, group []entry, parts [][]byte) (rejected int64, reason DropReason, dropped, again bool, err error) {
	en := r.en
	if e.ctx.Err() != nil {
		return 0, DropShutdown, true, false, errShutdownDrop(en.sig)
	}
	items := int64(0)
	for _, g := range group {
		items += g.items
	}
	s := e.senders[en.sig]
	t0 := time.Now()
	if r.attempt == 0 {
		r.start = t0
		r.deadline = t0.Add(e.set.targets[en.sig].timeout)
	} else if !t0.Before(r.deadline) {
		// Its wait ended in time, but no worker was free before the
		// export's time was spent.
		notice := r.last.Notice
		if r.last.Class != classRetryable {
			// A batch sent again alone after its request was refused
			// whole: the notice is the refusal's message, not a kind.
			notice = en.sig.String() + " timeout"
		}
		err := fmt.Errorf("%w; retries exhausted after %d attempts (its timeout passed before the next), dropped %d %s items",
			r.last.Err, r.attempt, items, en.sig)
		e.reportOutage(en.sig, notice, err)
		return 0, DropRetryExhausted, true, false, err
	}
	// Timeout bounds the export of the batch, every attempt and every
	// wait between them, as OTEL_EXPORTER_OTLP_TIMEOUT means in the OTel
	// specification and its exporters: each attempt has what is left.
	actx, cancel := context.WithDeadline(e.ctx, r.deadline)
	out := e.send(actx, s, group, parts)
	cancel()
	out.Err = e.set.targets[en.sig].redact.err(out.Err)
	lat := time.Since(t0)
	e.mu.Lock()
	st := &e.stats[en.sig]
	st.Requests++
	st.LatencySum += lat
	st.LatencyCount++
	if r.attempt > 0 {
		st.Retried++
	}
	if out.Class == classSuccess && len(e.outages[en.sig]) > 0 {
		clear(e.outages[en.sig]) // the outage is over: report the next one
	}
	e.mu.Unlock()
	r.attempt++

	switch out.Class {
	case classSuccess:
		if out.Err != nil {
			e.reportOnce(out.Notice, out.Err)
		}
		return min(out.Rejected, items), 0, false, false, nil
	case classPermanent:
		if len(group) > 1 && e.ctx.Err() == nil {
			// One batch may be what the receiver refuses: each goes
			// again alone, now, and only those refused alone drop.
			r.due = time.Now()
			r.last = out
			r.alone = true
			return 0, 0, false, true, nil
		}
		err := fmt.Errorf("%w; dropped %d %s items", out.Err, items, en.sig)
		e.reportOnce(out.Notice, err)
		return 0, DropNonRetryable, true, false, err
	}
	if e.ctx.Err() != nil {
		return 0, DropShutdown, true, false, errShutdownDrop(en.sig)
	}
	// Retryable: back off with jitter, or wait as long as the receiver
	// asked if that is longer.
	rc := e.set.retry
	wait := max(jitter(r.interval), out.Delay)
	r.interval = min(time.Duration(float64(r.interval)*1.5), rc.MaxInterval)
	now := time.Now()
	if out.Delay > 0 {
		// The receiver throttles: no batch of the signal goes before its
		// delay is over, as OTLP asks ("the client MUST then throttle
		// itself"), for at most the signal's Timeout, so that a delay of
		// a day stalls nothing for long (the batch itself is dropped).
		e.mu.Lock()
		e.pauseLocked(en.sig, now.Add(min(out.Delay, e.set.targets[en.sig].timeout)))
		e.mu.Unlock()
	}
	if rc.Disabled || now.Sub(r.start)+wait > rc.MaxElapsedTime || !now.Add(wait).Before(r.deadline) {
		err := fmt.Errorf("%w; retries exhausted after %d attempts, dropped %d %s items", out.Err, r.attempt, items, en.sig)
		e.reportOutage(en.sig, out.Notice, err)
		return 0, DropRetryExhausted, true, false, err
	}
	r.due = now.Add(wait)
	r.last = out
	return 0, 0, false, true, nil
}

// errShutdownDrop is why a batch of sig was dropped by an aborted Shutdown.
func errShutdownDrop(sig Signal) error {
	return fmt.Errorf("export %s: dropped undelivered: shutdown's context ended", sig)
}

// jitter returns d randomised by ±50 %, as the OTel exporters do.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}

// maxNotices bounds the distinct notices reportOnce remembers.
const maxNotices = 64

// reportOnce reports err unless a report with the same notice was made:
// a receiver that rejects part of every batch, or refuses every batch
// (a bad token), says so with the same message each time, and Stats
// counts every rejected or dropped item. Past
// maxNotices distinct notices, one more report says that later ones are
// not reported. An empty notice is always reported.
func (e *Exporter) reportOnce(notice string, err error) {
	if notice == "" {
		e.report(err)
		return
	}
	e.mu.Lock()
	_, seen := e.notices[notice]
	n := len(e.notices)
	if !seen && n <= maxNotices {
		if e.notices == nil {
			e.notices = make(map[string]struct{})
		}
		e.notices[notice] = struct{}{}
	}
	e.mu.Unlock()
	switch {
	case seen || n > maxNotices:
	case n == maxNotices:
		e.report(fmt.Errorf("%w (%d distinct notices reported: later ones are not, Stats counts their items)", err, maxNotices))
	default:
		e.report(fmt.Errorf("%w (reported once; Stats counts every item)", err))
	}
}

// reportOutage reports err, a batch of sig dropped when its retries were
// exhausted, unless a batch of sig was dropped with the same notice (the
// signal and the kind of failure: gRPC code, HTTP status, transport)
// since sig's last success: a receiver that is down fails every batch,
// and a report per batch flooded the ErrorHandler, while Stats counts
// every item dropped (DropRetryExhausted). The next outage, after a
// success, is reported again. The notices of one signal are few (the
// retryable codes and statuses), so they need no bound.
func (e *Exporter) reportOutage(sig Signal, notice string, err error) {
	if notice == "" {
		e.report(err)
		return
	}
	e.mu.Lock()
	_, seen := e.outages[sig][notice]
	if !seen {
		if e.outages[sig] == nil {
			e.outages[sig] = make(map[string]struct{})
		}
		e.outages[sig][notice] = struct{}{}
	}
	e.mu.Unlock()
	if !seen {
		e.report(fmt.Errorf("%w (reported once until %s are exported again; Stats counts every item)", err, sig))
	}
}

// report hands err to Config.ErrorHandler. A panic of the handler is
// recovered and counted (Stats.HandlerPanics): it runs on the export
// workers, where it ended the process that links the exporter.
func (e *Exporter) report(err error) {
	if e.set.errh == nil {
		return
	}
	defer func() {
		if recover() != nil {
			e.handlerPanics.Add(1)
		}
	}()
	e.set.errh(err)
}

// flushedLocked reports whether every batch with seq < target has left the
// queue and is not being exported.
func (e *Exporter) flushedLocked(target uint64) bool {
	if e.n > 0 && e.ring[e.head].seq < target {
		return false
	}
	for _, a := range e.active {
		if a != 0 && a-1 < target {
			return false
		}
	}
	for _, r := range e.waiting {
		if r.en.seq < target {
			return false
		}
	}
	return true
}

// ErrDropped is wrapped by ForceFlush's error when a batch it waited for
// was dropped (counted in Stats by DropReason) instead of exported.
var ErrDropped = errors.New("export: batches dropped")

// flushWait is one ForceFlush call waiting for the batches below target.
type flushWait struct {
	target uint64
	// dropped counts the batches below target dropped while it waited;
	// err is why the last of them was.
	dropped uint64
	err     error
}

// noteDropLocked tells the waiting ForceFlush calls that the batch seq was
// dropped, for err.
func (e *Exporter) noteDropLocked(seq uint64, err error) {
	if seq+1 >= e.lastDrop {
		e.lastDrop, e.lastDropErr = seq+1, err
	}
	for _, w := range e.flushes {
		if seq < w.target {
			w.dropped++
			w.err = err
		}
	}
}

// ForceFlush waits until every batch enqueued before the call has been
// exported or counted as dropped, or ctx ends. It does not stop later
// batches; it may be called from any goroutine, also after Shutdown.
//
// It returns nil when every batch it waited for, and every batch enqueued
// since the last ForceFlush that returned, was exported (a partial
// success, whose rejected items Stats counts, is exported). If any was
// dropped instead (the receiver refused it for good, its retries were
// exhausted, an aborted Shutdown dropped it), it returns an error wrapping
// ErrDropped and the last such batch's export error (the one reported to
// Config.ErrorHandler, secrets redacted; status.FromError finds a gRPC
// status in it). If ctx ends first, it returns an error wrapping ctx.Err().
func (e *Exporter) ForceFlush(ctx context.Context) error {
	if e == nil {
		return ErrNotStarted
	}
	if ctx == nil {
		ctx = context.Background()
	}
	e.mu.Lock()
	target := e.seq
	w := &flushWait{target: target}
	if e.lastDrop > e.flushFloor && e.lastDrop <= target {
		// Dropped since the last flush, before this one was called.
		w.dropped, w.err = 1, e.lastDropErr
	}
	e.flushes = append(e.flushes, w)
	defer func() {
		e.mu.Lock()
		e.flushes = slices.DeleteFunc(e.flushes, func(x *flushWait) bool { return x == w })
		e.mu.Unlock()
	}()
	for !e.flushedLocked(target) {
		if e.running == 0 && e.closed {
			break // hard-shut workers are gone; nothing more will move
		}
		if e.progress == nil {
			e.progress = make(chan struct{})
		}
		p := e.progress
		e.mu.Unlock()
		select {
		case <-p:
		case <-ctx.Done():
			e.mu.Lock()
			pending := uint64(0)
			for i := range e.n {
				if e.ring[(e.head+i)%len(e.ring)].seq < target {
					pending++
				}
			}
			for _, a := range e.active {
				if a != 0 && a-1 < target {
					pending++
				}
			}
			for _, r := range e.waiting {
				if r.en.seq < target {
					pending++
				}
			}
			e.mu.Unlock()
			return fmt.Errorf("export: flush: %d batches not yet delivered: %w", pending, ctx.Err())
		}
		e.mu.Lock()
	}
	dropped, err := w.dropped, w.err
	e.flushFloor = max(e.flushFloor, target)
	e.mu.Unlock()
	if dropped > 0 {
		return fmt.Errorf("export: flush: %w undelivered (Stats counts them by reason), the last: %w", ErrDropped, err)
	}
	return nil
}

// Shutdown stops accepting batches (later Enqueue calls drop with
// DropShutdown), delivers everything queued and closes the connections.
// If ctx ends first, it aborts the exports in flight, drops what is left
// (counted as DropShutdown) and returns an error saying how much was lost.
// It is idempotent: later calls wait for the first and return nil (the
// first call reports the shutdown's error; the OTel Go SDK's exporters and
// TracerProvider return nil after their first Shutdown too).
func (e *Exporter) Shutdown(ctx context.Context) error {
	if e == nil || e.ctx == nil {
		return ErrNotStarted
	}
	if ctx == nil {
		ctx = context.Background()
	}
	first := false
	e.shutdownOnce.Do(func() { first = true })
	if !first {
		select {
		case <-e.shutdownDone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("export: shutdown: %w", ctx.Err())
		}
	}
	e.mu.Lock()
	e.closed = true
	before := e.shutdownDropsLocked()
	if e.running == 0 {
		e.dropQueuedLocked()
		close(e.exited)
	}
	e.mu.Unlock()
	close(e.closing)
	e.work.Broadcast()

	var err error
	select {
	case <-e.exited:
	case <-ctx.Done():
		// Abort: every send honours e.ctx, and workers drop what is still
		// queued or waiting, so the workers exit promptly.
		e.cancel()
		e.mu.Lock()
		e.work.Broadcast()
		e.mu.Unlock()
		<-e.exited
		e.mu.Lock()
		lost := e.shutdownDropsLocked() - before
		e.mu.Unlock()
		if lost > 0 {
			err = fmt.Errorf("export: shutdown: %d items dropped undelivered: %w", lost, ctx.Err())
		}
	}
	e.cancel()
	for _, c := range e.conns {
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("export: close gRPC connection: %w", cerr))
		}
	}
	for _, c := range e.clients {
		c.CloseIdleConnections()
	}
	close(e.shutdownDone)
	return err
}

// shutdownDropsLocked sums the items dropped with DropShutdown.
func (e *Exporter) shutdownDropsLocked() uint64 {
	var n uint64
	for i := range e.stats {
		n += e.stats[i].DroppedBy[DropShutdown]
	}
	return n
}

// dropQueuedLocked drops every queued batch with DropShutdown; used only
// when no worker was started.
func (e *Exporter) dropQueuedLocked() {
	for e.n > 0 {
		en := e.popLocked()
		st := &e.stats[en.sig]
		st.InFlight -= uint64(en.items)
		st.DroppedBy[DropShutdown] += uint64(en.items)
		st.DroppedBatches++
		e.noteDropLocked(en.seq, errShutdownDrop(en.sig))
		e.held -= int64(len(en.buf.B))
		if en.sig == Traces {
			e.heldSpans -= en.items
		}
		e.free(en)
	}
}
